// screen/rate_limit.h: window accounting with an injected clock, keys, the bound.
#include "screen/rate_limit.h"

#include <gtest/gtest.h>

using namespace tern;
using namespace tern::screen;

namespace {
constexpr int64_t kMinute = 60000;
authn::IpAddress ip(const char* text) { return *authn::IpAddress::parse(text); }
}  // namespace

TEST(RateLimit, NPerWindowThenRefusedUntilItDrains) {
  RateLimiter r(100);
  int64_t t = 1000000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(r.allow("conn", "a", 3, kMinute, t)) << i;
  EXPECT_FALSE(r.allow("conn", "a", 3, kMinute, t));  // the 4th in the minute
  EXPECT_FALSE(r.allow("conn", "a", 3, kMinute, t + 19999));
  EXPECT_TRUE(r.allow("conn", "a", 3, kMinute, t + 20000));  // one slot drained (60 s / 3)
  EXPECT_FALSE(r.allow("conn", "a", 3, kMinute, t + 20000));
  // Refusals are not counted: a full minute later the whole allowance is back.
  t += 20000 + kMinute;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(r.allow("conn", "a", 3, kMinute, t)) << i;
  EXPECT_FALSE(r.allow("conn", "a", 3, kMinute, t));
}

TEST(RateLimit, KindsAndKeysAreSeparate) {
  RateLimiter r(100);
  EXPECT_TRUE(r.allow("msg", "a", 1, kMinute, 0));
  EXPECT_FALSE(r.allow("msg", "a", 1, kMinute, 0));
  EXPECT_TRUE(r.allow("rcpt", "a", 1, kMinute, 0));
  EXPECT_TRUE(r.allow("msg", "b", 1, kMinute, 0));
}

TEST(RateLimit, ZeroIsUnlimitedAndKeepsNothing) {
  RateLimiter r(100);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(r.allow("conn", "a", 0, kMinute, 0));
  EXPECT_EQ(r.size(), 0u);
}

TEST(RateLimit, KeysPerAddressAndPerSlash64) {
  EXPECT_EQ(rate_key(ip("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(rate_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
  EXPECT_EQ(rate_key(ip("2001:db8:1:2:bbbb::9")), rate_key(ip("2001:db8:1:2:aaaa::1")));
  EXPECT_NE(rate_key(ip("2001:db8:1:3::1")), rate_key(ip("2001:db8:1:2::1")));
}

TEST(RateLimit, BoundedTable) {
  RateLimiter r(100);
  // A scan from many addresses never grows the table past its bound...
  for (int i = 0; i < 10000; ++i) r.allow("conn", "k" + std::to_string(i), 5, kMinute, i);
  EXPECT_LE(r.size(), 100u);
  // ...and drained entries go first: an address still over its limit stays refused.
  RateLimiter s(16);
  EXPECT_TRUE(s.allow("conn", "busy", 1, kMinute * 60, 0));
  for (int i = 0; i < 200; ++i) s.allow("conn", "x" + std::to_string(i), 1, 1, i);
  EXPECT_FALSE(s.allow("conn", "busy", 1, kMinute * 60, 300));
}
