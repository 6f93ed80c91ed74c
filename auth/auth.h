// auth/: accounts, password verification, brute-force throttling, recipient resolution and
// SASL decoding (auth/sasl.h).
//
// Implementation notes
// - Owns data_dir/accounts.db (SQLite, WAL, busy_timeout 5 s). Tables: domains(name),
//   users(address, domain, password, quota, enabled, created), aliases(alias, target).
//   ternd and ternctl open it at the same time; there are no data caches, every call reads
//   the database, so changes made by ternctl take effect in ternd at once (the verified-
//   credential cache holds no account data: it only remembers which password matched which
//   stored hash).
// - Each pooled connection keeps its prepared statements (sqlite/sqlite.h's statement cache),
//   keyed by SQL text: a lookup compiles no SQL after the first. A borrowed statement is
//   reset and its bindings cleared when its scope ends (no read transaction outlives a
//   call); SQLite re-prepares it after a schema change; closing a connection finalizes them
//   all.
// - Canonical forms: domains are ASCII lower-case; addresses are "local@domain" with BOTH
//   parts lower-cased (we treat local parts case-insensitively, which is what users expect,
//   although RFC 5321 §2.4 allows case-sensitive ones). User and alias local parts may not
//   contain '+', which is the sub-address separator ("bob+lists@d" reaches "bob@d"), nor
//   quotes, spaces or control characters. A catch-all alias is written "@domain".
// - Passwords: argon2id via libsodium crypto_pwhash_str (INTERACTIVE limits unless the
//   options ask for the minimum, for tests), or a hash imported from another system
//   (auth/password_schemes.h) until the user's first successful login rehashes it. The user's row is read on every check; only the
//   argon2id step may be skipped, by the verified-credential cache (auth/verified_cache.h),
//   whose entries carry the stored hash they were verified against. Unknown users are verified against a dummy hash
//   so the answer time does not reveal which users exist. Hashes are upgraded on login when
//   crypto_pwhash_str_needs_rehash says so. Passwords are never logged.
// - Delivery policy for disabled users: a disabled user cannot log in AND receives no mail
//   (RCPT gets "unknown user"; the catch-all does not swallow the address either). Aliases
//   pointing at a disabled user skip that user.
// - Threading: AccountDb, Throttle and Authenticator are thread-safe. AccountDb and
//   Authenticator block (SQLite, argon2id): call them from worker threads or ternctl only.
//   AccountDb keeps a small pool of connections, one per concurrent caller.
// - Errors are values: Errc::syntax (malformed address), not_found (no such domain/user, or
//   the domain is not local), exists (duplicate), refused (e.g. removing a domain in use),
//   temporary (database busy beyond the timeout), internal (I/O, corruption).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/sasl.h"
#include "auth/scram.h"
#include "common/config.h"
#include "common/result.h"

namespace tern::auth {

// "Bob@Example.TEST" -> "bob@example.test"; nullopt if not a usable mailbox address.
std::optional<std::string> canonical_address(std::string_view address);
// "Example.TEST." is refused; "Example.TEST" -> "example.test"; nullopt if not a host name.
std::optional<std::string> canonical_domain(std::string_view domain);

enum class HashCost {
  interactive,  // crypto_pwhash_OPSLIMIT/MEMLIMIT_INTERACTIVE: production
  minimum,      // crypto_pwhash_OPSLIMIT/MEMLIMIT_MIN: unit tests only
};

struct UserInfo {
  std::string address;  // canonical
  uint64_t quota = 0;   // bytes, 0 = unlimited
  bool enabled = true;
  int64_t created = 0;  // unix seconds
};

struct AliasInfo {
  std::string alias;  // canonical; "@domain" for a catch-all
  std::vector<std::string> targets;  // canonical, sorted
};

struct Recipient {
  enum class Kind { local, not_local_domain, unknown_user };
  Kind kind = Kind::unknown_user;
  std::vector<std::string> local_users;  // canonical, de-duplicated, in discovery order
  std::vector<uint64_t> local_quotas;    // each local user's quota (bytes, 0 = none), read
                                         // in the same snapshot as the resolution
  std::vector<std::string> forwards;     // external addresses, de-duplicated
};
const char* to_string(Recipient::Kind kind);

enum class PasswordCheck { ok, bad_password, unknown_user, disabled };

struct PasswordCheckResult {
  PasswordCheck outcome = PasswordCheck::bad_password;
  std::string user;  // canonical form of the name tried (even when unknown)
};

class AccountDb {
 public:
  struct Options {
    HashCost cost = HashCost::interactive;
    int busy_timeout_ms = 5000;
    // RFC 5321 §4.5.1: mail to postmaster at every domain we serve, and at our own hostname,
    // must be accepted. When a domain defines no postmaster user or alias, resolve_recipient
    // sends it to this address (empty: not accepted, and ternd warns at start).
    std::string postmaster;
    std::string hostname;
    // Verified-credential cache (auth/verified_cache.h): a password verified less than this
    // long ago for the same user and stored hash skips argon2id. 0 = off (ternctl, tests).
    std::chrono::seconds verified_cache_ttl{0};
    size_t verified_cache_entries = 10000;
    std::function<std::chrono::steady_clock::time_point()> clock;  // tests; default steady_clock
  };

  // Opens (creating if missing) the database file and its schema. The directory must exist.
  static Result<std::unique_ptr<AccountDb>> open(const std::string& db_path, Options options);
  static Result<std::unique_ptr<AccountDb>> open(const std::string& db_path) {
    return open(db_path, Options{});
  }
  ~AccountDb();
  AccountDb(const AccountDb&) = delete;
  AccountDb& operator=(const AccountDb&) = delete;

  // Domains.
  Status add_domain(std::string_view domain);
  Status remove_domain(std::string_view domain);  // refused while users or aliases use it
  Result<std::vector<std::string>> list_domains();
  Result<bool> is_local_domain(std::string_view domain);

  // Users. The domain must already be local (else not_found). Empty passwords are refused.
  Status add_user(std::string_view address, std::string_view password, uint64_t quota);
  Status set_password(std::string_view address, std::string_view password);
  // A user whose password is a hash made elsewhere ("{SHA512-CRYPT}$6$...", a bare crypt(3)
  // string; auth/password_schemes.h): refused (Errc::refused) for weak schemes, syntax for
  // unknown or malformed ones. The user has no SCRAM keys until the first PLAIN/LOGIN login,
  // which also replaces the hash by argon2id.
  Status add_user_with_hash(std::string_view address, std::string_view hash, uint64_t quota);
  Status set_password_hash(std::string_view address, std::string_view hash);
  Status remove_user(std::string_view address);
  Result<std::vector<UserInfo>> list_users();
  Result<std::optional<UserInfo>> find_user(std::string_view address);
  Status set_quota(std::string_view address, uint64_t quota);
  Status set_enabled(std::string_view address, bool enabled);
  Result<uint64_t> quota_of(std::string_view user);  // not_found for unknown users
  // Per-user settings: "key" -> text, for features that let a user differ from ternd.toml
  // (spam.junk_threshold, ...). The caller validates values. An empty value removes the key.
  // not_found for unknown users (set only; reading an unknown user gives no settings).
  Status set_user_setting(std::string_view user, std::string_view key, std::string_view value);
  Result<std::map<std::string, std::string>> user_settings(std::string_view user);

  // Aliases. alias is "local@domain" or "@domain" (catch-all) in a local domain; targets are
  // addresses (local users, other aliases or external). A name cannot be both user and alias.
  Status add_alias(std::string_view alias, const std::vector<std::string>& targets);
  Status remove_alias(std::string_view alias);
  Result<std::vector<AliasInfo>> list_aliases();

  // Constant-time password check; see PasswordCheck. Upgrades outdated hashes on success.
  // Unknown users are checked against a dummy hash made on first need; warm_up() makes it
  // now (the Authenticator constructor calls it) so the first unknown user is not slower.
  void warm_up();
  Result<PasswordCheckResult> check_password(std::string_view user, std::string_view password);
  // SCRAM-SHA-256 (auth/scram.h): the user's stored keys, made whenever a password is set and
  // on the first PLAIN/LOGIN success of a user from before them. nullopt: unknown user or no
  // keys yet. check_proof: the outcome of a SCRAM exchange that `proof_valid` or not, with the
  // account's state (unknown, disabled) as check_password reports it.
  Result<std::optional<ScramKeys>> scram_keys(std::string_view user);
  Result<PasswordCheckResult> check_proof(std::string_view user, bool proof_valid);
  // How many argon2id verifications check_password has run (dummy hashes included): lets
  // tests see a cache hit without timing, and could feed stats.
  uint64_t password_hashes_verified() const;

  // SMTP RCPT: where does mail for `address` go? (syntax error for malformed addresses)
  // Order: exact user; exact alias; sub-address (local+tag -> local as user, then alias);
  // catch-all "@domain". Alias targets expand recursively (depth limit kMaxAliasDepth,
  // loops are cut). unknown_user when nothing local or external results.
  Result<Recipient> resolve_recipient(std::string_view address);

  // Submission MAIL FROM check: may `user` send as `address`? True for the user's address,
  // its +tag forms, and aliases (exact, or +tag of them) whose expansion reaches the user.
  // A catch-all never grants ownership.
  Result<bool> owns_address(std::string_view user, std::string_view address);

  static constexpr int kMaxAliasDepth = 10;

  class Impl;

 private:
  explicit AccountDb(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// In-memory brute-force throttle (per client IP and per account name). Thread-safe.
// IPv6 clients are counted per /64, since one host usually owns a whole /64.
class Throttle {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  struct Decision {
    bool locked_out = false;            // refuse without checking the password
    std::chrono::milliseconds delay{0};  // wait this long before answering (any answer)
  };

  explicit Throttle(const AuthConfig& config, Clock clock = {}, size_t max_entries = 100000);

  // Before verifying: is this attempt allowed, and how long must the answer be delayed?
  // The delay applies to success and failure alike, so an early answer reveals nothing.
  Decision check(std::string_view ip, std::string_view account);
  void record_failure(std::string_view ip, std::string_view account);
  // Resets the account's counter (not the IP's: one good account must not whitewash an IP).
  void record_success(std::string_view ip, std::string_view account);

  size_t tracked_entries() const;  // for tests and stats

 private:
  struct Entry {
    int failures = 0;
    std::chrono::steady_clock::time_point window_start{};
    std::chrono::steady_clock::time_point locked_until{};
    std::chrono::steady_clock::time_point last_seen{};
  };
  using Table = std::unordered_map<std::string, Entry>;

  std::chrono::steady_clock::time_point now() const;
  void refresh(Entry& e, std::chrono::steady_clock::time_point now) const;
  void fail_one(Table& table, const std::string& key, int max_failures,
                std::chrono::steady_clock::time_point now);
  void make_room(Table& table, std::chrono::steady_clock::time_point now);

  AuthConfig config_;
  Clock clock_;
  size_t max_entries_;
  mutable std::mutex mu_;
  Table by_ip_;
  Table by_account_;
};

// IPv4 as is; IPv6 reduced to its /64 ("2001:db8:1:2::/64"); anything else as given.
std::string throttle_ip_key(std::string_view ip);

struct LoginResult {
  enum class Outcome {
    ok,
    bad_credentials,  // unknown user or wrong password (indistinguishable to the client)
    locked_out,       // too many failures: refused even with the right password
    disabled,         // right password, account disabled
    unavailable,      // database error: answer with a temporary failure
    // Right password, but this user already holds the allowed connections from this client
    // address (set by the daemon's per-user limit, never by the Authenticator).
    too_many_connections,
  };
  Outcome outcome = Outcome::bad_credentials;
  std::string user;  // canonical name (valid when ok)
  std::chrono::milliseconds delay{0};  // the caller waits this long before answering
};
const char* to_string(LoginResult::Outcome outcome);

// AccountDb + Throttle, with one greppable log line per attempt:
//   auth ok proto=imap user=bob@example.test ip=192.0.2.1
//   auth fail proto=smtp user=bob@example.test ip=192.0.2.1 reason=bad-password
// reason is one of bad-password, unknown-user, disabled, locked-out, error.
class Authenticator {
 public:
  Authenticator(AccountDb& db, const AuthConfig& config, Throttle::Clock clock = {});
  LoginResult login(std::string_view user, std::string_view password, std::string_view client_ip,
                    std::string_view protocol);
  // SCRAM: the keys to run the exchange with (fake ones, stable per user for this process,
  // when the user is unknown or has none: the exchange then fails at the proof, and nobody
  // learns who exists), and the login once the exchange has judged the proof. Both block.
  Result<ScramKeys> scram_keys(std::string_view user);
  LoginResult login_proven(std::string_view user, bool proof_valid, std::string_view client_ip,
                           std::string_view protocol);
  Throttle& throttle() { return throttle_; }
  // Failed logins since start (every "auth fail" log line), for /metrics.
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  template <class Check>
  LoginResult attempt(std::string_view user, std::string_view client_ip, std::string_view protocol, Check check);

  AccountDb& db_;
  Throttle throttle_;
  std::string fake_key_secret_;  // random per process: fake SCRAM keys for unknown users
  std::atomic<uint64_t> failures_{0};
};

}  // namespace tern::auth
