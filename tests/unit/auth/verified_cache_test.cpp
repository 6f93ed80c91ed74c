// Verified-credential cache (issue 18 defect 8): a repeated login skips argon2id, while every
// change ternctl makes in another process (passwd, disable, remove) is still seen at once.
#include "auth/verified_cache.h"

#include "auth_fixture.h"

using namespace tern;
using namespace tern::auth;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
  std::chrono::steady_clock::time_point t = std::chrono::steady_clock::time_point{} + 1000h;
  VerifiedCache::Clock fn() {
    return [this] { return t; };
  }
};

}  // namespace

TEST(VerifiedCache, HitsOnlyTheExactTriple) {
  VerifiedCache c(60s, 100);
  EXPECT_FALSE(c.hit("bob@x.test", "$argon2id$A", "pw"));
  c.remember("bob@x.test", "$argon2id$A", "pw");
  EXPECT_TRUE(c.hit("bob@x.test", "$argon2id$A", "pw"));
  EXPECT_FALSE(c.hit("bob@x.test", "$argon2id$A", "pW"));
  EXPECT_FALSE(c.hit("bob@x.test", "$argon2id$A", "pw "));
  EXPECT_FALSE(c.hit("bob@x.test", "$argon2id$B", "pw"));  // the stored hash changed
  EXPECT_FALSE(c.hit("eve@x.test", "$argon2id$A", "pw"));
  // Length prefixes: moving bytes between fields never matches.
  EXPECT_FALSE(c.hit("bob@x.test", "$argon2id$Ap", "w"));
}

TEST(VerifiedCache, EntriesExpireAfterTtlFromVerification) {
  FakeClock clock;
  VerifiedCache c(60s, 100, clock.fn());
  c.remember("bob@x.test", "h", "pw");
  clock.t += 59s;
  EXPECT_TRUE(c.hit("bob@x.test", "h", "pw"));  // a hit does not extend the entry
  clock.t += 1s;
  EXPECT_FALSE(c.hit("bob@x.test", "h", "pw"));
  EXPECT_EQ(c.size(), 0u);
}

TEST(VerifiedCache, BoundedSizeDropsExpiredThenOldest) {
  FakeClock clock;
  VerifiedCache c(60s, 3, clock.fn());
  c.remember("a@x.test", "h", "pw");
  clock.t += 1s;
  c.remember("b@x.test", "h", "pw");
  clock.t += 1s;
  c.remember("c@x.test", "h", "pw");
  clock.t += 1s;
  c.remember("d@x.test", "h", "pw");  // full: a (the oldest) goes
  EXPECT_EQ(c.size(), 3u);
  EXPECT_FALSE(c.hit("a@x.test", "h", "pw"));
  EXPECT_TRUE(c.hit("b@x.test", "h", "pw"));
  EXPECT_TRUE(c.hit("d@x.test", "h", "pw"));
  c.remember("b@x.test", "h", "pw");  // refreshing a present user needs no room
  EXPECT_EQ(c.size(), 3u);
  EXPECT_TRUE(c.hit("c@x.test", "h", "pw"));
}

TEST(VerifiedCache, ZeroTtlIsOffAndForgetDrops) {
  VerifiedCache off(0s, 10);
  off.remember("bob@x.test", "h", "pw");
  EXPECT_FALSE(off.hit("bob@x.test", "h", "pw"));
  VerifiedCache c(60s, 10);
  c.remember("bob@x.test", "h", "pw");
  c.forget("bob@x.test");
  EXPECT_FALSE(c.hit("bob@x.test", "h", "pw"));
}

TEST(VerifiedCache, TwoCachesNeverShareTags) {
  // Each process (each cache) has its own random key: nothing derived from the password is
  // meaningful outside it. Observable here as: remembering in one does not hit in the other.
  VerifiedCache a(60s, 10), b(60s, 10);
  a.remember("bob@x.test", "h", "pw");
  EXPECT_FALSE(b.hit("bob@x.test", "h", "pw"));
}

// ---- Through AccountDb, with a second handle playing ternctl (another process) ----------

class CachedAuthDbTest : public AuthDbTest {
 protected:
  void SetUp() override {
    AuthDbTest::SetUp();
    ASSERT_OK(db_->add_domain("example.test"));
    ASSERT_OK(db_->add_user("bob@example.test", "secret", 0));
    AccountDb::Options o;
    o.cost = HashCost::minimum;
    o.verified_cache_ttl = 60s;
    o.clock = clock_.fn();
    auto r = AccountDb::open(db_path_, o);
    ASSERT_TRUE(r.ok());
    cached_ = std::move(*r);
  }
  void TearDown() override {
    cached_.reset();
    AuthDbTest::TearDown();
  }
  PasswordCheck check(std::string_view user, std::string_view pw) {
    auto r = cached_->check_password(user, pw);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->outcome : PasswordCheck::bad_password;
  }
  uint64_t hashes() const { return cached_->password_hashes_verified(); }

  FakeClock clock_;
  std::unique_ptr<AccountDb> cached_;  // ternd's handle; db_ is ternctl's
};

TEST_F(CachedAuthDbTest, RepeatedLoginSkipsTheHash) {
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  EXPECT_EQ(hashes(), 1u);
  EXPECT_EQ(check("BOB@Example.test", "secret"), PasswordCheck::ok);  // canonical key
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  EXPECT_EQ(hashes(), 1u);
}

TEST_F(CachedAuthDbTest, WrongPasswordsAlwaysHashAndAreNeverCached) {
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(check("bob@example.test", "guess"), PasswordCheck::bad_password);
  EXPECT_EQ(hashes(), 4u);
  // Unknown users pay the dummy hash every time too.
  EXPECT_EQ(check("nobody@example.test", "secret"), PasswordCheck::unknown_user);
  EXPECT_EQ(check("nobody@example.test", "secret"), PasswordCheck::unknown_user);
  EXPECT_EQ(hashes(), 6u);
  // The right password is still a hit after the wrong ones.
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  EXPECT_EQ(hashes(), 6u);
}

TEST_F(CachedAuthDbTest, PasswdInAnotherProcessInvalidates) {
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  ASSERT_OK(db_->set_password("bob@example.test", "fresh"));  // ternctl user passwd
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::bad_password);
  EXPECT_EQ(hashes(), 2u);  // the old entry did not answer: argon2id ran against the new hash
  EXPECT_EQ(check("bob@example.test", "fresh"), PasswordCheck::ok);
  EXPECT_EQ(check("bob@example.test", "fresh"), PasswordCheck::ok);
  EXPECT_EQ(hashes(), 3u);
  // Setting the same password again gives a new salt, hence a new stored hash: a miss too.
  ASSERT_OK(db_->set_password("bob@example.test", "fresh"));
  EXPECT_EQ(check("bob@example.test", "fresh"), PasswordCheck::ok);
  EXPECT_EQ(hashes(), 4u);
}

TEST_F(CachedAuthDbTest, DisabledAndRemovedUsersAreRefusedDespiteTheCache) {
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  ASSERT_OK(db_->set_enabled("bob@example.test", false));
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::disabled);
  ASSERT_OK(db_->set_enabled("bob@example.test", true));
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  ASSERT_OK(db_->remove_user("bob@example.test"));
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::unknown_user);
  // Re-created with the same password: a new hash, so it is verified afresh.
  ASSERT_OK(db_->add_user("bob@example.test", "secret", 0));
  uint64_t before = hashes();
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  EXPECT_EQ(hashes(), before + 1);
}

TEST_F(CachedAuthDbTest, InProcessChangesDropTheEntry) {
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  ASSERT_OK(cached_->set_enabled("bob@example.test", false));
  ASSERT_OK(cached_->set_enabled("bob@example.test", true));
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  EXPECT_EQ(hashes(), 2u);
}

TEST_F(CachedAuthDbTest, TtlExpiryHashesAgain) {
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  clock_.t += 59s;
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  EXPECT_EQ(hashes(), 1u);
  clock_.t += 2s;
  EXPECT_EQ(check("bob@example.test", "secret"), PasswordCheck::ok);
  EXPECT_EQ(hashes(), 2u);
}

TEST_F(CachedAuthDbTest, CacheOffByDefault) {
  // db_ was opened without verified_cache_ttl (as ternctl opens it).
  ASSERT_TRUE(db_->check_password("bob@example.test", "secret").ok());
  ASSERT_TRUE(db_->check_password("bob@example.test", "secret").ok());
  EXPECT_EQ(db_->password_hashes_verified(), 2u);
}

TEST_F(CachedAuthDbTest, ThrottleLockoutStillRefusesACachedPassword) {
  AuthConfig cfg;
  cfg.delay_after_failures = 100;
  cfg.failure_delay_ms = 0;
  cfg.max_failures_per_account = 2;
  cfg.max_failures_per_ip = 100;
  Authenticator auth(*cached_, cfg, clock_.fn());
  EXPECT_EQ(auth.login("bob@example.test", "secret", "192.0.2.1", "imap").outcome,
            LoginResult::Outcome::ok);
  EXPECT_EQ(auth.login("bob@example.test", "x", "192.0.2.9", "imap").outcome,
            LoginResult::Outcome::bad_credentials);
  EXPECT_EQ(auth.login("bob@example.test", "y", "192.0.2.9", "imap").outcome,
            LoginResult::Outcome::bad_credentials);
  EXPECT_EQ(auth.login("bob@example.test", "secret", "192.0.2.1", "imap").outcome,
            LoginResult::Outcome::locked_out);
}
