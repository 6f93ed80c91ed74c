// Per (protocol, user, address) connection counting after login.
#include "daemon/user_ip_limiter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tern::daemon {
namespace {

TEST(UserIpLimiter, RefusesPastTheLimitAndCountsEachKeyApart) {
  auto limiter = UserIpLimiter::create(2);
  auto a = limiter->acquire("imap", "ann@example.test", "192.0.2.1");
  auto b = limiter->acquire("imap", "ann@example.test", "192.0.2.1");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(limiter->acquire("imap", "ann@example.test", "192.0.2.1"), nullptr);
  // Another user, another address, another protocol: each has its own allowance.
  EXPECT_NE(limiter->acquire("imap", "bob@example.test", "192.0.2.1"), nullptr);
  EXPECT_NE(limiter->acquire("imap", "ann@example.test", "192.0.2.2"), nullptr);
  EXPECT_NE(limiter->acquire("pop3", "ann@example.test", "192.0.2.1"), nullptr);
  EXPECT_EQ(limiter->held("imap", "ann@example.test", "192.0.2.1"), 2);
}

TEST(UserIpLimiter, DroppingALeaseFreesItsPlace) {
  auto limiter = UserIpLimiter::create(1);
  auto a = limiter->acquire("imap", "ann@example.test", "192.0.2.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(limiter->acquire("imap", "ann@example.test", "192.0.2.1"), nullptr);
  a.reset();
  EXPECT_EQ(limiter->held("imap", "ann@example.test", "192.0.2.1"), 0);
  EXPECT_NE(limiter->acquire("imap", "ann@example.test", "192.0.2.1"), nullptr);
}

// A lease may outlive every other reference to the limiter (a session torn down after
// shutdown began): it keeps the limiter alive and releases into it.
TEST(UserIpLimiter, LeaseOutlivesTheLastOtherReference) {
  auto limiter = UserIpLimiter::create(1);
  auto lease = limiter->acquire("imap", "ann@example.test", "192.0.2.1");
  limiter.reset();
  lease.reset();  // no crash, no leak (ASan)
}

TEST(UserIpLimiter, ConcurrentLoginsNeverExceedTheLimit) {
  auto limiter = UserIpLimiter::create(5);
  std::vector<std::shared_ptr<UserIpLimiter::Lease>> got(64);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] { got[i] = limiter->acquire("imap", "ann@example.test", "192.0.2.1"); });
  for (auto& t : threads) t.join();
  size_t granted = 0;
  for (auto& g : got) granted += g != nullptr;
  EXPECT_EQ(granted, 5u);
  got.clear();
  EXPECT_EQ(limiter->held("imap", "ann@example.test", "192.0.2.1"), 0);
}

}  // namespace
}  // namespace tern::daemon
