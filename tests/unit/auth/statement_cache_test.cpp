// AccountDb keeps prepared statements per pooled connection. What a client relies on must not
// change: every lookup reads current data (changes made through another handle on the same
// file, as ternctl makes them while ternd runs, and even schema changes), and concurrent
// lookups get their own correct answers. ASan checks that closing finalizes every statement.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "auth_fixture.h"

using namespace tern;
using namespace tern::auth;

using Strings = std::vector<std::string>;

namespace {

// Every read path, several times over, so each connection's statements are cached and reused.
void warm(AccountDb& db) {
  for (int i = 0; i < 3; ++i) {
    (void)db.is_local_domain("example.test");
    (void)db.find_user("bob@example.test");
    (void)db.quota_of("bob@example.test");
    (void)db.resolve_recipient("bob@example.test");
    (void)db.resolve_recipient("team@example.test");
    (void)db.owns_address("bob@example.test", "team@example.test");
    (void)db.check_password("bob@example.test", "pw");
    (void)db.list_users();
    (void)db.list_aliases();
    (void)db.list_domains();
  }
}

Recipient resolve(AccountDb& db, const std::string& address) {
  auto r = db.resolve_recipient(address);
  EXPECT_TRUE(r.ok()) << address << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Recipient{};
}

}  // namespace

TEST_F(AuthDbTest, RepeatedLookupsSeeEveryChangeByAnotherHandle) {
  auto other = open_db();  // ternctl
  ASSERT_NE(other, nullptr);
  warm(*db_);
  EXPECT_FALSE(*db_->is_local_domain("example.test"));
  ASSERT_OK(other->add_domain("example.test"));
  EXPECT_TRUE(*db_->is_local_domain("example.test"));

  warm(*db_);
  EXPECT_EQ(resolve(*db_, "bob@example.test").kind, Recipient::Kind::unknown_user);
  EXPECT_EQ(db_->quota_of("bob@example.test").error().code, Errc::not_found);
  ASSERT_OK(other->add_user("bob@example.test", "pw", 7));
  EXPECT_EQ(resolve(*db_, "bob@example.test").local_users, Strings{"bob@example.test"});
  EXPECT_EQ(*db_->quota_of("bob@example.test"), 7u);
  EXPECT_EQ(db_->check_password("bob@example.test", "pw")->outcome, PasswordCheck::ok);

  warm(*db_);
  ASSERT_OK(other->set_quota("bob@example.test", 9));
  EXPECT_EQ(*db_->quota_of("bob@example.test"), 9u);
  ASSERT_OK(other->set_password("bob@example.test", "new"));
  EXPECT_EQ(db_->check_password("bob@example.test", "pw")->outcome, PasswordCheck::bad_password);
  EXPECT_EQ(db_->check_password("bob@example.test", "new")->outcome, PasswordCheck::ok);

  ASSERT_OK(other->add_user("ann@example.test", "pw", 0));
  ASSERT_OK(other->add_alias("team@example.test", {"bob@example.test", "ann@example.test"}));
  EXPECT_EQ(resolve(*db_, "team@example.test").local_users,
            (Strings{"ann@example.test", "bob@example.test"}));
  EXPECT_TRUE(*db_->owns_address("ann@example.test", "team@example.test"));
  warm(*db_);
  ASSERT_OK(other->set_enabled("ann@example.test", false));
  EXPECT_EQ(resolve(*db_, "team@example.test").local_users, Strings{"bob@example.test"});
  EXPECT_EQ(db_->check_password("ann@example.test", "pw")->outcome, PasswordCheck::disabled);

  warm(*db_);
  ASSERT_OK(other->remove_alias("team@example.test"));
  EXPECT_EQ(resolve(*db_, "team@example.test").kind, Recipient::Kind::unknown_user);
  ASSERT_OK(other->remove_user("bob@example.test"));
  ASSERT_OK(other->remove_user("ann@example.test"));
  EXPECT_EQ(resolve(*db_, "bob@example.test").kind, Recipient::Kind::unknown_user);
  EXPECT_FALSE(db_->find_user("bob@example.test")->has_value());
  EXPECT_EQ(db_->check_password("bob@example.test", "new")->outcome, PasswordCheck::unknown_user);

  // is_local_domain stops at the first row: its read must still end with the call, or this
  // handle would keep answering from the old snapshot.
  warm(*db_);
  ASSERT_OK(other->remove_domain("example.test"));
  EXPECT_FALSE(*db_->is_local_domain("example.test"));
  EXPECT_EQ(resolve(*db_, "bob@example.test").kind, Recipient::Kind::not_local_domain);

  // And the other way round: the admin handle sees what the first one wrote.
  warm(*other);
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("carol@example.test", "pw", 3));
  EXPECT_EQ(*other->quota_of("carol@example.test"), 3u);
}

TEST_F(AuthDbTest, LookupsFollowASchemaChangeByAnotherConnection) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "pw", 5));
  ASSERT_OK(db_->add_user("ann@example.test", "pw", 6));
  ASSERT_OK(db_->add_alias("team@example.test", {"bob@example.test"}));
  warm(*db_);
  // A migration by another program: users rebuilt with its columns in another order (the
  // table's pages move), every quota changed. Statements prepared against the old schema
  // would fail or read the dropped table; they must be re-prepared and read the new one.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &raw), SQLITE_OK);
  const char* migrate = R"sql(
    BEGIN IMMEDIATE;
    CREATE TABLE users_new(enabled INTEGER NOT NULL DEFAULT 1, quota INTEGER NOT NULL DEFAULT 0,
                           created INTEGER NOT NULL, password TEXT NOT NULL, domain TEXT NOT NULL,
                           address TEXT PRIMARY KEY, scram TEXT NOT NULL DEFAULT '');
    INSERT INTO users_new(enabled, quota, created, password, domain, address, scram)
      SELECT enabled, quota * 100, created, password, domain, address, scram FROM users;
    DROP TABLE users;
    ALTER TABLE users_new RENAME TO users;
    CREATE INDEX users_by_domain ON users(domain);
    COMMIT;)sql";
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(raw, migrate, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(raw);

  auto bob = db_->find_user("bob@example.test");
  ASSERT_TRUE(bob.ok()) << bob.error().message;
  ASSERT_TRUE(bob->has_value());
  EXPECT_EQ((*bob)->quota, 500u);
  EXPECT_TRUE((*bob)->enabled);
  EXPECT_EQ(*db_->quota_of("ann@example.test"), 600u);
  EXPECT_EQ(resolve(*db_, "team@example.test").local_users, Strings{"bob@example.test"});
  EXPECT_EQ(db_->check_password("bob@example.test", "pw")->outcome, PasswordCheck::ok);
  ASSERT_OK(db_->set_quota("bob@example.test", 1));
  EXPECT_EQ(*db_->quota_of("bob@example.test"), 1u);
  ASSERT_OK(db_->add_user("carol@example.test", "pw", 2));
  auto users = db_->list_users();
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 3u);
  EXPECT_EQ((*users)[0].address, "ann@example.test");
  EXPECT_EQ((*users)[2].quota, 2u);
}

TEST_F(AuthDbTest, ConcurrentLookupsEachGetTheirOwnAnswer) {
  constexpr int kUsers = 12, kThreads = 4, kRounds = 60;
  ASSERT_OK(db_->add_domain("example.test"));
  auto user = [](int i) { return "u" + std::to_string(i) + "@example.test"; };
  auto alias = [](int i) { return "a" + std::to_string(i) + "@example.test"; };
  for (int i = 0; i < kUsers; ++i) ASSERT_OK(db_->add_user(user(i), "pw" + std::to_string(i), uint64_t(i) * 10 + 1));
  // a<i> -> u<i>, u<i+1>, and an external address.
  for (int i = 0; i < kUsers; ++i)
    ASSERT_OK(db_->add_alias(alias(i), {user(i), user((i + 1) % kUsers), "x" + std::to_string(i) + "@remote.test"}));
  ASSERT_OK(db_->set_enabled(user(3), false));

  std::atomic<int> wrong{0};
  std::vector<std::string> failures[kThreads];
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto fail = [&](const std::string& what) {
        ++wrong;
        if (failures[t].size() < 5) failures[t].push_back(what);
      };
      for (int k = 0; k < kRounds; ++k) {
        const int i = (t * 5 + k * 7) % kUsers, j = (i + 1) % kUsers;
        auto q = db_->quota_of(user(i));
        if (!q || *q != uint64_t(i) * 10 + 1) fail("quota of " + user(i));
        auto r = db_->resolve_recipient(user(i));
        Strings want_user = i == 3 ? Strings{} : Strings{user(i)};
        if (!r || r->local_users != want_user) fail("resolve " + user(i));
        auto a = db_->resolve_recipient(alias(i));
        Strings want_alias;  // targets expand in sorted order ("u10" before "u9")
        for (int x : {i, j})
          if (x != 3) want_alias.push_back(user(x));
        std::sort(want_alias.begin(), want_alias.end());
        if (!a || a->local_users != want_alias || a->forwards != Strings{"x" + std::to_string(i) + "@remote.test"})
          fail("resolve " + alias(i));
        auto sub = db_->resolve_recipient("u" + std::to_string(j) + "+tag@example.test");
        if (!sub || sub->local_users != (j == 3 ? Strings{} : Strings{user(j)})) fail("sub-address of " + user(j));
        auto none = db_->find_user("nobody" + std::to_string(k) + "@example.test");
        if (!none || none->has_value()) fail("nobody");
        auto owns = db_->owns_address(user(j), alias(i));
        if (!owns || *owns != (j != 3)) fail("owns " + alias(i));
        if (k % 10 == 0) {
          auto pw = db_->check_password(user(i), "pw" + std::to_string(i));
          auto want = i == 3 ? PasswordCheck::disabled : PasswordCheck::ok;
          if (!pw || pw->outcome != want) fail("password of " + user(i));
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  for (const auto& f : failures)
    for (const auto& what : f) ADD_FAILURE() << what;
}
