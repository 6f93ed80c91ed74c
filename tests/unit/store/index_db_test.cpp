// index.db upkeep on a full disk (issue 20): a checkpoint grows index.db by what the WAL
// added beyond the file's end; when the disk has no room for that, Db::compact must not
// start it (it would fail part way, having taken every free byte).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "store/index_db.h"

namespace tern::store::detail {
namespace {

namespace fs = std::filesystem;

class IndexDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tern-indexdb-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_.open((dir_ / "index.db").string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // 2 MiB of staged copies, committed: in the WAL only (8000 pages before autocheckpoint).
  void stage_two_mib() {
    Txn txn(db_);
    for (int i = 0; i < 32; ++i)
      db_.prepare("INSERT INTO staged(mailbox_id, uid, body) VALUES(1, ?, ?)")
          .bind(static_cast<int64_t>(i))
          .bind(std::string(64 * 1024, static_cast<char>('a' + i % 26)))
          .run();
    txn.commit();
  }
  uint64_t file_size(const char* name) {
    struct stat st {};
    return ::stat((dir_ / name).c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }

  fs::path dir_;
  Db db_;
};

int64_t synchronous(Db& db) {
  auto st = db.prepare("PRAGMA synchronous");
  st.step();
  return st.i64(0);
}

// STORE's flag changes commit under RelaxedSync (NORMAL = 1, no WAL sync per commit); every
// other commit on the connection stays FULL (2), also when the relaxed one failed.
TEST_F(IndexDbTest, RelaxedSyncLastsForItsScopeOnly) {
  EXPECT_EQ(synchronous(db_), 2);
  {
    RelaxedSync relaxed(db_);
    EXPECT_EQ(synchronous(db_), 1);
    Txn txn(db_);
    db_.prepare("INSERT INTO staged(mailbox_id, uid, body) VALUES(1, 1, 'x')").run();
    txn.commit();
  }
  EXPECT_EQ(synchronous(db_), 2);
  try {
    RelaxedSync relaxed(db_);
    Txn txn(db_);
    db_.prepare("INSERT INTO staged(mailbox_id, uid, body) VALUES(1, 1, 'x')").run();  // a duplicate
    txn.commit();
    ADD_FAILURE() << "the duplicate key was accepted";
  } catch (const Failure&) {
  }
  EXPECT_EQ(synchronous(db_), 2);
}

TEST_F(IndexDbTest, GrowthIsWhatTheWalAddsBeyondTheFile) {
  EXPECT_GT(db_.checkpoint_growth_bytes(), 0u);  // the new schema, in the WAL
  db_.compact(100, [](uint64_t) { return true; });
  EXPECT_EQ(db_.checkpoint_growth_bytes(), 0u);
  uint64_t before = file_size("index.db");
  stage_two_mib();
  EXPECT_EQ(file_size("index.db"), before);  // nothing written back yet
  EXPECT_GE(db_.checkpoint_growth_bytes(), 2u * 1024 * 1024);
}

TEST_F(IndexDbTest, CompactPutsTheCheckpointOffWhenTheDiskHasNoRoomForIt) {
  stage_two_mib();
  uint64_t growth = db_.checkpoint_growth_bytes();
  uint64_t asked = 0;
  db_.compact(100, [&](uint64_t n) {
    asked = n;
    return false;
  });
  EXPECT_EQ(asked, growth);
  EXPECT_EQ(db_.checkpoint_growth_bytes(), growth);  // index.db did not grow
  EXPECT_GT(file_size("index.db-wal"), 0u);

  db_.compact(100, [](uint64_t) { return true; });
  EXPECT_EQ(db_.checkpoint_growth_bytes(), 0u);
  EXPECT_EQ(file_size("index.db-wal"), 0u);  // TRUNCATE: the WAL's bytes given back
}

TEST_F(IndexDbTest, CompactNeedsNoRoomWhenTheFileIsAlreadyBigEnough) {
  stage_two_mib();
  db_.compact(100, [](uint64_t) { return true; });
  {
    Txn txn(db_);
    db_.prepare("DELETE FROM staged").run();
    txn.commit();
  }
  stage_two_mib();  // reuses the freed pages: nothing beyond the file's end
  bool asked = false;
  db_.compact(100, [&](uint64_t) { return asked = true; });
  EXPECT_FALSE(asked);
  EXPECT_EQ(file_size("index.db-wal"), 0u);
}

}  // namespace
}  // namespace tern::store::detail
