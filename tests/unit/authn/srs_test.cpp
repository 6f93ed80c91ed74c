// Sender Rewriting Scheme codec (authn/srs.h): round trips, case folding, expiry, forgery,
// SRS1 for mail forwarded twice, and the key file.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "authn/srs.h"
#include "common/strings.h"

using namespace tern::authn;
using tern::ascii_lower;
using tern::ascii_upper;

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kNow = 20000 * kDay + 3600;  // some day in 2024
const std::string kKey = "0123456789abcdef0123456789abcdef";

std::string local_of(const std::string& address) { return address.substr(0, address.rfind('@')); }
std::string domain_of(const std::string& address) { return address.substr(address.rfind('@') + 1); }

}  // namespace

TEST(Srs, Srs0RoundTrip) {
  Srs srs(kKey);
  std::string fwd = srs.forward("alice@sender.example", "fwd.example", kNow);
  EXPECT_TRUE(tern::istarts_with(fwd, "SRS0=")) << fwd;
  EXPECT_EQ(domain_of(fwd), "fwd.example");
  // SRS0=HHHHHHHH=TT=domain=local
  EXPECT_EQ(fwd.find("=sender.example=alice@"), 5 + Srs::kHashLength + 3) << fwd;
  auto back = srs.reverse(local_of(fwd), kNow + kDay);
  EXPECT_EQ(back.verdict, Srs::Verdict::ok);
  EXPECT_EQ(back.address, "alice@sender.example");
}

TEST(Srs, LocalPartWithSeparatorsRoundTrips) {
  Srs srs(kKey);
  std::string fwd = srs.forward("a=b+c-d@sender.example", "fwd.example", kNow);
  auto back = srs.reverse(local_of(fwd), kNow);
  EXPECT_EQ(back.verdict, Srs::Verdict::ok);
  EXPECT_EQ(back.address, "a=b+c-d@sender.example");
}

TEST(Srs, HashComparesCaseInsensitively) {
  Srs srs(kKey);
  std::string local = local_of(srs.forward("Alice@Sender.Example", "fwd.example", kNow));
  for (const auto& variant : {ascii_lower(local), ascii_upper(local)}) {
    auto back = srs.reverse(variant, kNow);
    EXPECT_EQ(back.verdict, Srs::Verdict::ok) << variant;
    EXPECT_TRUE(tern::iequals(back.address, "alice@sender.example")) << back.address;
  }
}

TEST(Srs, NullSenderIsNeverRewritten) {
  Srs srs(kKey);
  EXPECT_EQ(srs.forward("", "fwd.example", kNow), "");
  EXPECT_EQ(srs.forward("no-domain", "fwd.example", kNow), "no-domain");
}

TEST(Srs, ExpiresAfterMaxAge) {
  Srs srs(kKey, 21);
  std::string local = local_of(srs.forward("alice@sender.example", "fwd.example", kNow));
  EXPECT_EQ(srs.reverse(local, kNow + 21 * kDay).verdict, Srs::Verdict::ok);
  EXPECT_EQ(srs.reverse(local, kNow + 22 * kDay).verdict, Srs::Verdict::expired);
  // A stamp from the future (the 1024-day wrap) is as old as can be.
  EXPECT_EQ(srs.reverse(local, kNow - kDay).verdict, Srs::Verdict::expired);
}

TEST(Srs, ForgedOrAlteredAddressesAreRefused) {
  Srs srs(kKey);
  std::string local = local_of(srs.forward("alice@sender.example", "fwd.example", kNow));
  // Another target with the same hash and stamp.
  std::string other = local;
  other.replace(other.find("alice"), 5, "mallo");
  EXPECT_EQ(srs.reverse(other, kNow).verdict, Srs::Verdict::bad_hash);
  // Another key.
  Srs stranger("fedcba9876543210fedcba9876543210");
  EXPECT_EQ(stranger.reverse(local, kNow).verdict, Srs::Verdict::bad_hash);
  // A changed stamp does not keep the hash valid.
  std::string restamped = local;
  restamped[5 + Srs::kHashLength + 1] = restamped[5 + Srs::kHashLength + 1] == 'A' ? 'B' : 'A';
  EXPECT_EQ(srs.reverse(restamped, kNow).verdict, Srs::Verdict::bad_hash);
  EXPECT_EQ(srs.reverse("SRS0=AAAAAAAA=AA=sender.example=alice", kNow).verdict,
            Srs::Verdict::bad_hash);
  EXPECT_EQ(srs.reverse("SRS0=short=AA=sender.example=alice", kNow).verdict,
            Srs::Verdict::bad_hash);
  for (const char* bad : {"SRS0=", "SRS0=AAAAAAAA=AA=sender.example", "SRS0=AAAAAAAA=A1=d=l",
                          "SRS0==AA=d=l", "SRS1=AAAAAAAA=host", "SRS1=AAAAAAAA==rest"})
    EXPECT_EQ(srs.reverse(bad, kNow).verdict, Srs::Verdict::malformed) << bad;
  EXPECT_EQ(srs.reverse("alice", kNow).verdict, Srs::Verdict::not_srs);
  EXPECT_EQ(srs.reverse("srs0", kNow).verdict, Srs::Verdict::not_srs);
  EXPECT_EQ(srs.reverse("SRS2=x=y", kNow).verdict, Srs::Verdict::not_srs);
}

TEST(Srs, Srs1ForASenderAlreadyRewritten) {
  Srs first("first-forwarder-key-0123456789ab");
  Srs second(kKey);
  std::string srs0 = first.forward("alice@sender.example", "first.example", kNow);
  std::string srs1 = second.forward(srs0, "second.example", kNow);
  EXPECT_TRUE(tern::istarts_with(srs1, "SRS1=")) << srs1;
  EXPECT_EQ(domain_of(srs1), "second.example");
  EXPECT_NE(srs1.find("=first.example==" + local_of(srs0).substr(5)), std::string::npos) << srs1;
  // A bounce to the SRS1 address goes back to the first forwarder's SRS0 address ...
  auto back = second.reverse(local_of(srs1), kNow);
  ASSERT_EQ(back.verdict, Srs::Verdict::ok);
  EXPECT_EQ(back.address, srs0);
  // ... which only the first forwarder can open.
  auto home = first.reverse(local_of(back.address), kNow);
  EXPECT_EQ(home.verdict, Srs::Verdict::ok);
  EXPECT_EQ(home.address, "alice@sender.example");

  // A third forwarder keeps the first one (no growing chain) and signs it anew.
  Srs third("third-forwarder-key-0123456789ab");
  std::string again = third.forward(srs1, "third.example", kNow);
  EXPECT_TRUE(tern::istarts_with(again, "SRS1=")) << again;
  EXPECT_EQ(again.substr(5 + Srs::kHashLength), srs1.substr(5 + Srs::kHashLength, srs1.rfind('@') - 5 - Srs::kHashLength) + "@third.example");
  auto via_third = third.reverse(local_of(again), kNow);
  ASSERT_EQ(via_third.verdict, Srs::Verdict::ok);
  EXPECT_EQ(via_third.address, srs0);
  // The SRS1 hash is checked too.
  std::string forged = local_of(srs1);
  forged.replace(forged.find("first.example"), 5, "evil.");
  EXPECT_EQ(second.reverse(forged, kNow).verdict, Srs::Verdict::bad_hash);
}

TEST(Srs, KeyIsMadeOnceWithMode0600) {
  char dir[] = "/tmp/srs_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/srs.key";
  auto key = load_srs_key(path);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->size(), 32u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = load_srs_key(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *key);
  std::ofstream(path, std::ios::trunc) << "zz\n";
  EXPECT_FALSE(load_srs_key(path));
  unlink(path.c_str());
  rmdir(dir);
}
