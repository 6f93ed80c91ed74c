// Private to auth/: the AccountDb internals shared by account_db.cpp and resolve.cpp.
#pragma once

#include <sqlite3.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "auth/sqlite_util.h"

namespace tern::auth {

class AccountDb::Impl {
 public:
  Impl(std::string path, Options options) : path_(std::move(path)), options_(options) {}
  ~Impl();

  // A connection for the calling thread: one from the idle pool, or a new one.
  class Lease {
   public:
    Lease(Impl* impl, sqlite3* db) : impl_(impl), db_(db) {}
    Lease(Lease&& o) noexcept : impl_(o.impl_), db_(o.db_) { o.db_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (db_) impl_->release(db_);
    }
    sqlite3* get() const { return db_; }

   private:
    Impl* impl_;
    sqlite3* db_;
  };

  Result<Lease> acquire();
  Status init_schema();

  const Options& options() const { return options_; }
  // Verified against for unknown users (same cost as real hashes). Made on first use, so
  // short-lived users of the database (ternctl) do not pay for it.
  const std::string& dummy_hash();

 private:
  void release(sqlite3* db);
  Result<sqlite3*> open_connection();

  std::string path_;
  Options options_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;
  std::mutex mu_;
  std::vector<sqlite3*> idle_;
};

// Row lookups on one connection (canonical inputs).
struct UserRow {
  std::string password;
  uint64_t quota = 0;
  bool enabled = true;
  int64_t created = 0;
};
Result<std::optional<UserRow>> query_user(sqlite3* db, const std::string& address);
Result<bool> query_domain(sqlite3* db, const std::string& domain);
Result<std::vector<std::string>> query_alias(sqlite3* db, const std::string& alias);

}  // namespace tern::auth
