// Store: crash recovery and reindex - make the index agree with the Maildir files.
//
// Files are the truth for *which messages exist*; the index is the truth for flags, keywords,
// modseqs and metadata of the messages it knows. Rules, per folder:
//   - row whose file exists (same base name, maybe another name/dir) -> kept; the file is
//     renamed back to the name the row expects (an uncommitted flag change is undone)
//   - row whose file is only in tmp/ or tmp/<shard>/ (a committed COPY/MOVE cut short, a
//     delivery's rename lost) -> renamed into place
//   - row without any file -> dropped and recorded as expunged (QRESYNC sees it vanish)
//   - file without row -> indexed: UID from ",U=" if set and unused, else a new UID (and the
//     file renamed to carry it); a ",U=" already recorded as expunged means the expunge's
//     unlink was lost: the file is deleted
//   - folder directory without row -> adopted with the UIDVALIDITY of its tern-uidvalidity
//   - row without folder directory -> dropped
//   - folder the index has no message of, with a dovecot-uidlist (a Dovecot Maildir copied
//     in): UIDVALIDITY, UIDs and UIDNEXT from the uidlist, keywords from the letters in the
//     file names and dovecot-keywords (see Store::reindex_report and adopt.cpp)
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "store/dovecot_files.h"
#include "store/store_impl.h"

namespace fs = std::filesystem;

namespace tern::store {

namespace {

constexpr int64_t kStaleTmpSeconds = 36 * 3600;  // Maildir convention for tmp/ leftovers

struct DiskFile {
  std::string rel;  // "new/<name>" or "cur/<name>"
  detail::MaildirName parsed;
  uint64_t size = 0;
  int64_t mtime = 0;
};

uint64_t now_micros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string base_of(const std::string& rel) {
  auto p = detail::parse_maildir_name(rel.size() > 4 ? rel.substr(4) : std::string());
  return p ? p->base : std::string();
}

// The regular files in tmp/ and in its shard directories (tmp/<n>/, see write_tmp), as paths
// relative to the folder ("tmp/<base>", "tmp/3/<base>").
std::vector<std::string> tmp_files(const std::string& folder) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(folder + "/tmp", ec)) {
    std::string name = e.path().filename().string();
    std::error_code ec2;
    if (e.is_regular_file(ec2)) {
      out.push_back("tmp/" + name);
    } else if (e.is_directory(ec2) && !e.is_symlink(ec2)) {
      for (auto& f : fs::directory_iterator(e.path(), ec2))
        if (std::error_code ec3; f.is_regular_file(ec3))
          out.push_back("tmp/" + name + "/" + f.path().filename().string());
    }
  }
  return out;
}

void remove_stale_tmp(const std::string& folder) {
  std::error_code ec;
  int64_t now = detail::now_unix();
  for (const auto& rel : tmp_files(folder)) {
    std::string path = folder + "/" + rel;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > kStaleTmpSeconds)
      fs::remove(path, ec);
  }
}

}  // namespace

void Store::Impl::reconcile_folder(const MailboxRow& row, const std::string& folder, bool fresh,
                                   std::vector<int64_t>& changed, ReindexFolderReport* report) {
  MailboxRow mbox = row;  // adoption may give it another UIDVALIDITY
  ReindexFolderReport scratch;
  ReindexFolderReport& rep = report ? *report : scratch;
  for (const char* sub : {"/cur", "/new", "/tmp"}) check(fops->mkdir(folder + sub));
  // tmp/ names are Maildir bases. A committed COPY/MOVE (or a delivery whose rename was lost
  // in a crash) can leave a row's file there: it is renamed into place below, before tmp/
  // leftovers are cleaned.
  std::map<std::string, std::string> tmp_names;  // base -> path under the folder
  for (auto& rel : tmp_files(folder)) tmp_names.emplace(rel.substr(rel.rfind('/') + 1), rel);

  // Files on disk, by base name.
  std::map<std::string, DiskFile> disk;
  for (const char* sub : {"new", "cur"}) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(folder + "/" + sub, ec)) {
      std::string name = e.path().filename().string();
      auto parsed = detail::parse_maildir_name(name);
      struct stat st;
      if (!parsed || ::stat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      DiskFile f{std::string(sub) + "/" + name, *parsed, static_cast<uint64_t>(st.st_size), st.st_mtime};
      auto [it, inserted] = disk.emplace(parsed->base, f);
      if (!inserted) spdlog::warn("store: duplicate Maildir base {} in {}", parsed->base, folder);
    }
  }

  // A Dovecot Maildir copied in: only a folder the index knows no message of takes its
  // UIDs from a dovecot-uidlist (Tern's own copy of that file is never read back otherwise).
  std::optional<detail::Uidlist> uidlist;
  std::map<std::string, uint32_t> dovecot_uids;  // base -> UID
  bool uidvalidity_changed = false;
  {
    auto st = db.prepare("SELECT 1 FROM messages WHERE mailbox_id = ? LIMIT 1");
    st.bind(mbox.id);
    bool indexed = st.step();
    auto text = indexed ? Result<std::string>(make_error(Errc::not_found, ""))
                        : read_file(folder + "/" + detail::kDovecotUidlist);
    if (text.ok()) {
      uidlist = detail::parse_uidlist(*text);
      if (!uidlist) rep.problems.push_back("dovecot-uidlist ignored (header unusable)");
    }
  }
  if (uidlist) {
    rep.dovecot = true;
    for (auto& p : uidlist->problems) rep.problems.push_back(std::move(p));
    for (const auto& e : uidlist->entries) dovecot_uids.emplace(e.base, e.uid);
    if (uidlist->uidvalidity != mbox.uidvalidity) {
      adopt_uidvalidity(mbox, uidlist->uidvalidity);
      uidvalidity_changed = true;
      rep.uidvalidity_from_dovecot = true;
    }
  }
  // Keyword letters in file names mean something only with the folder's dovecot-keywords.
  std::optional<detail::DovecotKeywords> keyword_map;
  if (auto text = read_file(folder + "/" + detail::kDovecotKeywords); text.ok()) {
    keyword_map = detail::parse_dovecot_keywords(*text);
    for (auto& p : keyword_map->problems) rep.problems.push_back(std::move(p));
    load_keyword_letters(mbox.id, keyword_map->by_index);  // the letters keep their meaning
  }

  uint32_t uidnext = mbox.uidnext;
  uint64_t hms = mbox.highestmodseq;
  if (uidlist) uidnext = std::max(uidnext, uidlist->next_uid);
  if (auto uf = read_uid_file(folder); uf && uf->uidvalidity == mbox.uidvalidity) {
    uidnext = std::max(uidnext, uf->uidnext);
    if (fresh) hms = std::max<uint64_t>(hms, uf->highestmodseq);
  }
  if (fresh) hms = std::max<uint64_t>(hms, now_micros());  // see store.h notes on modseqs
  uint64_t modseq = 0;  // allocated lazily, once for this reconcile
  auto next_modseq = [&] {
    if (!modseq) modseq = hms + 1;
    return modseq;
  };

  std::set<uint32_t> used;
  std::set<std::string> matched;
  bool renamed = false;
  {
    struct RowRef { uint32_t uid; std::string file; };
    std::vector<RowRef> rows;
    {
      auto st = db.prepare("SELECT uid, file FROM messages WHERE mailbox_id = ?");
      st.bind(mbox.id);
      while (st.step()) rows.push_back({static_cast<uint32_t>(st.i64(0)), st.text(1)});
    }
    for (auto& r : rows) {
      std::string base = base_of(r.file);
      auto it = disk.find(base);
      auto in_tmp = tmp_names.find(base);
      if (it == disk.end() && !base.empty() && in_tmp != tmp_names.end() &&
          fops->rename(folder + "/" + in_tmp->second, folder + "/" + r.file).ok()) {
        spdlog::info("store: recovery moved {} into place for uid {} of mailbox {}",
                     in_tmp->second, r.uid, mbox.id);
        renamed = true;
        used.insert(r.uid);
        continue;
      }
      if (it == disk.end() || base.empty()) {
        db.prepare("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?")
            .bind(mbox.id).bind(static_cast<int64_t>(r.uid)).run();
        db.prepare("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?, ?, ?)")
            .bind(mbox.id).bind(static_cast<int64_t>(r.uid)).bind(static_cast<int64_t>(next_modseq())).run();
        spdlog::warn("store: recovery dropped uid {} of mailbox {} (file missing)", r.uid, mbox.id);
        ++rep.dropped;
        continue;
      }
      if (it->second.rel != r.file) {
        // rename is atomic: either name; the index's flags win.
        if (fops->rename(folder + "/" + it->second.rel, folder + "/" + r.file).ok()) {
          renamed = true;
        } else {
          db.prepare("UPDATE messages SET file = ? WHERE mailbox_id = ? AND uid = ?")
              .bind(it->second.rel).bind(mbox.id).bind(static_cast<int64_t>(r.uid)).run();
        }
      }
      used.insert(r.uid);
      matched.insert(base);
    }
  }

  remove_stale_tmp(folder);

  std::set<uint32_t> expunged;
  {
    auto st = db.prepare("SELECT uid FROM expunged WHERE mailbox_id = ?");
    st.bind(mbox.id);
    while (st.step()) expunged.insert(static_cast<uint32_t>(st.i64(0)));
  }

  // Files without rows: those carrying a UID first (ascending), then the rest in name order
  // (names start with the delivery time), so new UIDs follow arrival order.
  std::vector<DiskFile*> orphans;
  std::set<const DiskFile*> listed;  // given the UID of their dovecot-uidlist line
  for (auto& [base, f] : disk) {
    if (matched.count(base)) continue;
    orphans.push_back(&f);
    if (auto it = dovecot_uids.find(base); it != dovecot_uids.end()) {
      f.parsed.uid = it->second;
      listed.insert(&f);
    }
  }
  std::stable_sort(orphans.begin(), orphans.end(), [](const DiskFile* a, const DiskFile* b) {
    if (a->parsed.uid.has_value() != b->parsed.uid.has_value()) return a->parsed.uid.has_value();
    if (a->parsed.uid) return *a->parsed.uid < *b->parsed.uid;
    return a->rel.substr(4) < b->rel.substr(4);
  });
  for (auto* f : orphans) {
    if (f->parsed.uid && expunged.count(*f->parsed.uid)) {
      (void)fops->unlink(folder + "/" + f->rel);
      continue;
    }
    uint32_t uid;
    if (f->parsed.uid && !used.count(*f->parsed.uid)) {
      uid = *f->parsed.uid;
      ++(listed.count(f) ? rep.adopted : rep.kept);
    } else {
      uid = std::max(uidnext, used.empty() ? 1u : *used.rbegin() + 1);
      ++rep.new_uids;
    }
    if (uid == 0xFFFFFFFFu) {
      spdlog::error("store: UID space exhausted in mailbox {}", mbox.id);
      break;
    }
    used.insert(uid);
    uidnext = std::max(uidnext, uid + 1);
    // Keywords: each letter through dovecot-keywords (letter 'a' = index 0). Letters it
    // does not name (or without the file) are dropped from the name and reported.
    Flags flags{f->parsed.flags, {}};
    std::string letters;
    for (char c : detail::keyword_letters(f->rel)) {
      const std::string* kw = keyword_map ? &keyword_map->by_index[static_cast<size_t>(c - 'a')] : nullptr;
      if (!kw || kw->empty()) {
        ++rep.unknown_keywords;
        continue;
      }
      try {
        (void)detail::normalize_flags(Flags{0, {*kw}});  // throws unless an IMAP atom
        flags.keywords.push_back(*kw);
        letters += c;
      } catch (const Failure&) {
        rep.problems.push_back("keyword \"" + *kw + "\" is not an IMAP atom: dropped");
      }
    }
    flags = detail::normalize_flags(flags);
    std::string sub = f->rel.substr(0, 3);
    bool info = f->parsed.has_info || sub == "cur";
    std::string rel = sub + "/" + detail::format_maildir_name(f->parsed.base, f->size, uid,
                                                              f->parsed.flags, info, letters);
    if (rel != f->rel) {
      // Record the UID in the name so a later rebuild finds the same one.
      if (fops->rename(folder + "/" + f->rel, folder + "/" + rel).ok()) renamed = true;
      else rel = f->rel;
    }
    db.prepare("INSERT INTO messages(mailbox_id, uid, file, size, internal_date, flags, keywords, "
               "modseq, email_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, "
               TERN_NEW_OBJECT_ID("M") ")")
        .bind(mbox.id).bind(static_cast<int64_t>(uid)).bind(rel)
        .bind(static_cast<int64_t>(f->size)).bind(f->mtime)
        .bind(static_cast<int64_t>(f->parsed.flags)).bind(detail::join_keywords(flags.keywords))
        .bind(static_cast<int64_t>(next_modseq())).run();
    spdlog::info("store: recovery indexed {} as uid {} in mailbox {}", rel, uid, mbox.id);
  }
  if (renamed) {
    // fsync dirs: make the recovery renames (UIDs recorded in names) durable.
    check(fops->fsync_dir(folder + "/new"));
    check(fops->fsync_dir(folder + "/cur"));
  }
  if (modseq || uidnext != mbox.uidnext || hms != mbox.highestmodseq) {
    update_counters(mbox.id, uidnext, modseq ? modseq : hms);
    if (modseq) changed.push_back(mbox.id);
  }
  if (uidvalidity_changed) {
    // The adopted UIDVALIDITY and UIDNEXT, durably, so a lost index is rebuilt with them.
    write_uid_file(folder, {mbox.uidvalidity, uidnext, modseq ? modseq : hms});
    changed.push_back(mbox.id);
  }
  rep.mailbox = mbox.name;
  rep.uidvalidity = mbox.uidvalidity;
  rep.uidnext = uidnext;
}

std::vector<int64_t> Store::Impl::reconcile_user(const UserName& u, ReindexReport* report) {
  std::vector<int64_t> changed;
  std::string udir = user_dir(u);
  detail::Txn txn(db);
  if (!fs::is_directory(udir)) {
    // The whole Maildir is gone: rows without files are dropped.
    for (auto& row : user_mailboxes(u.address)) {
      db.prepare("DELETE FROM messages WHERE mailbox_id = ?").bind(row.id).run();
      db.prepare("DELETE FROM expunged WHERE mailbox_id = ?").bind(row.id).run();
      db.prepare("DELETE FROM mailboxes WHERE id = ?").bind(row.id).run();
      changed.push_back(row.id);
    }
    db.prepare("DELETE FROM users WHERE address = ?").bind(u.address).run();
    known_users.erase(u.address);
    forget_delivery_ids();
    txn.commit();
    committed();
    return changed;
  }
  // Folder directories on disk (INBOX is the Maildir itself).
  std::map<std::string, std::string> folders{{"INBOX", udir}};
  std::error_code ec;
  for (auto& e : fs::directory_iterator(udir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(detail::kDeletedPrefix, 0) == 0) {
      fs::remove_all(e.path(), ec);  // a DELETE that committed but did not finish removing
      continue;
    }
    if (name.empty() || name[0] != '.' || !e.is_directory()) continue;
    auto mailbox = detail::mailbox_from_dir(name);
    if (!mailbox) {
      spdlog::warn("store: ignoring folder {} in {} (name does not decode)", name, udir);
      continue;
    }
    folders.emplace(*mailbox, e.path().string());
  }
  bool had_user_row;
  {
    auto st = db.prepare("SELECT 1 FROM users WHERE address = ?");
    st.bind(u.address);
    had_user_row = st.step();
  }
  db.prepare("INSERT OR IGNORE INTO users(address) VALUES(?)").bind(u.address).run();

  std::set<std::string> fresh;
  for (auto& row : user_mailboxes(u.address)) {
    if (folders.count(row.name)) continue;
    db.prepare("DELETE FROM messages WHERE mailbox_id = ?").bind(row.id).run();
    db.prepare("DELETE FROM expunged WHERE mailbox_id = ?").bind(row.id).run();
    db.prepare("DELETE FROM mailboxes WHERE id = ?").bind(row.id).run();
    forget_delivery_ids();
    changed.push_back(row.id);
    spdlog::warn("store: recovery dropped mailbox {} of {} (directory missing)", row.name, u.address);
  }
  for (auto& [name, dir] : folders) {
    if (find_mailbox(u.address, name)) continue;
    // Adopt: keeps UIDVALIDITY from tern-uidvalidity. After a lost index the special-use of
    // the default folders is restored by name, and adopted folders are subscribed.
    std::string special;
    static const std::map<std::string, std::string> kDefaults = {
        {"Drafts", "\\Drafts"}, {"Sent", "\\Sent"}, {"Trash", "\\Trash"},
        {"Junk", "\\Junk"},     {"Archive", "\\Archive"}};
    if (auto it = kDefaults.find(name); it != kDefaults.end()) special = it->second;
    create_mailbox_locked(u, name, special, !had_user_row);
    fresh.insert(name);
  }
  bool from_dovecot = false;
  for (auto& row : user_mailboxes(u.address)) {
    ReindexFolderReport folder_report;
    folder_report.user = u.address;
    reconcile_folder(row, folders.at(row.name), fresh.count(row.name) > 0, changed, &folder_report);
    from_dovecot = from_dovecot || folder_report.uidvalidity_from_dovecot;
    if (report) report->folders.push_back(std::move(folder_report));
  }
  // A Dovecot Maildir was copied in (some folder took a Dovecot UIDVALIDITY just now): its
  // subscriptions come with it. Never otherwise, so later (un)subscribes are not undone.
  if (from_dovecot) adopt_subscriptions(u, report);
  txn.commit();
  committed();
  known_users.insert(u.address);
  return changed;
}

std::vector<int64_t> Store::Impl::reconcile_all(ReindexReport* report) {
  std::set<std::string> users;
  {
    auto st = db.prepare("SELECT DISTINCT user FROM mailboxes");
    while (st.step()) users.insert(st.text(0));
  }
  std::error_code ec;
  for (auto& d : fs::directory_iterator(mail_root, ec)) {
    if (!d.is_directory()) continue;
    std::error_code ec2;
    for (auto& l : fs::directory_iterator(d.path(), ec2)) {
      std::string local = l.path().filename().string();
      if (local.rfind(std::string(".") + detail::kDeletedPrefix, 0) == 0) {
        fs::remove_all(l.path(), ec2);  // a user removal that did not finish
        continue;
      }
      if (!l.is_directory()) continue;
      auto u = detail::canonical_user(local + "@" + d.path().filename().string());
      // Only directories whose names are already canonical: never two paths for one user.
      if (u.ok() && u->local == local && u->domain == d.path().filename().string())
        users.insert(u->address);
    }
  }
  std::vector<int64_t> changed;
  for (const auto& address : users) {
    auto u = detail::canonical_user(address);
    if (!u.ok()) continue;
    auto c = reconcile_user(*u, report);
    changed.insert(changed.end(), c.begin(), c.end());
  }
  return changed;
}

}  // namespace tern::store
