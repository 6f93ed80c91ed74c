// Authenticator: throttle check, password check, one fail2ban-readable log line per attempt.
#include <sodium.h>

#include "auth/auth.h"
#include "common/log.h"

namespace tern::auth {

namespace {

// Log values come from the network: keep them to one printable word so a crafted user name
// cannot forge extra key=value pairs or lines for fail2ban.
std::string log_word(std::string_view s) {
  constexpr size_t kMax = 128;
  std::string out;
  for (char ch : s.substr(0, kMax)) {
    auto c = static_cast<unsigned char>(ch);
    out += (c <= 0x20 || c >= 0x7f || ch == '=') ? '?' : ch;
  }
  if (s.size() > kMax) out += "...";
  if (out.empty()) out = "-";
  return out;
}

void log_fail(std::string_view proto, std::string_view user, std::string_view ip, const char* reason) {
  spdlog::warn("auth fail proto={} user={} ip={} reason={}", log_word(proto), log_word(user),
               log_word(ip), reason);
}

}  // namespace

const char* to_string(LoginResult::Outcome outcome) {
  switch (outcome) {
    case LoginResult::Outcome::ok: return "ok";
    case LoginResult::Outcome::bad_credentials: return "bad-credentials";
    case LoginResult::Outcome::locked_out: return "locked-out";
    case LoginResult::Outcome::disabled: return "disabled";
    case LoginResult::Outcome::unavailable: return "unavailable";
    case LoginResult::Outcome::too_many_connections: return "too-many-connections";
  }
  return "unknown";
}

Authenticator::Authenticator(AccountDb& db, const AuthConfig& config, Throttle::Clock clock)
    : db_(db), throttle_(config, std::move(clock)), fake_key_secret_(32, '\0') {
  randombytes_buf(fake_key_secret_.data(), fake_key_secret_.size());
  db_.warm_up();
}

// Throttle first, then `check` (the password or the SCRAM proof), one log line either way.
template <class Check>
LoginResult Authenticator::attempt(std::string_view user, std::string_view client_ip, std::string_view protocol,
                                   Check check_credentials) {
  LoginResult result;
  auto canonical = canonical_address(user);
  // Counters key on the canonical name, so "Bob@X" and "bob@x" share one.
  std::string account = canonical ? *canonical : std::string(user);
  result.user = account;

  Throttle::Decision d = throttle_.check(client_ip, account);
  result.delay = d.delay;
  if (d.locked_out) {
    // Refused without looking at the password: a locked-out attacker learns nothing.
    result.outcome = LoginResult::Outcome::locked_out;
    failures_.fetch_add(1, std::memory_order_relaxed);
    log_fail(protocol, account, client_ip, "locked-out");
    return result;
  }

  Result<PasswordCheckResult> check = check_credentials(account);
  if (!check) {
    spdlog::error("auth error proto={} user={} ip={}: {}", log_word(protocol), log_word(account),
                  log_word(client_ip), check.error().message);
    failures_.fetch_add(1, std::memory_order_relaxed);
    log_fail(protocol, account, client_ip, "error");
    result.outcome = LoginResult::Outcome::unavailable;
    return result;
  }
  switch (check->outcome) {
    case PasswordCheck::ok:
      throttle_.record_success(client_ip, account);
      spdlog::info("auth ok proto={} user={} ip={}", log_word(protocol), log_word(account),
                   log_word(client_ip));
      result.outcome = LoginResult::Outcome::ok;
      return result;
    case PasswordCheck::disabled:
      // The right password: not a guessing attempt, so no failure is counted.
      failures_.fetch_add(1, std::memory_order_relaxed);
      log_fail(protocol, account, client_ip, "disabled");
      result.outcome = LoginResult::Outcome::disabled;
      return result;
    case PasswordCheck::bad_password:
    case PasswordCheck::unknown_user:
      throttle_.record_failure(client_ip, account);
      failures_.fetch_add(1, std::memory_order_relaxed);
      log_fail(protocol, account, client_ip,
               check->outcome == PasswordCheck::unknown_user ? "unknown-user" : "bad-password");
      result.outcome = LoginResult::Outcome::bad_credentials;
      return result;
  }
  result.outcome = LoginResult::Outcome::unavailable;
  return result;
}

LoginResult Authenticator::login(std::string_view user, std::string_view password,
                                 std::string_view client_ip, std::string_view protocol) {
  return attempt(user, client_ip, protocol,
                 [&](const std::string& account) { return db_.check_password(account, password); });
}

LoginResult Authenticator::login_proven(std::string_view user, bool proof_valid, std::string_view client_ip,
                                        std::string_view protocol) {
  return attempt(user, client_ip, protocol,
                 [&](const std::string& account) { return db_.check_proof(account, proof_valid); });
}

Result<ScramKeys> Authenticator::scram_keys(std::string_view user) {
  auto canonical = canonical_address(user);
  std::string account = canonical ? *canonical : std::string(user);
  auto keys = db_.scram_keys(account);
  if (!keys) return keys.error();
  if (*keys) return std::move(**keys);
  // Unknown user, or no keys yet: a salt that is the same at every try (a changing one would
  // tell the user does not exist) and keys no proof can match.
  ScramKeys fake;
  fake.salt = scram_hmac(fake_key_secret_, "salt:" + account).substr(0, kScramSaltBytes);
  fake.stored_key = scram_hmac(fake_key_secret_, "stored:" + account);
  fake.server_key = scram_hmac(fake_key_secret_, "server:" + account);
  return fake;
}

}  // namespace tern::auth
