// screen/greylist.h: the decision with an injected clock, the SQLite table and its bound.
#include "screen/greylist.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace tern;
using namespace tern::screen;

namespace {

GreylistSettings settings() {
  GreylistSettings s;
  s.delay = 300;
  s.retry_window = 86400;
  s.pass_ttl = 36 * 86400;
  s.max_entries = 100;
  return s;
}

class GreylistDb : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tern-greylist-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    auto g = Greylist::open((dir_ / "greylist.db").string(), settings());
    ASSERT_TRUE(g) << g.error().message;
    grey_ = std::move(*g);
  }
  void TearDown() override {
    grey_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<Greylist> grey_;
};

}  // namespace

TEST(GreylistDecide, FirstAttemptThenTooEarlyThenRetriedThenKnown) {
  const auto s = settings();
  int64_t t0 = 1700000000;
  GreyDecision d = decide(std::nullopt, t0, s);
  EXPECT_FALSE(d.pass);
  EXPECT_EQ(d.reason, GreyDecision::first_attempt);
  EXPECT_EQ(d.wait, 300);
  EXPECT_EQ(d.row, (GreyRow{t0, t0, false}));
  d = decide(d.row, t0 + 100, s);
  EXPECT_FALSE(d.pass);
  EXPECT_EQ(d.reason, GreyDecision::too_early);
  EXPECT_EQ(d.wait, 200);
  EXPECT_EQ(d.row.first_seen, t0);  // an early retry does not restart the clock
  d = decide(d.row, t0 + 300, s);
  EXPECT_TRUE(d.pass);
  EXPECT_EQ(d.reason, GreyDecision::retried);
  EXPECT_TRUE(d.row.passed);
  d = decide(d.row, t0 + 30 * 86400, s);
  EXPECT_TRUE(d.pass);
  EXPECT_EQ(d.reason, GreyDecision::known);
  EXPECT_EQ(d.row.last_seen, t0 + 30 * 86400);  // use extends the pass
}

TEST(GreylistDecide, WindowsExpire) {
  const auto s = settings();
  int64_t t0 = 1700000000;
  // A retry after the retry window starts over.
  GreyDecision d = decide(GreyRow{t0, t0, false}, t0 + 86401, s);
  EXPECT_FALSE(d.pass);
  EXPECT_EQ(d.reason, GreyDecision::first_attempt);
  EXPECT_EQ(d.row.first_seen, t0 + 86401);
  // A passed triplet unused for longer than pass_ttl is greylisted again.
  d = decide(GreyRow{t0, t0 + 10, true}, t0 + 10 + 36 * 86400 + 1, s);
  EXPECT_FALSE(d.pass);
  EXPECT_EQ(d.reason, GreyDecision::first_attempt);
}

TEST(GreylistDecide, Networks) {
  EXPECT_EQ(greylist_net(*authn::IpAddress::parse("192.0.2.77")), "192.0.2.0/24");
  EXPECT_EQ(greylist_net(*authn::IpAddress::parse("2001:db8:1:2:3::9")), "2001:db8:1:2::/64");
}

TEST_F(GreylistDb, TripletLifecycle) {
  Triplet t{"192.0.2.0/24", "a@sender.example", "bob@example.test"};
  int64_t t0 = 1700000000;
  EXPECT_FALSE(grey_->check(t, t0)->pass);
  EXPECT_FALSE(grey_->check(t, t0 + 10)->pass);
  EXPECT_TRUE(grey_->check(t, t0 + 301)->pass);
  EXPECT_TRUE(grey_->check(t, t0 + 302)->pass);
  // Another recipient, or another network, is a new triplet.
  EXPECT_FALSE(grey_->check(Triplet{t.net, t.sender, "alice@example.test"}, t0 + 303)->pass);
  EXPECT_FALSE(grey_->check(Triplet{"198.51.100.0/24", t.sender, t.rcpt}, t0 + 303)->pass);
  EXPECT_EQ(grey_->rows(), 3);
}

TEST_F(GreylistDb, SurvivesReopen) {
  Triplet t{"192.0.2.0/24", "a@sender.example", "bob@example.test"};
  int64_t t0 = 1700000000;
  EXPECT_FALSE(grey_->check(t, t0)->pass);
  grey_.reset();
  auto again = Greylist::open((dir_ / "greylist.db").string(), settings());
  ASSERT_TRUE(again);
  grey_ = std::move(*again);
  EXPECT_TRUE(grey_->check(t, t0 + 400)->pass);
}

TEST_F(GreylistDb, ExpiryAndBound) {
  int64_t t0 = 1700000000;
  for (int i = 0; i < 150; ++i)
    (void)grey_->check(Triplet{"192.0.2.0/24", "s" + std::to_string(i) + "@x.example", "b@e.test"},
                       t0 + i);
  ASSERT_TRUE(grey_->expire(t0 + 200));
  EXPECT_EQ(grey_->rows(), 100);  // max_entries: the least recently used went
  ASSERT_TRUE(grey_->expire(t0 + 2 * 86400));
  EXPECT_EQ(grey_->rows(), 0);  // never retried within the window
}
