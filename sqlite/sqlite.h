// sqlite: the one layer over the SQLite C API that auth/, store/ and relay/ share.
//
// - Connection::open: a connection with the settings every Tern database uses (busy timeout,
//   WAL + synchronous=FULL unless the caller sets its own pragmas), SQLite's global memory
//   statistics switched off once per process.
// - A prepared-statement cache per connection, keyed by SQL text (Stmt borrows from it).
// - Transaction: BEGIN IMMEDIATE (or DEFERRED) ... COMMIT, rolled back unless committed.
// - Errors: every SQLite result code is mapped to a tern::Error by to_error(), the only place
//   that decides it: BUSY/LOCKED -> temporary (Cause::busy), FULL -> temporary
//   (Cause::no_space), IOERR -> internal (Cause::io), a UNIQUE/PRIMARY KEY violation ->
//   exists, anything else -> internal.
//
// Two ways to receive those errors, one convention: the try_* functions return them as
// values; step()/run()/exec()/commit() throw them as tern::Failure (common/result.h), for
// modules whose internals throw and convert at their public functions (store/, relay/).
//
// Threading: a Connection (and its cache) is used by one thread at a time; callers that
// share one hold their own lock.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace tern::sqlite {

// `label` names the database in messages ("accounts.db: ..."); `what` says what failed.
// `db` (may be null) gives SQLite's message for the connection's last error.
Error to_error(int rc, std::string_view label, std::string_view what, sqlite3* db = nullptr);


struct OpenOptions {
  std::string label;               // for messages; defaults to the file name
  bool read_only = false;          // else read-write, created when missing
  // FULLMUTEX instead of NOMUTEX: SQLite locks the connection itself (relay's queue, whose
  // callers also hold a lock, keeps it as it was).
  bool serialized = false;
  int busy_timeout_ms = 10000;     // other processes (ternctl) hold the write lock briefly
  // journal_mode=WAL (readers never block the writer) and synchronous=FULL (WAL with NORMAL
  // may lose the last commits on power loss, and every caller answers right after COMMIT).
  // Off: the caller sets its own pragmas (the store's index orders them differently).
  bool wal_full_sync = true;
};

class Stmt;

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const std::string& path, const OpenOptions& options);
  ~Connection();  // finalizes every cached statement, then closes
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& label() const { return label_; }

  // One or more statements without parameters or rows (pragmas, schema), not cached.
  Status try_exec(std::string_view sql);
  void exec(std::string_view sql) { check(try_exec(sql)); }
  // A statement from the cache (see Stmt).
  Stmt prepare(std::string_view sql);

  // Checkpoints the whole WAL into the database and truncates it to zero bytes. A reader or
  // another process's writer in the way leaves a partial checkpoint: Cause::busy.
  Status try_checkpoint_truncate();

  int64_t changes() const { return sqlite3_changes64(db_); }
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  void set_busy_timeout(int ms) { sqlite3_busy_timeout(db_, ms); }
  Error error(int rc, std::string_view what) const { return to_error(rc, label_, what, db_); }

  size_t cached_statements() const { return cache_.size(); }  // tests

 private:
  friend class Stmt;
  Connection(sqlite3* db, std::string label) : db_(db), label_(std::move(label)) {}

  struct Entry {
    sqlite3_stmt* stmt = nullptr;
    bool busy = false;  // borrowed by a live Stmt
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Borrows the cached statement for `sql`, preparing it on first use. While it is borrowed
  // (nested use of the same text), a private statement is prepared and `*entry` stays null.
  int borrow(std::string_view sql, sqlite3_stmt** out, Entry** entry);

  sqlite3* db_;
  std::string label_;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> cache_;
};

// One use of a statement: borrowed from the connection's cache and handed back (reset, its
// bindings cleared, so it holds no read transaction open) when it goes out of scope. SQLite
// re-prepares a cached statement by itself after a schema change (prepare_v3), so it never
// runs against a stale schema. A failed prepare or bind is reported by the next step.
class Stmt {
 public:
  Stmt(Connection& conn, std::string_view sql);
  ~Stmt();
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters in order (?1, ?2, ...) ...
  Stmt& bind(int64_t v) { return bind(next_, v); }
  Stmt& bind(std::string_view v) { return bind(next_, v); }
  Stmt& bind(const char* v) { return bind(next_, std::string_view(v)); }
  Stmt& bind(const std::string& v) { return bind(next_, std::string_view(v)); }
  Stmt& bind_null();
  // Bound without a copy: `v` must stay valid until the statement has run.
  Stmt& bind_blob_static(std::string_view v);
  // ... or by index (1-based); the next in-order parameter is the one after it.
  Stmt& bind(int index, int64_t v);
  Stmt& bind(int index, std::string_view v);
  Stmt& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
  Stmt& bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }

  // true while there is a row, false when done; an error otherwise (the statement is reset),
  // its message naming `what` failed.
  Result<bool> try_step(std::string_view what = "step");
  Status try_run(std::string_view what = "step");  // steps until done
  bool step() { return check(try_step()); }
  void run() { check(try_run()); }
  int64_t step_value() { return step() ? i64(0) : 0; }  // first column of the first row, or 0
  // Back to before the first step, bindings cleared: the same statement for the next row.
  void reset();

  int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const;
  std::string blob(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  Connection* conn_;
  sqlite3_stmt* stmt_ = nullptr;
  Connection::Entry* entry_ = nullptr;  // null: a private statement, finalized at the end
  int rc_ = SQLITE_OK;                  // first prepare/bind failure, reported by try_step
  const char* failed_ = nullptr;        // what failed
  int next_ = 1;
};

// BEGIN ... COMMIT. IMMEDIATE takes the write lock up front, so a writer waits in the busy
// timeout instead of failing with SQLITE_BUSY when it upgrades a read transaction (another
// process, ternctl, may be writing). Rolled back on destruction unless committed; a COMMIT
// that fails (a full disk, EIO on the WAL's fdatasync) leaves nothing committed.
class Transaction {
 public:
  enum class Mode { immediate, deferred };
  explicit Transaction(Connection& conn, Mode mode = Mode::immediate);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  const Status& begun() const { return begun_; }
  Status try_commit();
  void commit() { check(try_commit()); }

 private:
  Connection& conn_;
  Status begun_;
  bool done_ = false;
};

// As Transaction, for throwing code: the BEGIN's failure is thrown from the constructor.
class CheckedTransaction : public Transaction {
 public:
  explicit CheckedTransaction(Connection& conn, Mode mode = Mode::immediate) : Transaction(conn, mode) {
    check(begun());
  }
};

}  // namespace tern::sqlite
