// Recipient resolution (SMTP RCPT) and address ownership (submission MAIL FROM).
#include <set>

#include "auth/account_db_impl.h"
#include "common/log.h"
#include "common/strings.h"

namespace tern::auth {

namespace {

struct Split {
  std::string local, domain;
};
Split split_canonical(const std::string& a) {
  size_t at = a.rfind('@');
  return {a.substr(0, at), a.substr(at + 1)};
}

// Expands one canonical address into local users and external forwards. Loop-safe: each
// address is expanded once per resolution; chains deeper than kMaxAliasDepth are cut.
class Expander {
 public:
  Expander(sqlite::Connection& db, bool use_catchall) : db_(db), use_catchall_(use_catchall) {}

  // True when the address (or its base, or its domain's catch-all) is known here.
  Result<bool> expand(const std::string& address, int depth) {
    if (depth > AccountDb::kMaxAliasDepth) {
      spdlog::warn("alias chain deeper than {} at {}: cut", AccountDb::kMaxAliasDepth, address);
      return false;
    }
    Split parts = split_canonical(address);
    auto local_domain = domain_is_local(parts.domain);
    if (!local_domain) return local_domain.error();
    if (!*local_domain) {
      add_unique(forwards_, address);
      return true;
    }
    // A loop (a -> b -> a) or a repeated target contributes nothing new.
    if (!visited_.insert(address).second) return true;

    auto user = query_user(db_, address);
    if (!user) return user.error();
    if (*user) {
      // Disabled users receive no mail (see auth.h); the address still counts as known so a
      // catch-all does not take it.
      if ((*user)->enabled && add_unique(users_, address)) quotas_.push_back((*user)->quota);
      return true;
    }
    auto targets = query_alias(db_, address);
    if (!targets) return targets.error();
    if (!targets->empty()) return expand_all(*targets, depth);

    // RFC 5233 sub-addressing: "local+detail" reaches "local" (user, or alias's targets).
    size_t plus = parts.local.find('+');
    if (plus != std::string::npos && plus > 0) {
      std::string base = parts.local.substr(0, plus) + "@" + parts.domain;
      visited_.erase(address);  // the base decides, including the catch-all
      return expand(base, depth);
    }

    if (use_catchall_) {
      std::string catchall = "@" + parts.domain;
      auto all = query_alias(db_, catchall);
      if (!all) return all.error();
      if (!all->empty()) {
        if (!visited_.insert(catchall).second) return true;
        return expand_all(*all, depth);
      }
    }
    return false;
  }

  std::vector<std::string> users_, forwards_;
  std::vector<uint64_t> quotas_;  // parallel to users_

 private:
  Result<bool> expand_all(const std::vector<std::string>& targets, int depth) {
    for (const std::string& t : targets) {
      auto r = expand(t, depth + 1);
      if (!r) return r.error();
      // A target in a local domain that resolves to nothing is dropped (logged once).
      if (!*r) spdlog::warn("alias target {} resolves to nothing", t);
    }
    return true;
  }

  Result<bool> domain_is_local(const std::string& domain) {
    if (auto it = domains_.find(domain); it != domains_.end()) return it->second;
    auto r = query_domain(db_, domain);
    if (!r) return r.error();
    domains_.emplace(domain, *r);
    return *r;
  }

  // False when `s` was already there.
  static bool add_unique(std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v)
      if (x == s) return false;
    v.push_back(s);
    return true;
  }

  sqlite::Connection& db_;
  bool use_catchall_;
  std::set<std::string> visited_;
  std::unordered_map<std::string, bool> domains_;
};

}  // namespace

const char* to_string(Recipient::Kind kind) {
  switch (kind) {
    case Recipient::Kind::local: return "local";
    case Recipient::Kind::not_local_domain: return "not-local-domain";
    case Recipient::Kind::unknown_user: return "unknown-user";
  }
  return "unknown";
}

Result<Recipient> AccountDb::resolve_recipient(std::string_view address) {
  auto name = canonical_address(address);
  if (!name) return make_error(Errc::syntax, "bad recipient address");
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  // Reads of one resolution see one snapshot even while ternctl writes (a failed BEGIN
  // leaves each read its own); ended (rolled back: nothing was written) with the scope.
  sqlite::Transaction snapshot(lease->conn(), sqlite::Transaction::Mode::deferred);
  Recipient out;
  Split parts = split_canonical(*name);
  const Options& opt = impl_->options();
  // RFC 5321 §4.5.1: postmaster is reserved at every domain we serve and at our hostname; a
  // domain's own postmaster user or alias wins, the configured address catches the rest.
  std::optional<std::string> postmaster_target;
  if (parts.local == "postmaster" && !opt.postmaster.empty()) {
    if (auto target = canonical_address(opt.postmaster); target && *target != *name)
      postmaster_target = *target;
  }
  auto local = query_domain(lease->conn(), parts.domain);
  if (!local) return local.error();
  bool our_hostname = postmaster_target && parts.domain == ascii_lower(opt.hostname);
  if (!*local && !our_hostname) {
    out.kind = Recipient::Kind::not_local_domain;
    return out;
  }
  Expander ex(lease->conn(), /*use_catchall=*/true);
  if (*local) {
    auto known = ex.expand(*name, 0);
    if (!known) return known.error();
  }
  if (ex.users_.empty() && ex.forwards_.empty() && postmaster_target) {
    auto known = ex.expand(*postmaster_target, 1);
    if (!known) return known.error();
  }
  out.local_users = std::move(ex.users_);
  out.local_quotas = std::move(ex.quotas_);
  out.forwards = std::move(ex.forwards_);
  out.kind = (out.local_users.empty() && out.forwards.empty()) ? Recipient::Kind::unknown_user
                                                              : Recipient::Kind::local;
  return out;
}

Result<bool> AccountDb::owns_address(std::string_view user, std::string_view address) {
  auto u = canonical_address(user);
  auto a = canonical_address(address);
  if (!u || !a) return false;
  if (*u == *a) return true;
  Split up = split_canonical(*u), ap = split_canonical(*a);
  // The user's own "+tag" forms.
  if (up.domain == ap.domain) {
    size_t plus = ap.local.find('+');
    if (plus != std::string::npos && ap.local.substr(0, plus) == up.local) return true;
  }
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  // Reads of one resolution see one snapshot even while ternctl writes (a failed BEGIN
  // leaves each read its own); ended (rolled back: nothing was written) with the scope.
  sqlite::Transaction snapshot(lease->conn(), sqlite::Transaction::Mode::deferred);
  auto local = query_domain(lease->conn(), ap.domain);
  if (!local) return local.error();
  if (!*local) return false;
  // Aliases that reach the user; the catch-all would let anyone claim any unknown address.
  Expander ex(lease->conn(), /*use_catchall=*/false);
  auto known = ex.expand(*a, 0);
  if (!known) return known.error();
  for (const auto& x : ex.users_)
    if (x == *u) return true;
  return false;
}

}  // namespace tern::auth
