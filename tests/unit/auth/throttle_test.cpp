#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "auth_fixture.h"

using namespace tern;
using namespace tern::auth;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
  std::chrono::steady_clock::time_point t = std::chrono::steady_clock::time_point{} + 1000h;
  Throttle::Clock fn() {
    return [this] { return t; };
  }
};

AuthConfig small_config() {
  AuthConfig c;
  c.delay_after_failures = 2;
  c.failure_delay_ms = 1500;
  c.max_failures_per_ip = 5;
  c.max_failures_per_account = 3;
  c.failure_window = 60;
  c.lockout = 300;
  return c;
}

}  // namespace

TEST(Throttle, DelayAfterFailuresThenLockout) {
  FakeClock clock;
  Throttle t(small_config(), clock.fn());
  EXPECT_EQ(t.check("192.0.2.1", "bob@x.test").delay, 0ms);
  t.record_failure("192.0.2.1", "bob@x.test");
  EXPECT_EQ(t.check("192.0.2.1", "bob@x.test").delay, 0ms);
  t.record_failure("192.0.2.1", "bob@x.test");
  auto d = t.check("192.0.2.1", "bob@x.test");
  EXPECT_EQ(d.delay, 1500ms);
  EXPECT_FALSE(d.locked_out);
  t.record_failure("192.0.2.1", "bob@x.test");  // 3rd: the account maximum
  d = t.check("192.0.2.1", "bob@x.test");
  EXPECT_TRUE(d.locked_out);
  // The account is locked from any IP; another account from another IP is not.
  EXPECT_TRUE(t.check("198.51.100.7", "BOB@x.test").locked_out);
  EXPECT_FALSE(t.check("198.51.100.7", "alice@x.test").locked_out);
  // The lockout lasts `lockout` seconds, even past the failure window.
  clock.t += 299s;
  EXPECT_TRUE(t.check("198.51.100.7", "bob@x.test").locked_out);
  clock.t += 2s;
  d = t.check("192.0.2.1", "bob@x.test");
  EXPECT_FALSE(d.locked_out);
  EXPECT_EQ(d.delay, 0ms);
}

TEST(Throttle, PerIpCountsAcrossAccounts) {
  FakeClock clock;
  Throttle t(small_config(), clock.fn());
  for (int i = 0; i < 5; ++i) t.record_failure("192.0.2.9", "user" + std::to_string(i) + "@x.test");
  EXPECT_TRUE(t.check("192.0.2.9", "fresh@x.test").locked_out);
  EXPECT_FALSE(t.check("192.0.2.10", "fresh@x.test").locked_out);
  // IPv6 clients count per /64.
  for (int i = 0; i < 5; ++i) t.record_failure("2001:db8:1:2::" + std::to_string(i + 1), "u@x.test" + std::to_string(i));
  EXPECT_TRUE(t.check("2001:db8:1:2:ffff::1", "other@x.test").locked_out);
  EXPECT_FALSE(t.check("2001:db8:1:3::1", "other@x.test").locked_out);
  EXPECT_EQ(throttle_ip_key("::ffff:192.0.2.9"), "192.0.2.9");
}

TEST(Throttle, FailuresExpireWithTheWindow) {
  FakeClock clock;
  Throttle t(small_config(), clock.fn());
  t.record_failure("192.0.2.1", "bob@x.test");
  t.record_failure("192.0.2.1", "bob@x.test");
  EXPECT_EQ(t.check("192.0.2.1", "bob@x.test").delay, 1500ms);
  clock.t += 61s;
  EXPECT_EQ(t.check("192.0.2.1", "bob@x.test").delay, 0ms);
  t.record_failure("192.0.2.1", "bob@x.test");
  t.record_failure("192.0.2.1", "bob@x.test");
  EXPECT_FALSE(t.check("192.0.2.1", "bob@x.test").locked_out);  // old failures forgotten
}

TEST(Throttle, SuccessResetsTheAccountNotTheIp) {
  FakeClock clock;
  Throttle t(small_config(), clock.fn());
  for (int i = 0; i < 2; ++i) t.record_failure("192.0.2.1", "bob@x.test");
  t.record_success("192.0.2.1", "bob@x.test");
  // The IP still has 2 failures: delayed, whatever the account.
  EXPECT_EQ(t.check("192.0.2.1", "bob@x.test").delay, 1500ms);
  EXPECT_EQ(t.check("192.0.2.2", "bob@x.test").delay, 0ms);
  t.record_failure("192.0.2.2", "bob@x.test");
  t.record_failure("192.0.2.2", "bob@x.test");
  EXPECT_FALSE(t.check("192.0.2.3", "bob@x.test").locked_out);  // count restarted at 0
}

TEST(Throttle, MemoryIsBounded) {
  FakeClock clock;
  Throttle t(small_config(), clock.fn(), /*max_entries=*/50);
  for (int i = 0; i < 500; ++i) t.record_failure("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250), "a" + std::to_string(i));
  EXPECT_LE(t.tracked_entries(), 100u);
  // The most recent attacker is still tracked.
  t.record_failure("192.0.2.77", "z");
  t.record_failure("192.0.2.77", "z");
  EXPECT_EQ(t.check("192.0.2.77", "y").delay, 1500ms);
}

class AuthenticatorTest : public AuthDbTest {
 protected:
  void SetUp() override {
    AuthDbTest::SetUp();
    ASSERT_OK(db_->add_domain("example.test"));
    ASSERT_OK(db_->add_user("bob@example.test", "right", 0));
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    previous_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("test", sink_);
    logger->set_pattern("%v");
    spdlog::set_default_logger(logger);
  }
  void TearDown() override {
    spdlog::set_default_logger(previous_);
    AuthDbTest::TearDown();
  }
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
  FakeClock clock_;
};

TEST_F(AuthenticatorTest, OutcomesAndLogLines) {
  Authenticator a(*db_, small_config(), clock_.fn());
  auto r = a.login("Bob@Example.test", "right", "192.0.2.1", "imap");
  EXPECT_EQ(r.outcome, LoginResult::Outcome::ok);
  EXPECT_EQ(r.user, "bob@example.test");
  EXPECT_EQ(a.login("bob@example.test", "wrong", "192.0.2.1", "smtp").outcome,
            LoginResult::Outcome::bad_credentials);
  EXPECT_EQ(a.login("eve@example.test", "right", "192.0.2.1", "pop3").outcome,
            LoginResult::Outcome::bad_credentials);
  std::string log = log_.str();
  EXPECT_NE(log.find("auth ok proto=imap user=bob@example.test ip=192.0.2.1"), std::string::npos) << log;
  EXPECT_NE(log.find("auth fail proto=smtp user=bob@example.test ip=192.0.2.1 reason=bad-password"),
            std::string::npos) << log;
  EXPECT_NE(log.find("auth fail proto=pop3 user=eve@example.test ip=192.0.2.1 reason=unknown-user"),
            std::string::npos) << log;
  EXPECT_EQ(log.find("wrong"), std::string::npos);
  EXPECT_EQ(log.find("right"), std::string::npos);
}

TEST_F(AuthenticatorTest, LockoutRefusesEvenTheRightPassword) {
  Authenticator a(*db_, small_config(), clock_.fn());
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(a.login("bob@example.test", "wrong", "192.0.2.1", "imap").delay, 0ms);
  EXPECT_EQ(a.login("bob@example.test", "wrong", "192.0.2.1", "imap").delay, 1500ms);
  auto r = a.login("bob@example.test", "right", "192.0.2.2", "imap");
  EXPECT_EQ(r.outcome, LoginResult::Outcome::locked_out);
  EXPECT_EQ(r.delay, 1500ms);  // delayed like a failure: an early answer reveals nothing
  EXPECT_NE(log_.str().find("reason=locked-out"), std::string::npos);
  clock_.t += 301s;
  EXPECT_EQ(a.login("bob@example.test", "right", "192.0.2.2", "imap").outcome, LoginResult::Outcome::ok);
}

TEST_F(AuthenticatorTest, DisabledAndHostileNames) {
  Authenticator a(*db_, small_config(), clock_.fn());
  ASSERT_OK(db_->set_enabled("bob@example.test", false));
  EXPECT_EQ(a.login("bob@example.test", "right", "192.0.2.1", "imap").outcome, LoginResult::Outcome::disabled);
  EXPECT_EQ(a.login("bob@example.test", "wrong", "192.0.2.1", "imap").outcome,
            LoginResult::Outcome::bad_credentials);
  EXPECT_NE(log_.str().find("reason=disabled"), std::string::npos);
  // A user name cannot forge log fields or lines.
  a.login("x ip=1.1.1.1 reason=bad-password\nauth ok", "pw", "192.0.2.1", "imap");
  EXPECT_EQ(log_.str().find("user=x ip=1.1.1.1"), std::string::npos) << log_.str();
  EXPECT_EQ(log_.str().find("\nauth ok"), std::string::npos);
}
