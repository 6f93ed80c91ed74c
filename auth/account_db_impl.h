// Private to auth/: the AccountDb internals shared by account_db.cpp and resolve.cpp.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "auth/verified_cache.h"
#include "sqlite/sqlite.h"

namespace tern::auth {

class AccountDb::Impl {
 public:
  Impl(std::string path, Options options)
      : path_(std::move(path)),
        options_(options),
        cache_(options.verified_cache_ttl.count() > 0
                   ? std::make_unique<VerifiedCache>(options.verified_cache_ttl,
                                                     options.verified_cache_entries, options.clock)
                   : nullptr) {}
  ~Impl();

  // A connection for the calling thread: one from the idle pool, or a new one. It keeps
  // its prepared statements (sqlite::Connection) while idle; every sqlite::Stmt made on it must
  // end before the lease does (they are locals declared after it).
  class Lease {
   public:
    Lease(Impl* impl, std::unique_ptr<sqlite::Connection> conn) : impl_(impl), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept = default;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (conn_) impl_->release(std::move(conn_));
    }
    sqlite::Connection& conn() const { return *conn_; }

   private:
    Impl* impl_;
    std::unique_ptr<sqlite::Connection> conn_;
  };

  Result<Lease> acquire();
  Status init_schema();

  const Options& options() const { return options_; }
  // Verified against for unknown users (same cost as real hashes). Made on first use, so
  // short-lived users of the database (ternctl) do not pay for it.
  const std::string& dummy_hash();
  VerifiedCache* cache() { return cache_.get(); }  // null when off
  // argon2id verification, counted (password_hashes_verified()).
  bool verify(const std::string& hash, std::string_view password);
  uint64_t verifications() const { return verifications_.load(std::memory_order_relaxed); }

 private:
  void release(std::unique_ptr<sqlite::Connection> conn);
  Result<std::unique_ptr<sqlite::Connection>> open_connection();

  std::string path_;
  Options options_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;
  std::unique_ptr<VerifiedCache> cache_;
  std::atomic<uint64_t> verifications_{0};
  std::mutex mu_;
  std::vector<std::unique_ptr<sqlite::Connection>> idle_;
};

// Row lookups on one connection (canonical inputs).
struct UserRow {
  std::string password;
  uint64_t quota = 0;
  bool enabled = true;
  int64_t created = 0;
  std::string scram;  // ScramKeys::serialize(), "" when not made yet
};
Result<std::optional<UserRow>> query_user(sqlite::Connection& db, const std::string& address);
Result<bool> query_domain(sqlite::Connection& db, const std::string& domain);
Result<std::vector<std::string>> query_alias(sqlite::Connection& db, const std::string& alias);

}  // namespace tern::auth
