// Private to auth/: thin RAII wrappers over the SQLite C API, errors as tern::Error.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tern::auth::sql {

inline Error error_from(sqlite3* db, int rc, std::string_view what) {
  // BUSY/LOCKED after busy_timeout: another process holds the write lock; try again later.
  Errc code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? Errc::temporary : Errc::internal;
  return make_error(code, "accounts.db: " + std::string(what) + ": " +
                              (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

inline Status exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  if (rc == SQLITE_OK) return {};
  std::string text = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  Errc code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? Errc::temporary : Errc::internal;
  return make_error(code, "accounts.db: " + text);
}

// One SQLite connection and the statements prepared on it, keyed by their SQL text. A
// connection is used by one thread at a time (AccountDb leases it), so the cache takes no
// lock. Statements come from sqlite3_prepare_v2, which re-prepares a statement by itself
// when the schema changed since (sqlite3_step retries SQLITE_SCHEMA internally), so a cached
// statement never runs against a stale schema. Destruction finalizes every statement, then
// closes the connection.
class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() {
    for (auto& e : cache_) sqlite3_finalize(e.stmt);
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_; }

 private:
  friend class Stmt;
  struct Entry {
    std::string sql;
    sqlite3_stmt* stmt = nullptr;
    bool busy = false;  // borrowed by a live Stmt
  };
  static constexpr size_t kNotCached = SIZE_MAX;

  // Borrows the cached statement for `sql` (preparing and caching it on first use). While it
  // is borrowed, the same text gets a private statement (finalized after use) instead.
  // Returns kNotCached with *out owned by the caller in that case, or on failure.
  size_t borrow(std::string_view sql, sqlite3_stmt** out, int* rc) {
    for (size_t i = 0; i < cache_.size(); ++i) {
      if (cache_[i].sql != sql) continue;
      if (cache_[i].busy) break;  // nested use of the same text: a private statement
      cache_[i].busy = true;
      *out = cache_[i].stmt;
      *rc = SQLITE_OK;
      return i;
    }
    *rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), out, nullptr);
    if (*rc != SQLITE_OK) return kNotCached;
    for (const auto& e : cache_)
      if (e.sql == sql) return kNotCached;
    cache_.push_back(Entry{std::string(sql), *out, true});
    return cache_.size() - 1;
  }
  // sqlite3_reset ends the statement's implicit read transaction even when it was not
  // stepped to SQLITE_DONE; the next borrower starts with no bindings.
  void give_back(size_t slot) {
    sqlite3_stmt* st = cache_[slot].stmt;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    cache_[slot].busy = false;
  }

  sqlite3* db_;
  std::vector<Entry> cache_;
};

// A statement for one use: borrowed from the connection's cache and handed back (reset,
// bindings cleared) when it goes out of scope.
class Stmt {
 public:
  Stmt(Connection& conn, std::string_view sql) : conn_(&conn), db_(conn.get()) {
    slot_ = conn.borrow(sql, &stmt_, &rc_);
  }
  ~Stmt() {
    if (slot_ != Connection::kNotCached) conn_->give_back(slot_);
    else sqlite3_finalize(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK; }
  Error prepare_error() const { return error_from(db_, rc_, "prepare"); }

  Stmt& bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() { return last_ = sqlite3_step(stmt_); }
  Error step_error(std::string_view what) const { return error_from(db_, last_, what); }

  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  Connection* conn_;
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  size_t slot_ = Connection::kNotCached;
  int rc_ = SQLITE_OK;
  int last_ = SQLITE_OK;
};

// Runs one statement without parameters or rows (BEGIN, COMMIT, ...) from the cache.
inline Status run(Connection& conn, std::string_view sql) {
  Stmt st(conn, sql);
  if (!st.prepared()) return st.prepare_error();
  int rc = st.step();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
  return st.step_error(sql);
}

// BEGIN IMMEDIATE takes the write lock up front, so a writer waits in busy_timeout instead of
// failing with SQLITE_BUSY when upgrading a read transaction. Rolls back unless committed.
class WriteTxn {
 public:
  explicit WriteTxn(Connection& conn) : conn_(conn) { status_ = run(conn, "BEGIN IMMEDIATE"); }
  ~WriteTxn() {
    if (status_.ok() && !done_) (void)run(conn_, "ROLLBACK");
  }
  const Status& begun() const { return status_; }
  Status commit() {
    done_ = true;
    Status s = run(conn_, "COMMIT");
    if (!s.ok()) (void)run(conn_, "ROLLBACK");
    return s;
  }

 private:
  Connection& conn_;
  Status status_;
  bool done_ = false;
};

}  // namespace tern::auth::sql
