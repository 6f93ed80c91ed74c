// Store behaviour as the front ends see it: delivery, flags, expunge, copy/move, mailboxes.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <regex>
#include <set>

#include <sqlite3.h>

#include "store_fixture.h"

namespace tern::store::testing {
namespace {

const std::string kAlice = "alice@example.test";
const std::string kBob = "bob@example.test";

std::string msg(int i) { return "Subject: m" + std::to_string(i) + "\r\n\r\nbody " + std::to_string(i) + "\r\n"; }

// A message larger than staged_max_bytes (here: all of them) is fsynced file by file.
TEST_F(StoreTest, DeliveryFollowsDurabilityOrder) {
  staged_max_ = 0;
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  ops_->clear();
  DeliveryRequest req;
  req.targets.push_back({kAlice, "INBOX", 0});
  std::string bytes = msg(1);
  req.message = bytes;
  auto out = store_->deliver(req);
  ops_->record("returned", "");
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)[0].status.ok());
  auto log = ops_->log();
  // The first delivery into a tmp/ shard finds no directory there: the write fails, the
  // directory is made, and the same write is repeated.
  ASSERT_EQ(log.size(), 8u) << ::testing::PrintToString(log);
  EXPECT_EQ(log[0], log[1]);
  log.erase(log.begin());
  const std::string box = "/mail/example.test/alice";
  EXPECT_TRUE(std::regex_search(log[0], std::regex("^write_file " + box + "/tmp/[0-9]+/[^/]+$"))) << log[0];
  EXPECT_EQ(log[1], "fsync_file" + log[0].substr(10));
  std::string tmp = log[0].substr(11);
  EXPECT_TRUE(log[2].rfind("rename " + tmp + " -> " + box + "/new/", 0) == 0) << log[2];
  EXPECT_NE(log[2].find(",U=1"), std::string::npos);
  // The directory fsync runs beside the index commit and the WAL's sync that follows it:
  // any order between those two and it, all before the call returns.
  std::set<std::string> three{log[3], log[4], log[5]};
  EXPECT_EQ(three, (std::set<std::string>{"fsync_dir " + box + "/new", "index_commit ",
                                          "sync_data /index.db-wal"}));
  auto at = [&](const std::string& line) { return std::find(log.begin(), log.end(), line) - log.begin(); };
  EXPECT_LT(at("index_commit "), at("sync_data /index.db-wal"));
  EXPECT_EQ(log[6], "returned ");
}

// A delivery's commit does not sync under the store's lock: the WAL is synced after the lock
// is released (here a flush that takes 3 s), and the call returns only after it. Meanwhile
// other writers (a flag change, a new mailbox) and readers go on; a staged message listed in
// that window is read once its file is in place, which is only after the flush.
TEST_F(StoreTest, ADeliveryFlushesTheIndexOutsideTheStoresLock) {
  open();
  uint32_t first = deliver(kAlice, msg(1));
  ops_->clear();
  ops_->sync_data_delay_ms = 3000;
  std::atomic<bool> delivered{false};
  std::thread slow([&] {
    deliver(kAlice, msg(2));
    delivered = true;
  });
  wait_for_op("sync_data", "index.db-wal");
  auto start = std::chrono::steady_clock::now();
  auto flagged = store_->store_flags(kAlice, "INBOX", {first}, FlagOp::add, Flags{kFlagged, {}});
  auto created = store_->create_mailbox(kAlice, "Lists");
  auto snap = store_->snapshot(kAlice, "INBOX");
  auto took = std::chrono::steady_clock::now() - start;
  bool was_done = delivered.load();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->messages.size(), 2u);  // committed, not yet answered
  // Its file is not in place until the flush is done: the read waits for it.
  auto bytes = store_->read_message(kAlice, "INBOX", snap->messages[1].uid);
  slow.join();
  EXPECT_FALSE(was_done);
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_TRUE(flagged.ok());
  EXPECT_TRUE(created.ok());
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  EXPECT_EQ(*bytes, msg(2));
  // The staged file got its name in new/ only after the WAL was on disk.
  auto log = ops_->log();
  auto sync = std::find_if(log.begin(), log.end(), [](const std::string& l) { return l.rfind("sync_data", 0) == 0; });
  auto publish = std::find_if(log.begin(), log.end(), [](const std::string& l) {
    return l.rfind("rename", 0) == 0 && l.find("/new/") != std::string::npos;
  });
  ASSERT_NE(publish, log.end());
  EXPECT_LT(sync - log.begin(), publish - log.begin());
}

// While a delivery's WAL flush runs, the store's lock is free: its message may be expunged,
// or its mailbox renamed, before its file gets its name. The file then follows the row: none
// for the expunged message, the renamed folder for the other; a restart finds the same.
TEST_F(StoreTest, AMessageExpungedOrRenamedDuringItsDeliveryFlushEndsWhereItsRowIs) {
  open();
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Lists").ok());
  uint32_t kept = deliver(kAlice, msg(0));
  ops_->clear();
  ops_->sync_data_delay_ms = 1000;
  std::thread first([&] { deliver(kAlice, msg(1)); });
  wait_for_op("sync_data");
  auto snap = store_->snapshot(kAlice, "INBOX");
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->messages.size(), 2u);
  EXPECT_TRUE(store_->expunge(kAlice, "INBOX", {snap->messages[1].uid}).ok());
  first.join();
  EXPECT_EQ(files(maildir("example.test", "alice")).size(), 1u);

  ops_->clear();
  std::thread second([&] {
    DeliveryRequest req;
    req.targets.push_back({kAlice, "Lists", 0});
    std::string bytes = msg(2);
    req.message = bytes;
    auto out = store_->deliver(req);
    EXPECT_TRUE(out.ok() && (*out)[0].status.ok());
  });
  wait_for_op("sync_data");
  EXPECT_TRUE(store_->rename_mailbox(kAlice, "Lists", "Letters").ok());
  second.join();
  ops_->sync_data_delay_ms = 0;
  auto moved = store_->read_message(kAlice, "Letters", 1);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(*moved, msg(2));
  EXPECT_EQ(files(maildir("example.test", "alice") + "/.Letters").size(), 1u);

  open();  // a restart: recovery finds nothing to add or bring back
  EXPECT_EQ(uids(kAlice, "INBOX"), std::vector<uint32_t>{kept});
  EXPECT_EQ(uids(kAlice, "Letters"), std::vector<uint32_t>{1});
  EXPECT_EQ(*store_->read_message(kAlice, "Letters", 1), msg(2));
}

// COPY and MOVE link the source's file: one named in a client's command while its delivery's
// flush still runs (the row is committed, the file not yet in new/) is copied once it is there.
TEST_F(StoreTest, AMessageMovedDuringItsDeliveryFlushIsMovedWhole) {
  open();
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Lists").ok());
  deliver(kAlice, msg(0));
  ops_->clear();
  ops_->sync_data_delay_ms = 1000;
  std::thread slow([&] { deliver(kAlice, msg(1)); });
  wait_for_op("sync_data");
  auto snap = store_->snapshot(kAlice, "INBOX");
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->messages.size(), 2u);
  auto moved = store_->move(kAlice, "INBOX", {snap->messages[1].uid}, "Lists");
  slow.join();
  ops_->sync_data_delay_ms = 0;
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  ASSERT_EQ(moved->uids.size(), 1u);
  EXPECT_EQ(*store_->read_message(kAlice, "Lists", moved->uids[0].second), msg(1));
  EXPECT_EQ(uids(kAlice, "INBOX").size(), 1u);
}

// Callers that commit while a WAL flush runs share the next one: ten EXPUNGEs on ten threads,
// each waiting for its commit to be on disk, cost far fewer than ten flushes.
TEST_F(StoreTest, ConcurrentExpungesShareTheWalFlush) {
  open();
  std::vector<uint32_t> got;
  for (int i = 0; i < 10; ++i) got.push_back(deliver(kAlice, msg(i)));
  got.push_back(deliver(kAlice, msg(10)));  // stays: the highest UID, so no UID file is written
  ops_->clear();
  ops_->sync_data_delay_ms = 200;
  run_together(10, [&](int i) { EXPECT_TRUE(store_->expunge(kAlice, "INBOX", {got[static_cast<size_t>(i)]}).ok()); });
  int syncs = 0;
  for (auto& line : ops_->log()) syncs += line.rfind("sync_data", 0) == 0;
  EXPECT_GE(syncs, 1);
  EXPECT_LE(syncs, 4) << "each EXPUNGE synced the WAL on its own";
  EXPECT_EQ(uids(kAlice, "INBOX"), std::vector<uint32_t>{got.back()});
  // An EXPUNGE that removes nothing (a client's habit) waits for no flush.
  ops_->clear();
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {got.front()}).ok());
  for (auto& line : ops_->log()) EXPECT_NE(line.rfind("sync_data", 0), 0u) << line;
}

// SMTP's RCPT quota check reads the usage without waiting for a delivery batch that holds
// the store through its disk flush (here a directory fsync that takes 3 s).
TEST_F(StoreTest, UsageDoesNotWaitForACommittingBatch) {
  staged_max_ = 0;  // the slow directory fsync is on the unstaged path
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  std::string bytes = msg(1);
  deliver(kAlice, bytes);
  ops_->clear();
  ops_->fsync_dir_delay_ms = 3000;
  std::thread slow([&] { deliver(kAlice, bytes); });
  wait_for_op("fsync_dir");
  auto start = std::chrono::steady_clock::now();
  auto used = store_->usage(kAlice);
  auto took = std::chrono::steady_clock::now() - start;
  slow.join();
  ASSERT_TRUE(used.ok());
  // The last commit: before or after the batch's own, never in between.
  EXPECT_TRUE(*used == bytes.size() || *used == 2 * bytes.size()) << *used;
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_EQ(*store_->usage(kAlice), 2 * bytes.size());
}

// IMAP's reads (LIST, STATUS, SELECT, FETCH of flags and envelopes, CONDSTORE changes) run on
// the index's reader connections: they do not queue behind a writer that holds the store
// through a disk flush (here EXPUNGE's directory fsync, 3 s), and they see the last commit.
TEST_F(StoreTest, ReadsDoNotWaitForAWriterInItsFsync) {
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  uint32_t first = deliver(kAlice, msg(1));
  uint32_t last = deliver(kAlice, msg(2));
  ops_->clear();
  ops_->fsync_dir_delay_ms = 3000;
  std::atomic<bool> expunged{false};
  std::thread slow([&] {  // the highest UID: EXPUNGE writes the UID file, fsyncing its directory
    EXPECT_TRUE(store_->expunge(kAlice, "INBOX", {last}).ok());
    expunged = true;
  });
  wait_for_op("fsync_dir");
  auto start = std::chrono::steady_clock::now();
  auto status = store_->mailbox_status(kAlice, "INBOX");
  auto snap = store_->snapshot(kAlice, "INBOX");
  auto rows = store_->messages(kAlice, "INBOX", {first});
  auto list = store_->list_mailboxes(kAlice);
  auto changes = store_->changes_since(kAlice, "INBOX", 0);
  auto took = std::chrono::steady_clock::now() - start;
  bool writer_was_done = expunged.load();
  slow.join();
  EXPECT_FALSE(writer_was_done);
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  // The commit before the EXPUNGE's: both messages.
  ASSERT_TRUE(status.ok() && snap.ok() && rows.ok() && list.ok() && changes.ok());
  EXPECT_EQ(status->messages, 2u);
  EXPECT_EQ(snap->messages.size(), 2u);
  EXPECT_EQ(rows->size(), 1u);
  EXPECT_EQ(changes->changed.size(), 2u);
  EXPECT_TRUE(changes->vanished.empty());
  // And afterwards, the EXPUNGE's.
  EXPECT_EQ(store_->mailbox_status(kAlice, "INBOX")->messages, 1u);
  EXPECT_EQ(store_->changes_since(kAlice, "INBOX", 0)->vanished, std::vector<uint32_t>{last});
}

// COPY commits its rows before it renames the copies into place (under the store's lock).
// A reader connection may list such a row meanwhile; reading the message then waits for the
// file instead of failing.
TEST_F(StoreTest, AMessageListedBeforeItsCopyIsInPlaceIsStillRead) {
  open();
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Work").ok());
  uint32_t uid = deliver(kAlice, msg(1));
  ops_->clear();
  ops_->publish_delay_ms = 1500;
  std::thread copying([&] { EXPECT_TRUE(store_->copy(kAlice, "INBOX", {uid}, "Work").ok()); });
  wait_for_op("rename", "/tmp/");  // committed; the file on its way into cur/
  auto listed = store_->messages(kAlice, "Work", {1});
  auto files = store_->message_files(kAlice, "Work");
  auto bytes = store_->read_message(kAlice, "Work", 1);
  std::string by_handle;
  auto read = files.ok() && !files->files.empty()
                  ? store_->read_message_into(kAlice, "Work", files->files[0], by_handle)
                  : Result<bool>(false);
  copying.join();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);  // the committed row, seen before its file was in place
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  EXPECT_EQ(*bytes, msg(1));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_TRUE(*read);
  EXPECT_EQ(by_handle, msg(1));
}

// LIST without RETURN (STATUS) asks for no counts: the same mailboxes, attributes and
// subscriptions, without counting every mailbox's messages.
TEST_F(StoreTest, MailboxesListedWithoutCountsHaveTheRestAndNoCounts) {
  open();
  deliver(kAlice, msg(1));
  deliver(kAlice, msg(2));
  auto full = store_->list_mailboxes(kAlice);
  auto bare = store_->list_mailboxes(kAlice, false);
  ASSERT_TRUE(full.ok() && bare.ok());
  ASSERT_EQ(full->size(), bare->size());
  for (size_t i = 0; i < full->size(); ++i) {
    const auto& f = (*full)[i];
    const auto& b = (*bare)[i];
    EXPECT_EQ(b.name, f.name);
    EXPECT_EQ(b.special_use, f.special_use);
    EXPECT_EQ(b.subscribed, f.subscribed);
    EXPECT_EQ(b.uidnext, f.uidnext);
    EXPECT_EQ(b.uidvalidity, f.uidvalidity);
    EXPECT_EQ(b.messages, 0u);
    EXPECT_EQ(b.size, 0u);
  }
  EXPECT_EQ((*full)[0].messages, 2u);  // INBOX, counted
  EXPECT_EQ((*bare)[0].uidnext, 3u);
}

TEST_F(StoreTest, NewUserGetsSpecialUseFoldersAllSubscribed) {
  open();
  auto list = store_->list_mailboxes(kAlice);  // lazily creates the user
  ASSERT_TRUE(list.ok());
  std::map<std::string, std::string> got;
  for (auto& m : *list) {
    got[m.name] = m.special_use;
    EXPECT_TRUE(m.subscribed) << m.name;
    EXPECT_GT(m.uidvalidity, 0u);
    EXPECT_EQ(m.uidnext, 1u);
  }
  std::map<std::string, std::string> want = {{"INBOX", ""}, {"Drafts", "\\Drafts"},
                                             {"Sent", "\\Sent"}, {"Trash", "\\Trash"},
                                             {"Junk", "\\Junk"}, {"Archive", "\\Archive"}};
  EXPECT_EQ(got, want);
  EXPECT_EQ((*list)[0].name, "INBOX");
  for (const char* d : {"", "/.Drafts", "/.Sent", "/.Trash", "/.Junk", "/.Archive"})
    for (const char* sub : {"/cur", "/new", "/tmp"})
      EXPECT_TRUE(fs::is_directory(maildir("example.test", "alice") + d + sub)) << d << sub;
  // A deleted special folder is not re-created behind the user's back after a restart.
  ASSERT_TRUE(store_->delete_mailbox(kAlice, "Junk").ok());
  open();
  for (auto& m : std::vector<MailboxStatus>(store_->list_mailboxes(kAlice).value())) EXPECT_NE(m.name, "Junk");
}

// On the fsync-per-file path, where the fake's directory fsync models the disk's latency
// (staged deliveries: staged_test.cpp).
TEST_F(StoreTest, ConcurrentDeliveriesGetIncreasingUidsAndBatch) {
  staged_max_ = 0;
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  ops_->fsync_dir_delay_ms = 5;  // disk latency: lets deliveries pile up behind the leader
  ops_->clear();
  auto before = store_->stats();
  constexpr int kThreads = 100;
  std::vector<uint32_t> got = deliver_concurrently(kAlice, kThreads, msg);
  std::set<uint32_t> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(distinct.count(0), 0u);
  EXPECT_EQ(*distinct.begin(), 1u);
  EXPECT_EQ(*distinct.rbegin(), static_cast<uint32_t>(kThreads));
  // Commit order = rename order: UIDs seen in renames must be strictly increasing.
  auto renamed = renamed_uids();
  EXPECT_EQ(renamed.size(), static_cast<size_t>(kThreads));
  uint32_t last = 0;
  for (uint32_t uid : renamed) {
    ASSERT_NE(uid, 0u) << "a rename without ,U=";
    EXPECT_GT(uid, last);
    last = uid;
  }
  auto after = store_->stats();
  EXPECT_EQ(after.delivered - before.delivered, static_cast<uint64_t>(kThreads));
  EXPECT_LT(after.delivery_batches - before.delivery_batches, static_cast<uint64_t>(kThreads));
  // Every row indexed, every file present with exactly the delivered bytes.
  auto snap = store_->snapshot(kAlice, "INBOX");
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->messages.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(snap->status.uidnext, static_cast<uint32_t>(kThreads + 1));
  for (int i = 0; i < kThreads; ++i) {
    auto body = store_->read_message(kAlice, "INBOX", got[i]);
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(*body, msg(i));
  }
  EXPECT_EQ(files(maildir("example.test", "alice")).size(), static_cast<size_t>(kThreads));
}

TEST_F(StoreTest, MessagesReturnsOnlyTheWantedUidsWithMetadata) {
  open();
  std::vector<uint32_t> uids;
  for (int i = 0; i < 5; ++i) {
    auto r = store_->append(kAlice, "INBOX", "m" + std::to_string(i) + "\r\n", {}, 0, 0,
                            "meta" + std::to_string(i));
    ASSERT_TRUE(r.ok());
    uids.push_back(r->uid);
  }
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {uids[3]}).ok());
  auto got = store_->messages(kAlice, "INBOX", {uids[4], uids[1], uids[3], uids[1], 999});
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);  // uids[3] expunged, 999 never existed, duplicates collapsed
  EXPECT_EQ((*got)[0].uid, uids[1]);
  EXPECT_EQ((*got)[0].cached_metadata, "meta1");
  EXPECT_EQ((*got)[1].uid, uids[4]);
  EXPECT_EQ((*got)[1].size, 4u);
  EXPECT_TRUE(store_->messages(kAlice, "INBOX", {})->empty());
  EXPECT_FALSE(store_->messages(kAlice, "Nope", {uids[0]}).ok());
}

TEST_F(StoreTest, QuotaRefusesWithoutWriting) {
  open();
  std::string bytes(1000, 'x');
  DeliveryRequest req;
  req.targets.push_back({kAlice, "INBOX", 1500});
  req.targets.push_back({kBob, "INBOX", 0});
  req.message = bytes;
  auto first = store_->deliver(req);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE((*first)[0].status.ok());
  auto second = store_->deliver(req);
  ASSERT_TRUE(second.ok());
  ASSERT_FALSE((*second)[0].status.ok());
  EXPECT_EQ((*second)[0].status.error().code, Errc::over_quota);
  EXPECT_TRUE((*second)[1].status.ok());  // other recipients unaffected
  EXPECT_EQ(*store_->usage(kAlice), 1000u);
  EXPECT_EQ(*store_->usage(kBob), 2000u);
  EXPECT_EQ(files(maildir("example.test", "alice")).size(), 1u);
  EXPECT_TRUE(no_tmp_files(maildir("example.test", "alice") + "/tmp"));
  auto app = store_->append(kAlice, "INBOX", bytes, {}, 0, 1500);
  ASSERT_FALSE(app.ok());
  EXPECT_EQ(app.error().code, Errc::over_quota);
}

TEST_F(StoreTest, AppendNeedsExistingMailboxAndKeepsFlagsAndDate) {
  open();
  auto missing = store_->append(kAlice, "Nope", "x\r\n", {}, 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  Flags f{kSeen | kDraft, {"$Label1", "Work"}};
  auto r = store_->append(kAlice, "Drafts", "draft\r\n", f, 1700000000);
  ASSERT_TRUE(r.ok());
  auto snap = *store_->snapshot(kAlice, "Drafts");
  ASSERT_EQ(snap.messages.size(), 1u);
  EXPECT_EQ(r->uidvalidity, snap.status.uidvalidity);
  EXPECT_EQ(snap.messages[0].uid, r->uid);
  EXPECT_EQ(snap.messages[0].flags, f);
  EXPECT_EQ(snap.messages[0].internal_date, 1700000000);
  EXPECT_EQ(snap.messages[0].size, 7u);
  auto path = *store_->message_path(kAlice, "Drafts", r->uid);
  EXPECT_NE(path.find("/.Drafts/cur/"), std::string::npos);
  EXPECT_TRUE(path.size() > 5 && path.substr(path.size() - 5) == ":2,DS") << path;
  auto bad = store_->append(kAlice, "INBOX", "x", Flags{0, {"bad word"}}, 0);
  EXPECT_FALSE(bad.ok());
}

TEST_F(StoreTest, FlagsKeepFileNameAndIndexInSync) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  auto hms0 = store_->snapshot(kAlice, "INBOX")->status.highestmodseq;
  auto r = store_->store_flags(kAlice, "INBOX", {a, b, 99}, FlagOp::add, Flags{kSeen | kFlagged, {"Important"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->updated.size(), 2u);
  EXPECT_GT(r->updated[0].modseq, hms0);
  EXPECT_EQ(r->highestmodseq, r->updated[0].modseq);
  auto path = *store_->message_path(kAlice, "INBOX", a);
  EXPECT_NE(path.find("/cur/"), std::string::npos);
  EXPECT_EQ(path.substr(path.size() - 5), ":2,FS");
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", a), msg(1));

  r = store_->store_flags(kAlice, "INBOX", {a}, FlagOp::remove, Flags{kFlagged, {"important"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->updated.size(), 1u);
  EXPECT_EQ(r->updated[0].flags, (Flags{kSeen, {}}));
  path = *store_->message_path(kAlice, "INBOX", a);
  EXPECT_EQ(path.substr(path.size() - 4), ":2,S");
  // No change -> no new modseq.
  auto same = store_->store_flags(kAlice, "INBOX", {a}, FlagOp::add, Flags{kSeen, {}});
  EXPECT_TRUE(same->updated.empty());
  // RFC 7162 UNCHANGEDSINCE: b was modified after modseq hms0.
  auto cond = store_->store_flags(kAlice, "INBOX", {a, b}, FlagOp::replace, Flags{kDeleted, {}}, hms0);
  ASSERT_TRUE(cond.ok());
  EXPECT_EQ(cond->failed, (std::vector<uint32_t>{a, b}));
  auto snap = *store_->snapshot(kAlice, "INBOX");
  EXPECT_EQ(snap.status.unseen, 0u);
  EXPECT_EQ(snap.messages[1].flags, (Flags{kSeen | kFlagged, {"Important"}}));
  // File names agree with the index for every message.
  for (auto& m : snap.messages) {
    auto p = *store_->message_path(kAlice, "INBOX", m.uid);
    std::string letters = p.substr(p.rfind(":2,") + 3);
    std::string want;
    if (m.flags.system & kFlagged) want += 'F';
    if (m.flags.system & kSeen) want += 'S';
    EXPECT_EQ(letters, want);
  }
}

TEST_F(StoreTest, ExpungeRecordsVanishedForChangesSince) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  uint32_t c = deliver(kAlice, msg(3));
  auto ms = store_->snapshot(kAlice, "INBOX")->status.highestmodseq;
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {c}, FlagOp::add, Flags{kSeen, {}}).ok());
  auto path_b = *store_->message_path(kAlice, "INBOX", b);
  auto gone = store_->expunge(kAlice, "INBOX", {b, 42});
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, (std::vector<uint32_t>{b}));
  EXPECT_FALSE(fs::exists(path_b));
  auto ch = store_->changes_since(kAlice, "INBOX", ms);
  ASSERT_TRUE(ch.ok());
  ASSERT_EQ(ch->changed.size(), 1u);
  EXPECT_EQ(ch->changed[0].uid, c);
  EXPECT_EQ(ch->vanished, (std::vector<uint32_t>{b}));
  EXPECT_EQ(uids(kAlice, "INBOX"), (std::vector<uint32_t>{a, c}));
  // Expunging the highest UID never lets it be reused.
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {c}).ok());
  EXPECT_EQ(deliver(kAlice, msg(4)), c + 1);
  EXPECT_FALSE(store_->read_message(kAlice, "INBOX", b).ok());
}

TEST_F(StoreTest, CopyAndMoveMapUids) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {b}, FlagOp::add, Flags{kFlagged, {"Kw"}}).ok());
  ASSERT_TRUE(store_->set_cached_metadata(kAlice, "INBOX", b, "ENVELOPE-blob").ok());
  deliver(kAlice, msg(9), "Archive");  // destination already has uid 1
  auto cp = store_->copy(kAlice, "INBOX", {b, a, 77}, "Archive");
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  EXPECT_EQ(cp->uidvalidity, store_->snapshot(kAlice, "Archive")->status.uidvalidity);
  ASSERT_EQ(cp->uids.size(), 2u);
  EXPECT_EQ(cp->uids[0], std::make_pair(a, 2u));
  EXPECT_EQ(cp->uids[1], std::make_pair(b, 3u));
  auto arch = *store_->snapshot(kAlice, "Archive");
  ASSERT_EQ(arch.messages.size(), 3u);
  EXPECT_EQ(arch.messages[2].flags, (Flags{kFlagged, {"Kw"}}));
  EXPECT_EQ(arch.messages[2].cached_metadata, "ENVELOPE-blob");
  EXPECT_EQ(*store_->read_message(kAlice, "Archive", 3), msg(2));
  EXPECT_EQ(uids(kAlice, "INBOX").size(), 2u);  // copy leaves the source

  ops_->refuse_links = true;  // cross-device: falls back to a durable byte copy
  auto mv = store_->move(kAlice, "INBOX", {a, b}, "Trash");
  ASSERT_TRUE(mv.ok());
  EXPECT_EQ(mv->uids, (std::vector<std::pair<uint32_t, uint32_t>>{{a, 1}, {b, 2}}));
  EXPECT_TRUE(uids(kAlice, "INBOX").empty());
  EXPECT_EQ(*store_->read_message(kAlice, "Trash", 2), msg(2));
  auto missing = store_->copy(kAlice, "Archive", {1}, "NoSuch");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

// snapshot_uids_flags() (SELECT, STORE, EXPUNGE) has each message's uid, flags, keywords and
// modseq as snapshot_flags() has them, and the mailbox's status; nothing else is read.
TEST_F(StoreTest, UidsAndFlagsSnapshotHasTheFlagsAndNothingElse) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  deliver(kAlice, msg(2));
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {a}, FlagOp::add, Flags{kSeen | kDeleted, {"$Work"}}).ok());
  ASSERT_TRUE(store_->set_cached_metadata(kAlice, "INBOX", a, "blob").ok());
  auto full = *store_->snapshot_flags(kAlice, "INBOX");
  auto lean = *store_->snapshot_uids_flags(kAlice, "INBOX");
  EXPECT_EQ(lean.status.uidnext, full.status.uidnext);
  EXPECT_EQ(lean.status.highestmodseq, full.status.highestmodseq);
  EXPECT_EQ(lean.status.messages, 2u);
  EXPECT_EQ(lean.status.unseen, 1u);
  ASSERT_EQ(lean.messages.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(lean.messages[i].uid, full.messages[i].uid);
    EXPECT_EQ(lean.messages[i].flags, full.messages[i].flags);
    EXPECT_EQ(lean.messages[i].modseq, full.messages[i].modseq);
    EXPECT_EQ(lean.messages[i].size, 0u);
    EXPECT_TRUE(lean.messages[i].email_id.empty());
    EXPECT_TRUE(lean.messages[i].cached_metadata.empty());
    EXPECT_FALSE(full.messages[i].email_id.empty());
  }
  EXPECT_EQ(lean.messages[0].flags, (Flags{kSeen | kDeleted, {"$Work"}}));
}

TEST_F(StoreTest, MetadataIsCachedManyAtOnceInOneCommit) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  ops_->clear();
  ASSERT_TRUE(store_->set_cached_metadata(kAlice, "INBOX", {{a, "blob-a"}, {b, "blob-b"}, {99, "gone"}}).ok());
  auto log = ops_->log();
  EXPECT_EQ(std::count(log.begin(), log.end(), "index_commit "), 1);
  auto snap = *store_->snapshot(kAlice, "INBOX");
  EXPECT_EQ(snap.messages[0].cached_metadata, "blob-a");
  EXPECT_EQ(snap.messages[1].cached_metadata, "blob-b");
  EXPECT_TRUE(store_->set_cached_metadata(kAlice, "INBOX", std::vector<std::pair<uint32_t, std::string>>{}).ok());
}

// The ENVELOPE/BODYSTRUCTURE source lives in its own table (message_metadata): it must follow
// its message through MOVE and RENAME INBOX, and go with it (EXPUNGE, DELETE), so that no
// later message under a reused key inherits it.
TEST_F(StoreTest, MetadataFollowsItsMessageAndGoesWithIt) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  ASSERT_TRUE(store_->set_cached_metadata(kAlice, "INBOX", {{a, "blob-a"}, {b, "blob-b"}}).ok());
  auto mv = store_->move(kAlice, "INBOX", {a}, "Archive");
  ASSERT_TRUE(mv.ok());
  EXPECT_EQ(store_->snapshot(kAlice, "Archive")->messages.at(0).cached_metadata, "blob-a");
  // RFC 3501 §6.3.5: RENAME INBOX moves its messages to the new mailbox (rows re-keyed).
  ASSERT_TRUE(store_->rename_mailbox(kAlice, "INBOX", "Old").ok());
  auto old = *store_->snapshot(kAlice, "Old");
  ASSERT_EQ(old.messages.size(), 1u);
  EXPECT_EQ(old.messages[0].cached_metadata, "blob-b");
  EXPECT_EQ((*store_->messages(kAlice, "Old", {old.messages[0].uid}))[0].cached_metadata, "blob-b");
  ASSERT_TRUE(store_->expunge(kAlice, "Old", {old.messages[0].uid}).ok());
  ASSERT_TRUE(store_->delete_mailbox(kAlice, "Archive").ok());
  store_.reset();
  EXPECT_EQ(query_int(dir_ + "/index.db", "SELECT COUNT(*) FROM message_metadata"), 0);
}

// An index made when the metadata was a column of messages: it is moved to its table at open
// and served as before.
TEST_F(StoreTest, MetadataInAnOldIndexIsMovedToItsTable) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  ASSERT_TRUE(store_->set_cached_metadata(kAlice, "INBOX", a, "blob-a").ok());
  store_.reset();
  exec_sql(dir_ + "/index.db",
           "ALTER TABLE messages ADD COLUMN cached_metadata TEXT;"
           "UPDATE messages SET cached_metadata = (SELECT data FROM message_metadata d "
           "  WHERE d.id = (messages.mailbox_id << 32) | messages.uid);"
           "DROP TABLE message_metadata;"
           "DROP TRIGGER messages_metadata_delete; DROP TRIGGER messages_metadata_rekey;");
  open();
  auto snap = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(snap.messages.size(), 2u);
  EXPECT_EQ(snap.messages[0].cached_metadata, "blob-a");
  EXPECT_EQ(snap.messages[1].cached_metadata, "");
  ASSERT_TRUE(store_->set_cached_metadata(kAlice, "INBOX", b, "blob-b").ok());
  EXPECT_EQ((*store_->messages(kAlice, "INBOX", {b}))[0].cached_metadata, "blob-b");
}

// The quota's usage is kept by the index (mailboxes.bytes): it must follow every way a
// message comes and goes, and an index made before the column existed is filled on open.
TEST_F(StoreTest, UsageFollowsEveryChangeAndOldIndexesAreMigrated) {
  open();
  const std::string big = "Subject: a\r\n\r\n" + std::string(700, 'x');
  const std::string small = "Subject: b\r\n\r\n" + std::string(300, 'y');
  uint32_t a = deliver(kAlice, big);
  uint32_t b = deliver(kAlice, small);
  const uint64_t sa = big.size(), sb = small.size();
  EXPECT_EQ(*store_->usage(kAlice), sa + sb);
  ASSERT_TRUE(store_->copy(kAlice, "INBOX", {a}, "Archive").ok());
  EXPECT_EQ(*store_->usage(kAlice), 2 * sa + sb);
  ASSERT_TRUE(store_->move(kAlice, "INBOX", {b}, "Trash").ok());
  EXPECT_EQ(*store_->usage(kAlice), 2 * sa + sb);
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {a}).ok());
  EXPECT_EQ(*store_->usage(kAlice), sa + sb);
  ASSERT_TRUE(store_->delete_mailbox(kAlice, "Trash").ok());
  EXPECT_EQ(*store_->usage(kAlice), sa);
  deliver(kBob, small);
  EXPECT_EQ(*store_->usage(kBob), sb);
  EXPECT_EQ(*store_->usage(kAlice), sa);  // per user

  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/index.db").c_str(), &db), SQLITE_OK);
  for (const char* sql : {"DROP TRIGGER messages_bytes_insert", "DROP TRIGGER messages_bytes_delete",
                          "DROP TRIGGER messages_bytes_update",
                          "ALTER TABLE mailboxes DROP COLUMN bytes"})
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  sqlite3_close(db);
  open();
  EXPECT_EQ(*store_->usage(kAlice), sa);
  EXPECT_EQ(*store_->usage(kBob), sb);
  deliver(kAlice, small);
  EXPECT_EQ(*store_->usage(kAlice), sa + sb);

  // RFC 9208 §4.2: a COPY that would pass the quota fails as a whole; a MOVE does not count.
  auto inbox = uids(kAlice, "INBOX");
  auto over = store_->copy(kAlice, "INBOX", inbox, "Archive", sa + sb + sb - 1);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, Errc::over_quota);
  EXPECT_EQ(uids(kAlice, "Archive").size(), 1u);  // only the earlier copy
  EXPECT_TRUE(no_tmp_files(maildir("example.test", "alice") + "/.Archive/tmp"));
  EXPECT_TRUE(store_->copy(kAlice, "INBOX", {inbox.back()}, "Archive", sa + sb + sb).ok());
  EXPECT_TRUE(store_->move(kAlice, "Archive", uids(kAlice, "Archive"), "INBOX").ok());
}

TEST_F(StoreTest, MailboxCreateRenameDelete) {
  open();
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Work/Projects/2024").ok());
  auto names = [&] {
    std::vector<std::string> out;
    for (auto& m : std::vector<MailboxStatus>(store_->list_mailboxes(kAlice).value())) out.push_back(m.name);
    return out;
  };
  auto n = names();
  EXPECT_NE(std::find(n.begin(), n.end(), "Work"), n.end());  // superiors created
  EXPECT_NE(std::find(n.begin(), n.end(), "Work/Projects"), n.end());
  EXPECT_TRUE(fs::is_directory(maildir("example.test", "alice") + "/.Work.Projects.2024/cur"));
  EXPECT_EQ(store_->create_mailbox(kAlice, "Work").error().code, Errc::exists);
  EXPECT_EQ(store_->create_mailbox(kAlice, "inbox").error().code, Errc::exists);
  for (const char* bad : {"../x", "a//b", "x/..", "/abs", "a\x01", ".", "*"})
    EXPECT_EQ(store_->create_mailbox(kAlice, bad).error().code, Errc::syntax) << bad;

  uint32_t uid = deliver(kAlice, msg(1), "Work/Projects");
  auto v = store_->snapshot(kAlice, "Work/Projects")->status.uidvalidity;
  ASSERT_TRUE(store_->rename_mailbox(kAlice, "Work", "Jobs").ok());
  n = names();
  EXPECT_EQ(std::count_if(n.begin(), n.end(), [](auto& s) { return s.rfind("Work", 0) == 0; }), 0);
  auto moved = store_->snapshot(kAlice, "Jobs/Projects");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->status.uidvalidity, v);
  EXPECT_EQ(*store_->read_message(kAlice, "Jobs/Projects", uid), msg(1));
  EXPECT_TRUE(store_->snapshot(kAlice, "Jobs/Projects/2024").ok());
  EXPECT_EQ(store_->rename_mailbox(kAlice, "Jobs", "Sent").error().code, Errc::exists);
  EXPECT_EQ(store_->rename_mailbox(kAlice, "Jobs", "Jobs/Sub").error().code, Errc::refused);
  EXPECT_EQ(store_->rename_mailbox(kAlice, "Nope", "X").error().code, Errc::not_found);

  // RFC 9051 §6.3.5: INBOX cannot be deleted; a parent with inferiors can (they stay).
  EXPECT_EQ(store_->delete_mailbox(kAlice, "INBOX").error().code, Errc::refused);
  ASSERT_TRUE(store_->delete_mailbox(kAlice, "Jobs/Projects").ok());
  EXPECT_EQ(store_->snapshot(kAlice, "Jobs/Projects").error().code, Errc::not_found);
  EXPECT_TRUE(store_->snapshot(kAlice, "Jobs/Projects/2024").ok());
  EXPECT_FALSE(fs::exists(maildir("example.test", "alice") + "/.Jobs.Projects"));
  // Re-created name gets a different UIDVALIDITY (RFC 9051 §2.3.1.1).
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Jobs/Projects").ok());
  EXPECT_NE(store_->snapshot(kAlice, "Jobs/Projects")->status.uidvalidity, v);
}

TEST_F(StoreTest, RenameInboxMovesMessagesAndLeavesItEmpty) {
  open();
  uint32_t a = deliver(kAlice, msg(1));
  uint32_t b = deliver(kAlice, msg(2));
  ASSERT_TRUE(store_->create_mailbox(kAlice, "INBOX/Child").ok());
  auto inbox_before = store_->snapshot(kAlice, "INBOX")->status;
  ASSERT_TRUE(store_->rename_mailbox(kAlice, "inbox", "Old/Mail").ok());
  auto inbox = *store_->snapshot(kAlice, "INBOX");
  EXPECT_TRUE(inbox.messages.empty());
  EXPECT_EQ(inbox.status.uidvalidity, inbox_before.uidvalidity);
  auto old = *store_->snapshot(kAlice, "Old/Mail");
  ASSERT_EQ(old.messages.size(), 2u);
  EXPECT_NE(old.status.uidvalidity, inbox_before.uidvalidity);
  EXPECT_EQ(*store_->read_message(kAlice, "Old/Mail", b), msg(2));
  EXPECT_TRUE(store_->snapshot(kAlice, "INBOX/Child").ok());  // inferiors of INBOX stay
  // New INBOX mail never reuses a UID.
  EXPECT_GT(deliver(kAlice, msg(3)), std::max(a, b));
}

TEST_F(StoreTest, SubscriptionsMayNameMissingMailboxes) {
  open();
  ASSERT_TRUE(store_->subscribe(kAlice, "Ghost/Folder").ok());
  auto subs = *store_->list_subscriptions(kAlice);
  EXPECT_NE(std::find(subs.begin(), subs.end(), "Ghost/Folder"), subs.end());
  EXPECT_NE(std::find(subs.begin(), subs.end(), "Trash"), subs.end());
  ASSERT_TRUE(store_->unsubscribe(kAlice, "Trash").ok());
  EXPECT_EQ(store_->unsubscribe(kAlice, "Trash").error().code, Errc::not_found);
  for (auto& m : std::vector<MailboxStatus>(store_->list_mailboxes(kAlice).value())) EXPECT_EQ(m.subscribed, m.name != "Trash");
  EXPECT_EQ(store_->subscribe(kAlice, "a//b").error().code, Errc::syntax);
}

TEST_F(StoreTest, WatchFiresOnDeliverStoreExpungeAndStopsAfterReset) {
  open();
  std::atomic<int> hits{0};
  auto h = store_->watch(kAlice, "INBOX", [&] { hits++; });
  ASSERT_TRUE(h.ok());
  std::atomic<int> other{0};
  auto h2 = store_->watch(kAlice, "Sent", [&] { other++; });
  uint32_t uid = deliver(kAlice, msg(1));
  EXPECT_EQ(hits.load(), 1);
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {uid}, FlagOp::add, Flags{kSeen, {}}).ok());
  EXPECT_EQ(hits.load(), 2);
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {uid}).ok());
  EXPECT_EQ(hits.load(), 3);
  EXPECT_EQ(other.load(), 0);
  h->reset();
  deliver(kAlice, msg(2));
  EXPECT_EQ(hits.load(), 3);
  EXPECT_EQ(store_->watch(kAlice, "Missing", [] {}).error().code, Errc::not_found);

  // A callback may drop its own handle; a handle may outlive the store.
  std::optional<WatchHandle> self;
  int self_hits = 0;
  self = store_->watch(kAlice, "INBOX", [&] { ++self_hits; self.reset(); }).value();
  deliver(kAlice, msg(3));
  deliver(kAlice, msg(4));
  EXPECT_EQ(self_hits, 1);
  auto late = store_->watch(kAlice, "INBOX", [] {});
  store_.reset();
}

TEST_F(StoreTest, WatchUnsubscribeWhileNotifyingFromOtherThreads) {
  open();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 30; ++i) deliver(kAlice, msg(i));
    stop = true;
  });
  int rounds = 0;
  while (!stop) {
    auto alive = std::make_shared<int>(0);
    {
      auto h = store_->watch(kAlice, "INBOX", [alive] { ++*alive; });
      ASSERT_TRUE(h.ok());
      std::this_thread::yield();
    }
    ++rounds;
  }
  writer.join();
  EXPECT_GT(rounds, 0);
}

// IMAP NOTIFY's account watch: the changed mailboxes by name, only the watched user's, and
// `listing` for create / rename / delete / (un)subscribe / ACL changes.
TEST_F(StoreTest, WatchAccountNamesChangedMailboxesAndListingChanges) {
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  std::mutex mu;
  std::vector<std::string> names;
  int listings = 0;
  auto h = store_->watch_account("ALICE@example.test", [&](const Store::AccountChange& ch) {
    std::lock_guard lock(mu);
    names.insert(names.end(), ch.mailboxes.begin(), ch.mailboxes.end());
    listings += ch.listing;
  });
  ASSERT_TRUE(h.ok());
  uint32_t uid = deliver(kAlice, msg(1));
  deliver(kBob, msg(2));  // another user's: not reported
  ASSERT_TRUE(store_->append(kAlice, "Sent", msg(3), {}, 1700000000).ok());
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {uid}, FlagOp::add, Flags{kSeen, {}}).ok());
  EXPECT_EQ(names, (std::vector<std::string>{"INBOX", "Sent", "INBOX"}));
  EXPECT_EQ(listings, 0);
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Work").ok());
  ASSERT_TRUE(store_->rename_mailbox(kAlice, "Work", "Play").ok());
  ASSERT_TRUE(store_->subscribe(kAlice, "Play").ok());
  ASSERT_TRUE(store_->unsubscribe(kAlice, "Play").ok());
  ASSERT_TRUE(store_->delete_mailbox(kAlice, "Play").ok());
  EXPECT_EQ(listings, 5);
  EXPECT_FALSE(store_->create_mailbox(kAlice, "INBOX").ok());  // failed: nothing changed
  EXPECT_EQ(listings, 5);
  // An ACL change of another user's mailbox may change what alice sees.
  ASSERT_TRUE(store_->set_acl(kBob, "INBOX", kAlice, 3).ok());
  EXPECT_EQ(listings, 6);
  h->reset();
  deliver(kAlice, msg(4));
  ASSERT_TRUE(store_->create_mailbox(kAlice, "After").ok());
  EXPECT_EQ(listings, 6);
  EXPECT_EQ(names.size(), 4u);  // the rename's message watch names "Play" once
}

TEST_F(StoreTest, UsersAreIsolated) {
  open();
  uint32_t a = deliver(kAlice, "for alice\r\n");
  uint32_t b = deliver(kBob, "for bob\r\n");
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", a), "for alice\r\n");
  EXPECT_EQ(*store_->read_message(kBob, "INBOX", b), "for bob\r\n");
  EXPECT_EQ(store_->snapshot(kBob, "INBOX")->messages.size(), 1u);
  // Same user whatever the case; addresses that would escape mail/ are refused.
  EXPECT_EQ(store_->snapshot("ALICE@Example.Test", "inbox")->messages.size(), 1u);
  for (const char* evil : {"../bob@example.test", "alice@../example.test", "bob/../alice@example.test",
                           "x@example.test/../../..", ".@example.test"}) {
    auto r = store_->snapshot(evil, "INBOX");
    ASSERT_FALSE(r.ok()) << evil;
    EXPECT_EQ(r.error().code, Errc::syntax);
  }
  EXPECT_FALSE(store_->read_message(kBob, "INBOX", a + 100).ok());
  ASSERT_TRUE(store_->remove_user(kBob).ok());
  EXPECT_FALSE(fs::exists(maildir("example.test", "bob")));
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", a), "for alice\r\n");
  EXPECT_EQ(*store_->usage(kBob), 0u);  // recreated empty on use
}

}  // namespace
}  // namespace tern::store::testing
