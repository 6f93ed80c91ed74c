// Store: mailboxes (RFC 9051 §6.3.4-§6.3.11: list, status, create, delete, rename) and
// subscriptions.
#include <algorithm>
#include <filesystem>

#include "common/log.h"
#include "common/strings.h"
#include "store/store_impl.h"

namespace fs = std::filesystem;

namespace tern::store {

Result<std::vector<MailboxStatus>> Store::list_mailboxes(std::string_view user, bool counts) {
  return detail::guarded([&] {
    auto u = check(detail::canonical_user(user));
    std::vector<MailboxStatus> out;
    {
      auto lease = impl_->lease_reader();
      auto rows = Impl::user_mailboxes_in(*lease.db, u.address);
      bool inbox = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return r.name == "INBOX"; });
      if (inbox)
        for (auto& row : rows) out.push_back(impl_->status_in(*lease.db, u.address, row, counts));
    }
    if (out.empty()) {  // a user's first use makes the tree, under `mu`
      std::lock_guard lock(impl_->mu);
      impl_->ensure_user_locked(u);
      for (auto& row : impl_->user_mailboxes(u.address))
        out.push_back(impl_->status_in(impl_->db, u.address, row, counts));
    }
    // INBOX first, then by name.
    std::stable_partition(out.begin(), out.end(), [](const auto& s) { return s.name == "INBOX"; });
    return out;
  });
}

Result<MailboxStatus> Store::mailbox_status(std::string_view user, std::string_view mailbox) {
  return detail::guarded([&] {
    return impl_->read_or_open(user, mailbox, [&](detail::Db& db, const auto& u, const auto&, const auto& row) {
      return impl_->status_in(db, u.address, row);
    });
  });
}

Status Store::create_mailbox(std::string_view user, std::string_view mailbox,
                             std::string_view special_use) {
  auto st = detail::guarded_status([&] {
    auto u = check(detail::canonical_user(user));
    auto name = check(detail::canonical_mailbox(mailbox));
    if (!detail::valid_special_use(special_use)) fail(Errc::syntax, "unknown special-use attribute");
    std::lock_guard lock(impl_->mu);
    impl_->ensure_user_locked(u);
    // RFC 9051 §6.3.4: creating an existing name (INBOX included) is an error.
    if (impl_->find_mailbox(u.address, name)) fail(Errc::exists, "mailbox exists");
    detail::Txn txn(impl_->db);
    // RFC 9051 §6.3.4: create the superior hierarchical names that are needed.
    auto parts = split(name, '/');
    std::string prefix;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      prefix += (i ? "/" : "") + std::string(parts[i]);
      if (!impl_->find_mailbox(u.address, prefix)) impl_->create_mailbox_locked(u, prefix, "", false);
    }
    impl_->create_mailbox_locked(u, name, std::string(special_use), false);
    txn.commit();
    impl_->committed();
  });
  if (st) impl_->notify_listing(user);
  return st;
}

Status Store::delete_mailbox(std::string_view user, std::string_view mailbox) {
  int64_t id = 0;
  auto st = impl_->freeing([&] { return detail::guarded_status([&] {
    auto u = check(detail::canonical_user(user));
    auto name = check(detail::canonical_mailbox(mailbox));
    // RFC 9051 §6.3.5: it is an error to attempt to delete INBOX.
    if (detail::is_inbox(name)) fail(Errc::refused, "INBOX cannot be deleted");
    std::lock_guard lock(impl_->mu);
    impl_->ensure_user_locked(u);
    auto row = impl_->require_mailbox(u.address, name);
    id = row.id;
    // RFC 9051 §6.3.5: our mailboxes are never \Noselect, so a mailbox with inferiors is
    // deleted on its own; the inferiors stay (and LIST shows the deleted parent as absent).
    // Subscriptions are kept (RFC 9051 §6.3.5: DELETE does not unsubscribe).
    auto& db = impl_->db;
    std::string dir = impl_->folder_dir(u, name);
    std::string doomed = impl_->user_dir(u) + "/" + detail::kDeletedPrefix + random_id(8);
    detail::Txn txn(db);
    db.prepare("DELETE FROM messages WHERE mailbox_id = ?").bind(row.id).run();
    db.prepare("DELETE FROM expunged WHERE mailbox_id = ?").bind(row.id).run();
    db.prepare("DELETE FROM mailboxes WHERE id = ?").bind(row.id).run();
    impl_->forget_delivery_ids();
    if (fs::exists(dir)) {
      // Atomic rename out of the Maildir++ namespace, then remove at leisure.
      check(impl_->fops->rename(dir, doomed));
      // fsync: the folder must not reappear after a crash once DELETE said OK.
      check(impl_->fops->fsync_dir(impl_->user_dir(u)));
    }
    txn.commit();
    impl_->committed();
    std::error_code ec;
    fs::remove_all(doomed, ec);
  }); });
  if (id) impl_->notify({id});
  if (st) impl_->notify_listing(user);
  return st;
}

Status Store::rename_mailbox(std::string_view user, std::string_view from, std::string_view to) {
  std::vector<int64_t> changed;
  auto st = detail::guarded_status([&] {
    auto u = check(detail::canonical_user(user));
    auto src = check(detail::canonical_mailbox(from));
    auto dst = check(detail::canonical_mailbox(to));
    std::lock_guard lock(impl_->mu);
    impl_->ensure_user_locked(u);
    auto& db = impl_->db;
    auto& fo = *impl_->fops;
    auto src_row = impl_->require_mailbox(u.address, src);
    if (impl_->find_mailbox(u.address, dst)) fail(Errc::exists, "target mailbox exists");
    if (dst.size() > src.size() && dst.compare(0, src.size() + 1, src + "/") == 0)
      fail(Errc::refused, "cannot rename a mailbox into itself");
    detail::Txn txn(db);
    auto ensure_parents = [&](const std::string& name) {
      auto parts = split(name, '/');
      std::string prefix;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        prefix += (i ? "/" : "") + std::string(parts[i]);
        if (!impl_->find_mailbox(u.address, prefix)) impl_->create_mailbox_locked(u, prefix, "", false);
      }
    };
    if (detail::is_inbox(src)) {
      // RFC 9051 §6.3.6: renaming INBOX moves all its messages to a new mailbox with the
      // given name and leaves INBOX empty; INBOX's inferiors are not renamed. Messages keep
      // their UIDs (the new mailbox has a fresh UIDVALIDITY); INBOX keeps its UIDVALIDITY and
      // uidnext, so its UIDs are never reused.
      ensure_parents(dst);
      auto dst_row = impl_->create_mailbox_locked(u, dst, "", false, src_row.uidnext);
      std::string sdir = impl_->folder_dir(u, src), ddir = impl_->folder_dir(u, dst);
      uint64_t src_modseq = src_row.highestmodseq + 1;
      uint64_t dst_modseq = dst_row.highestmodseq + 1;
      std::vector<std::pair<uint32_t, std::string>> rows;
      {
        auto q = db.prepare("SELECT uid, file FROM messages WHERE mailbox_id = ?");
        q.bind(src_row.id);
        while (q.step()) rows.emplace_back(static_cast<uint32_t>(q.i64(0)), q.text(1));
      }
      for (auto& [uid, file] : rows) {
        auto s = fo.rename(sdir + "/" + file, ddir + "/" + file);
        if (!s.ok() && s.error().code != Errc::not_found) check(s);
        db.prepare("UPDATE messages SET mailbox_id = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?")
            .bind(dst_row.id).bind(static_cast<int64_t>(dst_modseq)).bind(src_row.id)
            .bind(static_cast<int64_t>(uid)).run();
        db.prepare("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?, ?, ?)")
            .bind(src_row.id).bind(static_cast<int64_t>(uid)).bind(static_cast<int64_t>(src_modseq)).run();
      }
      // fsync both sides: the moved entries must be durable before RENAME says OK.
      for (const char* sub : {"/new", "/cur"}) {
        check(fo.fsync_dir(ddir + sub));
        check(fo.fsync_dir(sdir + sub));
      }
      if (!rows.empty()) {
        impl_->update_counters(src_row.id, src_row.uidnext, src_modseq);
        impl_->update_counters(dst_row.id, src_row.uidnext, dst_modseq);
      }
      changed = {src_row.id, dst_row.id};
    } else {
      // The mailbox and every inferior (Maildir++ folders are flat siblings on disk).
      std::vector<MailboxRow> moving;
      for (auto& row : impl_->user_mailboxes(u.address))
        if (row.name == src || row.name.rfind(src + "/", 0) == 0) moving.push_back(row);
      for (auto& row : moving) {
        std::string new_name = dst + row.name.substr(src.size());
        if (impl_->find_mailbox(u.address, new_name)) fail(Errc::exists, "target inferior exists");
        if (fs::exists(impl_->folder_dir(u, new_name))) fail(Errc::exists, "target directory exists");
        if (detail::mailbox_dir(new_name).size() > 255) fail(Errc::syntax, "new name too long");
      }
      ensure_parents(dst);
      for (auto& row : moving) {
        std::string new_name = dst + row.name.substr(src.size());
        db.prepare("UPDATE mailboxes SET name = ? WHERE id = ?").bind(new_name).bind(row.id).run();
        impl_->forget_delivery_ids();
        check(fo.rename(impl_->folder_dir(u, row.name), impl_->folder_dir(u, new_name)));
        changed.push_back(row.id);
      }
      // fsync: the renamed folder entries must be durable before RENAME says OK.
      check(fo.fsync_dir(impl_->user_dir(u)));
    }
    txn.commit();
    impl_->committed();
  });
  impl_->notify(changed);
  if (st) impl_->notify_listing(user);
  return st;
}

Status Store::subscribe(std::string_view user, std::string_view mailbox) {
  auto st = detail::guarded_status([&] {
    auto u = check(detail::canonical_user(user));
    auto name = check(detail::canonical_mailbox(mailbox));
    std::lock_guard lock(impl_->mu);
    impl_->ensure_user_locked(u);
    // RFC 9051 §6.3.7: a name may be subscribed whether or not the mailbox exists.
    impl_->db.prepare("INSERT OR IGNORE INTO subscriptions(user, name) VALUES(?, ?)")
        .bind(u.address).bind(name).run();
    impl_->committed();
  });
  if (st) impl_->notify_listing(user);
  return st;
}

Status Store::unsubscribe(std::string_view user, std::string_view mailbox) {
  auto st = detail::guarded_status([&] {
    auto u = check(detail::canonical_user(user));
    auto name = check(detail::canonical_mailbox(mailbox));
    std::lock_guard lock(impl_->mu);
    impl_->ensure_user_locked(u);
    impl_->db.prepare("DELETE FROM subscriptions WHERE user = ? AND name = ?").bind(u.address).bind(name).run();
    if (impl_->db.changes() == 0) fail(Errc::not_found, "not subscribed");
    impl_->committed();
  });
  if (st) impl_->notify_listing(user);
  return st;
}

Result<std::vector<std::string>> Store::list_subscriptions(std::string_view user) {
  return detail::guarded([&] {
    auto u = check(detail::canonical_user(user));
    auto names = [&](detail::Db& db) {
      std::vector<std::string> out;
      auto st = db.prepare("SELECT name FROM subscriptions WHERE user = ? ORDER BY name");
      st.bind(u.address);
      while (st.step()) out.push_back(st.text(0));
      return out;
    };
    {
      auto lease = impl_->lease_reader();
      if (Impl::find_mailbox_in(*lease.db, u.address, "INBOX")) return names(*lease.db);
    }
    std::lock_guard lock(impl_->mu);  // a user's first use makes the tree
    impl_->ensure_user_locked(u);
    return names(impl_->db);
  });
}

}  // namespace tern::store
