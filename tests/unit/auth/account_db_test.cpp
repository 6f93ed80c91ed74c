#include <sqlite3.h>

#include <atomic>
#include <thread>

#include "auth_fixture.h"

using namespace tern;
using namespace tern::auth;

TEST(Canonical, AddressesAndDomains) {
  EXPECT_EQ(canonical_address("Bob.Smith@Example.TEST"), "bob.smith@example.test");
  EXPECT_EQ(canonical_address("bob+tag@example.test"), "bob+tag@example.test");
  for (const char* bad : {"", "bob", "@example.test", "bob@", "a b@example.test", "\"q\"@example.test",
                          "bob@exa_mple.test", "bob@-example.test", "bob@example..test", ".bob@example.test",
                          "bob..x@example.test", "bob@example.test."})
    EXPECT_FALSE(canonical_address(bad).has_value()) << bad;
  EXPECT_FALSE(canonical_address(std::string(65, 'a') + "@example.test").has_value());
  EXPECT_EQ(canonical_domain("Mail.Example.TEST"), "mail.example.test");
  EXPECT_FALSE(canonical_domain("").has_value());
  EXPECT_FALSE(canonical_domain(std::string(64, 'a') + ".test").has_value());
}

TEST_F(AuthDbTest, DomainsAreCaseInsensitive) {
  ASSERT_OK(db_->add_domain("Example.TEST"));
  auto again = db_->add_domain("example.test");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::exists);
  auto local = db_->is_local_domain("EXAMPLE.test");
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE(*local);
  auto list = db_->list_domains();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, std::vector<std::string>{"example.test"});
  EXPECT_EQ(db_->add_domain("not a domain").error().code, Errc::syntax);
  ASSERT_OK(db_->remove_domain("EXAMPLE.TEST"));
  EXPECT_EQ(db_->remove_domain("example.test").error().code, Errc::not_found);
}

TEST_F(AuthDbTest, RemovingADomainInUseIsRefused) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "pw", 0));
  auto r = db_->remove_domain("example.test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::refused);
  EXPECT_NE(r.error().message.find("1 user"), std::string::npos) << r.error().message;
  ASSERT_OK(db_->remove_user("bob@example.test"));
  ASSERT_OK(db_->add_alias("@example.test", {"x@elsewhere.test"}));
  EXPECT_EQ(db_->remove_domain("example.test").error().code, Errc::refused);
  ASSERT_OK(db_->remove_alias("@Example.test"));
  ASSERT_OK(db_->remove_domain("example.test"));
}

TEST_F(AuthDbTest, UsersLifecycle) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("Bob@Example.Test", "s3cret", 1000));
  EXPECT_EQ(db_->add_user("bob@example.test", "x", 0).error().code, Errc::exists);
  auto nolocal = db_->add_user("bob@other.test", "x", 0);
  ASSERT_FALSE(nolocal.ok());
  EXPECT_EQ(nolocal.error().code, Errc::not_found);
  EXPECT_NE(nolocal.error().message.find("other.test is not a local domain"), std::string::npos);
  EXPECT_EQ(db_->add_user("bob+x@example.test", "x", 0).error().code, Errc::syntax);
  EXPECT_EQ(db_->add_user("carol@example.test", "", 0).error().code, Errc::syntax);
  EXPECT_EQ(db_->add_user("not-an-address", "x", 0).error().code, Errc::syntax);

  auto found = db_->find_user("BOB@example.test");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->address, "bob@example.test");
  EXPECT_EQ((*found)->quota, 1000u);
  EXPECT_TRUE((*found)->enabled);
  EXPECT_GT((*found)->created, 0);

  ASSERT_OK(db_->set_quota("bob@example.test", 5000));
  EXPECT_EQ(*db_->quota_of("bob@example.test"), 5000u);
  EXPECT_EQ(db_->quota_of("nobody@example.test").error().code, Errc::not_found);
  EXPECT_EQ(db_->set_quota("nobody@example.test", 1).error().code, Errc::not_found);
  ASSERT_OK(db_->set_enabled("bob@example.test", false));
  EXPECT_FALSE((*db_->find_user("bob@example.test"))->enabled);

  ASSERT_OK(db_->add_user("alice@example.test", "pw", 0));
  auto users = db_->list_users();
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].address, "alice@example.test");
  EXPECT_EQ((*users)[1].address, "bob@example.test");

  ASSERT_OK(db_->remove_user("bob@example.test"));
  EXPECT_EQ(db_->remove_user("bob@example.test").error().code, Errc::not_found);
  EXPECT_FALSE(db_->find_user("bob@example.test")->has_value());
}

TEST_F(AuthDbTest, AliasesAdministration) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "pw", 0));
  ASSERT_OK(db_->add_alias("Team@Example.test", {"bob@example.test", "X@Remote.test", "bob@EXAMPLE.test"}));
  EXPECT_EQ(db_->add_alias("team@example.test", {"bob@example.test"}).error().code, Errc::exists);
  EXPECT_EQ(db_->add_alias("bob@example.test", {"x@remote.test"}).error().code, Errc::exists);
  EXPECT_EQ(db_->add_user("team@example.test", "pw", 0).error().code, Errc::exists);
  EXPECT_EQ(db_->add_alias("x@other.test", {"bob@example.test"}).error().code, Errc::not_found);
  EXPECT_EQ(db_->add_alias("y@example.test", {}).error().code, Errc::syntax);
  EXPECT_EQ(db_->add_alias("y@example.test", {"not an address"}).error().code, Errc::syntax);
  EXPECT_EQ(db_->add_alias("y@example.test", {"y@example.test"}).error().code, Errc::syntax);
  auto list = db_->list_aliases();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].alias, "team@example.test");
  EXPECT_EQ((*list)[0].targets, (std::vector<std::string>{"bob@example.test", "x@remote.test"}));
  ASSERT_OK(db_->remove_alias("TEAM@example.test"));
  EXPECT_EQ(db_->remove_alias("team@example.test").error().code, Errc::not_found);
}

TEST_F(AuthDbTest, PasswordsVerify) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "correct horse", 0));
  auto ok = db_->check_password("BOB@example.test", "correct horse");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->outcome, PasswordCheck::ok);
  EXPECT_EQ(ok->user, "bob@example.test");
  EXPECT_EQ(db_->check_password("bob@example.test", "correct horsE")->outcome, PasswordCheck::bad_password);
  EXPECT_EQ(db_->check_password("bob@example.test", "")->outcome, PasswordCheck::bad_password);
  EXPECT_EQ(db_->check_password("eve@example.test", "correct horse")->outcome, PasswordCheck::unknown_user);
  EXPECT_EQ(db_->check_password("garbage", "x")->outcome, PasswordCheck::unknown_user);

  ASSERT_OK(db_->set_password("bob@example.test", "new one"));
  EXPECT_EQ(db_->check_password("bob@example.test", "correct horse")->outcome, PasswordCheck::bad_password);
  EXPECT_EQ(db_->check_password("bob@example.test", "new one")->outcome, PasswordCheck::ok);
  EXPECT_EQ(db_->set_password("eve@example.test", "x").error().code, Errc::not_found);

  // Disabled is only revealed to someone who knows the password.
  ASSERT_OK(db_->set_enabled("bob@example.test", false));
  EXPECT_EQ(db_->check_password("bob@example.test", "new one")->outcome, PasswordCheck::disabled);
  EXPECT_EQ(db_->check_password("bob@example.test", "wrong")->outcome, PasswordCheck::bad_password);
}

TEST_F(AuthDbTest, StoredHashIsArgon2idAndNeverThePassword) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "plaintext-pw", 0));
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT password FROM users", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  std::string hash = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(raw);
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find("plaintext-pw"), std::string::npos);
}

TEST_F(AuthDbTest, HashesAreUpgradedOnLogin) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "pw", 0));  // MIN cost
  auto read_hash = [&] {
    sqlite3* raw = nullptr;
    sqlite3_open(db_path_.c_str(), &raw);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(raw, "SELECT password FROM users", -1, &st, nullptr);
    sqlite3_step(st);
    std::string h = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return h;
  };
  std::string before = read_hash();
  auto strong = AccountDb::open(db_path_);  // INTERACTIVE cost
  ASSERT_TRUE(strong.ok());
  EXPECT_EQ((*strong)->check_password("bob@example.test", "pw")->outcome, PasswordCheck::ok);
  std::string after = read_hash();
  EXPECT_NE(before, after);
  EXPECT_EQ((*strong)->check_password("bob@example.test", "pw")->outcome, PasswordCheck::ok);
}

TEST_F(AuthDbTest, ChangesByAnotherHandleAreSeenAtOnce) {
  // Like ternctl writing while ternd runs: no restart, no stale cache.
  auto other = open_db();
  ASSERT_NE(other, nullptr);
  ASSERT_OK(db_->add_domain("example.test"));
  EXPECT_TRUE(*other->is_local_domain("example.test"));
  ASSERT_OK(other->add_user("bob@example.test", "pw", 7));
  EXPECT_EQ(db_->resolve_recipient("bob@example.test")->kind, Recipient::Kind::local);
  ASSERT_OK(other->set_quota("bob@example.test", 9));
  EXPECT_EQ(*db_->quota_of("bob@example.test"), 9u);
  ASSERT_OK(other->remove_user("bob@example.test"));
  EXPECT_EQ(db_->resolve_recipient("bob@example.test")->kind, Recipient::Kind::unknown_user);
}

TEST_F(AuthDbTest, ConcurrentReadersAndWriters) {
  ASSERT_OK(db_->add_domain("example.test"));
  auto second = open_db();  // a second "process"
  ASSERT_NE(second, nullptr);
  constexpr int kWriters = 2, kUsersEach = 25, kReaders = 4;
  std::atomic<bool> done{false};
  std::atomic<int> errors{0}, reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      AccountDb& db = w == 0 ? *db_ : *second;
      for (int i = 0; i < kUsersEach; ++i) {
        std::string addr = "u" + std::to_string(w) + "-" + std::to_string(i) + "@example.test";
        if (!db.add_user(addr, "pw", 0).ok()) ++errors;
        if (!db.set_quota(addr, uint64_t(i)).ok()) ++errors;
      }
    });
  for (int r = 0; r < kReaders; ++r)
    threads.emplace_back([&, r] {
      AccountDb& db = r % 2 ? *db_ : *second;
      while (!done) {
        auto res = db.resolve_recipient("u0-0@example.test");
        auto list = db.list_users();
        if (!res.ok() || !list.ok()) ++errors;
        ++reads;
      }
    });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done = true;
  for (size_t i = kWriters; i < threads.size(); ++i) threads[i].join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(reads.load(), 0);
  auto users = db_->list_users();
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(users->size(), size_t(kWriters * kUsersEach));
  EXPECT_EQ(*second->quota_of("u1-24@example.test"), 24u);
}

namespace tern::auth {
namespace {

TEST_F(AuthDbTest, UserSettings) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "s3cret", 0));
  auto none = db_->user_settings("bob@example.test");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_OK(db_->set_user_setting("Bob@Example.TEST", "spam.junk_threshold", "3"));
  ASSERT_OK(db_->set_user_setting("bob@example.test", "spam.junk_threshold", "2.5"));  // replaces
  ASSERT_OK(db_->set_user_setting("bob@example.test", "spam.reject_threshold", "20"));
  auto got = db_->user_settings("BOB@example.test");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, (std::map<std::string, std::string>{{"spam.junk_threshold", "2.5"},
                                                      {"spam.reject_threshold", "20"}}));
  ASSERT_OK(db_->set_user_setting("bob@example.test", "spam.reject_threshold", ""));  // removes
  EXPECT_EQ(db_->user_settings("bob@example.test")->size(), 1u);
  EXPECT_EQ(db_->set_user_setting("carol@example.test", "k", "v").error().code, Errc::not_found);
  // A removed user's settings go with it: a new user of that name starts clean.
  ASSERT_OK(db_->remove_user("bob@example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "s3cret", 0));
  EXPECT_TRUE(db_->user_settings("bob@example.test")->empty());
}

// A file made before user_settings existed (schema 2) is brought up to date on open.
TEST_F(AuthDbTest, SchemaTwoGainsUserSettings) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "s3cret", 0));
  db_.reset();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "DROP TABLE user_settings; PRAGMA user_version=2;", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  db_ = open_db();
  ASSERT_NE(db_, nullptr);
  ASSERT_OK(db_->set_user_setting("bob@example.test", "k", "v"));
  EXPECT_EQ(db_->user_settings("bob@example.test")->at("k"), "v");
  EXPECT_TRUE(db_->find_user("bob@example.test")->has_value());  // nothing else lost
}

}  // namespace
}  // namespace tern::auth
