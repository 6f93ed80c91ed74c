// Crash recovery and reindex: files are the truth for which messages exist, UIDs and
// UIDVALIDITY survive the loss of index.db.
#include <sqlite3.h>

#include "store/names.h"
#include "store_fixture.h"

namespace tern::store::testing {
namespace {

const std::string kAlice = "alice@example.test";

std::string msg(int i) { return "Subject: r" + std::to_string(i) + "\r\n\r\nx\r\n"; }

void sql(const std::string& db_path, const std::string& statement) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}


TEST_F(StoreTest, DeletedIndexIsRebuiltWithSameUidsAndUidvalidity) {
  open();
  deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  uint32_t c = deliver(kAlice, msg(3));
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {b}, FlagOp::add, Flags{kSeen | kAnswered, {}}).ok());
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Lists/Ünïcode.dev").ok());
  uint32_t d = deliver(kAlice, msg(4), "Lists/Ünïcode.dev");
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {c}).ok());  // highest UID gone
  auto before = *store_->list_mailboxes(kAlice);
  auto inbox_before = *store_->snapshot(kAlice, "INBOX");
  store_.reset();
  for (const char* f : {"/index.db", "/index.db-wal", "/index.db-shm"}) fs::remove(dir_ + f);

  open();  // open() reconciles: the rebuild needs no explicit reindex
  ASSERT_TRUE(store_->reindex().ok());
  auto after = *store_->list_mailboxes(kAlice);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].name, before[i].name);
    EXPECT_EQ(after[i].uidvalidity, before[i].uidvalidity) << before[i].name;
    EXPECT_EQ(after[i].special_use, before[i].special_use) << before[i].name;
    EXPECT_EQ(after[i].messages, before[i].messages) << before[i].name;
    EXPECT_GE(after[i].uidnext, before[i].uidnext) << before[i].name;
    // Rebuilt modseqs jump above anything a CONDSTORE client can have cached.
    EXPECT_GT(after[i].highestmodseq, before[i].highestmodseq) << before[i].name;
  }
  auto inbox = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(inbox.messages.size(), inbox_before.messages.size());
  for (size_t i = 0; i < inbox.messages.size(); ++i) {
    EXPECT_EQ(inbox.messages[i].uid, inbox_before.messages[i].uid);
    EXPECT_EQ(inbox.messages[i].flags.system, inbox_before.messages[i].flags.system);
    EXPECT_EQ(inbox.messages[i].size, inbox_before.messages[i].size);
  }
  EXPECT_EQ(*store_->read_message(kAlice, "Lists/Ünïcode.dev", d), msg(4));
  // The expunged highest UID is not handed out again.
  EXPECT_EQ(deliver(kAlice, msg(5)), c + 1);
}

// EXPUNGE writes the UID file (two fsyncs under the store's lock) only when the mailbox's
// highest UID goes; otherwise the highest file's U= keeps a rebuilt UIDNEXT above every UID
// handed out, and expunging it later writes the file.
TEST_F(StoreTest, ExpungeBelowTheHighestUidSkipsTheUidFileAndARebuildStillReusesNoUid) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  uint32_t c = deliver(kAlice, msg(3));
  auto uid_file_writes = [&] {
    auto log = ops_->log();
    return std::count_if(log.begin(), log.end(), [](const std::string& l) {
      return l.rfind("write_file", 0) == 0 && l.find("tern-uidvalidity") != std::string::npos;
    });
  };
  ops_->clear();
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {a}).ok());
  EXPECT_EQ(uid_file_writes(), 0);
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {b, c}).ok());  // the highest goes
  EXPECT_EQ(uid_file_writes(), 1);
  uint32_t d = deliver(kAlice, msg(4));
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {d}).ok());  // and the next highest
  EXPECT_EQ(uid_file_writes(), 2);
  uint32_t e = deliver(kAlice, msg(5));
  uint32_t f = deliver(kAlice, msg(6));
  ops_->clear();
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {e}).ok());
  EXPECT_EQ(uid_file_writes(), 0);
  store_.reset();
  for (const char* name : {"/index.db", "/index.db-wal", "/index.db-shm"}) fs::remove(dir_ + name);
  open();
  EXPECT_EQ(uids(kAlice, "INBOX"), std::vector<uint32_t>{f});
  EXPECT_EQ(deliver(kAlice, msg(7)), f + 1);
}

TEST_F(StoreTest, OrphanFileIsIndexedAndOrphanRowDropped) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  std::string box = maildir("example.test", "alice");
  // A file dropped in by hand (no ,U=) and a row whose file vanished.
  {
    std::ofstream(box + "/new/1700000000.M1P1.other") << "Subject: orphan\r\n\r\n";
  }
  auto path_b = *store_->message_path(kAlice, "INBOX", b);
  fs::remove(path_b);
  auto ms = store_->snapshot(kAlice, "INBOX")->status.highestmodseq;
  ASSERT_TRUE(store_->reindex(kAlice).ok());
  auto snap = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(snap.messages.size(), 2u);
  EXPECT_EQ(snap.messages[0].uid, a);
  EXPECT_EQ(snap.messages[1].uid, b + 1);  // new UID, never the dropped one
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", b + 1), "Subject: orphan\r\n\r\n");
  EXPECT_EQ(snap.messages[1].size, 19u);  // from stat, not the name
  // The orphan now carries its UID in its name; the dropped row shows up as vanished.
  EXPECT_NE(store_->message_path(kAlice, "INBOX", b + 1)->find(",U=" + std::to_string(b + 1)), std::string::npos);
  auto ch = *store_->changes_since(kAlice, "INBOX", ms);
  EXPECT_EQ(ch.vanished, (std::vector<uint32_t>{b}));
}

TEST_F(StoreTest, DovecotFolderWithoutUidsIsAdopted) {
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  store_.reset();
  std::string folder = maildir("example.test", "alice") + "/.Imported";
  for (const char* sub : {"/cur", "/new", "/tmp"}) fs::create_directories(folder + sub);
  std::ofstream(folder + "/cur/1600000001.M1P1.old,S=5,W=6:2,S") << "one\r\n";
  std::ofstream(folder + "/cur/1600000002.M1P1.old,S=5,W=6:2,FR") << "two\r\n";
  open();
  auto snap = store_->snapshot(kAlice, "Imported");
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->messages.size(), 2u);
  EXPECT_EQ(snap->messages[0].uid, 1u);
  EXPECT_EQ(snap->messages[0].flags.system, kSeen);
  EXPECT_EQ(snap->messages[1].flags.system, kFlagged | kAnswered);
  EXPECT_EQ(*store_->read_message(kAlice, "Imported", 2), "two\r\n");
  EXPECT_GT(snap->status.uidvalidity, 0u);
  EXPECT_TRUE(fs::exists(folder + "/tern-uidvalidity"));
}

TEST_F(StoreTest, CrashBetweenRenameAndCommitIsRecovered) {
  staged_max_ = 0;  // staged deliveries rename only after the commit (staged_test.cpp)
  open();
  uint32_t a = deliver(kAlice, msg(1));
  // "Crash": the rename happens, the directory fsync fails and nothing is cleaned up or
  // committed - the state a power cut after rename(2) leaves behind.
  ops_->crash_mode = true;
  DeliveryRequest req;
  req.targets.push_back({kAlice, "INBOX", 0});
  std::string bytes = msg(2);
  req.message = bytes;
  auto out = store_->deliver(req);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE((*out)[0].status.ok());  // never reported as delivered
  ops_->crash_mode = false;
  store_.reset();
  open();
  auto snap = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(snap.messages.size(), 2u);  // the message is not lost
  EXPECT_EQ(snap.messages[0].uid, a);
  EXPECT_EQ(snap.messages[1].uid, a + 1);  // the UID from its ,U= name
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", a + 1), msg(2));
  EXPECT_EQ(deliver(kAlice, msg(3)), a + 2);
}

// A delivery writes its bytes in a tmp/ shard directory (tmp/<n>/). If the index commit
// landed but the rename did not, recovery finds the row's file there and puts it in place;
// leftovers no row needs are removed once stale, like tmp/'s own.
TEST_F(StoreTest, RowWhoseFileIsStillInATmpShardIsRecovered) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  const std::string box = maildir("example.test", "alice");
  std::string path_b = *store_->message_path(kAlice, "INBOX", b);
  std::string base = fs::path(path_b).filename().string();
  base = base.substr(0, base.find(','));
  store_.reset();
  fs::create_directories(box + "/tmp/5");
  fs::rename(path_b, box + "/tmp/5/" + base);
  fs::create_directories(box + "/tmp/7");
  std::ofstream(box + "/tmp/7/1600000000.M1P1.stale") << "partial";
  std::ofstream(box + "/tmp/7/9999999999.M1P1.fresh") << "in flight";
  fs::last_write_time(box + "/tmp/7/1600000000.M1P1.stale",
                      fs::file_time_type::clock::now() - std::chrono::hours(48));
  open();
  auto snap = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(snap.messages.size(), 2u);
  EXPECT_EQ(snap.messages[0].uid, a);
  EXPECT_EQ(snap.messages[1].uid, b);
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", b), msg(2));
  EXPECT_FALSE(fs::exists(box + "/tmp/5/" + base));
  EXPECT_FALSE(fs::exists(box + "/tmp/7/1600000000.M1P1.stale"));
  EXPECT_TRUE(fs::exists(box + "/tmp/7/9999999999.M1P1.fresh"));
}

size_t files_in(const std::string& folder) {
  size_t n = 0;
  for (const char* sub : {"/new", "/cur"})
    for (auto& e : fs::directory_iterator(folder + sub)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

// RFC 6851 §3.1: a MOVE cut by a crash leaves each message in exactly one mailbox.
TEST_F(StoreTest, MoveCutAfterCommitIsFinishedByRecovery) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {b}, FlagOp::add, Flags{kSeen, {"Kw"}}).ok());
  ops_->fail_renames = true;  // committed, then "power cut": no rename, no unlink landed
  ops_->skip_unlinks = true;
  auto mv = store_->move(kAlice, "INBOX", {a, b}, "Archive");
  ASSERT_TRUE(mv.ok()) << mv.error().message;
  ops_->fail_renames = ops_->skip_unlinks = false;
  store_.reset();
  open();
  const std::string inbox = maildir("example.test", "alice");
  EXPECT_TRUE(uids(kAlice, "INBOX").empty());
  EXPECT_EQ(files_in(inbox), 0u);  // the source files whose UIDs were expunged are deleted
  auto arch = *store_->snapshot(kAlice, "Archive");
  ASSERT_EQ(arch.messages.size(), 2u);
  EXPECT_EQ(arch.messages[0].uid, mv->uids[0].second);
  EXPECT_EQ(arch.messages[1].uid, mv->uids[1].second);
  EXPECT_EQ(arch.messages[1].flags, (Flags{kSeen, {"Kw"}}));
  EXPECT_EQ(*store_->read_message(kAlice, "Archive", mv->uids[0].second), msg(1));
  EXPECT_EQ(*store_->read_message(kAlice, "Archive", mv->uids[1].second), msg(2));
  EXPECT_EQ(files_in(inbox + "/.Archive"), 2u);
  EXPECT_TRUE(no_tmp_files(inbox + "/.Archive/tmp"));
}

TEST_F(StoreTest, MoveCutBeforeCommitLeavesTheSource) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  ops_->crash_mode = true;  // the tmp/ directory fsync fails: nothing is committed
  EXPECT_FALSE(store_->move(kAlice, "INBOX", {a, b}, "Archive").ok());
  ops_->crash_mode = false;
  store_.reset();
  open();
  EXPECT_EQ(uids(kAlice, "INBOX"), (std::vector<uint32_t>{a, b}));
  EXPECT_TRUE(uids(kAlice, "Archive").empty());
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", b), msg(2));
  auto mv = store_->move(kAlice, "INBOX", {a, b}, "Archive");
  ASSERT_TRUE(mv.ok());
  EXPECT_TRUE(uids(kAlice, "INBOX").empty());
  EXPECT_EQ(uids(kAlice, "Archive").size(), 2u);
}

TEST_F(StoreTest, MoveWithinOneMailboxGivesNewUids) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  auto mv = store_->move(kAlice, "INBOX", {a}, "INBOX");
  ASSERT_TRUE(mv.ok());
  ASSERT_EQ(mv->uids.size(), 1u);
  EXPECT_GT(mv->uids[0].second, a);
  EXPECT_EQ(uids(kAlice, "INBOX"), (std::vector<uint32_t>{mv->uids[0].second}));
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", mv->uids[0].second), msg(1));
  EXPECT_EQ(deliver(kAlice, msg(2)), mv->uids[0].second + 1);  // no UID handed out twice
  store_.reset();
  open();
  EXPECT_EQ(uids(kAlice, "INBOX").size(), 2u);
}

TEST_F(StoreTest, LostExpungeUnlinkAndUncommittedFlagRenameAreRepaired) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  auto path_b = *store_->message_path(kAlice, "INBOX", b);
  std::string saved = read_file(path_b);
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {b}).ok());
  std::ofstream(path_b, std::ios::binary) << saved;  // the unlink did not survive
  // A flag rename that happened on disk but whose commit was lost.
  auto path_a = *store_->message_path(kAlice, "INBOX", a);
  auto name = fs::path(path_a).filename().string();
  fs::rename(path_a, maildir("example.test", "alice") + "/cur/" + name + ":2,S");
  store_.reset();
  open();
  auto snap = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(snap.messages.size(), 1u);
  EXPECT_EQ(snap.messages[0].uid, a);
  EXPECT_EQ(snap.messages[0].flags.system, 0u);  // the index's flags win
  EXPECT_FALSE(fs::exists(path_b));
  EXPECT_TRUE(fs::exists(*store_->message_path(kAlice, "INBOX", a)));
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", a), msg(1));
}

TEST_F(StoreTest, MissingRowsAreReindexedFromNames) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  store_.reset();
  sql(dir_ + "/index.db", "DELETE FROM messages");
  open();
  EXPECT_EQ(uids(kAlice, "INBOX"), (std::vector<uint32_t>{a, b}));
}

}  // namespace
}  // namespace tern::store::testing
