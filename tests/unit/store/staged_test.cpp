// Staged delivery (store.h): small messages are durable through their copy in the index, their
// files synced in rounds; after a power loss the copies rebuild whatever the files lost.
#include <atomic>
#include <regex>
#include <set>

#include <sqlite3.h>

#include "store_fixture.h"

namespace tern::store::testing {
namespace {

const std::string kAlice = "alice@example.test";

std::string msg(int i) {
  return "Subject: m" + std::to_string(i) + "\r\n\r\nbody " + std::to_string(i) + "\r\n";
}

// What another process reading index.db finds in `staged`: uid -> body (uids of all mailboxes).
std::multimap<uint32_t, std::string> staged_copies(const std::string& dir) {
  std::multimap<uint32_t, std::string> out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2((dir + "/index.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT uid, body FROM staged", -1, &st, nullptr), SQLITE_OK);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(st, 1));
    out.emplace(static_cast<uint32_t>(sqlite3_column_int64(st, 0)),
                std::string(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(st, 1))));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

bool wait_for(const std::function<bool()>& cond, int ms = 5000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// The reply waits for one flush, of the index commit that holds the copy (the WAL, synced
// after the store's lock is released); the file is written without fsync and gets its final
// name only after that flush; a later round syncs the file system and deletes the copy.
TEST_F(StoreTest, StagedDeliveryCommitsACopyThenSyncsInARound) {
  sync_interval_ms_ = 50;
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  deliver(kAlice, msg(0));
  ASSERT_TRUE(wait_for([&] { return staged_copies(dir_).empty(); }));
  ops_->clear();
  std::string bytes = msg(1);
  uint32_t uid = deliver(kAlice, bytes);
  ops_->record("returned", "");
  // At the reply the copy is in the index, readable by any other connection.
  auto copies = staged_copies(dir_);
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies.find(uid)->second, bytes);
  auto log = ops_->log();
  std::vector<std::string> until_reply(log.begin(), std::find(log.begin(), log.end(), "returned "));
  const std::string box = "/mail/example.test/alice";
  // (The shard may be new: then its first write fails, the directory is made, and it repeats.)
  if (until_reply.size() > 1 && until_reply[0] == until_reply[1]) until_reply.erase(until_reply.begin());
  ASSERT_EQ(until_reply.size(), 4u) << ::testing::PrintToString(log);
  EXPECT_TRUE(std::regex_search(until_reply[0], std::regex("^write_file " + box + "/tmp/[0-9]+/[^/]+$")))
      << until_reply[0];
  EXPECT_EQ(until_reply[1], "index_commit ");
  EXPECT_EQ(until_reply[2], "sync_data /index.db-wal");  // the one flush: the WAL, after the lock
  EXPECT_TRUE(until_reply[3].rfind("rename " + until_reply[0].substr(11) + " -> " + box + "/new/", 0) == 0)
      << until_reply[3];
  for (const auto& line : until_reply) {
    EXPECT_EQ(line.rfind("fsync", 0), std::string::npos) << line;
    EXPECT_EQ(line.rfind("sync_filesystem", 0), std::string::npos) << line;
  }
  // Then a round: the file system synced, the copy deleted.
  ASSERT_TRUE(wait_for([&] { return staged_copies(dir_).empty(); }));
  log = ops_->log();
  auto synced = std::find(log.begin(), log.end(), "sync_filesystem ");
  ASSERT_NE(synced, log.end()) << ::testing::PrintToString(log);
  EXPECT_GT(synced - log.begin(), std::find(log.begin(), log.end(), "returned ") - log.begin());
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", uid), bytes);
}

// A power cut before the round: every file a crash can leave wrong - emptied, holding stale
// blocks, its name lost, still in tmp/, under an older flag name - is rewritten from its copy
// at open, and nothing else of it remains.
TEST_F(StoreTest, PowerLossBeforeTheSyncRoundIsRepairedFromTheCopies) {
  sync_interval_ms_ = 600000;  // no round before the "crash"
  open();
  std::vector<std::string> bodies;
  std::vector<uint32_t> uids;
  for (int i = 0; i < 6; ++i) {
    bodies.push_back(msg(i) + std::string(static_cast<size_t>(i) * 1000, 'x') + "\r\n");
    uids.push_back(deliver(kAlice, bodies.back()));
  }
  // Message 5 gets \Seen: its file moves to cur/; the crash will bring back the new/ name.
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {uids[5]}, FlagOp::add, Flags{kSeen, {}}).ok());
  const std::string box = maildir("example.test", "alice");
  std::vector<std::string> paths;
  for (auto u : uids) paths.push_back(*store_->message_path(kAlice, "INBOX", u));
  ASSERT_EQ(staged_copies(dir_).size(), 6u);
  ops_->crash_mode = true;  // the last round at close fails: the copies stay, as after a crash
  store_.reset();
  ops_->crash_mode = false;
  EXPECT_EQ(staged_copies(dir_).size(), 6u);

  auto base_of = [](const std::string& path) {
    auto name = fs::path(path).filename().string();
    return name.substr(0, name.find(','));
  };
  fs::resize_file(paths[0], 0);                                                // data never written
  std::ofstream(paths[1], std::ios::binary | std::ios::trunc) << "stale block of another file";
  fs::remove(paths[2]);                                                         // name lost
  fs::create_directories(box + "/tmp/3");
  fs::rename(paths[3], box + "/tmp/3/" + base_of(paths[3]));                    // rename lost
  // paths[4] is intact.
  std::string old_name = box + "/new/" + fs::path(paths[5]).filename().string();
  old_name = old_name.substr(0, old_name.find(":2,"));
  fs::rename(paths[5], old_name);                                               // flag rename lost
  std::ofstream(old_name, std::ios::binary | std::ios::trunc) << "torn";

  open();
  auto snap = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(snap.messages.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(snap.messages[i].uid, uids[i]);
    EXPECT_EQ(*store_->read_message(kAlice, "INBOX", uids[i]), bodies[i]) << i;
  }
  EXPECT_EQ(snap.messages[5].flags.system, kSeen);
  EXPECT_EQ(files(box).size(), 6u);  // no second name of any message
  EXPECT_TRUE(no_tmp_files(box + "/tmp"));
  EXPECT_TRUE(staged_copies(dir_).empty());
  EXPECT_EQ(deliver(kAlice, msg(9)), uids.back() + 1);
}

// An expunged message's copy goes with its row: a crash afterwards brings nothing back, and
// a mailbox deleted and made again (its id may be reused) inherits nothing.
TEST_F(StoreTest, ExpungedOrDeletedStagedMessagesLeaveNoCopy) {
  sync_interval_ms_ = 600000;
  open();
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Lists").ok());
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  deliver(kAlice, msg(3), "Lists");
  ASSERT_EQ(staged_copies(dir_).size(), 3u);
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {a}, FlagOp::add, Flags{kDeleted, {}}).ok());
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {a}).ok());
  ASSERT_TRUE(store_->delete_mailbox(kAlice, "Lists").ok());
  auto copies = staged_copies(dir_);
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies.begin()->second, msg(2));
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Lists").ok());
  ops_->crash_mode = true;
  store_.reset();
  ops_->crash_mode = false;
  open();
  auto snap = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(snap.messages.size(), 1u);
  EXPECT_EQ(snap.messages[0].uid, b);
  EXPECT_TRUE(store_->snapshot(kAlice, "Lists")->messages.empty());
}

// COPY links the source's inode: a staged source is fsynced before it gets the second name
// the copy's row will rely on.
TEST_F(StoreTest, CopyOfAStagedMessageFsyncsItsFileFirst) {
  sync_interval_ms_ = 600000;
  open();
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Archive2").ok());
  uint32_t a = deliver(kAlice, msg(1));
  std::string src = *store_->message_path(kAlice, "INBOX", a);
  ops_->clear();
  auto r = store_->copy(kAlice, "INBOX", {a}, "Archive2");
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto log = ops_->log();
  std::string rel_src = src.substr(dir_.size());
  auto fsynced = std::find(log.begin(), log.end(), "fsync_file " + rel_src);
  auto linked = std::find_if(log.begin(), log.end(), [](const std::string& l) { return l.rfind("link ", 0) == 0; });
  ASSERT_NE(fsynced, log.end()) << ::testing::PrintToString(log);
  ASSERT_NE(linked, log.end());
  EXPECT_LT(fsynced - log.begin(), linked - log.begin());
  // Once synced by a round, a copy needs no fsync of its source.
  store_.reset();  // the last round at close syncs and deletes the copy
  open();
  ops_->clear();
  ASSERT_TRUE(store_->copy(kAlice, "INBOX", {a}, "Archive2").ok());
  for (const auto& line : ops_->log()) EXPECT_EQ(line.rfind("fsync_file", 0), std::string::npos) << line;
  EXPECT_EQ(store_->snapshot(kAlice, "Archive2")->messages.size(), 2u);
}

// Messages over staged_max_bytes take the fsync-per-file path; one batch may hold both kinds.
TEST_F(StoreTest, LargeMessagesAreFsyncedNotStaged) {
  staged_max_ = 100;
  sync_interval_ms_ = 600000;
  open();
  std::string small = msg(1), large = msg(2) + std::string(200, 'y') + "\r\n";
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  ops_->clear();
  DeliveryRequest req;
  req.targets.push_back({kAlice, "INBOX", 0});
  req.message = large;
  auto out = store_->deliver(req);
  ASSERT_TRUE(out.ok() && (*out)[0].status.ok());
  uint32_t small_uid = deliver(kAlice, small);
  auto copies = staged_copies(dir_);
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies.find(small_uid)->second, small);
  int fsync_files = 0, fsync_dirs = 0;
  for (const auto& line : ops_->log()) {
    fsync_files += line.rfind("fsync_file", 0) == 0;
    fsync_dirs += line.rfind("fsync_dir", 0) == 0;
  }
  EXPECT_EQ(fsync_files, 1);
  EXPECT_EQ(fsync_dirs, 1);
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", (*out)[0].uid), large);
}

// Many staged deliveries at once: distinct UIDs, files published in UID order, every byte
// right, and once a round has run no copy left.
TEST_F(StoreTest, ConcurrentStagedDeliveries) {
  sync_interval_ms_ = 20;
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  ops_->clear();
  constexpr int kThreads = 60;
  std::vector<uint32_t> got = deliver_concurrently(kAlice, kThreads, msg);
  std::set<uint32_t> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(distinct.count(0), 0u);
  uint32_t last = 0;
  for (uint32_t uid : renamed_uids()) {
    if (uid == 0) continue;
    EXPECT_GT(uid, last);
    last = uid;
  }
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(*store_->read_message(kAlice, "INBOX", got[i]), msg(i));
  EXPECT_TRUE(wait_for([&] { return staged_copies(dir_).empty(); }));
}

}  // namespace
}  // namespace tern::store::testing

namespace tern::store::testing {
namespace {

// ternctl opens the store while ternd runs: it must not take ternd's files and rows in flight
// for a crash's leftovers. Only the store's owner (the first to open it) recovers.
TEST_F(StoreTest, OnlyTheOwnerRecovers) {
  sync_interval_ms_ = 600000;
  open();
  uint32_t a = deliver(kAlice, msg(1));
  const std::string box = maildir("example.test", "alice");
  // A file without a row, as a delivery in flight in the owner could show one.
  std::ofstream(box + "/new/1700000000.M1P1.host,S=7,U=99") << "orphan\n";
  StoreOptions second = options();
  second.wait_to_own = false;
  {
    auto other = Store::open(second);
    ASSERT_TRUE(other.ok()) << other.error().message;
    auto snap = (*other)->snapshot(kAlice, "INBOX");
    ASSERT_TRUE(snap.ok());
    ASSERT_EQ(snap->messages.size(), 1u);  // not indexed by the second process
    EXPECT_EQ(snap->messages[0].uid, a);
  }
  EXPECT_EQ(staged_copies(dir_).size(), 1u);  // not restored (and so not deleted) either
  store_.reset();
  open();  // the owner again: recovery indexes the file
  EXPECT_EQ(store_->snapshot(kAlice, "INBOX")->messages.size(), 2u);
  EXPECT_TRUE(staged_copies(dir_).empty());
}

// A second would-be owner (ternd started while ternctl holds the store) waits for the first
// to close, then recovers.
TEST_F(StoreTest, ASecondOwnerWaitsForTheFirst) {
  open();
  std::atomic<bool> first_closed{false}, second_open{false};
  std::thread second([&] {
    auto other = Store::open(options());
    EXPECT_TRUE(other.ok());
    EXPECT_TRUE(first_closed.load());
    second_open = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(second_open.load());
  first_closed = true;
  store_.reset();
  second.join();
  EXPECT_TRUE(second_open.load());
}

}  // namespace
}  // namespace tern::store::testing

namespace tern::store::testing {
namespace {

// deliver_async(): the caller does not wait for the commit; every call's `done` runs exactly
// once, with the outcome deliver() would give, and without the store's locks (it may read).
TEST_F(StoreTest, AsyncDeliveriesAreCommittedAndAnsweredOnce) {
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  constexpr int kThreads = 40;
  std::mutex mu;
  std::condition_variable cv;
  std::map<int, std::vector<DeliveryOutcome>> answers;
  int calls = 0;
  std::vector<uint32_t> sync_uids(kThreads, 0);
  run_together(kThreads, [&](int i) {
    auto bytes = std::make_shared<std::string>(msg(i));
    DeliveryRequest req;
    req.targets.push_back({kAlice, "INBOX", 0});
    if (i % 2 == 1) {
      req.message = *bytes;
      auto out = store_->deliver(req);
      if (out.ok() && (*out)[0].status.ok()) sync_uids[i] = (*out)[0].uid;
      return;
    }
    if (i == 0) req.targets.push_back({"not a user", "INBOX", 0});
    store_->deliver_async(bytes, std::move(req), [&, i](Result<std::vector<DeliveryOutcome>> r) {
      if (i == 2) {
        EXPECT_TRUE(store_->mailbox_status(kAlice, "INBOX").ok());  // no lock held
      }
      std::lock_guard lock(mu);
      ++calls;
      EXPECT_TRUE(r.ok());
      if (r.ok()) {
        EXPECT_TRUE(answers.emplace(i, std::move(*r)).second) << "answered twice: " << i;
      }
      cv.notify_all();
    });
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return calls == kThreads / 2; }));
  }
  std::set<uint32_t> uids;
  for (int i = 0; i < kThreads; ++i) {
    uint32_t uid = sync_uids[i];
    if (i % 2 == 0) {
      auto& out = answers.at(i);
      ASSERT_EQ(out.size(), i == 0 ? 2u : 1u);
      ASSERT_TRUE(out[0].status.ok()) << out[0].status.error().message;
      if (i == 0) {
        EXPECT_FALSE(out[1].status.ok());  // the bad target alone fails
      }
      uid = out[0].uid;
    }
    ASSERT_NE(uid, 0u) << i;
    EXPECT_TRUE(uids.insert(uid).second);
    EXPECT_EQ(*store_->read_message(kAlice, "INBOX", uid), msg(i));
  }
  EXPECT_EQ(store_->snapshot(kAlice, "INBOX")->messages.size(), static_cast<size_t>(kThreads));
  // Nothing can be queued: `done` still runs, on the caller's thread, before the call returns.
  bool answered = false;
  DeliveryRequest bad;
  bad.targets.push_back({"not a user", "INBOX", 0});
  store_->deliver_async(std::make_shared<std::string>("x\r\n"), std::move(bad),
                        [&](Result<std::vector<DeliveryOutcome>> r) {
                          answered = true;
                          ASSERT_TRUE(r.ok());
                          ASSERT_EQ(r->size(), 1u);
                          EXPECT_FALSE((*r)[0].status.ok());
                        });
  EXPECT_TRUE(answered);
}

}  // namespace
}  // namespace tern::store::testing

namespace tern::store::testing {
namespace {

// A blocking deliver() that leads a batch while deliver_async() items queue behind it
// returns once its own message is in, and leaves the rest to the store's commit thread:
// every queued item is still committed and answered, with nobody calling again.
TEST_F(StoreTest, BlockingLeaderHandsQueuedAsyncItemsOn) {
  staged_max_ = 0;  // the fsync path, whose directory fsync the fake can slow down
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  deliver(kAlice, msg(0));
  ops_->fsync_dir_delay_ms = 400;  // the leader's batch takes this long
  std::atomic<bool> leader_returned{false};
  std::thread leader([&] {
    deliver(kAlice, msg(1));
    leader_returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ops_->fsync_dir_delay_ms = 0;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  for (int i = 2; i < 12; ++i) {
    DeliveryRequest req;
    req.targets.push_back({kAlice, "INBOX", 0});
    store_->deliver_async(std::make_shared<std::string>(msg(i)), std::move(req),
                          [&](Result<std::vector<DeliveryOutcome>> r) {
                            EXPECT_TRUE(r.ok() && (*r)[0].status.ok());
                            // Committed by another thread, after the leader was back.
                            EXPECT_TRUE(leader_returned.load());
                            std::lock_guard lock(mu);
                            ++answered;
                            cv.notify_all();
                          });
  }
  ops_->fsync_dir_delay_ms = 300;  // the batch after the leader's is slow too
  leader.join();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return answered == 10; }));
  EXPECT_EQ(store_->snapshot(kAlice, "INBOX")->messages.size(), 12u);
}

}  // namespace
}  // namespace tern::store::testing
