// Private to auth/: thin RAII wrappers over the SQLite C API, errors as tern::Error.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

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

class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
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
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
  int last_ = SQLITE_OK;
};

// BEGIN IMMEDIATE takes the write lock up front, so a writer waits in busy_timeout instead of
// failing with SQLITE_BUSY when upgrading a read transaction. Rolls back unless committed.
class WriteTxn {
 public:
  explicit WriteTxn(sqlite3* db) : db_(db) { status_ = exec(db, "BEGIN IMMEDIATE"); }
  ~WriteTxn() {
    if (status_.ok() && !done_) (void)exec(db_, "ROLLBACK");
  }
  const Status& begun() const { return status_; }
  Status commit() {
    done_ = true;
    Status s = exec(db_, "COMMIT");
    if (!s.ok()) (void)exec(db_, "ROLLBACK");
    return s;
  }

 private:
  sqlite3* db_;
  Status status_;
  bool done_ = false;
};

}  // namespace tern::auth::sql
