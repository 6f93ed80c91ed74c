// Private to store/: the index database (schema, migrations, upkeep) over sqlite/. Inside the
// store failures are thrown as tern::Failure (the store's own through fail() and check(),
// SQLite's from sqlite/), and the public Store functions convert them to a Status (guarded()
// in store_impl.h); nothing here is visible outside store/.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sqlite/sqlite.h"

// SQL for a new RFC 8474 object id (MAILBOXID "F...", EMAILID "M..."): the prefix and 24
// random hex digits (96 bits: never given twice), within the RFC's 1*255 [A-Za-z0-9_-].
#define TERN_NEW_OBJECT_ID(prefix) "('" prefix "' || lower(hex(randomblob(12))))"

namespace tern::store::detail {

// Whether an error from FileOps or SQLite says the file system is full (ENOSPC, EDQUOT,
// SQLITE_FULL): see free_space.h.
inline bool is_no_space(const Error& e) { return e.cause == Cause::no_space; }
[[noreturn]] inline void fail(Errc code, const std::string& message) {
  throw Failure(make_error(code, message));
}
// Unwraps a Status/Result from helpers that return values (names, FileOps).
using tern::check;

using sqlite::Stmt;

// index.db: one connection (sqlite/ for statements, transactions and errors) with the
// index's schema, migrations and upkeep. Failures throw (tern::Failure).
class Db {
 public:
  // Opens or creates the file, sets WAL, synchronous=FULL, busy_timeout and the schema.
  void open(const std::string& path);
  // A second, read-only connection to an index open() has set up (WAL: it reads the last
  // commit while the first connection writes).
  void open_reader(const std::string& path);
  sqlite::Connection& conn() { return *conn_; }
  void exec(const char* sql) { conn_->exec(sql); }
  Stmt prepare(std::string_view sql) { return conn_->prepare(sql); }
  int64_t changes() const { return conn_->changes(); }
  // Idle upkeep (issue 20): returns the pages freed since the last call to the file system
  // (auto_vacuum=INCREMENTAL) and checkpoints the WAL, truncating it to zero bytes when no
  // reader is in the way (else it stays as it is until the next call). Waits at most
  // `busy_ms` for other connections.
  // `room_for(n)`: whether the disk has n bytes for index.db to grow by; no checkpoint if not.
  void compact(int busy_ms, const std::function<bool(uint64_t)>& room_for);
  // The checkpoint of compact() alone (no vacuum, which writes): the WAL cut to zero bytes,
  // or the failure (busy included, as then nothing was given back).
  Status checkpoint_truncate(int busy_ms);
  // Bytes the next checkpoint adds to index.db: the database's size as the last commit left
  // it (in the WAL) beyond the file's size. A checkpoint that finds no room for them fails
  // part way, having taken whatever was free (issue 20).
  uint64_t checkpoint_growth_bytes();
  // An index made before auto_vacuum=INCREMENTAL: rebuilt once with it (VACUUM), so that
  // compact() can give freed pages back. Logs and goes on when that fails (a full disk).
  void enable_auto_vacuum();
  // Schema migration: adds `column` (ALTER TABLE ... ADD COLUMN column type) to an index made
  // before it existed, then runs fill_sql (may be null) in the same transaction.
  void add_column_if_missing(const char* table, const char* column, const char* type,
                             const char* fill_sql);

 private:
  bool has_column(const char* table, const char* column);
  // Runs `apply` in one write transaction when `needed()`, asked again inside it (another
  // process, ternctl, may be migrating the same file at once).
  void migrate_if(const std::function<bool()>& needed, const std::function<void()>& apply);

  std::unique_ptr<sqlite::Connection> conn_;
  std::string path_;
};

// Sets the ENVELOPE/BODYSTRUCTURE source of message (mailbox_id, uid) in message_metadata; an
// empty `data` removes it. The caller knows the message exists (it has just written its row,
// or looked).
void put_metadata(Db& db, int64_t mailbox_id, uint32_t uid, std::string_view data);

// For its lifetime, commits on `db` do not sync the WAL (synchronous=NORMAL, set back to FULL
// on destruction). Must outlive the transaction it covers. WAL frames are appended in order,
// so the next FULL commit's sync makes these durable too (SQLite's WAL: a sync covers the
// whole file up to the commit being synced).
class RelaxedSync {
 public:
  explicit RelaxedSync(Db& db);
  ~RelaxedSync();
  RelaxedSync(const RelaxedSync&) = delete;
  RelaxedSync& operator=(const RelaxedSync&) = delete;

 private:
  Db& db_;
};

// BEGIN IMMEDIATE ... COMMIT on the index, rolled back if not committed (exception unwinding).
class Txn : public sqlite::CheckedTransaction {
 public:
  explicit Txn(Db& db) : CheckedTransaction(db.conn()) {}
};

}  // namespace tern::store::detail
