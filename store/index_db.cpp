#include "store/index_db.h"

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace tern::store::detail {
namespace {

// Mailboxes are per user; messages keep their system flags as a bitmask and keywords as a
// space-separated list; expunged remembers (uid, modseq) for QRESYNC VANISHED (RFC 7162 §3.2.5);
// staged holds the bytes of recent deliveries whose files are not yet known durable (store.h).
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users(address TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mailboxes(
  id INTEGER PRIMARY KEY,
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL,
  highestmodseq INTEGER NOT NULL,
  special_use TEXT NOT NULL DEFAULT '',
  bytes INTEGER NOT NULL DEFAULT 0,
  UNIQUE(user, name));
CREATE TABLE IF NOT EXISTS messages(
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  file TEXT NOT NULL,
  size INTEGER NOT NULL,
  internal_date INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  keywords TEXT NOT NULL DEFAULT '',
  modseq INTEGER NOT NULL,
  cached_metadata TEXT,
  PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_modseq ON messages(mailbox_id, modseq);
CREATE TABLE IF NOT EXISTS expunged(
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged(mailbox_id, modseq);
CREATE TABLE IF NOT EXISTS staged(
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY(mailbox_id, uid));
-- A staged body goes with its message: no later message can inherit it (mailbox ids and so
-- keys may be reused after a mailbox is deleted).
CREATE TRIGGER IF NOT EXISTS messages_staged_delete AFTER DELETE ON messages BEGIN
  DELETE FROM staged WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;
CREATE TABLE IF NOT EXISTS subscriptions(
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY(user, name)) WITHOUT ROWID;
)sql";

// mailboxes.bytes = SUM(messages.size) of the mailbox, kept by the database itself on every
// insert, delete and update of a message row, so a quota check reads one row per folder
// instead of summing every message of the user.
constexpr const char* kBytesTriggers = R"sql(
CREATE TRIGGER IF NOT EXISTS messages_bytes_insert AFTER INSERT ON messages BEGIN
  UPDATE mailboxes SET bytes = bytes + NEW.size WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER IF NOT EXISTS messages_bytes_delete AFTER DELETE ON messages BEGIN
  UPDATE mailboxes SET bytes = bytes - OLD.size WHERE id = OLD.mailbox_id;
END;
CREATE TRIGGER IF NOT EXISTS messages_bytes_update AFTER UPDATE OF size, mailbox_id ON messages BEGIN
  UPDATE mailboxes SET bytes = bytes - OLD.size WHERE id = OLD.mailbox_id;
  UPDATE mailboxes SET bytes = bytes + NEW.size WHERE id = NEW.mailbox_id;
END;
)sql";

[[noreturn]] void fail_sqlite(sqlite3* db, const std::string& what) {
  int rc = sqlite3_errcode(db);
  bool full = rc == SQLITE_FULL;
  Errc code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || full) ? Errc::temporary : Errc::internal;
  throw StoreError(code, what + sqlite3_errmsg(db), full);
}

}  // namespace

bool is_no_space(const Error& e) {
  // FileOps (file_ops.cpp) reports ENOSPC and EDQUOT as temporary with strerror's text;
  // SQLite's SQLITE_FULL reads "database or disk is full".
  if (e.code != Errc::temporary) return false;
  const auto& m = e.message;
  return m.find(std::strerror(ENOSPC)) != std::string::npos ||
         m.find(std::strerror(EDQUOT)) != std::string::npos ||
         m.find("disk is full") != std::string::npos;
}

Stmt::~Stmt() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Stmt& Stmt::bind(int64_t v) {
  if (sqlite3_bind_int64(s_, next_++, v) != SQLITE_OK) fail(Errc::internal, sqlite3_errmsg(db_));
  return *this;
}

Stmt& Stmt::bind(std::string_view v) {
  if (sqlite3_bind_text64(s_, next_++, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK)
    fail(Errc::internal, sqlite3_errmsg(db_));
  return *this;
}

Stmt& Stmt::bind_blob_static(std::string_view v) {
  // A null pointer would bind NULL, not an empty blob.
  const void* p = v.data() ? static_cast<const void*>(v.data()) : "";
  if (sqlite3_bind_blob64(s_, next_++, p, v.size(), SQLITE_STATIC) != SQLITE_OK)
    fail(Errc::internal, sqlite3_errmsg(db_));
  return *this;
}

Stmt& Stmt::bind_null() {
  if (sqlite3_bind_null(s_, next_++) != SQLITE_OK) fail(Errc::internal, sqlite3_errmsg(db_));
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  bool full = rc == SQLITE_FULL;
  Errc code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || full) ? Errc::temporary : Errc::internal;
  std::string msg = std::string("sqlite: ") + sqlite3_errmsg(db_);
  sqlite3_reset(s_);
  throw StoreError(code, msg, full);
}

std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, col)));
}

std::string Stmt::blob(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  if (!p) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, col)));
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  if (db_) sqlite3_close(db_);
}

void Db::open_reader(const std::string& path) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    fail(Errc::internal, "open " + path + " (reader): " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
}

void Db::open(const std::string& path) {
  // Once per process, before SQLite initialises (the first open is on the main thread at
  // startup): without memory statistics SQLite's allocator takes no global mutex. With them,
  // every allocation of every connection serialised on one lock across the worker threads.
  // Later calls return SQLITE_MISUSE and change nothing.
  static const int no_memstatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)no_memstatus;
  int rc = sqlite3_open_v2(path.c_str(), &db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    fail(Errc::internal, "open " + path + ": " + msg);
  }
  // Other processes (ternctl) may hold the write lock briefly: wait rather than fail.
  sqlite3_busy_timeout(db_, 10000);
  // Into a new file only, before the schema exists: the staged copies free about a page per
  // KiB of mail within a sync round, and compact() gives those pages back to the file system
  // instead of leaving index.db at its high-water mark (issue 20: 11 MB of free pages for
  // 82 MB of mail). On an existing index the pragma writes (which failed ternctl's open on a
  // full disk); enable_auto_vacuum() converts an old one.
  if (prepare("PRAGMA page_count").step_value() == 0) exec("PRAGMA auto_vacuum=INCREMENTAL");
  exec("PRAGMA journal_mode=WAL");
  // After a checkpoint that resets the WAL, the next commit truncates it to this size: the
  // WAL's high-water mark under ingest (wal_autocheckpoint below) is not kept for ever.
  exec("PRAGMA journal_size_limit=4194304");
  // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and we
  // answer 250/OK right after COMMIT. Group commit amortises the extra WAL fsync.
  exec("PRAGMA synchronous=FULL");
  // Checkpoint every 8000 WAL pages (32 MiB) instead of SQLite's 1000: staged copies put
  // about a page per message in the WAL, freed again within a sync round, and their pages are
  // reused by the next rounds' copies; a longer interval writes each such page back to
  // index.db once rather than once per round.
  exec("PRAGMA wal_autocheckpoint=8000");
  // Debian builds SQLite with secure_delete on: every freed page is zeroed, through the WAL.
  // Each staged copy's pages are freed within a sync round, so they went through the WAL a
  // second time, as zeros (ingest A/B: FAST faster in 3 of 3 pairs, by about 10 %). FAST still
  // zeroes deleted cells in the b-tree pages a change writes anyway (the metadata rows); the
  // freed overflow pages keep their bytes until reused, as the blocks of an expunged
  // message's file do. accounts.db (auth/) keeps the default.
  exec("PRAGMA secure_delete=FAST");
  exec("PRAGMA foreign_keys=OFF");
  exec(kSchema);
  // An index made before mailboxes.bytes existed: add the column and fill it once.
  auto has_bytes = [this] {
    auto st = prepare("SELECT 1 FROM pragma_table_info('mailboxes') WHERE name = 'bytes'");
    return st.step();
  };
  if (!has_bytes()) {
    Txn txn(*this);  // another process (ternctl) may be migrating too: look again inside
    if (!has_bytes()) {
      exec("ALTER TABLE mailboxes ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0");
      exec("UPDATE mailboxes SET bytes = (SELECT COALESCE(SUM(size), 0) FROM messages "
           "WHERE mailbox_id = mailboxes.id)");
    }
    txn.commit();
  }
  exec(kBytesTriggers);
}

void Db::compact(int busy_ms) {
  sqlite3_busy_timeout(db_, busy_ms);
  std::string vacuum_error;
  try {
    exec("PRAGMA incremental_vacuum");
  } catch (const StoreError& e) {
    vacuum_error = e.what();  // a full disk: the checkpoint below needs no new space
  }
  // TRUNCATE: checkpoint everything, then cut the WAL to zero bytes. SQLITE_BUSY (a reader
  // or ternctl's writer in the way) leaves a partial checkpoint, which is harmless.
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  sqlite3_busy_timeout(db_, 10000);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
    fail_sqlite(db_, "checkpoint: ");
  if (!vacuum_error.empty()) fail(Errc::temporary, "incremental vacuum: " + vacuum_error);
}

void Db::enable_auto_vacuum() {
  {
    auto st = prepare("PRAGMA auto_vacuum");  // reset at the end of this scope: VACUUM
    if (!st.step() || st.i64(0) != 0) return;  // refuses to run beside an open statement
  }
  try {
    exec("PRAGMA auto_vacuum=INCREMENTAL");
    exec("VACUUM");  // rewrites the index once; needs about its size free
  } catch (const StoreError& e) {
    spdlog::warn("store: index.db keeps auto_vacuum off for now ({}); freed pages stay in it",
                 e.what());
  }
}

void Db::exec(const char* sql) {
  char* err = nullptr;
  if (int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    // A COMMIT that could not write its WAL frames (full disk, EIO on the fdatasync) fails
    // here: SQLite has rolled the transaction back, and nothing in it was acknowledged.
    bool full = rc == SQLITE_FULL;
    Errc code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || full) ? Errc::temporary : Errc::internal;
    throw StoreError(code, "sqlite: " + msg, full);
  }
}

Stmt Db::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
      fail(Errc::internal, std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
    it = cache_.emplace(sql, s).first;
  }
  return Stmt(db_, it->second);
}

Txn::Txn(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Txn::~Txn() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // ROLLBACK only fails when SQLite already rolled back (e.g. after SQLITE_FULL).
    }
  }
}

void Txn::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace tern::store::detail
