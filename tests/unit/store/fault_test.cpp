// Issue 20: ENOSPC and EIO at every durable step of a delivery, an APPEND and a MOVE (tmp
// write, fsync, rename, directory fsync, syncfs, SQLite commit). The rules: nothing is
// acknowledged that is not durable; a failed fsync is not retried as if the data were safe;
// the caller gets an error it can map to 4xx/NO; the store goes on working; and after a
// restart and a reindex the index and the files agree.
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "store/names.h"
#include "store_fixture.h"
#include "support/fault_vfs.h"
#include "support/faulty_file_ops.h"

namespace tern::store::testing {
namespace {

using tern::testing::FaultVfs;

const std::string kAlice = "alice@example.test";

using tern::testing::FaultyFileOps;

std::string msg(int i, size_t pad = 0) {
  return "Subject: m" + std::to_string(i) + "\r\n\r\n" + std::string(pad, 'x') + "body " +
         std::to_string(i) + "\r\n";
}

class FaultTest : public StoreTest, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    FaultVfs::install();
  }
  void TearDown() override {
    FaultVfs::disarm();
    StoreTest::TearDown();
  }
  int err() const { return GetParam(); }
  Errc expected_code() const { return err() == ENOSPC ? Errc::temporary : Errc::internal; }

  void open_faulty() {
    auto o = options();
    o.file_ops_for_testing = faulty_;
    store_.reset();
    auto s = Store::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  // One message through deliver() or append(): its status.
  Status put(const std::string& bytes, bool via_append, const std::string& mailbox = "INBOX") {
    if (via_append) {
      auto r = store_->append(kAlice, mailbox, bytes, {}, 0);
      if (!r.ok()) return r.error();
      sent_[r->uid] = bytes;
      return {};
    }
    DeliveryRequest req;
    req.targets.push_back({kAlice, mailbox, 0});
    req.message = bytes;
    auto out = store_->deliver(req);
    if (!out.ok()) return out.error();
    if (!(*out)[0].status.ok()) return (*out)[0].status;
    sent_[(*out)[0].uid] = bytes;
    return {};
  }
  // A restart (recovery) and a reindex, then: every row has its file with the bytes that
  // were acknowledged, and every file in new/ and cur/ has a row.
  void expect_consistent(const std::string& mailbox = "INBOX", const std::string& sub = "") {
    FaultVfs::disarm();
    faulty_->disarm();
    open_faulty();
    ASSERT_TRUE(store_->reindex().ok());
    auto snap = store_->snapshot(kAlice, mailbox);
    ASSERT_TRUE(snap.ok());
    std::set<uint32_t> rows;
    for (auto& m : snap->messages) {
      rows.insert(m.uid);
      auto bytes = store_->read_message(kAlice, mailbox, m.uid);
      ASSERT_TRUE(bytes.ok()) << "uid " << m.uid << ": " << bytes.error().message;
      if (mailbox == "INBOX" && sent_.count(m.uid)) {
        EXPECT_EQ(*bytes, sent_[m.uid]);
      }
    }
    std::set<uint32_t> on_disk;
    for (auto& f : files(maildir("example.test", "alice") + sub)) {
      auto parsed = detail::parse_maildir_name(fs::path(f).filename().string());
      ASSERT_TRUE(parsed && parsed->uid) << f;
      on_disk.insert(*parsed->uid);
    }
    EXPECT_EQ(rows, on_disk);
    // Every acknowledged message is there.
    if (mailbox == "INBOX") {
      for (auto& [uid, bytes] : sent_) EXPECT_TRUE(rows.count(uid)) << "acknowledged uid " << uid << " lost";
    }
  }
  // After a fault: the store goes on, and the next message is accepted.
  void expect_recovers(bool via_append) {
    FaultVfs::disarm();
    faulty_->disarm();
    auto s = put(msg(99), via_append);
    EXPECT_TRUE(s.ok()) << s.error().message;
  }

  std::shared_ptr<FaultyFileOps> faulty_ = std::make_shared<FaultyFileOps>();
  std::map<uint32_t, std::string> sent_;  // acknowledged: uid -> bytes
};

// ---- Delivery and APPEND, staged (small messages: durable through their copy in the index) --

class StagedFault : public FaultTest {};

TEST_P(StagedFault, TmpWriteFails) {
  open_faulty();
  for (bool via_append : {false, true}) {
    ASSERT_TRUE(put(msg(1), via_append).ok());
    faulty_->arm("write_file", err());
    auto s = put(msg(2), via_append);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, expected_code());
    EXPECT_TRUE(no_tmp_files(maildir("example.test", "alice") + "/tmp"));
    expect_recovers(via_append);
  }
  expect_consistent();
}

TEST_P(StagedFault, IndexCommitFailsOnWrite) {
  open_faulty();
  for (bool via_append : {false, true}) {
    ASSERT_TRUE(put(msg(1), via_append).ok());
    FaultVfs::arm(FaultVfs::Op::write, "index.db-wal", err());
    auto s = put(msg(2), via_append);
    ASSERT_FALSE(s.ok());
    EXPECT_GT(FaultVfs::hits(), 0);
    if (err() == ENOSPC) {
      EXPECT_EQ(s.error().code, Errc::temporary);
    }
    // Nothing published: no name in new/ for bytes nobody acknowledged, no tmp leftover.
    EXPECT_TRUE(no_tmp_files(maildir("example.test", "alice") + "/tmp"));
    EXPECT_EQ(files(maildir("example.test", "alice")).size(), uids(kAlice, "INBOX").size());
    expect_recovers(via_append);
  }
  expect_consistent();
}

// The WAL's fdatasync fails. A delivery commits without SQLite's sync (synchronous=NORMAL)
// and syncs the WAL itself outside the store's lock (WalSync), so SQLite already counts the
// commit: the answer is a temporary failure, the staged file is not published, and from then
// on deliveries, APPENDs and EXPUNGEs are refused without committing (the kernel may have
// dropped the WAL pages it could not write, and later commits would sit behind them). After a
// restart the index and the files agree.
TEST_P(StagedFault, WalSyncFails) {
  open_faulty();
  ASSERT_TRUE(put(msg(1), false).ok());
  faulty_->arm("sync_data", err(), "index.db-wal");
  auto s = put(msg(2), false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::temporary);
  EXPECT_EQ(faulty_->hits(), 1);
  const std::string box = maildir("example.test", "alice");
  EXPECT_EQ(files(box).size(), 1u);  // nothing published for the refused message
  size_t rows = uids(kAlice, "INBOX").size();
  for (bool via_append : {false, true}) {
    auto again = put(msg(3), via_append);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::temporary);
  }
  auto gone = store_->expunge(kAlice, "INBOX", {sent_.begin()->first});
  EXPECT_FALSE(gone.ok());
  EXPECT_EQ(uids(kAlice, "INBOX").size(), rows);  // refused before committing anything
  EXPECT_EQ(faulty_->hits(), 1);                  // and without syncing again (still armed)
  expect_consistent();
  expect_recovers(false);
}

// The rename into new/ comes after the commit: the message is durable (its copy) and
// acknowledged. The copy must then never be trimmed, and the next start puts the file back.
TEST_P(StagedFault, RenameAfterCommitFails) {
  sync_interval_ms_ = 20;
  open_faulty();
  faulty_->arm("rename", err(), "/new/");
  ASSERT_TRUE(put(msg(1), false).ok());
  faulty_->disarm();
  ASSERT_TRUE(put(msg(2), false).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // rounds that would trim
  expect_consistent();
  EXPECT_EQ(uids(kAlice, "INBOX").size(), 2u);
}

// syncfs fails: the round's copies stay (not retried: the kernel may have dropped the pages,
// and a second syncfs would report success), and the next start rewrites the files.
TEST_P(StagedFault, SyncRoundFails) {
  sync_interval_ms_ = 20;
  open_faulty();
  faulty_->arm("sync_filesystem", err());
  ASSERT_TRUE(put(msg(1), false).ok());
  ASSERT_TRUE(put(msg(2), true).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_GT(faulty_->hits(), 0);
  expect_consistent();
  EXPECT_EQ(uids(kAlice, "INBOX").size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Errno, StagedFault, ::testing::Values(ENOSPC, EIO),
                         [](const auto& info) { return std::string(info.param == ENOSPC ? "ENOSPC" : "EIO"); });

// ---- Delivery and APPEND, fsynced (messages over staged_max_bytes) ---------------------------

class SyncedFault : public FaultTest {
 protected:
  void SetUp() override {
    FaultTest::SetUp();
    staged_max_ = 0;
  }
  // One failing step, through deliver() and append(): refused, and nothing left behind.
  void fail_at(const std::string& op, const std::string& part) {
    open_faulty();
    for (bool via_append : {false, true}) {
      ASSERT_TRUE(put(msg(1), via_append).ok());
      size_t before = uids(kAlice, "INBOX").size();
      faulty_->arm(op, err(), part);
      auto s = put(msg(2), via_append);
      ASSERT_FALSE(s.ok()) << op;
      EXPECT_GT(faulty_->hits(), 0);
      EXPECT_EQ(uids(kAlice, "INBOX").size(), before) << op;
      EXPECT_TRUE(no_tmp_files(maildir("example.test", "alice") + "/tmp"));
      expect_recovers(via_append);
    }
    expect_consistent();
  }
};

// (Paths below the data_dir, which is itself under /tmp.)
TEST_P(SyncedFault, TmpWriteFails) { fail_at("write_file", "/alice/tmp/"); }
TEST_P(SyncedFault, FileFsyncFails) { fail_at("fsync_file", "/alice/tmp/"); }
TEST_P(SyncedFault, RenameFails) { fail_at("rename", "/new/"); }

TEST_P(SyncedFault, IndexCommitFails) {
  open_faulty();
  for (bool via_append : {false, true}) {
    ASSERT_TRUE(put(msg(1), via_append).ok());
    FaultVfs::arm(FaultVfs::Op::write, "index.db-wal", err());
    auto s = put(msg(2), via_append);
    ASSERT_FALSE(s.ok());
    // The renamed file is removed again: no name in new/ without a row.
    EXPECT_EQ(files(maildir("example.test", "alice")).size(), uids(kAlice, "INBOX").size());
    expect_recovers(via_append);
  }
  expect_consistent();
}

// The directory fsync runs beside the COMMIT: the row may be committed while the name may not
// survive a crash, so the answer is a temporary failure (the sender retries: a possible
// duplicate, never a loss). Once reconciled, files and index agree.
TEST_P(SyncedFault, DirectoryFsyncFails) {
  open_faulty();
  ASSERT_TRUE(put(msg(1), false).ok());
  faulty_->arm("fsync_dir", err(), "/new");
  auto s = put(msg(2), false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::temporary);
  expect_recovers(false);
  expect_consistent();
}

INSTANTIATE_TEST_SUITE_P(Errno, SyncedFault, ::testing::Values(ENOSPC, EIO),
                         [](const auto& info) { return std::string(info.param == ENOSPC ? "ENOSPC" : "EIO"); });

// ---- MOVE (to Trash) --------------------------------------------------------------------------

class MoveFault : public FaultTest {
 protected:
  // A MOVE of one message that fails at one step: refused, and after a restart the message
  // is in exactly one of the two mailboxes, whole; a later MOVE works.
  void move_fails_at(const std::function<void()>& arm_fault, bool may_succeed = false) {
    open_faulty();
    ASSERT_TRUE(put(msg(1), false).ok());
    uint32_t uid = sent_.begin()->first;
    sent_.clear();  // checked here: after a MOVE it is not in INBOX any more
    arm_fault();
    auto r = store_->move(kAlice, "INBOX", {uid}, "Trash");
    FaultVfs::disarm();
    faulty_->disarm();
    if (!may_succeed) {
      ASSERT_FALSE(r.ok());
    }
    expect_consistent("INBOX");
    expect_consistent("Trash", "/.Trash");
    size_t in_inbox = uids(kAlice, "INBOX").size();
    size_t in_trash = uids(kAlice, "Trash").size();
    EXPECT_EQ(in_inbox + in_trash, 1u) << "moved exactly once or not at all";
    EXPECT_EQ(in_trash, r.ok() ? 1u : 0u);
    if (in_trash) {
      auto bytes = store_->read_message(kAlice, "Trash", uids(kAlice, "Trash")[0]);
      ASSERT_TRUE(bytes.ok());
      EXPECT_EQ(*bytes, msg(1));
    }
    if (in_inbox) {
      auto bytes = store_->read_message(kAlice, "INBOX", uids(kAlice, "INBOX")[0]);
      ASSERT_TRUE(bytes.ok());
      EXPECT_EQ(*bytes, msg(1));
    }
    ASSERT_TRUE(put(msg(3), false).ok());
    uint32_t next = sent_.begin()->first;
    EXPECT_TRUE(store_->move(kAlice, "INBOX", {next}, "Trash").ok());
  }
};

TEST_P(MoveFault, LinkFails) {
  move_fails_at([&] { faulty_->arm("link", err()); });
}
TEST_P(MoveFault, TmpDirectoryFsyncFails) {
  move_fails_at([&] { faulty_->arm("fsync_dir", err(), "/.Trash/tmp"); });
}
TEST_P(MoveFault, UidFileWriteFails) {
  move_fails_at([&] { faulty_->arm("write_file", err(), "tern-uidvalidity"); });
}
TEST_P(MoveFault, UidFileFsyncFails) {
  move_fails_at([&] { faulty_->arm("fsync_file", err(), "tern-uidvalidity"); });
}
TEST_P(MoveFault, IndexCommitFails) {
  move_fails_at([&] { FaultVfs::arm(FaultVfs::Op::write, "index.db-wal", err()); });
}
// After the commit the MOVE has happened: a failed rename is finished by recovery.
TEST_P(MoveFault, RenameAfterCommitFails) {
  move_fails_at([&] { faulty_->arm("rename", err(), "/.Trash/"); }, /*may_succeed=*/true);
}

INSTANTIATE_TEST_SUITE_P(Errno, MoveFault, ::testing::Values(ENOSPC, EIO),
                         [](const auto& info) { return std::string(info.param == ENOSPC ? "ENOSPC" : "EIO"); });

}  // namespace
}  // namespace tern::store::testing
