// Store: durable delivery (SMTP) and APPEND (IMAP) through one group commit.
//
// Each caller writes its message to tmp/<shard>/ on its own thread (in parallel): a staged
// message without fsync (staged.cpp), a larger one fsynced. Then it queues it. Whichever
// waiting caller finds no leader becomes the leader: it takes every queued item and commits
// them together (one SQLite transaction holding the rows and the staged copies; one directory
// fsync per distinct directory for the fsynced ones), then wakes everyone. Callers return only
// once their item is done.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "common/log.h"
#include "common/strings.h"
#include "store/store_impl.h"
#include "store/threads.h"

namespace tern::store {

using detail::PendingDelivery;
using StagedKey = Store::Impl::StagedKey;

namespace detail {

DirSyncer::~DirSyncer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DirSyncer::start(const std::set<std::string>* dirs) {
  std::lock_guard lock(mu_);
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  job_ = dirs;
  done_ = false;
  cv_.notify_all();
}

Status DirSyncer::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return done_; });
  return std::exchange(result_, Status{});
}

void DirSyncer::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || job_; });
    if (stop_) return;
    const auto* dirs = std::exchange(job_, nullptr);
    lock.unlock();
    Status st;
    for (const auto& dir : *dirs)
      if (auto s = fops_->fsync_dir(dir); !s.ok()) {
        st = s;
        break;
      }
    lock.lock();
    result_ = st;
    done_ = true;
    cv_.notify_all();
  }
}

}  // namespace detail

void Store::Impl::write_tmp(PendingDelivery& item, std::string_view bytes) {
  item.base = new_base();
  item.bytes = bytes;
  item.staged = bytes.size() <= opts.staged_max_bytes;
  std::string shard = "tmp/" + std::to_string(tmp_shard_next++ % kTmpShards);
  item.tmp_rel = shard + "/" + item.base;
  // A staged message is durable through its copy in the index: the file needs no fsync now.
  // Otherwise fsync file: the bytes must be on stable storage before the name appears in new/.
  // The shard directory is made on first use; it needs no fsync of its own, since nothing is
  // answered before the file's name in new/ is durable.
  auto write = [&] {
    std::string path = item.folder + "/" + item.tmp_rel;
    return item.staged ? fops->write_file(path, bytes, item.internal_date)
                       : fops->write_file_synced(path, bytes, item.internal_date);
  };
  auto s = write();
  if (!s.ok() && s.error().code == Errc::not_found) {
    check(fops->mkdir(item.folder + "/" + shard));
    s = write();
  }
  check(s);
}

void Store::Impl::commit_or_wait(std::vector<PendingDelivery>& items) {
  // Each caller sleeps on its own condition variable: a finished batch wakes only the callers
  // it completed and, when more is queued, the one caller that will lead next (notify_all on
  // a shared one woke every waiter for every batch: a context switch per waiter per batch).
  std::condition_variable my_cv;
  std::unique_lock lock(q_mu);
  for (auto& item : items)
    if (!item.done) {
      item.waiter = &my_cv;
      queue.push_back(&item);
    }
  auto all_done = [&] {
    return std::all_of(items.begin(), items.end(), [](const auto& i) { return i.done; });
  };
  while (!all_done()) {
    if (leader_active) {
      my_cv.wait(lock);
      continue;
    }
    leader_active = true;
    lead(lock, &my_cv);
  }
}

void Store::Impl::queue_async(detail::AsyncDelivery* a) {
  std::unique_lock lock(q_mu);
  for (auto& item : a->items)
    if (!item.done) {
      item.async = a;
      ++a->remaining;
      queue.push_back(&item);
    }
  if (a->remaining == 0) {  // every target failed before it could be queued
    lock.unlock();
    finish_async(a);
    return;
  }
  // A leader is at work: it (or the next one) commits these too, and calls `done`.
  if (leader_active) return;
  leader_active = true;
  lead(lock, nullptr);
}

void Store::Impl::lead(std::unique_lock<std::mutex>& lock, std::condition_variable* me) {
  for (;;) {
    std::vector<PendingDelivery*> batch;
    batch.swap(queue);
    lock.unlock();
    run_batch(batch);
    std::vector<int64_t> changed;
    for (auto* item : batch)
      if (item->outcome.status.ok()) changed.push_back(item->mailbox_id);
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    lock.lock();
    std::vector<std::condition_variable*> wake;
    std::vector<detail::AsyncDelivery*> finished;
    for (auto* item : batch) {
      item->done = true;
      if (item->async) {
        if (--item->async->remaining == 0) finished.push_back(item->async);
      } else if (item->waiter != me) {
        wake.push_back(item->waiter);
      }
    }
    // The next leader: the first caller still queued that waits anyway. When only queued
    // deliver_async() items remain, nobody waits for them: a deliver_async() caller (or the
    // commit thread) goes on; a caller whose own answer is waiting hands them to the commit
    // thread instead (under steady ingest it could otherwise lead for ever).
    std::condition_variable* next = nullptr;
    for (auto* item : queue)
      if (!item->async && item->waiter != me) {
        next = item->waiter;
        break;
      }
    bool go_on = !queue.empty() && !next && !me;
    if (!queue.empty() && !next && me) {
      commit_wanted = true;
      if (!commit_thread.joinable()) commit_thread = std::thread([this] { commit_rounds(); });
      commit_cv.notify_one();
    }
    if (next) wake.push_back(next);
    std::sort(wake.begin(), wake.end());
    wake.erase(std::unique(wake.begin(), wake.end()), wake.end());
    if (!go_on) leader_active = false;
    // Under q_mu: a woken caller cannot return (and destroy its condition variable) before it
    // reacquires q_mu.
    for (auto* cv : wake) cv->notify_one();
    // Without q_mu: watch callbacks and `done` may deliver or read.
    lock.unlock();
    notify(changed);
    for (auto* a : finished) finish_async(a);
    lock.lock();
    if (!go_on) return;
  }
}

void Store::Impl::commit_rounds() {
  std::unique_lock lock(q_mu);
  for (;;) {
    commit_cv.wait(lock, [&] { return commit_stop || commit_wanted; });
    if (commit_stop) return;  // the callers are gone (the store is closing)
    commit_wanted = false;
    if (leader_active || queue.empty()) continue;  // someone took them meanwhile
    leader_active = true;
    lead(lock, nullptr);
  }
}

void Store::Impl::stop_committing() {
  {
    std::lock_guard lock(q_mu);
    commit_stop = true;
  }
  commit_cv.notify_all();
  if (commit_thread.joinable()) commit_thread.join();
}

void Store::Impl::finish_async(detail::AsyncDelivery* a) {
  std::unique_ptr<detail::AsyncDelivery> owned(a);
  std::vector<DeliveryOutcome> out;
  out.reserve(a->items.size());
  for (auto& item : a->items) out.push_back(std::move(item.outcome));
  try {
    a->done(std::move(out));
  } catch (const std::exception& e) {
    spdlog::error("store: delivery callback threw: {}", e.what());
  }
}

void Store::Impl::start_publishing(const std::vector<std::string>& keys) {
  std::lock_guard lock(publish_mu);
  publishing.insert(keys.begin(), keys.end());
}

void Store::Impl::end_publishing(const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  {
    std::lock_guard lock(publish_mu);
    for (const auto& key : keys) publishing.erase(publishing.find(key));
  }
  publish_cv.notify_all();
}

void Store::Impl::wait_published(const std::string& folder, const std::vector<uint32_t>& uids) {
  std::unique_lock lock(publish_mu);
  publish_cv.wait(lock, [&] {
    if (publishing.empty()) return true;
    return std::none_of(uids.begin(), uids.end(),
                        [&](uint32_t uid) { return publishing.count(publish_key(folder, uid)) != 0; });
  });
}

void Store::Impl::run_batch(std::vector<PendingDelivery*>& batch) {
  std::unique_lock lock(mu);
  struct Counters {
    uint32_t uidnext;
    uint64_t modseq;
    std::string name;  // current name: a RENAME may have moved the folder since queueing
    bool touched = false;
  };
  std::map<int64_t, Counters> boxes;
  std::map<std::string, uint64_t> usage;  // per user, including this batch so far
  std::set<std::string> dirs;
  std::vector<std::pair<PendingDelivery*, std::string>> placed;  // item, file under folder
  auto fail_item = [&](PendingDelivery* item, Error e) {
    item->outcome.status = std::move(e);
    (void)fops->unlink(item->folder + "/" + item->tmp_rel);
  };
  // The staged items' publish keys from before their commit until their rename (or failure).
  struct Unpublished {
    Store::Impl& impl;
    std::vector<std::string> keys;
    void end() { impl.end_publishing(std::exchange(keys, {})); }
    ~Unpublished() { end(); }
  } unpublished{*this, {}};
  if (auto broken = wal_sync->failure()) {
    for (auto* item : batch) fail_item(item, *broken);  // committing now could not be made durable
    return;
  }
  try {
    // The COMMIT does not sync: the WAL is synced below, without `mu` (synchronous=FULL again
    // before `mu` is released: other writers rely on it).
    std::optional<detail::RelaxedSync> relaxed(std::in_place, db);
    // BEGIN IMMEDIATE first: UID allocation below must be serialised with any other process
    // (ternctl) that writes the index.
    detail::Txn txn(db);
    for (auto* item : batch) {
      auto it = boxes.find(item->mailbox_id);
      if (it == boxes.end()) {
        auto row = find_mailbox_id(item->mailbox_id);
        if (!row) {
          fail_item(item, make_error(Errc::not_found, "mailbox disappeared"));
          continue;
        }
        (void)recent_floor_of(*row);  // before allocating: what this batch adds is recent
        it = boxes.emplace(item->mailbox_id, Counters{row->uidnext, row->highestmodseq, row->name}).first;
      }
      item->folder = folder_dir(item->user, it->second.name);
      if (item->quota) {
        auto u = usage.find(item->user.address);
        if (u == usage.end()) u = usage.emplace(item->user.address, user_usage(item->user.address)).first;
        if (u->second + item->size > item->quota) {
          fail_item(item, make_error(Errc::over_quota, "mailbox full"));
          continue;
        }
        u->second += item->size;
      } else if (auto u = usage.find(item->user.address); u != usage.end()) {
        u->second += item->size;
      }
      if (it->second.uidnext == 0xFFFFFFFFu) {
        fail_item(item, make_error(Errc::refused, "UID space exhausted"));
        continue;
      }
      // UIDs in commit order: strictly increasing per mailbox (RFC 9051 §2.3.1.1).
      uint32_t uid = it->second.uidnext++;
      bool info = item->flags.system != 0 || !item->flags.keywords.empty();
      std::string file = std::string(info ? "cur/" : "new/") +
                         detail::format_maildir_name(item->base, item->size, uid,
                                                     item->flags.system, info);
      if (!item->staged) {
        // rename: atomically publishes the complete, fsynced file under its final name.
        auto s = fops->rename(item->folder + "/" + item->tmp_rel, item->folder + "/" + file);
        if (!s.ok()) {
          fail_item(item, s.error());
          continue;
        }
        dirs.insert(item->folder + "/" + file.substr(0, 3));
      }
      it->second.touched = true;
      item->outcome.uid = uid;
      placed.emplace_back(item, file);
    }
    const int64_t save_date = detail::now_unix();
    for (auto& [item, file] : placed) {
      auto& c = boxes[item->mailbox_id];
      // RFC 8514: the save date is when the message entered this mailbox (the commit), not
      // the internal date an APPEND may set.
      db.prepare("INSERT INTO messages(mailbox_id, uid, file, size, internal_date, flags, "
                 "keywords, modseq, save_date, email_id, thread_id) "
                 "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, " TERN_NEW_OBJECT_ID("M") ", ?)")
          .bind(item->mailbox_id)
          .bind(static_cast<int64_t>(item->outcome.uid))
          .bind(file)
          .bind(static_cast<int64_t>(item->size))
          .bind(item->internal_date)
          .bind(static_cast<int64_t>(item->flags.system))
          .bind(detail::join_keywords(item->flags.keywords))
          .bind(static_cast<int64_t>(++c.modseq))
          .bind(save_date)
          .bind(detail::assign_thread(db, item->user.address, item->thread_keys))  // RFC 8474 §5.2
          .run();
      if (item->metadata && !item->metadata->empty())
        detail::put_metadata(db, item->mailbox_id, item->outcome.uid, *item->metadata);
      if (item->staged)
        db.prepare("INSERT INTO staged(mailbox_id, uid, body) VALUES(?, ?, ?)")
            .bind(item->mailbox_id)
            .bind(static_cast<int64_t>(item->outcome.uid))
            .bind_blob_static(item->bytes)
            .run();
    }
    for (auto& [id, c] : boxes)
      if (c.touched) update_counters(id, c.uidnext, c.modseq);
    for (auto& [id, c] : boxes) {
      if (!c.touched) continue;
      auto row = find_mailbox_id(id);
      for (auto& [item, file] : placed)
        if (item->mailbox_id == id) item->outcome.uidvalidity = row->uidvalidity;
    }
    // fsync dir (once per directory for the whole batch) makes the renames durable. It runs
    // beside the COMMIT and the WAL's sync rather than before them, so a batch waits for one
    // disk flush, not two: nobody is answered before both finish, and recovery handles either
    // one landing alone (a row without its file is dropped as never delivered; a file without
    // a row is indexed under the U= in its name).
    if (!dirs.empty()) dir_syncer->start(&dirs);
    // Before the COMMIT makes the rows visible to readers: their files are not in place.
    for (auto& [item, file] : placed)
      if (item->staged) unpublished.keys.push_back(publish_key(item->folder, item->outcome.uid));
    start_publishing(unpublished.keys);
    try {
      txn.commit();
    } catch (...) {
      if (!dirs.empty()) (void)dir_syncer->wait();  // `dirs` must outlive the job
      throw;
    }
    relaxed.reset();
    const uint64_t ticket = wal_sync->committed();
    committed();
    ++delivery_batches;
    // The rows, and the staged bodies, are durable once the WAL is synced. That flush (about
    // 4 ms here) and the directories' run without `mu`: STORE, EXPUNGE and the other writers
    // go on meanwhile, and a writer that commits in the meantime shares the next flush.
    lock.unlock();
    Status wal_synced = wal_sync->wait_durable(ticket);
    Status dirs_synced = dirs.empty() ? Status{} : dir_syncer->wait();
    lock.lock();
    if (!wal_synced.ok()) {
      // Committed, but maybe not durable: answer a temporary failure (the sender retries: a
      // possible duplicate rather than a possible loss). Staged files stay unpublished; the
      // next open() rewrites them from their copies if the rows survived (restore_staged).
      for (auto& [item, file] : placed)
        item->outcome = DeliveryOutcome{make_error(Errc::temporary, wal_synced.error().message), 0, 0};
      return;
    }
    // Staged files are published only now, under `mu` (a reader connection may list a row
    // first: its file is missing, and read_message_into waits for this in wait_published):
    // had they been renamed before the WAL's sync, a crash could leave a name in new/ for
    // bytes that never reached the disk, with no row or staged copy to repair it. After it,
    // recovery rewrites each one from its staged copy (restore_staged).
    std::vector<StagedKey> staged_keys;
    for (auto& [item, file] : placed) {
      if (!item->staged) continue;
      // The row as it is now: `mu` was free, so a RENAME may have moved the folder (tmp/
      // included), and an EXPUNGE or DELETE may have removed the message, whose file must then
      // not appear.
      // A failed lookup must not throw: the rows are committed (the catch below is for a batch
      // that is not). The file then waits for the next open(), as after a failed rename.
      auto now = db.prepare("SELECT m.file, b.name FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
                            "WHERE m.mailbox_id = ? AND m.uid = ?");
      now.bind(item->mailbox_id).bind(static_cast<int64_t>(item->outcome.uid));
      auto found = now.try_step("look up a delivered row");
      if (!found.ok()) {
        spdlog::error("store: delivery (the file is rewritten from its staged copy at the next start): {}",
                      found.error().message);
        continue;
      }
      if (!*found) {
        (void)fops->unlink(item->folder + "/" + item->tmp_rel);
        continue;
      }
      const std::string folder = folder_dir(item->user, now.text(1));
      auto s = fops->rename(folder + "/" + item->tmp_rel, folder + "/" + now.text(0));
      if (!s.ok()) {
        // The message is durable (its copy is committed) but its file is not in place: keep
        // the copy out of the sync rounds, so that it is never trimmed; the next open()
        // rewrites the file from it (restore_staged), as after a crash.
        spdlog::error("store: delivery rename failed (the file is rewritten from its staged "
                      "copy at the next start): {}",
                      s.error().message);
        continue;
      }
      staged_keys.push_back({item->mailbox_id, item->outcome.uid});
    }
    unpublished.end();
    if (!staged_keys.empty()) staged_committed(staged_keys);
    // The guard's estimate (free_space.h): each file, and a staged one's copy in the WAL.
    uint64_t used = 0;
    for (auto& [item, file] : placed) used += item->size * (item->staged ? 2 : 1);
    space->consume(used);
    if (auto s = dirs_synced; !s.ok()) {
      // The rows are committed but the names may not survive a crash: answer a temporary
      // failure, so the sender retries (a possible duplicate rather than a possible loss).
      spdlog::error("store: delivery batch: {}", s.error().message);
      for (auto& [item, file] : placed)
        if (!item->staged)
          item->outcome = DeliveryOutcome{make_error(Errc::temporary, s.error().message), 0, 0};
      delivered += staged_keys.size();
      return;
    }
    delivered += placed.size();
  } catch (const std::exception& e) {
    // Nothing in `placed` is committed: report failure (the client retries) and remove the
    // published files so a later recovery does not deliver them a second time.
    Errc code = Errc::internal;
    if (auto* f = dynamic_cast<const Failure*>(&e)) code = f->error.code;
    spdlog::error("store: delivery batch failed: {}", e.what());
    for (auto& [item, file] : placed) {
      item->outcome = DeliveryOutcome{make_error(code, e.what()), 0, 0};
      (void)fops->unlink(item->folder + "/" + (item->staged ? item->tmp_rel : file));
    }
    for (auto* item : batch)
      if (item->outcome.status.ok() && item->outcome.uid == 0) {
        item->outcome.status = make_error(code, e.what());
        (void)fops->unlink(item->folder + "/" + item->tmp_rel);
      }
  }
}

// Writes each target's bytes into its tmp/ shard; a target that fails here is done already.
void Store::Impl::prepare(const DeliveryRequest& request, std::vector<PendingDelivery>& items) {
  Flags flags = detail::normalize_flags(request.flags);
  int64_t date = request.internal_date ? request.internal_date : detail::now_unix();
  // Outside `mu`: the header is read once per request, the thread looked up at the commit.
  std::vector<std::string> keys = detail::thread_keys(request.message);
  for (size_t i = 0; i < request.targets.size(); ++i) {
    const auto& t = request.targets[i];
    auto& item = items[i];
    item.size = request.message.size();
    item.quota = t.quota_bytes;
    item.flags = flags;
    item.internal_date = date;
    item.metadata = &request.cached_metadata;
    item.thread_keys = keys;
    auto s = detail::guarded_status([&] {
      item.user = check(detail::canonical_user(t.user));
      auto name = check(detail::canonical_mailbox(t.mailbox.empty() ? "INBOX" : t.mailbox));
      item.folder = folder_dir(item.user, name);
      std::string key = item.user.address + "\n" + name;
      {
        std::lock_guard lock(ids_mu);
        if (auto it = delivery_ids.find(key); it != delivery_ids.end()) item.mailbox_id = it->second;
      }
      if (!item.mailbox_id) {
        std::lock_guard lock(mu);
        ensure_user_locked(item.user);
        auto row = require_mailbox(item.user.address, name);
        item.mailbox_id = row.id;
        std::lock_guard ids_lock(ids_mu);
        delivery_ids[key] = row.id;
      }
      // The quota is checked at commit, with the rest of the batch included (the RCPT
      // stage already refused a full mailbox); checking here too would wait for `mu`.
      write_tmp(item, request.message);
    });
    if (!s.ok()) {
      item.outcome.status = s;
      item.done = true;
    }
  }
}

Result<std::vector<DeliveryOutcome>> Store::deliver(const DeliveryRequest& request) {
  std::vector<PendingDelivery> items(request.targets.size());
  auto st = detail::guarded_status([&] {
    impl_->prepare(request, items);
    impl_->commit_or_wait(items);
  });
  if (!st.ok()) return st.error();
  std::vector<DeliveryOutcome> out;
  out.reserve(items.size());
  for (auto& item : items) out.push_back(std::move(item.outcome));
  return out;
}

void Store::deliver_async(std::shared_ptr<const std::string> message, DeliveryRequest request,
                          DeliveryDone done) {
  auto a = std::make_unique<detail::AsyncDelivery>();
  a->message = std::move(message);
  a->request = std::move(request);
  a->request.message = *a->message;
  a->items.resize(a->request.targets.size());
  a->done = std::move(done);
  auto* raw = a.get();
  auto st = detail::guarded_status([&] { impl_->prepare(raw->request, raw->items); });
  if (!st.ok()) {
    auto cb = std::move(raw->done);
    a.reset();
    cb(st.error());
    return;
  }
  impl_->queue_async(a.release());  // finish_async() deletes it
}

Result<AppendResult> Store::append(std::string_view user, std::string_view mailbox,
                                   std::string_view bytes, const Flags& flags,
                                   int64_t internal_date, uint64_t quota_bytes,
                                   std::string cached_metadata) {
  // Issue 20: new mail stops short of the space reserve, so that deleting always works.
  // Reported as over quota (IMAP NO [OVERQUOTA], RFC 9051 §7.1): the account cannot take more
  // for now, and clients show it as a storage-full condition.
  if (!impl_->space->has_room(bytes.size()))
    return make_error(Errc::over_quota, "server storage full");
  DeliveryRequest req;
  req.cached_metadata = std::move(cached_metadata);
  req.targets.push_back(DeliveryTarget{std::string(user), std::string(mailbox), quota_bytes});
  req.message = bytes;
  req.internal_date = internal_date;
  req.flags = flags;
  auto out = deliver(req);
  if (!out.ok()) return out.error();
  auto& o = (*out)[0];
  if (!o.status.ok()) return o.status.error();
  return AppendResult{o.uid, o.uidvalidity};
}

}  // namespace tern::store
