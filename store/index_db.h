// Private to store/: a thin RAII layer over one SQLite connection (cached prepared
// statements, transactions) and the index schema. Failures throw detail::StoreError, which
// the public Store functions convert to a Status; nothing here is visible outside store/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::store::detail {

struct StoreError : std::runtime_error {
  StoreError(Errc c, const std::string& m, bool full = false)
      : std::runtime_error(m), code(c), no_space(full) {}
  Errc code;
  bool no_space;  // the file system was full (ENOSPC, EDQUOT, SQLITE_FULL): see free_space.h
};
// Whether an error from FileOps or SQLite says the file system is full.
bool is_no_space(const Error& e);
[[noreturn]] inline void fail(Errc code, const std::string& message) { throw StoreError(code, message); }
// Unwraps a Status/Result from helpers that return values (names, FileOps).
inline void check(const Status& s) {
  if (!s.ok()) throw StoreError(s.error().code, s.error().message, is_no_space(s.error()));
}
template <class T>
T check(Result<T> r) {
  if (!r.ok()) throw StoreError(r.error().code, r.error().message, is_no_space(r.error()));
  return std::move(r).value();
}

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int64_t v);
  Stmt& bind(std::string_view v);
  Stmt& bind(const char* v) { return bind(std::string_view(v)); }
  Stmt& bind(const std::string& v) { return bind(std::string_view(v)); }
  Stmt& bind_null();
  // Bound without a copy: `v` must stay valid until the statement has run.
  Stmt& bind_blob_static(std::string_view v);
  // true while there is a row; throws on error.
  bool step();
  void run() { while (step()) {} }
  int64_t step_value() { return step() ? i64(0) : 0; }  // the first column of the first row
  int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text(int col) const;
  std::string blob(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
  int next_ = 1;
};

class Db {
 public:
  Db() = default;
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens or creates the file, sets WAL, synchronous=FULL, busy_timeout and the schema.
  void open(const std::string& path);
  // A second, read-only connection to an index open() has set up (WAL: it reads the last
  // commit while the first connection writes).
  void open_reader(const std::string& path);
  void exec(const char* sql);
  Stmt prepare(const char* sql);  // `sql` must be a string literal (cache key)
  int64_t changes() const { return sqlite3_changes(db_); }
  // Idle upkeep (issue 20): returns the pages freed since the last call to the file system
  // (auto_vacuum=INCREMENTAL) and checkpoints the WAL, truncating it to zero bytes when no
  // reader is in the way (else it stays as it is until the next call). Waits at most
  // `busy_ms` for other connections.
  void compact(int busy_ms);
  // An index made before auto_vacuum=INCREMENTAL: rebuilt once with it (VACUUM), so that
  // compact() can give freed pages back. Logs and goes on when that fails (a full disk).
  void enable_auto_vacuum();

 private:
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed (exception unwinding).
class Txn {
 public:
  explicit Txn(Db& db);
  ~Txn();
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace tern::store::detail
