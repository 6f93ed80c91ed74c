// Store: opening, users and watches. Mailboxes and subscriptions are in mailboxes.cpp,
// messages in messages.cpp, reading them in message_reader.cpp, delivery in delivery.cpp,
// crash recovery in recovery.cpp.
#include <fcntl.h>
#include <sys/file.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/log.h"
#include "common/strings.h"
#include "store/store_impl.h"

namespace fs = std::filesystem;

namespace tern::store {

namespace {

struct DefaultFolder {
  const char* name;
  const char* special_use;
};
// RFC 6154 §2: the SPECIAL-USE attributes every new user gets.
constexpr DefaultFolder kDefaultFolders[] = {
    {"Drafts", "\\Drafts"}, {"Sent", "\\Sent"},       {"Trash", "\\Trash"},
    {"Junk", "\\Junk"},     {"Archive", "\\Archive"},
};

}  // namespace

bool detail::valid_special_use(std::string_view s) {
  if (s.empty()) return true;
  for (const auto& d : kDefaultFolders)
    if (iequals(s, d.special_use)) return true;
  return iequals(s, "\\All") || iequals(s, "\\Flagged");
}

namespace detail {

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string join_keywords(const std::vector<std::string>& keywords) {
  std::string out;
  for (const auto& k : keywords) {
    if (!out.empty()) out += ' ';
    out += k;
  }
  return out;
}

std::vector<std::string> split_keywords(std::string_view text) {
  std::vector<std::string> out;
  for (auto part : split(text, ' '))
    if (!part.empty()) out.emplace_back(part);
  return out;
}

Flags normalize_flags(const Flags& in) {
  Flags out;
  out.system = in.system & kAllSystemFlags;
  for (const auto& k : in.keywords) {
    if (k.empty() || k.size() > 200) fail(Errc::syntax, "bad keyword length");
    for (unsigned char c : k) {
      // RFC 9051 §9: flag-keyword = atom; ATOM-CHAR excludes atom-specials and '\'.
      if (c <= 0x20 || c >= 0x7F || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' ||
          c == '"' || c == '\\' || c == ']')
        fail(Errc::syntax, "bad keyword");
    }
    out.keywords.push_back(k);
  }
  std::sort(out.keywords.begin(), out.keywords.end(), [](const auto& a, const auto& b) {
    return ascii_lower(a) < ascii_lower(b);
  });
  // RFC 9051 §2.3.2: flags are case-insensitive; keep the first spelling.
  out.keywords.erase(std::unique(out.keywords.begin(), out.keywords.end(),
                                 [](const auto& a, const auto& b) { return iequals(a, b); }),
                     out.keywords.end());
  return out;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Helpers on Impl

std::string Store::Impl::user_dir(const UserName& u) const {
  return mail_root + "/" + u.domain + "/" + u.local;
}

std::string Store::Impl::folder_dir(const UserName& u, std::string_view mailbox) const {
  std::string dir = detail::mailbox_dir(mailbox);
  return dir.empty() ? user_dir(u) : user_dir(u) + "/" + dir;
}

Store::Impl::OpenMailbox Store::Impl::open_mailbox(std::string_view user, std::string_view mailbox) {
  OpenMailbox m;
  m.user = check(detail::canonical_user(user));
  m.name = check(detail::canonical_mailbox(mailbox));
  m.lock = std::unique_lock(mu);
  ensure_user_locked(m.user);
  m.row = require_mailbox(m.user.address, m.name);
  return m;
}

uint32_t Store::Impl::recent_floor_of(const MailboxRow& row) {
  std::lock_guard lock(recent_mu);
  auto [it, inserted] = recent_floor.try_emplace(row.id, RecentFloor{row.uidvalidity, row.uidnext});
  if (!inserted && it->second.uidvalidity != row.uidvalidity) it->second = {row.uidvalidity, row.uidnext};
  return it->second.floor;
}

void Store::Impl::forget_delivery_ids() {
  std::lock_guard lock(ids_mu);
  delivery_ids.clear();
}

std::string Store::Impl::new_base() {
  // Maildir unique name: time, microseconds, pid, per-process counter, a random token drawn
  // when the store was opened, host.
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  return std::to_string(us / 1000000) + ".M" + std::to_string(us % 1000000) + "P" +
         std::to_string(pid) + "Q" + std::to_string(++name_counter) + "R" +
         name_token + "." + host;
}

void Store::Impl::committed() {
  ++index_commits;
  note_write();
  if (opts.trace_for_testing) opts.trace_for_testing("index_commit");
}

Store::Impl::ReadLease Store::Impl::lease_reader() {
  auto begin_read = [](std::unique_lock<std::mutex> lock, detail::Db& db) {
    ReadLease lease{std::move(lock), &db, nullptr};
    lease.txn = std::make_unique<sqlite::CheckedTransaction>(db.conn(),
                                                             sqlite::Transaction::Mode::deferred);
    return lease;
  };
  uint32_t start = reader_next.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < kReaders; ++i) {
    Reader& r = readers[(start + i) % kReaders];
    std::unique_lock lock(r.mu, std::try_to_lock);
    if (lock.owns_lock()) return begin_read(std::move(lock), r.db);
  }
  Reader& r = readers[start % kReaders];
  return begin_read(std::unique_lock(r.mu), r.db);
}

std::optional<Store::Impl::ReadMailbox> Store::Impl::read_mailbox(std::string_view user,
                                                                  std::string_view mailbox) {
  ReadMailbox m;
  m.user = check(detail::canonical_user(user));
  m.name = check(detail::canonical_mailbox(mailbox));
  m.lease = lease_reader();
  auto row = find_mailbox_in(*m.lease.db, m.user.address, m.name);
  if (!row) return std::nullopt;
  m.row = std::move(*row);
  return m;
}

std::optional<MailboxRow> Store::Impl::find_mailbox_in(detail::Db& from, const std::string& user,
                                                       const std::string& name) {
  auto st = from.prepare(
      "SELECT id, name, uidvalidity, uidnext, highestmodseq, special_use, object_id FROM mailboxes "
      "WHERE user = ? AND name = ?");
  st.bind(user).bind(name);
  if (!st.step()) return std::nullopt;
  return MailboxRow{st.i64(0), st.text(1), static_cast<uint32_t>(st.i64(2)),
                    static_cast<uint32_t>(st.i64(3)), static_cast<uint64_t>(st.i64(4)), st.text(5), st.text(6)};
}

std::optional<MailboxRow> Store::Impl::find_mailbox_id(int64_t id) {
  auto st = db.prepare(
      "SELECT id, name, uidvalidity, uidnext, highestmodseq, special_use, object_id FROM mailboxes "
      "WHERE id = ?");
  st.bind(id);
  if (!st.step()) return std::nullopt;
  return MailboxRow{st.i64(0), st.text(1), static_cast<uint32_t>(st.i64(2)),
                    static_cast<uint32_t>(st.i64(3)), static_cast<uint64_t>(st.i64(4)), st.text(5), st.text(6)};
}

MailboxRow Store::Impl::require_mailbox(const std::string& user, const std::string& name) {
  auto row = find_mailbox(user, name);
  if (!row) fail(Errc::not_found, "no such mailbox");
  return *row;
}

std::vector<MailboxRow> Store::Impl::user_mailboxes_in(detail::Db& from, const std::string& user) {
  std::vector<MailboxRow> out;
  auto st = from.prepare(
      "SELECT id, name, uidvalidity, uidnext, highestmodseq, special_use, object_id FROM mailboxes "
      "WHERE user = ? ORDER BY name");
  st.bind(user);
  while (st.step())
    out.push_back(MailboxRow{st.i64(0), st.text(1), static_cast<uint32_t>(st.i64(2)),
                             static_cast<uint32_t>(st.i64(3)), static_cast<uint64_t>(st.i64(4)),
                             st.text(5), st.text(6)});
  return out;
}

void Store::Impl::update_counters(int64_t mailbox_id, uint32_t uidnext, uint64_t highestmodseq) {
  db.prepare("UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?")
      .bind(static_cast<int64_t>(uidnext))
      .bind(static_cast<int64_t>(highestmodseq))
      .bind(mailbox_id)
      .run();
}

uint32_t Store::Impl::next_uidvalidity() {
  // RFC 9051 §2.3.1.1: a re-created name must get a different (greater) UIDVALIDITY, so
  // values come from a counter that never goes back, seeded by the clock.
  int64_t last = 0;
  {
    auto st = db.prepare("SELECT value FROM meta WHERE key = 'last_uidvalidity'");
    if (st.step()) last = st.i64(0);
  }
  int64_t v = std::max<int64_t>(detail::now_unix(), last + 1);
  if (v > 0xFFFFFFFFll) v = last + 1;
  db.prepare("INSERT INTO meta(key, value) VALUES('last_uidvalidity', ?) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .bind(v)
      .run();
  return static_cast<uint32_t>(v);
}

std::optional<detail::UidFile> Store::Impl::read_uid_file(const std::string& folder) const {
  std::ifstream in(folder + "/" + detail::kUidFileName);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  detail::UidFile f;
  bool have_v = false;
  for (auto word : split(line, ' ')) {
    if (word.size() < 2) continue;
    auto v = parse_u64(word.substr(1));
    if (!v) continue;
    if (word[0] == 'V' && *v > 0 && *v <= 0xFFFFFFFFull) { f.uidvalidity = static_cast<uint32_t>(*v); have_v = true; }
    if (word[0] == 'N' && *v > 0 && *v <= 0xFFFFFFFFull) f.uidnext = static_cast<uint32_t>(*v);
    if (word[0] == 'M') f.highestmodseq = *v;
  }
  if (!have_v) return std::nullopt;
  return f;
}

void Store::Impl::write_uid_file(const std::string& folder, const detail::UidFile& f) {
  std::string tmp = folder + "/" + detail::kUidFileName + ".tmp." + random_id(8);
  std::string text = "V" + std::to_string(f.uidvalidity) + " N" + std::to_string(f.uidnext) +
                     " M" + std::to_string(f.highestmodseq) + "\n";
  // fsync: the UIDVALIDITY must be on disk before anything can depend on it.
  check(fops->write_file_synced(tmp, text, detail::now_unix()));
  check(fops->rename(tmp, folder + "/" + detail::kUidFileName));
  // fsync dir: make the rename (the new file's name) durable.
  check(fops->fsync_dir(folder));
}

void Store::Impl::save_uid_file(const std::string& folder, int64_t mailbox_id) {
  auto row = find_mailbox_id(mailbox_id);
  if (!row) return;
  write_uid_file(folder, {row->uidvalidity, row->uidnext, row->highestmodseq});
}

MailboxRow Store::Impl::create_mailbox_locked(const UserName& u, const std::string& name,
                                              const std::string& special_use, bool subscribe,
                                              uint32_t initial_uidnext) {
  std::string dir = folder_dir(u, name);
  bool inbox = detail::is_inbox(name);
  check(fops->mkdir(mail_root + "/" + u.domain));
  check(fops->mkdir(user_dir(u)));
  check(fops->mkdir(dir));
  for (const char* sub : {"/cur", "/new", "/tmp"}) check(fops->mkdir(dir + sub));
  if (!inbox && !fs::exists(dir + "/maildirfolder")) {
    // Maildir++ marker for delivery agents; content irrelevant.
    check(fops->write_file(dir + "/maildirfolder", "", detail::now_unix()));
  }
  // A directory left over without a row (e.g. restored from backup) keeps its UIDVALIDITY.
  auto existing = read_uid_file(dir);
  detail::UidFile uf;
  if (existing) {
    uf = *existing;
    uf.uidnext = std::max(uf.uidnext, initial_uidnext);
  } else {
    uf.uidvalidity = next_uidvalidity();
    uf.uidnext = initial_uidnext;
  }
  write_uid_file(dir, uf);
  // fsync the parent: the new folder directory entry itself must survive a crash.
  check(fops->fsync_dir(inbox ? mail_root + "/" + u.domain : user_dir(u)));
  db.prepare(
        "INSERT INTO mailboxes(user, name, uidvalidity, uidnext, highestmodseq, special_use, "
        "object_id) VALUES(?, ?, ?, ?, ?, ?, " TERN_NEW_OBJECT_ID("F") ")")
      .bind(u.address)
      .bind(name)
      .bind(static_cast<int64_t>(uf.uidvalidity))
      .bind(static_cast<int64_t>(uf.uidnext))
      .bind(static_cast<int64_t>(std::max<uint64_t>(uf.highestmodseq, 1)))
      .bind(special_use)
      .run();
  if (subscribe)
    db.prepare("INSERT OR IGNORE INTO subscriptions(user, name) VALUES(?, ?)")
        .bind(u.address)
        .bind(name)
        .run();
  auto row = *find_mailbox(u.address, name);
  dovecot_due({row.id});  // a new folder's UIDVALIDITY goes out too (dovecot_writer.cpp)
  return row;
}

void Store::Impl::ensure_user_locked(const UserName& u) {
  if (known_users.count(u.address)) return;
  bool initialised;
  {
    auto st = db.prepare("SELECT 1 FROM users WHERE address = ?");
    st.bind(u.address);
    initialised = st.step();
  }
  if (!initialised) {
    detail::Txn txn(db);
    if (!find_mailbox(u.address, "INBOX")) create_mailbox_locked(u, "INBOX", "", true);
    for (const auto& d : kDefaultFolders)
      if (!find_mailbox(u.address, d.name)) create_mailbox_locked(u, d.name, d.special_use, true);
    db.prepare("INSERT OR IGNORE INTO users(address) VALUES(?)").bind(u.address).run();
    txn.commit();
    committed();
  } else if (!find_mailbox(u.address, "INBOX")) {
    detail::Txn txn(db);
    create_mailbox_locked(u, "INBOX", "", true);
    txn.commit();
    committed();
  }
  known_users.insert(u.address);
}

uint64_t Store::Impl::user_usage(const std::string& user) {
  auto st = db.prepare(
      "SELECT COALESCE(SUM(bytes), 0) FROM mailboxes WHERE user = ?");
  st.bind(user);
  st.step();
  return static_cast<uint64_t>(st.i64(0));
}

MailboxStatus Store::Impl::status_in(detail::Db& from, const std::string& user, const MailboxRow& row,
                                     bool counts) {
  MailboxStatus s;
  s.name = row.name;
  s.special_use = row.special_use;
  s.mailbox_id = row.object_id;
  s.uidnext = row.uidnext;
  s.uidvalidity = row.uidvalidity;
  s.highestmodseq = row.highestmodseq;
  if (counts) {
    auto st = from.prepare(
        "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM((flags & 1) = 0), 0), "
        "COALESCE(SUM(uid >= ?), 0) FROM messages WHERE mailbox_id = ?");
    st.bind(static_cast<int64_t>(recent_floor_of(row))).bind(row.id);
    st.step();
    s.messages = static_cast<uint32_t>(st.i64(0));
    s.size = static_cast<uint64_t>(st.i64(1));
    s.unseen = static_cast<uint32_t>(st.i64(2));
    s.recent = static_cast<uint32_t>(st.i64(3));
  }
  auto st = from.prepare("SELECT 1 FROM subscriptions WHERE user = ? AND name = ?");
  st.bind(user).bind(row.name);
  s.subscribed = st.step();
  return s;
}

void Store::Impl::notify(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  dovecot_due(ids);
  if (fts) fts->due(ids);
  std::vector<std::shared_ptr<WatchHandle::State>> targets;
  bool accounts = false;
  {
    std::lock_guard lock(watches->mu);
    accounts = watches->accounts > 0;
    for (auto& [id, w] : watches->watches)
      if (w->account.empty() && std::find(ids.begin(), ids.end(), w->mailbox_id) != ids.end()) targets.push_back(w);
  }
  if (accounts) {
    // Account watches (IMAP NOTIFY) learn which mailboxes changed by name: one short lookup
    // on a reader, which sees the commit that called this.
    std::map<std::string, Store::AccountChange> by_user;
    try {
      auto lease = lease_reader();
      auto st = lease.db->prepare("SELECT user, name FROM mailboxes WHERE id = ?");
      for (int64_t id : ids) {
        st.reset();
        st.bind(id);
        if (st.step()) by_user[st.text(0)].mailboxes.push_back(st.text(1));
      }
    } catch (...) {
      spdlog::warn("store: account watch lookup failed; notifications skipped");
    }
    call_accounts(by_user, false);
  }
  for (auto& w : targets) {
    std::lock_guard call(w->call_mu);
    if (!w->active) continue;
    try {
      w->callback();
    } catch (...) {
      spdlog::warn("store: watch callback threw; ignored");
    }
  }
}

void Store::Impl::notify_listing(std::optional<std::string_view> user) {
  std::map<std::string, Store::AccountChange> by_user;
  if (user) {
    auto u = detail::canonical_user(*user);
    if (!u) return;
    by_user[u->address].listing = true;
  }
  call_accounts(by_user, !user);
}

void Store::Impl::call_accounts(const std::map<std::string, Store::AccountChange>& by_user, bool everyone) {
  std::vector<std::pair<std::shared_ptr<WatchHandle::State>, Store::AccountChange>> targets;
  {
    std::lock_guard lock(watches->mu);
    if (watches->accounts == 0) return;
    for (auto& [id, w] : watches->watches) {
      if (w->account.empty()) continue;
      if (everyone) {
        Store::AccountChange all;
        all.listing = true;
        targets.emplace_back(w, std::move(all));
      } else if (auto it = by_user.find(w->account); it != by_user.end()) {
        targets.emplace_back(w, it->second);
      }
    }
  }
  for (auto& [w, change] : targets) {
    std::lock_guard call(w->call_mu);
    if (!w->active) continue;
    try {
      w->account_callback(change);
    } catch (...) {
      spdlog::warn("store: account watch callback threw; ignored");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// WatchHandle

WatchHandle& WatchHandle::operator=(WatchHandle&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::move(other.state_);
  }
  return *this;
}

WatchHandle::~WatchHandle() { reset(); }

void WatchHandle::reset() {
  if (!state_) return;
  if (auto reg = state_->registry.lock()) {
    std::lock_guard lock(reg->mu);
    if (reg->watches.erase(state_->id) && !state_->account.empty()) --reg->accounts;
  }
  {
    // Waits for a callback running on another thread to finish; re-entrant from inside it.
    std::lock_guard call(state_->call_mu);
    state_->active = false;
  }
  state_.reset();
}

// ---------------------------------------------------------------------------------------------
// Store

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  if (options.data_dir.empty()) return make_error(Errc::syntax, "store: data_dir is empty");
  if (sodium_init() < 0) return make_error(Errc::internal, "store: libsodium init failed");
  auto impl = std::make_unique<Impl>();
  impl->opts = options;
  impl->data_dir = options.data_dir;
  impl->mail_root = options.data_dir + "/mail";
  impl->host = detail::maildir_safe_host(options.hostname);
  impl->name_token = random_id(8);
  impl->pid = static_cast<long>(::getpid());
  impl->fops = options.file_ops_for_testing ? options.file_ops_for_testing : posix_file_ops();
  impl->dir_syncer = std::make_unique<detail::DirSyncer>(impl->fops);
  SpaceOptions space;
  space.paths.push_back(options.data_dir);
  space.paths.insert(space.paths.end(), options.space_paths.begin(), options.space_paths.end());
  space.min_free_bytes = options.min_free_bytes;
  space.reserve_file = options.data_dir + "/tern-reserve";
  space.reserve_file_bytes = options.reserve_file_bytes;
  space.free_bytes_for_testing = options.free_bytes_for_testing;
  impl->space = std::make_unique<SpaceMonitor>(std::move(space));
  Impl* p = impl.get();
  auto st = detail::guarded_status([&] {
    check(p->fops->mkdir(p->data_dir));
    check(p->fops->mkdir(p->mail_root));
    p->db.open(p->data_dir + "/index.db");
    p->wal_sync = std::make_unique<detail::WalSync>(p->fops, p->data_dir + "/index.db-wal");
    p->reader.open_reader(p->data_dir + "/index.db");
    for (auto& r : p->readers) r.db.open_reader(p->data_dir + "/index.db");
    // Open before any staged file is written: syncfs reports write-back errors only from
    // when its descriptor was opened.
    p->sync_fd = ::open(p->mail_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->sync_fd < 0) detail::fail(Errc::internal, "open " + p->mail_root + ": " + std::strerror(errno));
    if (p->own(options.wait_to_own)) {
      std::lock_guard lock(p->mu);
      p->db.enable_auto_vacuum();
      p->restore_staged();
      p->reconcile_all();
      p->assign_missing_threads();
    }
    p->open_fts();
  });
  if (!st.ok()) return make_error(st.error().code, "store open: " + st.error().message);
  if (p->lock_fd >= 0) p->space->ensure_reserve();
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

bool Store::Impl::own(bool wait) {
  lock_fd = ::open((data_dir + "/store.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) detail::fail(Errc::internal, "open " + data_dir + "/store.lock: " + std::strerror(errno));
  auto lock = [this](int how) {
    int r;
    do r = ::flock(lock_fd, how);
    while (r != 0 && errno == EINTR);
    return r;
  };
  int rc = lock(LOCK_EX | LOCK_NB);
  if (rc != 0 && errno == EWOULDBLOCK && wait) {
    spdlog::warn("store: {} is held by another process (ternctl?): waiting for it",
                 data_dir + "/store.lock");
    rc = lock(LOCK_EX);
  }
  if (rc == 0) return true;
  if (errno != EWOULDBLOCK) detail::fail(Errc::internal, std::string("lock store: ") + std::strerror(errno));
  ::close(lock_fd);
  lock_fd = -1;
  return false;
}

StoreStats Store::stats() const {
  return StoreStats{impl_->index_commits.load(), impl_->delivery_batches.load(),
                    impl_->delivered.load()};
}

bool Store::has_room(uint64_t bytes) { return impl_->space->has_room(bytes); }
bool Store::has_room_cached(uint64_t bytes) const { return impl_->space->cached_has_room(bytes); }
bool Store::release_space_reserve() { return impl_->space->release_reserve(); }

Status Store::ensure_user(std::string_view user) {
  return detail::guarded_status([&] {
    auto u = check(detail::canonical_user(user));
    std::lock_guard lock(impl_->mu);
    impl_->ensure_user_locked(u);
  });
}

Status Store::remove_user(std::string_view user) {
  std::vector<int64_t> ids;
  auto st = impl_->freeing([&] { return detail::guarded_status([&] {
    ids.clear();
    auto u = check(detail::canonical_user(user));
    std::lock_guard lock(impl_->mu);
    auto& db = impl_->db;
    for (auto& row : impl_->user_mailboxes(u.address)) ids.push_back(row.id);
    std::string dir = impl_->user_dir(u);
    std::string doomed = impl_->mail_root + "/" + u.domain + "/." + detail::kDeletedPrefix + random_id(8);
    detail::Txn txn(db);
    db.prepare("DELETE FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE user = ?)").bind(u.address).run();
    db.prepare("DELETE FROM expunged WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE user = ?)").bind(u.address).run();
    db.prepare("DELETE FROM mailboxes WHERE user = ?").bind(u.address).run();
    impl_->forget_delivery_ids();
    db.prepare("DELETE FROM subscriptions WHERE user = ?").bind(u.address).run();
    // RFC 4314: the user's entries in other users' ACLs go too (a later user of the same
    // address must not inherit them).
    db.prepare("DELETE FROM acl WHERE identifier = ?").bind(u.address).run();
    db.prepare("DELETE FROM users WHERE address = ?").bind(u.address).run();
    bool had_dir = fs::exists(dir);
    if (had_dir) {
      // Rename first (atomic), so a crash never leaves a half-deleted Maildir that looks live.
      check(impl_->fops->rename(dir, doomed));
      check(impl_->fops->fsync_dir(impl_->mail_root + "/" + u.domain));
    }
    txn.commit();
    impl_->committed();
    impl_->acl_version.fetch_add(1);  // the user's ACL entries went (Store::acl_version)
    impl_->known_users.erase(u.address);
    std::error_code ec;
    if (had_dir) fs::remove_all(doomed, ec);
  }); });
  impl_->notify(ids);
  return st;
}

Result<uint32_t> Store::claim_recent(std::string_view user, std::string_view mailbox, uint32_t upto,
                                     bool take) {
  return detail::guarded([&] {
    return impl_->read_or_open(user, mailbox, [&](detail::Db&, const auto&, const auto&, const auto& row) {
      (void)impl_->recent_floor_of(row);
      std::lock_guard recent_lock(impl_->recent_mu);
      uint32_t& floor = impl_->recent_floor[row.id].floor;
      uint32_t first = std::min(floor, upto);
      if (take) floor = std::max(floor, std::min(upto, row.uidnext));
      return first;
    });
  });
}

Result<uint64_t> Store::usage(std::string_view user) {
  return detail::guarded([&] {
    auto u = check(detail::canonical_user(user));
    std::lock_guard lock(impl_->reader_mu);  // not `mu`: see Impl::reader
    auto st = impl_->reader.prepare("SELECT COALESCE(SUM(bytes), 0) FROM mailboxes WHERE user = ?");
    st.bind(u.address);
    st.step();
    return static_cast<uint64_t>(st.i64(0));
  });
}

Result<WatchHandle> Store::watch(std::string_view user, std::string_view mailbox,
                                 std::function<void()> callback) {
  return detail::guarded([&] {
    int64_t id = impl_->read_or_open(user, mailbox, [](detail::Db&, const auto&, const auto&,
                                                       const auto& row) { return row.id; });
    auto state = std::make_shared<WatchHandle::State>();
    state->mailbox_id = id;
    state->callback = std::move(callback);
    state->registry = impl_->watches;
    {
      std::lock_guard lock(impl_->watches->mu);
      state->id = impl_->watches->next_id++;
      impl_->watches->watches[state->id] = state;
    }
    return WatchHandle(state);
  });
}

Result<WatchHandle> Store::watch_account(std::string_view user,
                                         std::function<void(const AccountChange&)> callback) {
  return detail::guarded([&] {
    auto u = check(detail::canonical_user(user));
    auto state = std::make_shared<WatchHandle::State>();
    state->account = u.address;
    state->account_callback = std::move(callback);
    state->registry = impl_->watches;
    {
      std::lock_guard lock(impl_->watches->mu);
      state->id = impl_->watches->next_id++;
      impl_->watches->watches[state->id] = state;
      ++impl_->watches->accounts;
    }
    return WatchHandle(state);
  });
}

Status Store::reindex(std::optional<std::string_view> user) {
  auto r = reindex_report(user);
  if (!r.ok()) return r.error();
  return {};
}

Result<ReindexReport> Store::reindex_report(std::optional<std::string_view> user) {
  std::vector<int64_t> changed;
  auto r = detail::guarded([&] {
    ReindexReport report;
    std::optional<UserName> u;
    if (user) u = check(detail::canonical_user(*user));
    std::lock_guard lock(impl_->mu);
    // A Maildir copied over a user nobody has used yet (`ternctl user add`, then cp): the
    // user's default folders are made first, as on a first login, and then adopt what came.
    if (u && fs::is_directory(impl_->user_dir(*u))) impl_->ensure_user_locked(*u);
    changed = u ? impl_->reconcile_user(*u, &report) : impl_->reconcile_all(&report);
    impl_->assign_missing_threads();
    // Every reindexed folder gets its Dovecot files (re)written, changed or not.
    std::vector<int64_t> ids;
    auto st = impl_->db.prepare(u ? "SELECT id FROM mailboxes WHERE user = ?" : "SELECT id FROM mailboxes");
    if (u) st.bind(u->address);
    while (st.step()) ids.push_back(st.i64(0));
    impl_->dovecot_due(ids);
    return report;
  });
  impl_->notify(changed);
  return r;
}

}  // namespace tern::store
