// Store: Dovecot out. Every folder that changes gets a current dovecot-uidlist (v3: our
// UIDVALIDITY, UIDNEXT and each file's UID) and dovecot-keywords, so a Tern Maildir copied
// into Dovecot keeps UIDVALIDITY, UIDs and keywords. Dovecot reads keywords only from the
// letters in file names ("...:2,Sab"), so this writer also gives each file the letters of its
// keywords (per folder, letter 'a' + index in keyword_letters; 26 at most, as in Dovecot).
//
// Off every caller's path: notify() marks folders due; one thread waits kDovecotDelay after
// the first mark (so a burst of deliveries is one write), reads rows through a read-only
// connection of its own, and writes each file to a temporary name and renames it over the old one (a
// reader sees the old or the new file, never half). No fsync: the files are derived, and the
// index stays the truth; Tern never reads them back while it runs (reindex reads a
// dovecot-keywords to rebuild a lost index's keyword letters, recovery.cpp).
#include <algorithm>
#include <chrono>
#include <map>

#include "common/log.h"
#include "common/strings.h"
#include "store/dovecot_files.h"
#include "store/store_impl.h"

namespace tern::store {
namespace {

// Each round reads the whole folder, so a burst of deliveries should be one round. (While
// rounds ran 5 s after a burst, they fell into test_full_disk's deletions, which then failed
// about one run in three under load; the cause was the index checkpoint, not the writer:
// see Db::compact and Store::Impl::absorb_index_growth.)
constexpr auto kDovecotDelay = std::chrono::seconds(5);

struct Row {
  uint32_t uid;
  std::string file;
  uint64_t size;
  std::vector<std::string> keywords;
};

}  // namespace

void Store::Impl::dovecot_due(const std::vector<int64_t>& ids) {
  std::lock_guard lock(dv_mu);
  if (dv_stop) return;
  dv_due.insert(ids.begin(), ids.end());
  if (!dv_thread.joinable()) dv_thread = std::thread([this] { dovecot_rounds(); });
  dv_cv.notify_one();
}

void Store::Impl::stop_dovecot_writer() {
  {
    std::lock_guard lock(dv_mu);
    dv_stop = true;
  }
  dv_cv.notify_one();
  if (dv_thread.joinable()) dv_thread.join();
}

void Store::Impl::dovecot_rounds() {
  std::unique_lock lock(dv_mu);
  while (true) {
    dv_cv.wait(lock, [&] { return dv_stop || !dv_due.empty(); });
    if (dv_due.empty()) return;  // stopping, nothing left
    // Debounce: let the burst that started this round gather (cut short at shutdown, when
    // the last round runs at once).
    dv_cv.wait_for(lock, kDovecotDelay, [&] { return dv_stop; });
    std::set<int64_t> due;
    due.swap(dv_due);
    lock.unlock();
    // Derived files never take the last free bytes from mail and the index: below the
    // store's free-space line (free_space.h) the round is put off until there is room (at
    // shutdown it is dropped: Tern's own index stays the truth).
    if (space && !space->has_room()) {
      lock.lock();
      if (!dv_stop) dv_due.insert(due.begin(), due.end());
      continue;
    }
    for (int64_t id : due) {
      try {
        write_dovecot_files(id);
      } catch (const std::exception& e) {
        spdlog::warn("store: dovecot-uidlist of mailbox {} not written: {}", id, e.what());
      }
    }
    lock.lock();
  }
}

void Store::Impl::load_keyword_letters(int64_t mailbox_id,
                                       const std::array<std::string, 26>& by_index) {
  auto st = db.prepare("SELECT 1 FROM keyword_letters WHERE mailbox_id = ? LIMIT 1");
  st.bind(mailbox_id);
  if (st.step()) return;
  for (size_t i = 0; i < by_index.size(); ++i)
    if (!by_index[i].empty())
      db.prepare("INSERT OR IGNORE INTO keyword_letters(mailbox_id, idx, keyword) VALUES(?, ?, ?)")
          .bind(mailbox_id).bind(static_cast<int64_t>(i)).bind(by_index[i]).run();
}

void Store::Impl::write_dovecot_files(int64_t id) {
  std::string user, name;
  uint32_t uidvalidity = 0, uidnext = 0;
  std::vector<Row> rows;
  std::array<std::string, detail::kDovecotMaxKeywords> letters;
  {
    // Not `mu` (deliveries go on meanwhile) nor `reader_mu` (quota checks): its own
    // connection, used by this thread alone.
    if (!dv_reader_open) {
      dv_reader.open_reader(data_dir + "/index.db");
      dv_reader_open = true;
    }
    auto& reader = dv_reader;
    auto st = reader.prepare("SELECT user, name, uidvalidity, uidnext FROM mailboxes WHERE id = ?");
    st.bind(id);
    if (!st.step()) return;  // deleted since
    user = st.text(0);
    name = st.text(1);
    uidvalidity = static_cast<uint32_t>(st.i64(2));
    uidnext = static_cast<uint32_t>(st.i64(3));
    auto m = reader.prepare(
        "SELECT uid, file, size, keywords FROM messages WHERE mailbox_id = ? ORDER BY uid");
    m.bind(id);
    while (m.step())
      rows.push_back({static_cast<uint32_t>(m.i64(0)), m.text(1), static_cast<uint64_t>(m.i64(2)),
                      detail::split_keywords(m.text(3))});
    auto k = reader.prepare("SELECT idx, keyword FROM keyword_letters WHERE mailbox_id = ?");
    k.bind(id);
    while (k.step())
      if (auto i = k.i64(0); i >= 0 && i < static_cast<int64_t>(letters.size())) letters[i] = k.text(1);
  }
  auto u = detail::canonical_user(user);
  if (!u.ok()) return;
  std::string folder = folder_dir(*u, name);

  // Keyword -> letter; keywords met for the first time take the next free letter.
  std::map<std::string, char> letter_of;  // lower-cased keyword (flags are case-insensitive)
  for (size_t i = 0; i < letters.size(); ++i)
    if (!letters[i].empty()) letter_of.emplace(ascii_lower(letters[i]), static_cast<char>('a' + i));
  std::vector<std::pair<size_t, std::string>> new_letters;
  struct Rename { uint32_t uid; std::string from, to; };
  std::vector<Rename> renames;
  bool full = false;
  for (const auto& r : rows) {
    std::string want;
    for (const auto& kw : r.keywords) {
      auto it = letter_of.find(ascii_lower(kw));
      if (it == letter_of.end()) {
        auto free_slot = std::find(letters.begin(), letters.end(), std::string());
        if (free_slot == letters.end()) {
          full = true;  // Dovecot has no letter beyond 'z' either
          continue;
        }
        *free_slot = kw;
        size_t i = static_cast<size_t>(free_slot - letters.begin());
        new_letters.emplace_back(i, kw);
        it = letter_of.emplace(ascii_lower(kw), static_cast<char>('a' + i)).first;
      }
      want += it->second;
    }
    std::sort(want.begin(), want.end());
    std::string have = detail::keyword_letters(r.file);
    std::sort(have.begin(), have.end());
    if (want == have || r.file.size() < 5) continue;
    auto parsed = detail::parse_maildir_name(r.file.substr(4));
    if (!parsed) continue;
    // Into cur/ with its info, as a flag change does (store_flags).
    renames.push_back({r.uid, r.file,
                       "cur/" + detail::format_maildir_name(parsed->base, r.size, r.uid,
                                                            parsed->flags, true, want)});
  }
  if (full) spdlog::warn("store: mailbox {} uses more than 26 keywords; Dovecot sees 26", id);

  if (!new_letters.empty() || !renames.empty()) {
    std::lock_guard lock(mu);
    detail::Txn txn(db);
    for (const auto& [i, kw] : new_letters)
      db.prepare("INSERT OR REPLACE INTO keyword_letters(mailbox_id, idx, keyword) VALUES(?, ?, ?)")
          .bind(id).bind(static_cast<int64_t>(i)).bind(kw).run();
    for (const auto& r : renames) {
      // Only a row that still has the name read above (a flag change or an expunge since
      // wins; the next round sees it).
      auto st = db.prepare("SELECT file FROM messages WHERE mailbox_id = ? AND uid = ?");
      st.bind(id).bind(static_cast<int64_t>(r.uid));
      if (!st.step() || st.text(0) != r.from) continue;
      // rename(2) is atomic; a crash before the COMMIT leaves the new name with the old row,
      // which recovery renames back (files are matched by base name).
      if (!fops->rename(folder + "/" + r.from, folder + "/" + r.to).ok()) continue;
      db.prepare("UPDATE messages SET file = ? WHERE mailbox_id = ? AND uid = ?")
          .bind(r.to).bind(id).bind(static_cast<int64_t>(r.uid)).run();
    }
    txn.commit();
    committed();
  }

  std::vector<detail::UidlistEntry> entries;
  entries.reserve(rows.size());
  for (const auto& r : rows) {
    std::string_view file = std::string_view(r.file).substr(std::min<size_t>(4, r.file.size()));
    // Dovecot finds a file by the part of its name before ':' (its flags may change).
    std::string listed(file.substr(0, file.find(':')));
    entries.push_back({r.uid, listed, {}});
  }
  auto put = [&](const char* file, const std::string& text) {
    std::string tmp = folder + "/" + file + ".tern-tmp";
    auto s = fops->write_file(tmp, text, detail::now_unix());
    if (s.ok()) s = fops->rename(tmp, folder + "/" + file);
    if (!s.ok()) spdlog::warn("store: {} of mailbox {} not written: {}", file, id, s.error().message);
  };
  put(detail::kDovecotUidlist, detail::format_uidlist(uidvalidity, uidnext, "", entries));
  if (std::any_of(letters.begin(), letters.end(), [](const auto& k) { return !k.empty(); }))
    put(detail::kDovecotKeywords, detail::format_dovecot_keywords(letters));
}

}  // namespace tern::store
