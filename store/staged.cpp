// Store: staged delivery - small messages made durable through the index, their files synced
// in rounds.
//
// A staged delivery writes its file without fsync and commits its bytes into `staged` with
// its row, so the WAL's one fdatasync per batch is the only flush in front of the reply. A
// background thread then syncs the whole file system (syncfs) every round, which makes a
// round's files, their inodes and their directory entries durable in one flush, and deletes
// the round's staged copies. After a crash, open() rewrites every file that still has a
// staged copy before anything else reads the Maildirs (restore_staged).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/log.h"
#include "store/store_impl.h"

namespace fs = std::filesystem;

namespace tern::store {

namespace {
// A round starts early once this many files wait, bounding what a crash leaves to restore
// and how much the WAL holds.
constexpr size_t kRoundMaxKeys = 4096;
}  // namespace

void Store::Impl::staged_committed(const std::vector<StagedKey>& keys) {
  try {
    std::lock_guard lock(stage_mu);
    bool first = stage_pending.empty();
    if (first) stage_first = std::chrono::steady_clock::now();
    stage_pending.insert(stage_pending.end(), keys.begin(), keys.end());
    if (!stage_thread.joinable() && !stage_stop) stage_thread = std::thread([this] { sync_rounds(); });
    // The thread sleeps until a round has keys, then until the round is due or full.
    if (first || stage_pending.size() >= kRoundMaxKeys) stage_cv.notify_one();
  } catch (const std::exception& e) {
    // The copies stay in `staged` and are restored at the next open: nothing is lost.
    spdlog::error("store: staged delivery: {}", e.what());
  }
}

void Store::Impl::note_write() {
  last_write_ns.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                      std::memory_order_relaxed);
  // Only the owner keeps the index compact (ternctl's writes are picked up by ternd's next
  // upkeep); once armed, further writes cost only the clock read above.
  if (lock_fd < 0 || compact_due.exchange(true)) return;
  std::lock_guard lock(stage_mu);
  if (!stage_thread.joinable() && !stage_stop) stage_thread = std::thread([this] { sync_rounds(); });
  stage_cv.notify_one();
}

void Store::Impl::compact() {
  auto st = detail::guarded_status([&] {
    std::lock_guard lock(mu);
    // 100 ms at most for a reader in the way: a delivery waits for `mu` meanwhile.
    db.compact(100, [&](uint64_t growth) { return room_for_index_growth(growth); });
  });
  if (!st.ok()) spdlog::warn("store: index upkeep: {}", st.error().message);
  if (opts.trace_for_testing) opts.trace_for_testing("index_compact");
  space->ensure_reserve();  // made again once a deletion gave the space back
}

bool Store::Impl::room_for_index_growth(uint64_t bytes) {
  // Slack for the WAL index and the file system's own blocks.
  constexpr uint64_t kSlack = 256 * 1024;
  uint64_t free = space->free_now();
  if (free >= bytes + kSlack) return true;
  spdlog::info("store: index checkpoint put off: index.db must grow by {} bytes, {} are free",
               bytes, free);
  return false;
}

bool Store::Impl::checkpoint_for_space() {
  auto st = detail::guarded_status([&] {
    std::lock_guard lock(mu);
    if (uint64_t growth = db.checkpoint_growth_bytes(); growth > 0 && !room_for_index_growth(growth))
      fail(Errc::temporary, "no room for the checkpoint");
    check(db.checkpoint_truncate(100));
  });
  if (!st.ok()) spdlog::warn("store: checkpoint to win space on a full disk: {}", st.error().message);
  return st.ok();
}

void Store::Impl::absorb_index_growth() {
  if (space->min_free_bytes() == 0) return;
  uint64_t free = space->last_free();
  uint64_t growth = db.checkpoint_growth_bytes();
  // Far from the line, the idle upkeep (compact) does it; the WAL's autocheckpoint too.
  if (growth == 0 || free == UINT64_MAX || free > 2 * space->min_free_bytes() + growth) return;
  if (!room_for_index_growth(growth)) return;
  // Busy 0: with a reader in the way it checkpoints what it can, as a passive one would.
  (void)db.checkpoint_truncate(0);
}

void Store::Impl::sync_rounds() {
  const auto interval = std::chrono::milliseconds(std::max(1, opts.staged_sync_interval_ms));
  const auto idle = std::chrono::nanoseconds(std::chrono::milliseconds(std::max(1, opts.compact_idle_ms)));
  std::unique_lock lock(stage_mu);
  for (;;) {
    stage_cv.wait(lock, [&] { return stage_stop || !stage_pending.empty() || compact_due.load(); });
    if (stage_pending.empty() && stage_stop) return;  // stopping, nothing left
    if (stage_pending.empty()) {
      // Upkeep once the index has been idle for `idle` (issue 20): under steady ingest it
      // never runs, so it costs the ingest nothing; after a burst it leaves index.db and
      // its WAL at their live size instead of their high-water mark.
      auto due = std::chrono::steady_clock::time_point(
                     std::chrono::nanoseconds(last_write_ns.load(std::memory_order_relaxed))) + idle;
      if (std::chrono::steady_clock::now() < due) {
        stage_cv.wait_until(lock, due, [&] { return stage_stop || !stage_pending.empty(); });
        continue;
      }
      compact_due = false;  // a write from here on arms it again
      lock.unlock();
      compact();
      lock.lock();
      continue;
    }
    stage_cv.wait_until(lock, stage_first + interval,
                        [&] { return stage_stop || stage_pending.size() >= kRoundMaxKeys; });
    std::vector<StagedKey> keys;
    keys.swap(stage_pending);
    lock.unlock();
    // Every file of `keys` was written before its batch committed and renamed before its
    // keys were queued: this syncfs covers them all.
    if (auto s = fops->sync_filesystem(sync_fd); s.ok()) {
      trim_staged(keys);
    } else {
      // Not retried: after a failed write-back the kernel may have dropped the pages, and a
      // second syncfs would not report the same error again. The copies stay, and the next
      // open() rewrites these files from them.
      spdlog::error("store: staged files not synced ({}): {} message file(s) will be rewritten "
                    "from their copies at the next start",
                    s.error().message, keys.size());
    }
    lock.lock();
  }
}

void Store::Impl::delete_staged(const std::vector<StagedKey>& keys) {
  detail::Txn txn(db);
  for (const auto& k : keys)
    db.prepare("DELETE FROM staged WHERE mailbox_id = ? AND uid = ?")
        .bind(k.mailbox_id)
        .bind(static_cast<int64_t>(k.uid))
        .run();
  txn.commit();
  committed();
}

void Store::Impl::trim_staged(const std::vector<StagedKey>& keys) {
  auto st = detail::guarded_status([&] {
    std::lock_guard lock(mu);
    delete_staged(keys);
    absorb_index_growth();
  });
  // Harmless: a copy left behind is only rewritten needlessly at the next open.
  if (!st.ok()) spdlog::warn("store: staged copies not trimmed: {}", st.error().message);
}

void Store::Impl::stop_staging() {
  {
    std::lock_guard lock(stage_mu);
    stage_stop = true;
  }
  stage_cv.notify_all();
  if (stage_thread.joinable()) stage_thread.join();
  if (sync_fd >= 0) ::close(sync_fd);
  sync_fd = -1;
}

std::set<uint32_t> Store::Impl::staged_uids(int64_t mailbox_id) {
  std::set<uint32_t> out;
  auto st = db.prepare("SELECT uid FROM staged WHERE mailbox_id = ?");
  st.bind(mailbox_id);
  while (st.step()) out.insert(static_cast<uint32_t>(st.i64(0)));
  return out;
}

void Store::Impl::restore_staged() {
  struct Item {
    int64_t mailbox_id;
    uint32_t uid;
    std::string file;  // the row's name under the folder
    int64_t internal_date;
  };
  std::map<std::string, std::vector<Item>> by_folder;
  {
    auto st = db.prepare(
        "SELECT s.mailbox_id, s.uid, m.file, m.internal_date, b.user, b.name FROM staged s "
        "JOIN messages m ON m.mailbox_id = s.mailbox_id AND m.uid = s.uid "
        "JOIN mailboxes b ON b.id = s.mailbox_id");
    while (st.step()) {
      auto u = detail::canonical_user(st.text(4));
      if (!u.ok()) continue;
      by_folder[folder_dir(*u, st.text(5))].push_back(
          {st.i64(0), static_cast<uint32_t>(st.i64(1)), st.text(2), st.i64(3)});
    }
  }
  if (by_folder.empty()) return;
  std::vector<StagedKey> restored;
  for (auto& folder_items : by_folder) {
    const std::string& folder = folder_items.first;  // (a lambda below uses it: no binding)
    const auto& items = folder_items.second;
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) continue;  // reconcile drops the mailbox
    for (const char* sub : {"/cur", "/new", "/tmp"}) check(fops->mkdir(folder + sub));
    // Every name in new/, cur/ and tmp/ (shards included) by base: after the crash a staged
    // message may have its file under an older name (a flag change's rename got to the disk
    // without its commit or the reverse) or still in tmp/.
    std::map<std::string, std::vector<std::string>> names;
    auto scan = [&](const std::string& rel_dir) {
      for (auto& e : fs::directory_iterator(folder + "/" + rel_dir, ec)) {
        std::string n = e.path().filename().string();
        auto parsed = detail::parse_maildir_name(n);
        names[parsed ? parsed->base : n].push_back(rel_dir + "/" + n);
      }
    };
    scan("new");
    scan("cur");
    scan("tmp");
    for (auto& e : fs::directory_iterator(folder + "/tmp", ec))
      if (std::error_code ec2; e.is_directory(ec2)) scan("tmp/" + e.path().filename().string());
    for (const auto& it : items) {
      auto parsed = detail::parse_maildir_name(it.file.size() > 4 ? it.file.substr(4) : "");
      if (!parsed) continue;
      std::string body;
      {
        auto st = db.prepare("SELECT body FROM staged WHERE mailbox_id = ? AND uid = ?");
        st.bind(it.mailbox_id).bind(static_cast<int64_t>(it.uid));
        if (!st.step()) continue;
        body = st.blob(0);
      }
      // The file may hold anything a crash left (nothing, part, stale blocks): write the
      // bytes anew, fsync, and rename over the row's name; other names of it go.
      std::string tmp = folder + "/tmp/" + parsed->base + ".restored";
      (void)fops->unlink(tmp);
      check(fops->write_file_synced(tmp, body, it.internal_date));
      check(fops->rename(tmp, folder + "/" + it.file));
      for (const auto& rel : names[parsed->base])
        if (rel != it.file) (void)fops->unlink(folder + "/" + rel);
      restored.push_back({it.mailbox_id, it.uid});
    }
    // fsync dirs: the restored names must be durable before their copies are deleted.
    check(fops->fsync_dir(folder + "/new"));
    check(fops->fsync_dir(folder + "/cur"));
  }
  // Only the copies rewritten here: a copy whose folder is gone goes with its rows when
  // reconcile drops the mailbox.
  delete_staged(restored);
  spdlog::info("store: recovery rewrote {} staged message file(s)", restored.size());
}

}  // namespace tern::store
