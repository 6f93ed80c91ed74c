// sqlite/: the connection settings, the statement cache, transactions and the one mapping of
// SQLite result codes to tern::Error that auth/, store/ and relay/ rely on (a full disk must
// read as Cause::no_space, a held lock as Cause::busy, a taken key as Errc::exists).
#include "sqlite/sqlite.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace tern;
using namespace tern::sqlite;

namespace {

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tern-sqlite-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "t.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Connection> open(OpenOptions o = {}) {
    auto c = Connection::open(path_, o);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? std::move(*c) : nullptr;
  }
  static std::string text_of(Connection& c, const char* sql) {
    auto st = c.prepare(sql);
    return st.step() ? st.text(0) : "";
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteTest, OpensInWalWithFullSync) {
  auto c = open();
  EXPECT_EQ(text_of(*c, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(text_of(*c, "PRAGMA synchronous"), "2");  // FULL
  EXPECT_EQ(c->label(), "t.db");
}

TEST_F(SqliteTest, CallerPragmasWhenAsked) {
  OpenOptions o;
  o.wal_full_sync = false;
  o.label = "mine";
  auto c = open(o);
  EXPECT_EQ(text_of(*c, "PRAGMA journal_mode"), "delete");
  auto st = c->prepare("SELEC nonsense");
  auto r = st.try_step("look");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::internal);
  EXPECT_NE(r.error().message.find("mine: look: prepare"), std::string::npos) << r.error().message;
}

TEST_F(SqliteTest, ReadOnlyRefusesWrites) {
  open()->exec("CREATE TABLE t(x)");
  OpenOptions o;
  o.read_only = true;
  auto ro = open(o);
  EXPECT_FALSE(ro->try_exec("INSERT INTO t VALUES(1)").ok());
  auto missing = Connection::open((dir_ / "absent.db").string(), o);
  EXPECT_FALSE(missing.ok());
}

TEST_F(SqliteTest, StatementCacheReusesOnePreparedStatement) {
  auto c = open();
  c->exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)");
  for (int i = 0; i < 5; ++i) c->prepare("INSERT INTO t(k, v) VALUES(?, ?)").bind(i).bind("v" + std::to_string(i)).run();
  EXPECT_EQ(c->cached_statements(), 1u);
  // Handed back with its bindings cleared: an unbound parameter reads as NULL again.
  auto st = c->prepare("SELECT ? IS NULL");
  EXPECT_TRUE(st.step());
  EXPECT_EQ(st.i64(0), 1);
}

TEST_F(SqliteTest, NestedUseOfTheSameTextGetsItsOwnStatement) {
  auto c = open();
  c->exec("CREATE TABLE t(k INTEGER PRIMARY KEY); INSERT INTO t VALUES(1),(2),(3)");
  const char* sql = "SELECT k FROM t WHERE k >= ? ORDER BY k";
  auto outer = c->prepare(sql);
  outer.bind(1);
  std::vector<std::pair<int64_t, int64_t>> seen;
  while (outer.step()) {
    auto inner = c->prepare(sql);  // the cached one is busy: a private statement
    inner.bind(outer.i64(0));
    ASSERT_TRUE(inner.step());
    seen.emplace_back(outer.i64(0), inner.i64(0));
  }
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {2, 2}, {3, 3}}));
  EXPECT_EQ(c->cached_statements(), 1u);
}

TEST_F(SqliteTest, HandedBackStatementHoldsNoReadTransaction) {
  auto a = open();
  a->exec("CREATE TABLE t(k); INSERT INTO t VALUES(1),(2)");
  {
    auto st = a->prepare("SELECT k FROM t");
    ASSERT_TRUE(st.step());  // not stepped to the end
  }
  EXPECT_FALSE(a->in_transaction());
  // A checkpoint that must wait for every reader succeeds: no snapshot is pinned.
  auto b = open();
  b->exec("INSERT INTO t VALUES(3)");
  int log = -1, done = -1;
  EXPECT_EQ(sqlite3_wal_checkpoint_v2(b->handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done), SQLITE_OK);
}

TEST_F(SqliteTest, CheckpointTruncatesTheWalOrSaysBusy) {
  auto a = open();
  a->exec("CREATE TABLE t(k); INSERT INTO t VALUES(1)");
  ASSERT_GT(std::filesystem::file_size(path_ + "-wal"), 0u);
  ASSERT_TRUE(a->try_checkpoint_truncate().ok());
  EXPECT_EQ(std::filesystem::file_size(path_ + "-wal"), 0u);
  // A reader inside a read transaction on a newer frame keeps the WAL from being reset.
  a->exec("INSERT INTO t VALUES(2)");
  OpenOptions o;
  o.busy_timeout_ms = 0;
  auto b = open(o);
  Transaction reading(*b, Transaction::Mode::deferred);
  auto st = b->prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(st.step());
  a->set_busy_timeout(0);
  Status s = a->try_checkpoint_truncate();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().cause, Cause::busy);
}

TEST_F(SqliteTest, BindByIndexThenInOrder) {
  auto c = open();
  auto st = c->prepare("SELECT ?1 || ?2 || ?3");
  st.bind(2, "b").bind("c").bind(1, "a");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.text(0), "abc");
  auto bad = c->prepare("SELECT ?1");
  bad.bind(5, int64_t{1});  // out of range: reported by the step, not lost
  auto r = bad.try_step();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::internal);
}

TEST_F(SqliteTest, TransactionCommitsOrRollsBack) {
  auto c = open();
  c->exec("CREATE TABLE t(k)");
  {
    Transaction txn(*c);
    ASSERT_TRUE(txn.begun().ok());
    c->exec("INSERT INTO t VALUES(1)");
  }  // not committed
  EXPECT_FALSE(c->in_transaction());
  EXPECT_EQ(c->prepare("SELECT COUNT(*) FROM t").step_value(), 0);
  {
    Transaction txn(*c);
    c->exec("INSERT INTO t VALUES(2)");
    EXPECT_TRUE(txn.try_commit().ok());
  }
  EXPECT_EQ(c->prepare("SELECT COUNT(*) FROM t").step_value(), 1);
}

TEST_F(SqliteTest, BusyWriterMapsToTemporaryBusy) {
  auto a = open();
  a->exec("CREATE TABLE t(k)");
  OpenOptions o;
  o.busy_timeout_ms = 0;
  auto b = open(o);
  Transaction holder(*a);  // BEGIN IMMEDIATE: the write lock
  ASSERT_TRUE(holder.begun().ok());
  Transaction second(*b);
  ASSERT_FALSE(second.begun().ok());
  EXPECT_EQ(second.begun().error().code, Errc::temporary);
  EXPECT_EQ(second.begun().error().cause, Cause::busy);
  EXPECT_THROW(CheckedTransaction third(*b), tern::Failure);
}

TEST_F(SqliteTest, FullDatabaseMapsToTemporaryNoSpace) {
  auto c = open();
  c->exec("CREATE TABLE t(v BLOB)");
  c->exec("PRAGMA max_page_count = 8");  // a "disk" of eight pages
  Status s;
  for (int i = 0; i < 100 && s.ok(); ++i) s = c->prepare("INSERT INTO t VALUES(zeroblob(4000))").try_run("fill");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::temporary);
  EXPECT_EQ(s.error().cause, Cause::no_space);
  EXPECT_NE(s.error().message.find("t.db: fill: "), std::string::npos) << s.error().message;
}

TEST_F(SqliteTest, TakenKeyMapsToExistsOtherConstraintsToInternal) {
  auto c = open();
  c->exec("CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT NOT NULL)");
  c->prepare("INSERT INTO t VALUES('a', 'x')").run();
  auto dup = c->prepare("INSERT INTO t VALUES('a', 'y')").try_run();
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::exists);
  auto null = c->prepare("INSERT INTO t VALUES('b', NULL)").try_run();
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(null.error().code, Errc::internal);
}

TEST_F(SqliteTest, ResultCodesMapInOnePlace) {
  EXPECT_EQ(to_error(SQLITE_LOCKED, "x", "w").cause, Cause::busy);
  EXPECT_EQ(to_error(SQLITE_IOERR_FSYNC, "x", "w").code, Errc::internal);
  EXPECT_EQ(to_error(SQLITE_IOERR_FSYNC, "x", "w").cause, Cause::io);
  EXPECT_EQ(to_error(SQLITE_FULL, "x", "w").cause, Cause::no_space);
  EXPECT_EQ(to_error(SQLITE_CORRUPT, "x", "w").code, Errc::internal);
  EXPECT_EQ(to_error(SQLITE_CORRUPT, "x", "w").cause, Cause::unspecified);
  EXPECT_EQ(to_error(SQLITE_FULL, "x.db", "commit").message, "x.db: commit: database or disk is full");
}

TEST_F(SqliteTest, ThrowingHalfCarriesTheSameError) {
  auto c = open();
  try {
    c->prepare("INSERT INTO missing VALUES(1)").run();
    FAIL() << "no throw";
  } catch (const tern::Failure& f) {
    EXPECT_EQ(f.error.code, Errc::internal);
    EXPECT_NE(std::string(f.what()).find("no such table"), std::string::npos) << f.what();
  }
}

}  // namespace
