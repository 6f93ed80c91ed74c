// AccountDb: the SQLite schema, connection pool, and domain/user/alias administration.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <set>

#include "auth/account_db_impl.h"
#include "auth/password.h"
#include "auth/password_schemes.h"
#include "common/strings.h"

namespace tern::auth {

namespace {

constexpr size_t kMaxIdleConnections = 16;
// 2: users.scram (SCRAM-SHA-256 keys, auth/scram.h; "" until the password is next set or
// used in a PLAIN/LOGIN login).
// 3: user_settings (per-user overrides, e.g. spam thresholds); kSchema creates it.
constexpr int kSchemaVersion = 3;

// All names are stored canonical (lower-case), so plain equality is case-insensitive.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS domains(
  name    TEXT PRIMARY KEY,
  created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users(
  address  TEXT PRIMARY KEY,
  domain   TEXT NOT NULL,
  password TEXT NOT NULL,
  quota    INTEGER NOT NULL DEFAULT 0,
  enabled  INTEGER NOT NULL DEFAULT 1,
  created  INTEGER NOT NULL,
  scram    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS users_by_domain ON users(domain);
CREATE TABLE IF NOT EXISTS aliases(
  alias  TEXT NOT NULL,
  domain TEXT NOT NULL,
  target TEXT NOT NULL,
  PRIMARY KEY(alias, target)
);
CREATE INDEX IF NOT EXISTS aliases_by_domain ON aliases(domain);
CREATE TABLE IF NOT EXISTS user_settings(
  address TEXT NOT NULL,
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY(address, key)
);
)sql";

int64_t unix_now() { return static_cast<int64_t>(::time(nullptr)); }

int64_t quota_to_db(uint64_t q) { return q > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(q); }

// Canonical user/alias address, or a syntax error naming the input.
Result<std::string> mailbox_name(std::string_view address, const char* what) {
  auto c = canonical_address(address);
  if (!c) return make_error(Errc::syntax, "bad " + std::string(what) + " address \"" + std::string(address) + "\"");
  // '+' separates sub-address tags, so it cannot be part of a mailbox or alias name.
  std::string_view local(*c);
  local = local.substr(0, local.rfind('@'));
  if (local.find('+') != std::string_view::npos)
    return make_error(Errc::syntax, std::string(what) + " address \"" + std::string(address) +
                                        "\" must not contain '+' (sub-address separator)");
  return *c;
}

std::string domain_of(const std::string& canonical) { return canonical.substr(canonical.rfind('@') + 1); }

Status require_local_domain(sqlite::Connection& db, const std::string& domain) {
  auto local = query_domain(db, domain);
  if (!local) return local.error();
  if (!*local) return make_error(Errc::not_found, domain + " is not a local domain");
  return {};
}

}  // namespace

// ---- Impl: connections -------------------------------------------------------------------

// Each idle connection finalizes its cached statements, then closes.
AccountDb::Impl::~Impl() = default;

Result<std::unique_ptr<sqlite::Connection>> AccountDb::Impl::open_connection() {
  sqlite::OpenOptions o;
  o.label = "accounts.db";
  // NOMUTEX (the default): a connection is used by one thread at a time (leased from the pool).
  // The busy timeout waits for ternd/ternctl holding the write lock instead of failing at once.
  o.busy_timeout_ms = options_.busy_timeout_ms;
  // WAL: readers (ternd workers) never block the writer (ternctl) and vice versa.
  // synchronous=FULL: account changes are rare and must survive a power cut.
  o.wal_full_sync = true;
  return sqlite::Connection::open(path_, o);
}

Result<AccountDb::Impl::Lease> AccountDb::Impl::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<sqlite::Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
  }
  auto conn = open_connection();
  if (!conn) return conn.error();
  return Lease(this, std::move(*conn));
}

const std::string& AccountDb::Impl::dummy_hash() {
  std::call_once(dummy_once_, [this] {
    auto h = hash_password(random_id(24), options_.cost);
    // On failure (out of memory) unknown users are refused faster: a timing leak only on a
    // server that is already failing.
    if (h) dummy_hash_ = std::move(*h);
  });
  return dummy_hash_;
}

bool AccountDb::Impl::verify(const std::string& hash, std::string_view password) {
  verifications_.fetch_add(1, std::memory_order_relaxed);
  return verify_password(hash, password);
}

void AccountDb::Impl::release(std::unique_ptr<sqlite::Connection> conn) {
  // Every Stmt was handed back (reset), so no statement holds a read transaction open. A
  // transaction left open by a failed COMMIT would pin this connection to an old snapshot
  // for its next user: roll it back.
  if (conn->in_transaction()) (void)conn->try_exec("ROLLBACK");
  {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdleConnections) {
      idle_.push_back(std::move(conn));
      return;
    }
  }
  // conn closes here, outside the lock.
}

Status AccountDb::Impl::init_schema() {
  auto lease = acquire();
  if (!lease) return lease.error();
  sqlite::Connection& db = lease->conn();
  sqlite::Transaction txn(db);
  if (!txn.begun().ok()) return txn.begun();
  sqlite::Stmt v(db, "PRAGMA user_version");
  auto has_row = v.try_step("read schema version");
  if (!has_row) return has_row.error();
  int64_t version = *has_row ? v.i64(0) : 0;
  if (version > kSchemaVersion)
    return make_error(Errc::internal, "accounts.db: schema version " + std::to_string(version) +
                                          " is newer than this program understands");
  if (version < kSchemaVersion) {
    if (version == 1)
      if (Status s = db.try_exec("ALTER TABLE users ADD COLUMN scram TEXT NOT NULL DEFAULT ''"); !s.ok()) return s;
    if (Status s = db.try_exec(kSchema); !s.ok()) return s;
    if (Status s = db.try_exec("PRAGMA user_version=" + std::to_string(kSchemaVersion)); !s.ok())
      return s;
  }
  return txn.try_commit();
}

// ---- row lookups -------------------------------------------------------------------------

Result<std::optional<UserRow>> query_user(sqlite::Connection& db, const std::string& address) {
  sqlite::Stmt st(db, "SELECT password, quota, enabled, created, scram FROM users WHERE address=?1");
  st.bind(1, address);
  auto has_row = st.try_step("read user");
  if (!has_row) return has_row.error();
  if (!*has_row) return std::optional<UserRow>();
  UserRow row;
  row.password = st.text(0);
  row.quota = static_cast<uint64_t>(std::max<int64_t>(0, st.i64(1)));
  row.enabled = st.i64(2) != 0;
  row.created = st.i64(3);
  row.scram = st.text(4);
  return std::optional<UserRow>(std::move(row));
}

Result<bool> query_domain(sqlite::Connection& db, const std::string& domain) {
  sqlite::Stmt st(db, "SELECT 1 FROM domains WHERE name=?1");
  st.bind(1, domain);
  return st.try_step("read domain");
}

Result<std::vector<std::string>> query_alias(sqlite::Connection& db, const std::string& alias) {
  sqlite::Stmt st(db, "SELECT target FROM aliases WHERE alias=?1 ORDER BY target");
  st.bind(1, alias);
  std::vector<std::string> out;
  Result<bool> rc = false;
  while ((rc = st.try_step("read alias")) && *rc) out.push_back(st.text(0));
  if (!rc) return rc.error();
  return out;
}

// ---- AccountDb ---------------------------------------------------------------------------

AccountDb::AccountDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AccountDb::~AccountDb() = default;

Result<std::unique_ptr<AccountDb>> AccountDb::open(const std::string& db_path, Options options) {
  // The file holds password hashes: create it private (SQLite gives -wal/-shm the same mode).
  int fd = ::open(db_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    return make_error(Errc::internal, "accounts.db: cannot open " + db_path + ": " + std::strerror(errno));
  ::close(fd);
  auto impl = std::make_unique<Impl>(db_path, options);
  if (Status s = impl->init_schema(); !s.ok()) return s.error();
  return std::unique_ptr<AccountDb>(new AccountDb(std::move(impl)));
}

// Domains ----------------------------------------------------------------------------------

Status AccountDb::add_domain(std::string_view domain) {
  auto name = canonical_domain(domain);
  if (!name) return make_error(Errc::syntax, "bad domain name \"" + std::string(domain) + "\"");
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  sqlite::Stmt st(lease->conn(), "INSERT INTO domains(name, created) VALUES(?1, ?2)");
  st.bind(1, *name).bind(2, unix_now());
  if (Status s = st.try_run("add domain"); !s.ok()) {
    if (s.error().code == Errc::exists) return make_error(Errc::exists, "domain " + *name + " already exists");
    return s;
  }
  return {};
}

Status AccountDb::remove_domain(std::string_view domain) {
  auto name = canonical_domain(domain);
  if (!name) return make_error(Errc::syntax, "bad domain name \"" + std::string(domain) + "\"");
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  sqlite::Connection& db = lease->conn();
  sqlite::Transaction txn(db);
  if (!txn.begun().ok()) return txn.begun();
  sqlite::Stmt count(db,
                  "SELECT (SELECT count(*) FROM users WHERE domain=?1),"
                  "       (SELECT count(DISTINCT alias) FROM aliases WHERE domain=?1)");
  count.bind(1, *name);
  auto counted = count.try_step("count domain users");
  if (!counted) return counted.error();
  if (!*counted) return make_error(Errc::internal, "accounts.db: count domain users: no row");
  int64_t users = count.i64(0), aliases = count.i64(1);
  if (users > 0 || aliases > 0)
    return make_error(Errc::refused, "domain " + *name + " still has " + std::to_string(users) +
                                         " user(s) and " + std::to_string(aliases) +
                                         " alias(es); remove them first");
  sqlite::Stmt del(db, "DELETE FROM domains WHERE name=?1");
  del.bind(1, *name);
  if (Status s = del.try_run("remove domain"); !s.ok()) return s;
  if (db.changes() == 0) return make_error(Errc::not_found, "no such domain " + *name);
  return txn.try_commit();
}

Result<std::vector<std::string>> AccountDb::list_domains() {
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  sqlite::Stmt st(lease->conn(), "SELECT name FROM domains ORDER BY name");
  std::vector<std::string> out;
  Result<bool> rc = false;
  while ((rc = st.try_step("list domains")) && *rc) out.push_back(st.text(0));
  if (!rc) return rc.error();
  return out;
}

Result<bool> AccountDb::is_local_domain(std::string_view domain) {
  auto name = canonical_domain(domain);
  if (!name) return false;
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  return query_domain(lease->conn(), *name);
}

// Users ------------------------------------------------------------------------------------

namespace {

// INSERT of a new user whose password is already hashed (`scram` "" until known).
Status insert_user(AccountDb::Impl& impl, const std::string& name, const std::string& hash, const std::string& scram,
                   uint64_t quota) {
  auto lease = impl.acquire();
  if (!lease) return lease.error();
  sqlite::Connection& db = lease->conn();
  sqlite::Transaction txn(db);
  if (!txn.begun().ok()) return txn.begun();
  std::string domain = domain_of(name);
  if (Status s = require_local_domain(db, domain); !s.ok()) return s;
  auto alias = query_alias(db, name);
  if (!alias) return alias.error();
  if (!alias->empty()) return make_error(Errc::exists, name + " already exists as an alias");
  sqlite::Stmt st(db,
               "INSERT INTO users(address, domain, password, quota, enabled, created, scram)"
               " VALUES(?1, ?2, ?3, ?4, 1, ?5, ?6)");
  st.bind(1, name).bind(2, domain).bind(3, hash).bind(4, quota_to_db(quota)).bind(5, unix_now()).bind(6, scram);
  if (Status s = st.try_run("add user"); !s.ok()) {
    if (s.error().code == Errc::exists) return make_error(Errc::exists, "user " + name + " already exists");
    return s;
  }
  return txn.try_commit();
}

}  // namespace

Status AccountDb::add_user(std::string_view address, std::string_view password, uint64_t quota) {
  auto name = mailbox_name(address, "user");
  if (!name) return name.error();
  if (password.empty()) return make_error(Errc::syntax, "empty password");
  // Hash before taking a connection: argon2id is slow and needs no database.
  auto hash = hash_password(password, impl_->options().cost);
  if (!hash) return hash.error();
  return insert_user(*impl_, *name, *hash, new_scram_keys(password).serialize(), quota);
}

Status AccountDb::add_user_with_hash(std::string_view address, std::string_view hash, uint64_t quota) {
  auto name = mailbox_name(address, "user");
  if (!name) return name.error();
  auto stored = import_password_hash(hash);
  if (!stored) return stored.error();
  // No SCRAM keys: they need the password. check_password makes them (and the argon2id hash)
  // at the first PLAIN/LOGIN success; until then SCRAM fails like a wrong password.
  return insert_user(*impl_, *name, *stored, "", quota);
}

namespace {

// UPDATE users SET <assignment> WHERE address=?1, with ?2 bound by `bind`.
template <class Bind>
Status update_user(AccountDb::Impl& impl, std::string_view address, const char* sql_text, Bind bind) {
  auto name = canonical_address(address);
  if (!name) return make_error(Errc::syntax, "bad user address \"" + std::string(address) + "\"");
  auto lease = impl.acquire();
  if (!lease) return lease.error();
  sqlite::Stmt st(lease->conn(), sql_text);
  st.bind(1, *name);
  bind(st);
  if (Status s = st.try_run("update user"); !s.ok()) return s;
  if (lease->conn().changes() == 0) return make_error(Errc::not_found, "no such user " + *name);
  return {};
}

}  // namespace

namespace {

// Drops the in-process cache entry at once (other processes' changes are caught by the
// stored-hash and row checks in check_password).
void forget_verified(AccountDb::Impl& impl, std::string_view address) {
  if (!impl.cache()) return;
  if (auto name = canonical_address(address)) impl.cache()->forget(*name);
}

}  // namespace

Status AccountDb::set_password(std::string_view address, std::string_view password) {
  if (password.empty()) return make_error(Errc::syntax, "empty password");
  auto hash = hash_password(password, impl_->options().cost);
  if (!hash) return hash.error();
  std::string scram = new_scram_keys(password).serialize();
  Status done = update_user(*impl_, address, "UPDATE users SET password=?2, scram=?3 WHERE address=?1",
                            [&](sqlite::Stmt& st) { st.bind(2, *hash).bind(3, scram); });
  forget_verified(*impl_, address);
  return done;
}

Status AccountDb::set_password_hash(std::string_view address, std::string_view hash) {
  auto stored = import_password_hash(hash);
  if (!stored) return stored.error();
  // The old SCRAM keys belong to the old password: drop them with it.
  Status done = update_user(*impl_, address, "UPDATE users SET password=?2, scram='' WHERE address=?1",
                            [&](sqlite::Stmt& st) { st.bind(2, *stored); });
  forget_verified(*impl_, address);
  return done;
}

Status AccountDb::set_quota(std::string_view address, uint64_t quota) {
  return update_user(*impl_, address, "UPDATE users SET quota=?2 WHERE address=?1",
                     [&](sqlite::Stmt& st) { st.bind(2, quota_to_db(quota)); });
}

Status AccountDb::set_enabled(std::string_view address, bool enabled) {
  Status done = update_user(*impl_, address, "UPDATE users SET enabled=?2 WHERE address=?1",
                            [&](sqlite::Stmt& st) { st.bind(2, int64_t(enabled ? 1 : 0)); });
  forget_verified(*impl_, address);
  return done;
}

Status AccountDb::remove_user(std::string_view address) {
  auto name = canonical_address(address);
  if (!name) return make_error(Errc::syntax, "bad user address \"" + std::string(address) + "\"");
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  sqlite::Stmt st(lease->conn(), "DELETE FROM users WHERE address=?1");
  st.bind(1, *name);
  if (Status s = st.try_run("remove user"); !s.ok()) return s;
  if (lease->conn().changes() == 0) return make_error(Errc::not_found, "no such user " + *name);
  sqlite::Stmt settings(lease->conn(), "DELETE FROM user_settings WHERE address=?1");
  settings.bind(1, *name);
  if (Status s = settings.try_run("remove user settings"); !s.ok()) return s;
  if (impl_->cache()) impl_->cache()->forget(*name);
  // Aliases that point at the user are kept: resolution skips missing local targets, and the
  // admin may re-create the user. ternctl lists them.
  return {};
}

Result<std::vector<UserInfo>> AccountDb::list_users() {
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  sqlite::Stmt st(lease->conn(), "SELECT address, quota, enabled, created FROM users ORDER BY domain, address");
  std::vector<UserInfo> out;
  Result<bool> rc = false;
  while ((rc = st.try_step("list users")) && *rc)
    out.push_back(UserInfo{st.text(0), static_cast<uint64_t>(std::max<int64_t>(0, st.i64(1))),
                           st.i64(2) != 0, st.i64(3)});
  if (!rc) return rc.error();
  return out;
}

Result<std::optional<UserInfo>> AccountDb::find_user(std::string_view address) {
  auto name = canonical_address(address);
  if (!name) return std::optional<UserInfo>();
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  auto row = query_user(lease->conn(), *name);
  if (!row) return row.error();
  if (!*row) return std::optional<UserInfo>();
  return std::optional<UserInfo>(UserInfo{*name, (*row)->quota, (*row)->enabled, (*row)->created});
}

Result<uint64_t> AccountDb::quota_of(std::string_view user) {
  auto info = find_user(user);
  if (!info) return info.error();
  if (!*info) return make_error(Errc::not_found, "no such user " + std::string(user));
  return (*info)->quota;
}

// Aliases ----------------------------------------------------------------------------------

Status AccountDb::add_alias(std::string_view alias, const std::vector<std::string>& targets) {
  std::string name, domain;
  if (!alias.empty() && alias.front() == '@') {
    auto d = canonical_domain(alias.substr(1));
    if (!d) return make_error(Errc::syntax, "bad catch-all alias \"" + std::string(alias) + "\"");
    domain = *d;
    name = "@" + domain;
  } else {
    auto n = mailbox_name(alias, "alias");
    if (!n) return n.error();
    name = *n;
    domain = domain_of(name);
  }
  if (targets.empty()) return make_error(Errc::syntax, "alias " + name + " needs at least one target");
  std::set<std::string> canon;
  for (const std::string& t : targets) {
    auto c = canonical_address(t);
    if (!c) return make_error(Errc::syntax, "bad target address \"" + t + "\"");
    if (*c == name) return make_error(Errc::syntax, "alias " + name + " cannot point at itself");
    canon.insert(*c);
  }
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  sqlite::Connection& db = lease->conn();
  sqlite::Transaction txn(db);
  if (!txn.begun().ok()) return txn.begun();
  if (Status s = require_local_domain(db, domain); !s.ok()) return s;
  auto user = query_user(db, name);
  if (!user) return user.error();
  if (*user) return make_error(Errc::exists, name + " already exists as a user");
  auto existing = query_alias(db, name);
  if (!existing) return existing.error();
  if (!existing->empty()) return make_error(Errc::exists, "alias " + name + " already exists");
  for (const std::string& t : canon) {
    sqlite::Stmt ins(db, "INSERT INTO aliases(alias, domain, target) VALUES(?1, ?2, ?3)");
    ins.bind(1, name).bind(2, domain).bind(3, t);
    if (Status s = ins.try_run("add alias"); !s.ok()) return s;
  }
  return txn.try_commit();
}

Status AccountDb::remove_alias(std::string_view alias) {
  std::string name;
  if (!alias.empty() && alias.front() == '@') {
    auto d = canonical_domain(alias.substr(1));
    if (!d) return make_error(Errc::syntax, "bad catch-all alias \"" + std::string(alias) + "\"");
    name = "@" + *d;
  } else {
    auto n = canonical_address(alias);
    if (!n) return make_error(Errc::syntax, "bad alias address \"" + std::string(alias) + "\"");
    name = *n;
  }
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  sqlite::Stmt st(lease->conn(), "DELETE FROM aliases WHERE alias=?1");
  st.bind(1, name);
  if (Status s = st.try_run("remove alias"); !s.ok()) return s;
  if (lease->conn().changes() == 0) return make_error(Errc::not_found, "no such alias " + name);
  return {};
}

Result<std::vector<AliasInfo>> AccountDb::list_aliases() {
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  sqlite::Stmt st(lease->conn(), "SELECT alias, target FROM aliases ORDER BY domain, alias, target");
  std::vector<AliasInfo> out;
  Result<bool> rc = false;
  while ((rc = st.try_step("list aliases")) && *rc) {
    std::string alias = st.text(0);
    if (out.empty() || out.back().alias != alias) out.push_back(AliasInfo{alias, {}});
    out.back().targets.push_back(st.text(1));
  }
  if (!rc) return rc.error();
  return out;
}

// Passwords --------------------------------------------------------------------------------

void AccountDb::warm_up() { (void)impl_->dummy_hash(); }

uint64_t AccountDb::password_hashes_verified() const { return impl_->verifications(); }

Result<PasswordCheckResult> AccountDb::check_password(std::string_view user, std::string_view password) {
  PasswordCheckResult result;
  auto name = canonical_address(user);
  result.user = name ? *name : std::string(user);
  std::optional<UserRow> row;
  if (name) {
    auto lease = impl_->acquire();
    if (!lease) return lease.error();
    auto r = query_user(lease->conn(), *name);
    if (!r) return r.error();
    row = std::move(*r);
  }  // the connection goes back to the pool before the slow hash
  if (!row) {
    // Same work as for a real user, so timing does not reveal who exists.
    (void)impl_->verify(impl_->dummy_hash(), password);
    result.outcome = PasswordCheck::unknown_user;
    return result;
  }
  // The row was read above whatever the cache says: disabled/removed users and changed
  // passwords (a new stored hash, so a miss) are seen even when ternctl changed them.
  VerifiedCache* cache = impl_->cache();
  bool cached = cache && cache->hit(*name, row->password, password);
  if (!cached) {
    if (!impl_->verify(row->password, password)) {
      // Never remembered: every wrong guess pays argon2id.
      result.outcome = PasswordCheck::bad_password;
      return result;
    }
    if (cache) cache->remember(*name, row->password, password);
  }
  // Only someone who knows the password learns that the account is disabled.
  result.outcome = row->enabled ? PasswordCheck::ok : PasswordCheck::disabled;
  // A hit means this process verified (and, if needed, upgraded) the hash within the TTL.
  if (!cached && result.outcome == PasswordCheck::ok && row->scram.empty()) {
    // Users from before SCRAM (schema 1) get their keys the first time their password is
    // seen; best effort, and never over keys set since we read the row.
    std::string scram = new_scram_keys(password).serialize();
    (void)update_user(*impl_, *name, "UPDATE users SET scram=?2 WHERE address=?1 AND scram=''",
                      [&](sqlite::Stmt& st) { st.bind(2, scram); });
  }
  if (!cached && result.outcome == PasswordCheck::ok && password_needs_rehash(row->password, impl_->options().cost)) {
    auto fresh = hash_password(password, impl_->options().cost);
    if (fresh) {
      // Best effort: a failure here leaves the old (still valid) hash in place.
      // "AND password=?3": never overwrite a password changed since we read the row.
      (void)update_user(*impl_, *name, "UPDATE users SET password=?2 WHERE address=?1 AND password=?3",
                        [&](sqlite::Stmt& st) { st.bind(2, *fresh).bind(3, row->password); });
    }
  }
  return result;
}

Result<std::optional<ScramKeys>> AccountDb::scram_keys(std::string_view user) {
  auto name = canonical_address(user);
  if (!name) return std::optional<ScramKeys>();
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  auto row = query_user(lease->conn(), *name);
  if (!row) return row.error();
  if (!*row) return std::optional<ScramKeys>();
  return ScramKeys::parse((*row)->scram);
}

Result<PasswordCheckResult> AccountDb::check_proof(std::string_view user, bool proof_valid) {
  PasswordCheckResult result;
  auto name = canonical_address(user);
  result.user = name ? *name : std::string(user);
  result.outcome = PasswordCheck::unknown_user;
  if (!name) return result;
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  auto row = query_user(lease->conn(), *name);
  if (!row) return row.error();
  if (!*row) return result;
  // As for passwords: only someone who proved the password learns that it is disabled.
  result.outcome = !proof_valid ? PasswordCheck::bad_password : (*row)->enabled ? PasswordCheck::ok : PasswordCheck::disabled;
  return result;
}

}  // namespace tern::auth
