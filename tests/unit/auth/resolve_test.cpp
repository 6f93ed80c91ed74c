#include "auth_fixture.h"

using namespace tern;
using namespace tern::auth;

using Strings = std::vector<std::string>;

class ResolveTest : public AuthDbTest {
 protected:
  void SetUp() override {
    AuthDbTest::SetUp();
    ASSERT_OK(db_->add_domain("example.test"));
    ASSERT_OK(db_->add_domain("second.test"));
    for (const char* u : {"bob@example.test", "alice@example.test", "carol@second.test"})
      ASSERT_OK(db_->add_user(u, "pw", 0));
  }
  Recipient resolve(const std::string& a) {
    auto r = db_->resolve_recipient(a);
    EXPECT_TRUE(r.ok()) << a;
    return r.ok() ? *r : Recipient{};
  }
  bool owns(const std::string& user, const std::string& addr) {
    auto r = db_->owns_address(user, addr);
    EXPECT_TRUE(r.ok());
    return r.ok() && *r;
  }
};

TEST_F(ResolveTest, ExactUserAndDomains) {
  Recipient r = resolve("Bob@EXAMPLE.test");
  EXPECT_EQ(r.kind, Recipient::Kind::local);
  EXPECT_EQ(r.local_users, Strings{"bob@example.test"});
  EXPECT_TRUE(r.forwards.empty());
  EXPECT_EQ(resolve("nobody@example.test").kind, Recipient::Kind::unknown_user);
  EXPECT_EQ(resolve("bob@elsewhere.test").kind, Recipient::Kind::not_local_domain);
  EXPECT_EQ(db_->resolve_recipient("no-at-sign").error().code, Errc::syntax);
}

TEST_F(ResolveTest, AliasesMixUsersAliasesAndExternal) {
  ASSERT_OK(db_->add_alias("staff@example.test", {"alice@example.test", "carol@second.test"}));
  ASSERT_OK(db_->add_alias("all@example.test",
                           {"staff@example.test", "bob@example.test", "alice@example.test", "ext@remote.test"}));
  Recipient r = resolve("ALL@example.test");
  EXPECT_EQ(r.kind, Recipient::Kind::local);
  Strings users = r.local_users;
  std::sort(users.begin(), users.end());
  EXPECT_EQ(users, (Strings{"alice@example.test", "bob@example.test", "carol@second.test"}));  // de-duplicated
  EXPECT_EQ(r.forwards, Strings{"ext@remote.test"});

  ASSERT_OK(db_->add_alias("fwd@example.test", {"someone@remote.test"}));
  r = resolve("fwd@example.test");
  EXPECT_EQ(r.kind, Recipient::Kind::local);
  EXPECT_TRUE(r.local_users.empty());
  EXPECT_EQ(r.forwards, Strings{"someone@remote.test"});
}

// SMTP's RCPT checks each user's quota from the resolution itself (one read of the accounts).
TEST_F(ResolveTest, EachLocalUserComesWithItsQuota) {
  ASSERT_OK(db_->set_quota("alice@example.test", 7000));
  ASSERT_OK(db_->set_quota("carol@second.test", 9000));
  ASSERT_OK(db_->add_alias("team@example.test",
                           {"carol@second.test", "bob@example.test", "alice@example.test",
                            "ext@remote.test", "alice+x@example.test"}));
  Recipient r = resolve("team@example.test");
  ASSERT_EQ(r.local_users.size(), 3u);
  ASSERT_EQ(r.local_quotas.size(), r.local_users.size());
  for (size_t i = 0; i < r.local_users.size(); ++i)
    EXPECT_EQ(r.local_quotas[i], *db_->quota_of(r.local_users[i])) << r.local_users[i];
  r = resolve("alice+news@example.test");
  EXPECT_EQ(r.local_users, Strings{"alice@example.test"});
  EXPECT_EQ(r.local_quotas, (std::vector<uint64_t>{7000}));
}

TEST_F(ResolveTest, SubAddressing) {
  Recipient r = resolve("bob+lists@example.test");
  EXPECT_EQ(r.kind, Recipient::Kind::local);
  EXPECT_EQ(r.local_users, Strings{"bob@example.test"});
  r = resolve("bob+a+b@example.test");
  EXPECT_EQ(r.local_users, Strings{"bob@example.test"});
  ASSERT_OK(db_->add_alias("team@example.test", {"alice@example.test"}));
  r = resolve("team+x@example.test");
  EXPECT_EQ(r.local_users, Strings{"alice@example.test"});
  EXPECT_EQ(resolve("nobody+x@example.test").kind, Recipient::Kind::unknown_user);
  EXPECT_EQ(resolve("+x@example.test").kind, Recipient::Kind::unknown_user);
}

TEST_F(ResolveTest, CatchAllIsTheLastResort) {
  ASSERT_OK(db_->add_alias("@example.test", {"alice@example.test"}));
  EXPECT_EQ(resolve("whoever@example.test").local_users, Strings{"alice@example.test"});
  EXPECT_EQ(resolve("whoever+tag@example.test").local_users, Strings{"alice@example.test"});
  // Existing users and aliases win over the catch-all.
  EXPECT_EQ(resolve("bob@example.test").local_users, Strings{"bob@example.test"});
  EXPECT_EQ(resolve("bob+x@example.test").local_users, Strings{"bob@example.test"});
  // The catch-all of one domain does not apply to another.
  EXPECT_EQ(resolve("whoever@second.test").kind, Recipient::Kind::unknown_user);
}

TEST_F(ResolveTest, DisabledUsersReceiveNothing) {
  ASSERT_OK(db_->add_alias("@example.test", {"alice@example.test"}));
  ASSERT_OK(db_->add_alias("both@example.test", {"alice@example.test", "bob@example.test"}));
  ASSERT_OK(db_->set_enabled("bob@example.test", false));
  EXPECT_EQ(resolve("bob@example.test").kind, Recipient::Kind::unknown_user);  // not the catch-all
  EXPECT_EQ(resolve("both@example.test").local_users, Strings{"alice@example.test"});
}

TEST_F(ResolveTest, AliasLoopsAndDepthLimit) {
  ASSERT_OK(db_->add_alias("a@example.test", {"b@example.test"}));
  ASSERT_OK(db_->add_alias("b@example.test", {"a@example.test", "bob@example.test"}));
  Recipient r = resolve("a@example.test");
  EXPECT_EQ(r.kind, Recipient::Kind::local);
  EXPECT_EQ(r.local_users, Strings{"bob@example.test"});

  ASSERT_OK(db_->add_alias("x@example.test", {"y@example.test"}));
  ASSERT_OK(db_->add_alias("y@example.test", {"x@example.test"}));
  EXPECT_EQ(resolve("x@example.test").kind, Recipient::Kind::unknown_user);

  // A chain c0 -> c1 -> ... -> c11 -> alice: deeper than the limit of 10, so cut.
  const int n = AccountDb::kMaxAliasDepth + 2;
  for (int i = 0; i < n; ++i) {
    std::string next = i + 1 < n ? "c" + std::to_string(i + 1) + "@example.test" : "alice@example.test";
    ASSERT_OK(db_->add_alias("c" + std::to_string(i) + "@example.test", {next}));
  }
  EXPECT_EQ(resolve("c0@example.test").kind, Recipient::Kind::unknown_user);
  // Within the limit it resolves.
  EXPECT_EQ(resolve("c3@example.test").local_users, Strings{"alice@example.test"});

  // A catch-all pointing at an unknown local address of its own domain must not spin.
  ASSERT_OK(db_->add_alias("@second.test", {"ghost@second.test"}));
  EXPECT_EQ(resolve("anyone@second.test").kind, Recipient::Kind::unknown_user);
}

TEST_F(ResolveTest, OwnsAddress) {
  ASSERT_OK(db_->add_alias("team@example.test", {"alice@example.test", "staff@example.test"}));
  ASSERT_OK(db_->add_alias("staff@example.test", {"bob@example.test"}));
  ASSERT_OK(db_->add_alias("@example.test", {"bob@example.test"}));
  EXPECT_TRUE(owns("bob@example.test", "bob@example.test"));
  EXPECT_TRUE(owns("Bob@example.test", "BOB+news@Example.test"));
  EXPECT_TRUE(owns("bob@example.test", "staff@example.test"));
  EXPECT_TRUE(owns("bob@example.test", "team@example.test"));  // through staff
  EXPECT_TRUE(owns("bob@example.test", "team+x@example.test"));
  EXPECT_TRUE(owns("alice@example.test", "team@example.test"));
  EXPECT_FALSE(owns("alice@example.test", "staff@example.test"));
  EXPECT_FALSE(owns("alice@example.test", "bob@example.test"));
  EXPECT_FALSE(owns("alice@example.test", "bob+x@example.test"));
  EXPECT_FALSE(owns("bob@example.test", "random@example.test"));  // catch-all grants nothing
  EXPECT_FALSE(owns("bob@example.test", "bob@elsewhere.test"));
  EXPECT_FALSE(owns("bob@example.test", "garbage"));
}

// RFC 5321 §4.5.1: postmaster at every served domain and at our hostname is accepted.
TEST_F(ResolveTest, PostmasterFallsBackToTheConfiguredAddress) {
  // Without a configured postmaster, an undefined postmaster is unknown, as any user.
  EXPECT_EQ(resolve("postmaster@example.test").kind, Recipient::Kind::unknown_user);

  db_.reset();
  AccountDb::Options o;
  o.cost = HashCost::minimum;
  o.postmaster = "Alice@Example.test";
  o.hostname = "Mail.Example.test";
  auto opened = AccountDb::open(db_path_, o);
  ASSERT_TRUE(opened.ok());
  db_ = std::move(*opened);

  for (const char* a : {"postmaster@example.test", "POSTMASTER@second.test",
                        "postmaster@mail.example.test"}) {
    Recipient r = resolve(a);
    EXPECT_EQ(r.kind, Recipient::Kind::local) << a;
    EXPECT_EQ(r.local_users, Strings{"alice@example.test"}) << a;
  }
  // Only postmaster: other names at the hostname, and postmaster elsewhere, are not ours.
  EXPECT_EQ(resolve("bob@mail.example.test").kind, Recipient::Kind::not_local_domain);
  EXPECT_EQ(resolve("postmaster@elsewhere.test").kind, Recipient::Kind::not_local_domain);
  // A domain's own postmaster alias wins over the fallback.
  ASSERT_OK(db_->add_alias("postmaster@second.test", {"carol@second.test"}));
  EXPECT_EQ(resolve("postmaster@second.test").local_users, Strings{"carol@second.test"});
  // An off-site postmaster address is a forward.
  db_.reset();
  o.postmaster = "admin@provider.test";
  opened = AccountDb::open(db_path_, o);
  ASSERT_TRUE(opened.ok());
  db_ = std::move(*opened);
  Recipient off = resolve("postmaster@example.test");
  EXPECT_EQ(off.kind, Recipient::Kind::local);
  EXPECT_TRUE(off.local_users.empty());
  EXPECT_EQ(off.forwards, Strings{"admin@provider.test"});
}
