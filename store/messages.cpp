// Store: reading and changing messages (snapshot, flags, expunge, copy/move, CONDSTORE).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/strings.h"
#include "store/dovecot_files.h"
#include "store/store_impl.h"

namespace fs = std::filesystem;

namespace tern::store {

using detail::sorted_unique;

std::vector<uint32_t> detail::sorted_unique(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return uids;
}

namespace {

struct MessageRow {
  uint32_t uid = 0;
  std::string file;  // "new/<name>" or "cur/<name>", relative to the folder
  uint64_t size = 0;
  int64_t internal_date = 0;
  Flags flags;
  uint64_t modseq = 0;
  std::string metadata;
  std::optional<int64_t> save_date;
  std::string email_id;
  std::string thread_id;
};

// The columns read_row() reads: from messages `m` joined to its metadata `d` (TERN_ROW_FROM),
// or with an empty string in the metadata's place (TERN_ROW_FROM_WITHOUT_METADATA); `file`
// is m.file, or '' where no file name is wanted. Macros, so that the statements below stay
// literals.
#define TERN_ROW_FROM(file) \
  "SELECT m.uid, " file ", m.size, m.internal_date, m.flags, m.keywords, m.modseq, d.data, " \
  "m.save_date, m.email_id, m.thread_id FROM messages m "                                    \
  "LEFT JOIN message_metadata d ON d.id = (m.mailbox_id << 32) | m.uid "
#define TERN_ROW_FROM_WITHOUT_METADATA(file) \
  "SELECT m.uid, " file ", m.size, m.internal_date, m.flags, m.keywords, m.modseq, '', " \
  "m.save_date, m.email_id, m.thread_id FROM messages m "

constexpr const char* kSelectRow = TERN_ROW_FROM("m.file") "WHERE m.mailbox_id = ? AND m.uid = ?";

MessageRow read_row(const detail::Stmt& st) {
  MessageRow r;
  r.uid = static_cast<uint32_t>(st.i64(0));
  r.file = st.text(1);
  r.size = static_cast<uint64_t>(st.i64(2));
  r.internal_date = st.i64(3);
  r.flags.system = static_cast<uint32_t>(st.i64(4));
  r.flags.keywords = detail::split_keywords(st.text(5));
  r.modseq = static_cast<uint64_t>(st.i64(6));
  r.metadata = st.text(7);
  if (!st.is_null(8)) r.save_date = st.i64(8);
  r.email_id = st.text(9);
  r.thread_id = st.text(10);
  return r;
}

MessageInfo to_info(MessageRow&& r) {
  MessageInfo info;
  info.uid = r.uid;
  info.flags = std::move(r.flags);
  info.modseq = r.modseq;
  info.size = r.size;
  info.internal_date = r.internal_date;
  info.cached_metadata = std::move(r.metadata);
  info.save_date = r.save_date;
  info.email_id = std::move(r.email_id);
  info.thread_id = std::move(r.thread_id);
  return info;
}

std::optional<MessageRow> load_row(detail::Db& db, int64_t mailbox_id, uint32_t uid) {
  auto st = db.prepare(kSelectRow);
  st.bind(mailbox_id).bind(static_cast<int64_t>(uid));
  if (!st.step()) return std::nullopt;
  return read_row(st);
}

Flags apply(FlagOp op, const Flags& cur, const Flags& change) {
  Flags out;
  switch (op) {
    case FlagOp::replace:
      out = change;
      break;
    case FlagOp::add:
      out.system = cur.system | change.system;
      out.keywords = cur.keywords;
      out.keywords.insert(out.keywords.end(), change.keywords.begin(), change.keywords.end());
      break;
    case FlagOp::remove:
      out.system = cur.system & ~change.system;
      for (const auto& k : cur.keywords) {
        bool drop = std::any_of(change.keywords.begin(), change.keywords.end(),
                                [&](const auto& c) { return iequals(c, k); });
        if (!drop) out.keywords.push_back(k);
      }
      break;
  }
  return detail::normalize_flags(out);
}

bool same_keywords(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!iequals(a[i], b[i])) return false;
  return true;
}

}  // namespace

namespace {

// The snapshots differ in which columns they read: one they leave out is read as an empty
// string or 0, so read_row() serves all of them. None reads the file name (MessageInfo has
// none), the lighter ones no ENVELOPE/BODYSTRUCTURE blob, and snapshot_uids_flags() nothing
// but what SELECT, STORE and EXPUNGE use (no string a message, so no allocation for it).
constexpr const char* kSnapshotWithMetadata = TERN_ROW_FROM("''") "WHERE m.mailbox_id = ? ORDER BY m.uid";
constexpr const char* kSnapshotWithoutMetadata =
    TERN_ROW_FROM_WITHOUT_METADATA("''") "WHERE m.mailbox_id = ? ORDER BY m.uid";
constexpr const char* kSnapshotUidsFlags =
    "SELECT m.uid, '', 0, 0, m.flags, m.keywords, m.modseq, '', NULL, '', '' FROM messages m "
    "WHERE m.mailbox_id = ? ORDER BY m.uid";

}  // namespace

Result<MailboxSnapshot> Store::snapshot(std::string_view user, std::string_view mailbox) {
  return snapshot_rows(user, mailbox, kSnapshotWithMetadata);
}

Result<MailboxSnapshot> Store::snapshot_flags(std::string_view user, std::string_view mailbox) {
  return snapshot_rows(user, mailbox, kSnapshotWithoutMetadata);
}

Result<MailboxSnapshot> Store::snapshot_uids_flags(std::string_view user, std::string_view mailbox) {
  return snapshot_rows(user, mailbox, kSnapshotUidsFlags);
}

Result<MailboxSnapshot> Store::snapshot_rows(std::string_view user, std::string_view mailbox,
                                             const char* sql) {
  return detail::guarded([&] {
    return impl_->read_or_open(user, mailbox, [&](detail::Db& db, const auto& u, const auto&, const auto& row) {
      MailboxSnapshot snap;
      snap.status = impl_->status_in(db, u.address, row);
      auto st = db.prepare(sql);
      st.bind(row.id);
      snap.messages.reserve(snap.status.messages);
      while (st.step()) snap.messages.push_back(to_info(read_row(st)));
      return snap;
    });
  });
}

Result<std::vector<MessageInfo>> Store::messages(std::string_view user, std::string_view mailbox,
                                                 const std::vector<uint32_t>& uids) {
  return messages(user, mailbox, uids, nullptr);
}

Result<std::vector<MessageInfo>> Store::messages(std::string_view user, std::string_view mailbox,
                                                 const std::vector<uint32_t>& uids,
                                                 std::vector<std::string>* paths, bool with_metadata) {
  if (paths) paths->clear();
  return detail::guarded([&] {
    std::vector<uint32_t> want = sorted_unique(uids);
    auto rows = [&](detail::Db& db, const detail::UserName& u, const std::string& name,
                    const detail::MailboxRow& row) {
      std::vector<MessageInfo> out;
      if (want.empty()) return out;
      const std::string dir = paths ? impl_->folder_dir(u, name) + "/" : std::string();
      // One scan of the primary key between the smallest and largest wanted UID: a FETCH of a
      // few messages reads a few rows, not the whole mailbox.
      auto st = db.prepare(with_metadata ? TERN_ROW_FROM("m.file") "WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid"
                                         : TERN_ROW_FROM_WITHOUT_METADATA("m.file")
                           "WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid");
      st.bind(row.id).bind(static_cast<int64_t>(want.front())).bind(static_cast<int64_t>(want.back()));
      while (st.step()) {
        auto r = read_row(st);
        if (!std::binary_search(want.begin(), want.end(), r.uid)) continue;
        if (paths) paths->push_back(dir + r.file);
        out.push_back(to_info(std::move(r)));
      }
      return out;
    };
    // A path from a reader may name a file COPY/MOVE is still putting in place: reading by
    // handle (read_message_into) looks a missing file up again under the store's lock.
    return impl_->read_or_open(user, mailbox, rows);
  });
}

Result<StoreFlagsResult> Store::store_flags(std::string_view user, std::string_view mailbox,
                                            const std::vector<uint32_t>& uids, FlagOp op,
                                            const Flags& flags,
                                            std::optional<uint64_t> unchangedsince) {
  int64_t changed_id = 0;
  // freeing(): STORE +FLAGS \Deleted must work on a full disk (issue 20).
  auto result = impl_->freeing([&] { return detail::guarded([&] {
    auto u = check(detail::canonical_user(user));
    auto name = check(detail::canonical_mailbox(mailbox));
    Flags change = detail::normalize_flags(flags);
    std::lock_guard lock(impl_->mu);
    impl_->ensure_user_locked(u);
    auto& db = impl_->db;
    auto mbox = impl_->require_mailbox(u.address, name);
    std::string dir = impl_->folder_dir(u, name);
    StoreFlagsResult out;
    uint64_t modseq = mbox.highestmodseq + 1;  // RFC 7162 §3.1: one modseq per command is fine
    // A flag change commits without syncing the WAL (docs/architecture.md, "The store's locks and durability"): it
    // reaches the disk with the next durable commit or checkpoint, so a power loss may undo
    // the last seconds of flag changes, never anything else; a crash of ternd loses nothing.
    detail::RelaxedSync relaxed(db);
    detail::Txn txn(db);
    // Renames made for this transaction, undone when it does not commit (a full disk: the
    // rows keep their names, and the files must match them when freeing() tries again).
    std::vector<std::pair<std::string, std::string>> renamed;
    struct Undo {
      std::vector<std::pair<std::string, std::string>>& r;
      FileOps& fo;
      bool armed = true;
      ~Undo() {
        if (armed)
          for (auto it = r.rbegin(); it != r.rend(); ++it) (void)fo.rename(it->second, it->first);
      }
    } undo{renamed, *impl_->fops};
    for (uint32_t uid : sorted_unique(uids)) {
      auto row = load_row(db, mbox.id, uid);
      if (!row) continue;  // RFC 9051 §6.4.6: non-existent UIDs are ignored
      // RFC 7162 §3.1.3: UNCHANGEDSINCE fails for messages modified after the given modseq.
      if (unchangedsince && row->modseq > *unchangedsince) {
        out.failed.push_back(uid);
        continue;
      }
      Flags next = apply(op, row->flags, change);
      if (next.system == row->flags.system && same_keywords(next.keywords, row->flags.keywords))
        continue;
      std::string file = row->file;
      if (next.system != row->flags.system || file.rfind("new/", 0) == 0) {
        // Keep the ":2," letters in sync; rename(2) is atomic so a crash leaves either name
        // (recovery matches files by base name and trusts the index for flags).
        auto parsed = detail::parse_maildir_name(file.substr(4));
        if (parsed) {
          // Dovecot keyword letters (dovecot_writer.cpp) stay while the keywords do; changed
          // keywords get their letters from the writer's next round.
          std::string letters = same_keywords(next.keywords, row->flags.keywords)
                                    ? detail::keyword_letters(file) : std::string();
          std::string target = "cur/" + detail::format_maildir_name(parsed->base, row->size, uid,
                                                                    next.system, true, letters);
          auto s = impl_->fops->rename(dir + "/" + file, dir + "/" + target);
          if (s.ok()) {
            renamed.emplace_back(dir + "/" + file, dir + "/" + target);
            file = target;
          } else {
            spdlog::warn("store: flag rename failed: {}", s.error().message);
          }
        }
      }
      db.prepare("UPDATE messages SET flags = ?, keywords = ?, modseq = ?, file = ? "
                 "WHERE mailbox_id = ? AND uid = ?")
          .bind(static_cast<int64_t>(next.system))
          .bind(detail::join_keywords(next.keywords))
          .bind(static_cast<int64_t>(modseq))
          .bind(file)
          .bind(mbox.id)
          .bind(static_cast<int64_t>(uid))
          .run();
      out.updated.push_back(FlagUpdate{uid, std::move(next), modseq});
    }
    if (!out.updated.empty()) {
      impl_->update_counters(mbox.id, mbox.uidnext, modseq);
      changed_id = mbox.id;
    }
    out.highestmodseq = out.updated.empty() ? mbox.highestmodseq : modseq;
    txn.commit();
    undo.armed = false;
    impl_->committed();
    return out;
  }); });
  if (changed_id) impl_->notify({changed_id});
  return result;
}

Result<std::vector<uint32_t>> Store::expunge(std::string_view user, std::string_view mailbox,
                                             const std::vector<uint32_t>& uids) {
  int64_t changed_id = 0;
  auto result = impl_->freeing([&] { return detail::guarded([&] {
    auto [lock, u, name, mbox] = impl_->open_mailbox(user, mailbox);
    auto& db = impl_->db;
    std::string dir = impl_->folder_dir(u, name);
    std::vector<uint32_t> gone;
    uint64_t modseq = mbox.highestmodseq + 1;
    // The COMMIT does not sync; the WAL is synced after `mu` is released, before the answer.
    if (auto broken = impl_->wal_sync->failure()) throw Failure(*broken);
    std::optional<detail::RelaxedSync> relaxed(std::in_place, db);
    detail::Txn txn(db);
    for (uint32_t uid : sorted_unique(uids)) {
      auto row = load_row(db, mbox.id, uid);
      if (!row) continue;
      // Unlink before the commit: a crash in between leaves a row without a file, which
      // recovery drops (recording it as expunged) - never a resurrected message. Should the
      // unlink itself not survive a power loss, recovery deletes files whose U= is recorded
      // in `expunged`; so the directory is not fsynced here.
      auto s = impl_->fops->unlink(dir + "/" + row->file);
      if (!s.ok() && s.error().code != Errc::not_found) check(s);
      db.prepare("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?")
          .bind(mbox.id).bind(static_cast<int64_t>(uid)).run();
      // RFC 7162 §3.2.5: remember (uid, modseq) for VANISHED (EARLIER).
      db.prepare("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?, ?, ?)")
          .bind(mbox.id).bind(static_cast<int64_t>(uid)).bind(static_cast<int64_t>(modseq)).run();
      gone.push_back(uid);
    }
    if (!gone.empty()) {
      impl_->update_counters(mbox.id, mbox.uidnext, modseq);
      // Persist uidnext next to the files when the mailbox's highest UID goes: an index
      // rebuild takes UIDNEXT from this file and from the U= of the files left, so it must not
      // hand that UID out again. While a higher UID stays, its file name keeps UIDNEXT above
      // it, and the two fsyncs are not paid under the store's lock (most expunges).
      auto top = db.prepare("SELECT MAX(uid) FROM messages WHERE mailbox_id = ?");
      top.bind(mbox.id);
      bool highest_gone = !top.step() || top.is_null(0) || top.i64(0) < static_cast<int64_t>(gone.back());
      if (highest_gone) impl_->write_uid_file(dir, {mbox.uidvalidity, mbox.uidnext, modseq});
      changed_id = mbox.id;
    }
    txn.commit();
    relaxed.reset();  // synchronous=FULL again before `mu` goes: other writers rely on it
    impl_->committed();
    if (gone.empty()) return gone;  // nothing changed: no flush to wait for
    const uint64_t ticket = impl_->wal_sync->committed();
    lock.unlock();
    // EXPUNGE's OK promises the messages stay gone: on disk before the answer, with the flush
    // shared with whatever else committed meanwhile (WalSync).
    check(impl_->wal_sync->wait_durable(ticket));
    return gone;
  }); });
  if (changed_id) impl_->notify({changed_id});
  return result;
}

// COPY and MOVE in one transaction. The copies are first made in the destination's tmp/ (hard
// links, which share the fsynced inode, or full copies when links are refused), and that
// directory is fsynced; then the rows are inserted (and, for MOVE, the source rows deleted
// and recorded as expunged) and committed; only then are the copies renamed to their final
// names and the source files unlinked, all still under `mu`: a reader connection may list a
// committed row before its file is in place, and read_message_into then looks the file up
// again under `mu`, which waits for this. A crash before COMMIT leaves only tmp/ leftovers: nothing was
// copied or moved. A crash after it is finished by recovery: a row whose file is still in
// tmp/ gets it renamed into place, and a source file whose UID is recorded as expunged is
// deleted. So a MOVE happens exactly once or not at all (RFC 6851 §3.1 atomicity).
Result<CopyResult> Store::Impl::copy_or_move(std::string_view user, std::string_view from,
                                             const std::vector<uint32_t>& uids,
                                             std::string_view to, bool move,
                                             uint64_t quota_bytes) {
  std::vector<int64_t> changed;
  auto result = detail::guarded([&] {
    auto u = check(detail::canonical_user(user));
    auto src_name = check(detail::canonical_mailbox(from));
    auto dst_name = check(detail::canonical_mailbox(to));
    // A source may be a delivery whose file gets its name only after its WAL flush (run_batch
    // does that under `mu`, so this waits before taking it): the link below needs the file.
    wait_published(folder_dir(u, src_name), uids);
    std::lock_guard lock(mu);
    ensure_user_locked(u);
    auto& fo = *fops;
    auto src = require_mailbox(u.address, src_name);
    // RFC 9051 §6.4.7: a missing destination is an error (imapd adds [TRYCREATE]).
    auto dst = require_mailbox(u.address, dst_name);
    (void)recent_floor_of(dst);  // before allocating: the copies are recent (RFC 3501 §6.4.7)
    std::string sdir = folder_dir(u, src_name), ddir = folder_dir(u, dst_name);
    CopyResult out;
    out.uidvalidity = dst.uidvalidity;
    uint32_t uidnext = dst.uidnext;
    uint64_t modseq = dst.highestmodseq + 1;
    bool same = src.id == dst.id;  // MOVE into the source itself: new UIDs, one counter row
    uint64_t src_modseq = same ? modseq : src.highestmodseq + 1;
    const int64_t save_date = detail::now_unix();
    struct Placed {
      MessageRow row;
      std::string base;  // tmp/<base> until renamed to `file`
      std::string file;  // final name under the destination folder
    };
    std::vector<Placed> placed;
    bool committed_txn = false;
    detail::Txn txn(db);
    std::vector<MessageRow> rows;
    uint64_t adding = 0;
    for (uint32_t uid : sorted_unique(uids)) {
      auto row = load_row(db, src.id, uid);
      if (!row) continue;
      adding += row->size;
      rows.push_back(std::move(*row));
    }
    // A MOVE within the user's mailboxes changes nothing in the usage; a COPY adds.
    if (!move && quota_bytes && user_usage(u.address) + adding > quota_bytes)
      fail(Errc::over_quota, "mailbox full");
    // A staged source's file may not be on the disk yet (staged.cpp), and a link shares it:
    // such a file is fsynced before it gets a second name the copy's row relies on.
    std::set<uint32_t> staged = rows.empty() ? std::set<uint32_t>{} : staged_uids(src.id);
    try {
      for (auto& row_value : rows) {
        auto* row = &row_value;
        uint32_t uid = row->uid;
        if (uidnext == 0xFFFFFFFFu) fail(Errc::refused, "UID space exhausted");
        uint32_t new_uid = uidnext++;
        std::string base = new_base();
        bool info = row->flags.system != 0 || row->file.rfind("cur/", 0) == 0;
        std::string file = std::string(info ? "cur/" : "new/") +
                           detail::format_maildir_name(base, row->size, new_uid,
                                                       row->flags.system, info);
        std::string tmp = ddir + "/tmp/" + base;
        if (staged.count(uid)) check(fo.fsync_file(sdir + "/" + row->file));
        auto s = fo.link(sdir + "/" + row->file, tmp);
        if (!s.ok() && s.error().code == Errc::refused) {
          std::ifstream in(sdir + "/" + row->file, std::ios::binary);
          if (!in) fail(Errc::internal, "cannot read source message");
          std::ostringstream ss;
          ss << in.rdbuf();
          // fsync file: the copy's bytes must be on disk before a row points at it.
          check(fo.write_file_synced(tmp, ss.str(), row->internal_date));
        } else {
          check(s);
        }
        out.uids.emplace_back(uid, new_uid);
        placed.push_back({std::move(*row), std::move(base), std::move(file)});
      }
      if (placed.empty()) return out;
      // fsync dir: the tmp/ names must survive a crash before the rows that need them commit.
      check(fo.fsync_dir(ddir + "/tmp"));
      for (size_t i = 0; i < placed.size(); ++i) {
        const auto& p = placed[i];
        // RFC 8514 §1: a COPY/MOVE saves the message anew, so its save date is now.
        auto insert = db.prepare("INSERT INTO messages(mailbox_id, uid, file, size, internal_date, flags, "
                   "keywords, modseq, save_date, email_id, thread_id) "
                   "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        insert.bind(dst.id)
            .bind(static_cast<int64_t>(out.uids[i].second))
            .bind(p.file)
            .bind(static_cast<int64_t>(p.row.size))
            .bind(p.row.internal_date)
            .bind(static_cast<int64_t>(p.row.flags.system))
            .bind(detail::join_keywords(p.row.flags.keywords))
            .bind(static_cast<int64_t>(modseq))
            .bind(save_date)
            .bind(p.row.email_id);  // RFC 8474 §5.1: the same content keeps its EMAILID
        // RFC 8474 §5.2: and its THREADID (none yet: the owner's next open gives one).
        if (p.row.thread_id.empty()) insert.bind_null();
        else insert.bind(p.row.thread_id);
        insert.run();
        if (!p.row.metadata.empty())
          detail::put_metadata(db, dst.id, out.uids[i].second, p.row.metadata);
        if (move) {
          db.prepare("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?")
              .bind(src.id).bind(static_cast<int64_t>(p.row.uid)).run();
          // RFC 7162 §3.2.5: remember (uid, modseq) for VANISHED (EARLIER).
          db.prepare("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?, ?, ?)")
              .bind(src.id).bind(static_cast<int64_t>(p.row.uid))
              .bind(static_cast<int64_t>(src_modseq)).run();
        }
      }
      update_counters(dst.id, uidnext, modseq);
      changed.push_back(dst.id);
      if (move) {
        if (!same) {
          update_counters(src.id, src.uidnext, src_modseq);
          changed.push_back(src.id);
        }
        // As expunge does: uidnext/highestmodseq next to the files, for an index rebuild.
        write_uid_file(sdir, {src.uidvalidity, same ? uidnext : src.uidnext, src_modseq});
      }
      txn.commit();
      committed_txn = true;
      committed();
    } catch (...) {
      if (!committed_txn)
        for (auto& p : placed) (void)fo.unlink(ddir + "/tmp/" + p.base);  // no row needs them
      throw;
    }
    // Committed: finish on disk. Neither step is fsynced: recovery completes a lost rename
    // from tmp/ and deletes a source file whose unlink was lost (its UID is in `expunged`).
    for (auto& p : placed) {
      auto s = fo.rename(ddir + "/tmp/" + p.base, ddir + "/" + p.file);
      if (!s.ok()) spdlog::error("store: copy rename failed: {}", s.error().message);
      if (move) (void)fo.unlink(sdir + "/" + p.row.file);
    }
    return out;
  });
  if (!changed.empty()) notify(changed);
  return result;
}

Result<CopyResult> Store::copy(std::string_view user, std::string_view from,
                               const std::vector<uint32_t>& uids, std::string_view to,
                               uint64_t quota_bytes) {
  return impl_->copy_or_move(user, from, uids, to, false, quota_bytes);
}

Result<CopyResult> Store::move(std::string_view user, std::string_view from,
                               const std::vector<uint32_t>& uids, std::string_view to) {
  // RFC 6851 §3.1: MOVE = COPY + STORE \Deleted + EXPUNGE of those messages, atomically.
  // freeing(): MOVE to Trash must work on a full disk (issue 20); a failed try leaves only
  // tmp/ leftovers (see copy_or_move), so trying again is safe.
  return impl_->freeing([&] { return impl_->copy_or_move(user, from, uids, to, true, 0); });
}

Result<Changes> Store::changes_since(std::string_view user, std::string_view mailbox, uint64_t modseq) {
  return detail::guarded([&] {
    return impl_->read_or_open(user, mailbox, [&](detail::Db& db, const auto&, const auto&, const auto& mbox) {
      Changes out;
      out.highestmodseq = mbox.highestmodseq;
      {
        auto st = db.prepare(TERN_ROW_FROM("''") "WHERE m.mailbox_id = ? AND m.modseq > ?");
        st.bind(mbox.id).bind(static_cast<int64_t>(modseq));
        while (st.step()) out.changed.push_back(to_info(read_row(st)));
        // Sorted here: "ORDER BY uid" made SQLite walk the whole mailbox in primary-key order
        // instead of the modseq index, so every IDLE wake-up and every sync after an APPEND
        // cost a full scan of the mailbox.
        std::sort(out.changed.begin(), out.changed.end(),
                  [](const MessageInfo& a, const MessageInfo& b) { return a.uid < b.uid; });
      }
      auto st = db.prepare(
          "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ?");
      st.bind(mbox.id).bind(static_cast<int64_t>(modseq));
      while (st.step()) out.vanished.push_back(static_cast<uint32_t>(st.i64(0)));
      std::sort(out.vanished.begin(), out.vanished.end());
      return out;
    });
  });
}

namespace {
// Sets a message's metadata; returns whether the message exists (else nothing is written).
bool update_metadata(detail::Db& db, int64_t mailbox_id, uint32_t uid, std::string_view blob) {
  auto st = db.prepare("SELECT 1 FROM messages WHERE mailbox_id = ? AND uid = ?");
  st.bind(mailbox_id).bind(static_cast<int64_t>(uid));
  if (!st.step()) return false;
  detail::put_metadata(db, mailbox_id, uid, blob);
  return true;
}
}  // namespace

Status Store::set_cached_metadata(std::string_view user, std::string_view mailbox, uint32_t uid,
                                  std::string_view blob) {
  return detail::guarded_status([&] {
    auto [lock, u, name, mbox] = impl_->open_mailbox(user, mailbox);
    detail::RelaxedSync relaxed(impl_->db);  // a cache of the file's parse: nothing to lose
    if (!update_metadata(impl_->db, mbox.id, uid, blob)) fail(Errc::not_found, "no such message");
    impl_->committed();
  });
}

Status Store::set_cached_metadata(std::string_view user, std::string_view mailbox,
                                  const std::vector<std::pair<uint32_t, std::string>>& blobs) {
  if (blobs.empty()) return {};
  return detail::guarded_status([&] {
    auto [lock, u, name, mbox] = impl_->open_mailbox(user, mailbox);
    detail::RelaxedSync relaxed(impl_->db);  // a cache of the files' parse: nothing to lose
    detail::Txn txn(impl_->db);
    // A message expunged since the caller read it is skipped: its metadata is moot.
    for (const auto& [uid, blob] : blobs) (void)update_metadata(impl_->db, mbox.id, uid, blob);
    txn.commit();
    impl_->committed();
  });
}

}  // namespace tern::store

#undef TERN_ROW_FROM
#undef TERN_ROW_FROM_WITHOUT_METADATA
