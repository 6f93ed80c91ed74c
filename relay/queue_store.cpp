// QueueStore: message files + queue.db (see relay/queue.h for the durability contract).
// Internally file and SQLite errors are thrown as tern::Failure and turned back into Error
// values at each public function; none escape.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "common/log.h"
#include "common/strings.h"
#include "relay/queue.h"
#include "sqlite/sqlite.h"

namespace tern::relay {

const char* to_string(RcptState state) {
  switch (state) {
    case RcptState::pending: return "pending";
    case RcptState::deferred: return "deferred";
    case RcptState::delivered: return "delivered";
    case RcptState::failed: return "failed";
  }
  return "?";
}

namespace {

RcptState state_from(std::string_view s) {
  if (s == "deferred") return RcptState::deferred;
  if (s == "delivered") return RcptState::delivered;
  if (s == "failed") return RcptState::failed;
  return RcptState::pending;
}

using sqlite::Stmt;

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS messages(
  id TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  envid TEXT NOT NULL DEFAULT '',
  ret TEXT NOT NULL DEFAULT '',
  arrival INTEGER NOT NULL,
  size INTEGER NOT NULL,
  eight_bit INTEGER NOT NULL DEFAULT 0,
  smtputf8 INTEGER NOT NULL DEFAULT 0,
  delay_dsn_sent INTEGER NOT NULL DEFAULT 0,
  kind INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS recipients(
  row INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL,
  address TEXT NOT NULL,
  domain TEXT NOT NULL,
  orcpt TEXT NOT NULL DEFAULT '',
  notify TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,
  last_attempt INTEGER NOT NULL DEFAULT 0,
  last_reply TEXT NOT NULL DEFAULT '',
  remote_mta TEXT NOT NULL DEFAULT '',
  dsn_action TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS recipients_due ON recipients(state, next_attempt);
CREATE INDEX IF NOT EXISTS recipients_message ON recipients(message_id);
CREATE INDEX IF NOT EXISTS recipients_dsn ON recipients(dsn_action) WHERE dsn_action != '';
)";

constexpr const char* kMessageColumns =
    "m.id, m.sender, m.envid, m.ret, m.arrival, m.size, m.eight_bit, m.smtputf8, "
    "m.delay_dsn_sent, m.kind";
constexpr const char* kRecipientColumns =
    "r.row, r.address, r.domain, r.orcpt, r.notify, r.state, r.attempts, r.next_attempt, "
    "r.last_attempt, r.last_reply, r.remote_mta, r.dsn_action";

QueuedMessage message_from(const Stmt& s) {
  QueuedMessage m;
  m.id = s.text(0);
  m.sender = s.text(1);
  m.envid = s.text(2);
  m.ret = s.text(3);
  m.arrival = s.i64(4);
  m.size = static_cast<uint64_t>(s.i64(5));
  m.eight_bit = s.i64(6) != 0;
  m.smtputf8 = s.i64(7) != 0;
  m.delay_dsn_sent = s.i64(8) != 0;
  m.kind = static_cast<MessageKind>(s.i64(9));
  return m;
}

QueuedRecipient recipient_from(const Stmt& s, int base) {
  QueuedRecipient r;
  r.row = s.i64(base + 0);
  r.address = s.text(base + 1);
  r.domain = s.text(base + 2);
  r.orcpt = s.text(base + 3);
  r.notify = s.text(base + 4);
  r.state = state_from(s.text(base + 5));
  r.attempts = static_cast<int>(s.i64(base + 6));
  r.next_attempt = s.i64(base + 7);
  r.last_attempt = s.i64(base + 8);
  r.last_reply = s.text(base + 9);
  r.remote_mta = s.text(base + 10);
  r.dsn_action = s.text(base + 11);
  return r;
}

std::string sys_text(int e) { return std::strerror(e); }


std::string domain_of(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  return ascii_lower(address.substr(at + 1));
}

}  // namespace

struct QueueStore::Impl {
  std::string dir;     // data_dir/queue
  std::string db_path;
  std::shared_ptr<store::FileOps> fops;
  std::unique_ptr<sqlite::Connection> db;
  mutable std::mutex db_mu;  // guards db

  // Group commit of enqueues.
  struct PendingEnqueue {
    const Envelope* envelope = nullptr;
    std::string id;
    uint64_t size = 0;
    int64_t now = 0;
    bool done = false;
    std::optional<Error> error;
  };
  mutable std::mutex gc_mu;
  std::condition_variable gc_cv;
  std::vector<PendingEnqueue*> gc_queue;
  bool gc_leader_active = false;
  QueueStats stats;

  std::string file_path(const std::string& id) const { return dir + "/" + id; }

  template <class F>
  auto guarded(F&& f) const -> decltype(f()) {
    try {
      return f();
    } catch (const Failure& e) {
      return e.error;
    } catch (const std::exception& e) {
      return make_error(Errc::internal, std::string("queue: ") + e.what());
    }
  }

  void commit_batch(const std::vector<PendingEnqueue*>& batch) {
    // Why: one directory fsync makes every rename of the batch durable before rows exist.
    // Not retried on failure: the entries may be lost, so the whole batch is refused.
    check(fops->fsync_dir(dir));
    std::lock_guard lock(db_mu);
    sqlite::CheckedTransaction txn(*db);
    Stmt msg(*db,
             "INSERT INTO messages(id, sender, envid, ret, arrival, size, eight_bit, smtputf8, kind) "
             "VALUES(?,?,?,?,?,?,?,?,?)");
    Stmt rcpt(*db,
              "INSERT INTO recipients(message_id, address, domain, orcpt, notify, state, "
              "next_attempt) VALUES(?,?,?,?,?,'pending',?)");
    for (PendingEnqueue* p : batch) {
      const Envelope& e = *p->envelope;
      msg.reset();
      msg.bind(1, p->id).bind(2, e.sender).bind(3, e.envid).bind(4, e.ret).bind(5, p->now);
      msg.bind(6, static_cast<int64_t>(p->size)).bind(7, int64_t{e.eight_bit});
      msg.bind(8, int64_t{e.smtputf8}).bind(9, static_cast<int64_t>(e.kind));
      msg.run();
      for (const auto& r : e.recipients) {
        rcpt.reset();
        rcpt.bind(1, p->id).bind(2, r.address).bind(3, domain_of(r.address)).bind(4, r.orcpt);
        rcpt.bind(5, r.notify).bind(6, p->now);
        rcpt.run();
      }
    }
    txn.commit();
  }

  std::vector<QueuedMessage> load_grouped(Stmt& s) const {
    // Rows are ordered by message: fold consecutive rows into one message.
    std::vector<QueuedMessage> out;
    while (s.step()) {
      std::string id = s.text(0);
      if (out.empty() || out.back().id != id) out.push_back(message_from(s));
      out.back().recipients.push_back(recipient_from(s, 10));
    }
    return out;
  }

  void remove_locked(const std::string& id) {
    Stmt a(*db, "DELETE FROM recipients WHERE message_id=?");
    a.bind(1, id).run();
    Stmt b(*db, "DELETE FROM messages WHERE id=?");
    b.bind(1, id).run();
  }
};

QueueStore::QueueStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QueueStore::~QueueStore() = default;

Result<std::unique_ptr<QueueStore>> QueueStore::open(const std::string& data_dir,
                                                     std::shared_ptr<store::FileOps> file_ops) {
  auto impl = std::make_unique<Impl>();
  impl->fops = file_ops ? std::move(file_ops) : store::posix_file_ops();
  impl->dir = data_dir + "/queue";
  impl->db_path = data_dir + "/queue.db";
  std::error_code ec;
  std::filesystem::create_directories(impl->dir, ec);
  if (ec) return make_error(Errc::internal, "cannot create " + impl->dir + ": " + ec.message());
  sqlite::OpenOptions options;
  options.label = "queue.db";
  options.serialized = true;
  // WAL + synchronous=FULL (OpenOptions' default): nothing is acknowledged before COMMIT.
  auto conn = sqlite::Connection::open(impl->db_path, options);
  if (!conn) return conn.error();
  impl->db = std::move(*conn);
  Impl* p = impl.get();
  Status st = p->guarded([&]() -> Status {
    p->db->exec(kSchema);
    // Crash recovery: temporary files, and message files whose rows were never committed.
    std::set<std::string> known;
    Stmt s(*p->db, "SELECT id FROM messages");
    while (s.step()) known.insert(s.text(0));
    for (const auto& entry : std::filesystem::directory_iterator(p->dir)) {
      std::string name = entry.path().filename().string();
      if (name.rfind("tmp.", 0) == 0 || !known.count(name)) {
        // Another process (ternctl) opening the queue while ternd enqueues must not delete a
        // file that is about to get its rows: only files older than a minute are leftovers.
        struct stat st{};
        if (::stat(entry.path().c_str(), &st) == 0 && st.st_mtime + 60 < ::time(nullptr)) {
          spdlog::warn("relay queue: removing leftover file {}", entry.path().string());
          std::filesystem::remove(entry.path(), ec);
        }
      }
    }
    return {};
  });
  if (!st) return st.error();
  return std::unique_ptr<QueueStore>(new QueueStore(std::move(impl)));
}

Result<std::string> QueueStore::enqueue(const Envelope& envelope, std::string_view bytes, int64_t now) {
  if (envelope.recipients.empty()) return make_error(Errc::syntax, "queue: no recipients");
  Impl& m = *impl_;
  Impl::PendingEnqueue me;
  me.envelope = &envelope;
  me.id = random_id(20);
  me.size = bytes.size();
  me.now = now;
  std::string final_path = m.file_path(me.id);
  Status written = m.guarded([&]() -> Status {
    std::string tmp = m.dir + "/tmp." + me.id;
    // Why fsync: the bytes must be on disk before the rename makes the file visible under its
    // name (a failed write or fsync removes the file: never retried as if it were safe).
    check(m.fops->write_file_synced(tmp, bytes, now));
    if (auto st = m.fops->rename(tmp, final_path); !st.ok()) {
      (void)m.fops->unlink(tmp);
      check(st);
    }
    return {};
  });
  if (!written) return written.error();

  // Group commit: the first waiter to find no leader active becomes the leader and commits
  // everything queued so far; the others sleep until their entry is done.
  std::unique_lock lock(m.gc_mu);
  m.gc_queue.push_back(&me);
  while (!me.done) {
    if (!m.gc_leader_active) {
      m.gc_leader_active = true;
      std::vector<Impl::PendingEnqueue*> batch;
      batch.swap(m.gc_queue);
      lock.unlock();
      Status st = m.guarded([&]() -> Status {
        m.commit_batch(batch);
        return {};
      });
      lock.lock();
      for (auto* p : batch) {
        if (!st) p->error = st.error();
        p->done = true;
      }
      if (st) {
        m.stats.enqueued += batch.size();
        m.stats.commit_batches++;
      }
      m.gc_leader_active = false;
      m.gc_cv.notify_all();
    } else {
      m.gc_cv.wait(lock);
    }
  }
  lock.unlock();
  if (me.error) {
    (void)m.fops->unlink(final_path);
    return *me.error;
  }
  return me.id;
}

Result<std::string> QueueStore::read_message(const std::string& id) const {
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.')
    return make_error(Errc::not_found, "queue: no message " + id);
  std::string path = impl_->file_path(id);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(Errc::not_found, "queue: no message " + id);
    return make_error(Errc::internal, "open " + path + ": " + sys_text(errno));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return make_error(Errc::internal, "read " + path + ": " + sys_text(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<QueuedMessage> QueueStore::get(const std::string& id) const {
  return impl_->guarded([&]() -> Result<QueuedMessage> {
    std::lock_guard lock(impl_->db_mu);
    Stmt s(*impl_->db, std::string("SELECT ") + kMessageColumns + ", " + kRecipientColumns +
                          " FROM messages m JOIN recipients r ON r.message_id = m.id"
                          " WHERE m.id=? ORDER BY r.row");
    s.bind(1, id);
    auto all = impl_->load_grouped(s);
    if (all.empty()) return make_error(Errc::not_found, "queue: no message " + id);
    return std::move(all.front());
  });
}

Result<std::vector<QueuedMessage>> QueueStore::list() const {
  return impl_->guarded([&]() -> Result<std::vector<QueuedMessage>> {
    std::lock_guard lock(impl_->db_mu);
    Stmt s(*impl_->db, std::string("SELECT ") + kMessageColumns + ", " + kRecipientColumns +
                          " FROM messages m JOIN recipients r ON r.message_id = m.id"
                          " ORDER BY m.arrival, m.id, r.row");
    return impl_->load_grouped(s);
  });
}

Result<std::vector<QueuedMessage>> QueueStore::due(int64_t now, size_t limit) const {
  return impl_->guarded([&]() -> Result<std::vector<QueuedMessage>> {
    std::lock_guard lock(impl_->db_mu);
    Stmt s(*impl_->db,
           std::string("SELECT ") + kMessageColumns + ", " + kRecipientColumns +
               " FROM messages m JOIN recipients r ON r.message_id = m.id"
               " WHERE m.id IN (SELECT message_id FROM recipients"
               "   WHERE state IN ('pending','deferred') AND next_attempt <= ?1"
               "   GROUP BY message_id ORDER BY MIN(next_attempt) LIMIT ?2)"
               " AND r.state IN ('pending','deferred') AND r.next_attempt <= ?1"
               " ORDER BY m.arrival, m.id, r.row");
    s.bind(1, now).bind(2, static_cast<int64_t>(limit));
    return impl_->load_grouped(s);
  });
}

Result<std::optional<int64_t>> QueueStore::next_due_after(int64_t now) const {
  return impl_->guarded([&]() -> Result<std::optional<int64_t>> {
    std::lock_guard lock(impl_->db_mu);
    Stmt s(*impl_->db,
           "SELECT MIN(next_attempt) FROM recipients WHERE state IN ('pending','deferred') "
           "AND next_attempt > ?");
    s.bind(1, now);
    std::optional<int64_t> out;
    if (s.step()) {
      int64_t v = s.i64(0);
      if (v > 0) out = v;
    }
    return out;
  });
}

Status QueueStore::update_recipients(const std::vector<RecipientUpdate>& updates) {
  return impl_->guarded([&]() -> Status {
    std::lock_guard lock(impl_->db_mu);
    sqlite::CheckedTransaction txn(*impl_->db);
    Stmt s(*impl_->db,
           "UPDATE recipients SET state=?, attempts=?, next_attempt=?, last_attempt=?, "
           "last_reply=?, remote_mta=?, dsn_action=? "
           "WHERE row=? AND state IN ('pending','deferred')");
    for (const auto& u : updates) {
      s.reset();
      s.bind(1, to_string(u.state)).bind(2, int64_t{u.attempts}).bind(3, u.next_attempt);
      s.bind(4, u.last_attempt).bind(5, u.last_reply).bind(6, u.remote_mta).bind(7, u.dsn_action);
      s.bind(8, u.row);
      s.run();
    }
    txn.commit();
    return {};
  });
}

Result<int> QueueStore::expire(int64_t cutoff, int64_t now) {
  return impl_->guarded([&]() -> Result<int> {
    std::lock_guard lock(impl_->db_mu);
    sqlite::CheckedTransaction txn(*impl_->db);
    Stmt s(*impl_->db,
           "UPDATE recipients SET state='failed', dsn_action='expired', last_attempt="
           "CASE WHEN last_attempt=0 THEN ?2 ELSE last_attempt END "
           "WHERE state IN ('pending','deferred') AND message_id IN "
           "(SELECT id FROM messages WHERE arrival <= ?1)");
    s.bind(1, cutoff).bind(2, now);
    s.run();
    int n = static_cast<int>(impl_->db->changes());
    txn.commit();
    return n;
  });
}

Result<std::vector<QueuedMessage>> QueueStore::delay_candidates(int64_t cutoff) const {
  return impl_->guarded([&]() -> Result<std::vector<QueuedMessage>> {
    std::lock_guard lock(impl_->db_mu);
    Stmt s(*impl_->db,
           std::string("SELECT ") + kMessageColumns + ", " + kRecipientColumns +
               " FROM messages m JOIN recipients r ON r.message_id = m.id"
               " WHERE m.delay_dsn_sent=0 AND m.arrival <= ? AND EXISTS (SELECT 1 FROM recipients"
               " x WHERE x.message_id=m.id AND x.state='deferred')"
               " ORDER BY m.arrival, m.id, r.row");
    s.bind(1, cutoff);
    return impl_->load_grouped(s);
  });
}

Status QueueStore::mark_delay_dsn(const std::string& id, const std::vector<int64_t>& rows) {
  return impl_->guarded([&]() -> Status {
    std::lock_guard lock(impl_->db_mu);
    sqlite::CheckedTransaction txn(*impl_->db);
    Stmt m(*impl_->db, "UPDATE messages SET delay_dsn_sent=1 WHERE id=?");
    m.bind(1, id).run();
    Stmt r(*impl_->db,
           "UPDATE recipients SET dsn_action='delayed' WHERE row=? AND state='deferred' "
           "AND dsn_action=''");
    for (int64_t row : rows) {
      r.reset();
      r.bind(1, row).run();
    }
    txn.commit();
    return {};
  });
}

Result<std::vector<QueuedMessage>> QueueStore::dsn_pending() const {
  return impl_->guarded([&]() -> Result<std::vector<QueuedMessage>> {
    std::lock_guard lock(impl_->db_mu);
    Stmt s(*impl_->db, std::string("SELECT ") + kMessageColumns + ", " + kRecipientColumns +
                          " FROM messages m JOIN recipients r ON r.message_id = m.id"
                          " WHERE r.dsn_action != '' ORDER BY m.arrival, m.id, r.row");
    return impl_->load_grouped(s);
  });
}

Status QueueStore::clear_dsn(const std::vector<std::pair<int64_t, std::string>>& rows) {
  return impl_->guarded([&]() -> Status {
    std::lock_guard lock(impl_->db_mu);
    sqlite::CheckedTransaction txn(*impl_->db);
    Stmt s(*impl_->db, "UPDATE recipients SET dsn_action='' WHERE row=? AND dsn_action=?");
    for (const auto& [row, action] : rows) {
      s.reset();
      s.bind(1, row).bind(2, action).run();
    }
    txn.commit();
    return {};
  });
}

Result<std::vector<std::string>> QueueStore::purge_finished() {
  return impl_->guarded([&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(impl_->db_mu);
      sqlite::CheckedTransaction txn(*impl_->db);
      Stmt s(*impl_->db,
             "SELECT id FROM messages m WHERE NOT EXISTS (SELECT 1 FROM recipients r WHERE "
             "r.message_id=m.id AND (r.state IN ('pending','deferred') OR r.dsn_action != ''))");
      while (s.step()) ids.push_back(s.text(0));
      for (const auto& id : ids) impl_->remove_locked(id);
      txn.commit();
    }
    // Rows first, then files: a crash in between leaves a file without rows, which open()
    // removes. (The other order could leave rows pointing at nothing.)
    for (const auto& id : ids) ::unlink(impl_->file_path(id).c_str());
    return ids;
  });
}

Result<int> QueueStore::flush(const std::optional<std::string>& id, int64_t now) {
  return impl_->guarded([&]() -> Result<int> {
    std::lock_guard lock(impl_->db_mu);
    sqlite::CheckedTransaction txn(*impl_->db);
    int n = 0;
    if (id) {
      Stmt e(*impl_->db, "SELECT 1 FROM messages WHERE id=?");
      e.bind(1, *id);
      if (!e.step()) return make_error(Errc::not_found, "queue: no message " + *id);
      Stmt s(*impl_->db,
             "UPDATE recipients SET next_attempt=? WHERE message_id=? AND state IN "
             "('pending','deferred')");
      s.bind(1, now).bind(2, *id).run();
      n = static_cast<int>(impl_->db->changes());
    } else {
      Stmt s(*impl_->db,
             "UPDATE recipients SET next_attempt=? WHERE state IN ('pending','deferred')");
      s.bind(1, now).run();
      n = static_cast<int>(impl_->db->changes());
    }
    txn.commit();
    return n;
  });
}

Status QueueStore::remove(const std::string& id) {
  return impl_->guarded([&]() -> Status {
    {
      std::lock_guard lock(impl_->db_mu);
      sqlite::CheckedTransaction txn(*impl_->db);
      Stmt e(*impl_->db, "SELECT 1 FROM messages WHERE id=?");
      e.bind(1, id);
      if (!e.step()) return make_error(Errc::not_found, "queue: no message " + id);
      impl_->remove_locked(id);
      txn.commit();
    }
    ::unlink(impl_->file_path(id).c_str());
    return {};
  });
}

Result<int> QueueStore::fail_all(const std::string& id, const std::string& reply, int64_t now) {
  return impl_->guarded([&]() -> Result<int> {
    std::lock_guard lock(impl_->db_mu);
    sqlite::CheckedTransaction txn(*impl_->db);
    Stmt e(*impl_->db, "SELECT 1 FROM messages WHERE id=?");
    e.bind(1, id);
    if (!e.step()) return make_error(Errc::not_found, "queue: no message " + id);
    Stmt s(*impl_->db,
           "UPDATE recipients SET state='failed', dsn_action='failed', last_reply=?, "
           "remote_mta='', last_attempt=? WHERE message_id=? AND state IN ('pending','deferred')");
    s.bind(1, reply).bind(2, now).bind(3, id).run();
    int n = static_cast<int>(impl_->db->changes());
    txn.commit();
    return n;
  });
}

QueueStats QueueStore::stats() const {
  std::lock_guard lock(impl_->gc_mu);
  return impl_->stats;
}

}  // namespace tern::relay
