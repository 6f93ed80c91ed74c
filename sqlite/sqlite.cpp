#include "sqlite/sqlite.h"

namespace tern::sqlite {

Error to_error(int rc, std::string_view label, std::string_view what, sqlite3* db) {
  std::string text = std::string(label) + ": " + std::string(what) + ": " +
                     (db && sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {  // the primary code of an extended one
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      // After the busy timeout: another connection holds the lock; try again later.
      return make_error(Errc::temporary, std::move(text), Cause::busy);
    case SQLITE_FULL:
      // The file system is full (or the database at its size limit): temporary, and the
      // store frees its reserve on it.
      return make_error(Errc::temporary, std::move(text), Cause::no_space);
    case SQLITE_IOERR:
      return make_error(Errc::internal, std::move(text), Cause::io);
    case SQLITE_CONSTRAINT: {
      // Only a key that is already taken means "exists"; NOT NULL or CHECK failures are bugs.
      int ext = db ? sqlite3_extended_errcode(db) : rc;
      if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        return make_error(Errc::exists, std::move(text));
      return make_error(Errc::internal, std::move(text));
    }
    default:
      return make_error(Errc::internal, std::move(text));
  }
}

// ---- Connection ------------------------------------------------------------------------------

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, const OpenOptions& options) {
  // Once per process, before SQLite initialises (the first open is on the main thread at
  // startup): without memory statistics SQLite's allocator takes no global mutex. With them,
  // every allocation of every connection serialised on one lock across the worker threads.
  // Later calls return SQLITE_MISUSE and change nothing.
  static const int no_memstatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)no_memstatus;
  std::string label = options.label;
  if (label.empty()) label = path.substr(path.rfind('/') + 1);
  int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  flags |= options.serialized ? SQLITE_OPEN_FULLMUTEX : SQLITE_OPEN_NOMUTEX;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = to_error(rc, label, "open " + path, db);
    sqlite3_close_v2(db);
    return e;
  }
  std::unique_ptr<Connection> conn(new Connection(db, std::move(label)));
  conn->set_busy_timeout(options.busy_timeout_ms);
  if (options.wal_full_sync && !options.read_only) {
    if (Status s = conn->try_exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"); !s) return s.error();
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, e] : cache_) sqlite3_finalize(e.stmt);
  sqlite3_close_v2(db_);
}

Status Connection::try_exec(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec wants a terminated string
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg);
  sqlite3_free(msg);  // the same text as sqlite3_errmsg, which to_error reads
  if (rc == SQLITE_OK) return {};
  return error(rc, "exec");
}

Stmt Connection::prepare(std::string_view sql) { return Stmt(*this, sql); }

Status Connection::try_checkpoint_truncate() {
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc == SQLITE_OK) return {};
  return error(rc, "checkpoint");
}

int Connection::borrow(std::string_view sql, sqlite3_stmt** out, Entry** entry) {
  *entry = nullptr;
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.busy) {
    it->second.busy = true;
    *out = it->second.stmt;
    *entry = &it->second;
    return SQLITE_OK;
  }
  // PERSISTENT: cached statements live as long as the connection.
  const unsigned flags = it == cache_.end() ? SQLITE_PREPARE_PERSISTENT : 0;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, out, nullptr);
  if (rc != SQLITE_OK || it != cache_.end()) return rc;  // nested use: a private statement
  auto [added, ok] = cache_.emplace(std::string(sql), Entry{*out, true});
  *entry = &added->second;
  return SQLITE_OK;
}

// ---- Stmt ------------------------------------------------------------------------------------

Stmt::Stmt(Connection& conn, std::string_view sql) : conn_(&conn) {
  rc_ = conn.borrow(sql, &stmt_, &entry_);
  if (rc_ != SQLITE_OK) failed_ = "prepare";
}

Stmt::Stmt(Stmt&& o) noexcept
    : conn_(o.conn_), stmt_(o.stmt_), entry_(o.entry_), rc_(o.rc_), failed_(o.failed_), next_(o.next_) {
  o.stmt_ = nullptr;
  o.entry_ = nullptr;
}

Stmt::~Stmt() {
  if (!stmt_) return;
  if (entry_) {
    reset();
    entry_->busy = false;
  } else {
    sqlite3_finalize(stmt_);
  }
}

void Stmt::reset() {
  // sqlite3_reset also ends the statement's implicit read transaction when it was not
  // stepped to SQLITE_DONE.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  next_ = 1;
}

Stmt& Stmt::bind(int index, int64_t v) {
  next_ = index + 1;
  if (rc_ == SQLITE_OK && (rc_ = sqlite3_bind_int64(stmt_, index, v)) != SQLITE_OK) failed_ = "bind";
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view v) {
  next_ = index + 1;
  if (rc_ == SQLITE_OK &&
      (rc_ = sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8)) != SQLITE_OK)
    failed_ = "bind";
  return *this;
}

Stmt& Stmt::bind_null() {
  int index = next_++;
  if (rc_ == SQLITE_OK && (rc_ = sqlite3_bind_null(stmt_, index)) != SQLITE_OK) failed_ = "bind";
  return *this;
}

Stmt& Stmt::bind_blob_static(std::string_view v) {
  int index = next_++;
  // A null pointer would bind NULL, not an empty blob.
  const void* p = v.data() ? static_cast<const void*>(v.data()) : "";
  if (rc_ == SQLITE_OK && (rc_ = sqlite3_bind_blob64(stmt_, index, p, v.size(), SQLITE_STATIC)) != SQLITE_OK)
    failed_ = "bind";
  return *this;
}

Result<bool> Stmt::try_step(std::string_view what) {
  if (rc_ != SQLITE_OK) return conn_->error(rc_, std::string(what) + ": " + failed_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error e = conn_->error(rc, what);
  sqlite3_reset(stmt_);
  return e;
}

Status Stmt::try_run(std::string_view what) {
  for (;;) {
    auto r = try_step(what);
    if (!r) return r.error();
    if (!*r) return {};
  }
}

std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string Stmt::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  if (!p) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

// ---- Transaction -----------------------------------------------------------------------------

Transaction::Transaction(Connection& conn, Mode mode) : conn_(conn) {
  auto st = conn.prepare(mode == Mode::immediate ? "BEGIN IMMEDIATE" : "BEGIN");
  begun_ = st.try_run("begin");
}

Transaction::~Transaction() {
  // ROLLBACK fails only when SQLite has already rolled back (after SQLITE_FULL, for one).
  if (begun_.ok() && !done_ && conn_.in_transaction()) (void)conn_.prepare("ROLLBACK").try_run();
}

Status Transaction::try_commit() {
  done_ = true;
  Status s = conn_.prepare("COMMIT").try_run("commit");
  // A COMMIT that could not write its WAL frames may leave the transaction open: end it.
  if (!s.ok() && conn_.in_transaction()) (void)conn_.prepare("ROLLBACK").try_run();
  return s;
}

}  // namespace tern::sqlite
