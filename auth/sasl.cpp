#include "auth/sasl.h"

#include <sodium.h>

#include <utility>

#include "common/codec.h"
#include "common/strings.h"

namespace tern::auth {

namespace {

// draft-murchison-sasl-login-00 §2: the server prompts "Username:" then "Password:".
constexpr std::string_view kLoginUserPrompt = "VXNlcm5hbWU6";      // "Username:"
constexpr std::string_view kLoginPasswordPrompt = "UGFzc3dvcmQ6";  // "Password:"

std::string_view drop_line_end(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

const char* to_string(SaslErrorKind kind) {
  switch (kind) {
    case SaslErrorKind::unknown_mechanism: return "unknown-mechanism";
    case SaslErrorKind::bad_base64: return "bad-base64";
    case SaslErrorKind::malformed: return "malformed";
    case SaslErrorKind::too_long: return "too-long";
    case SaslErrorKind::authzid_mismatch: return "authzid-mismatch";
    case SaslErrorKind::cancelled: return "cancelled";
    case SaslErrorKind::not_in_progress: return "not-in-progress";
  }
  return "unknown";
}

void SaslExchange::reset() {
  state_ = State::idle;
  login_user_.clear();
  gs2_header_.clear();
  client_first_bare_.clear();
  server_first_.clear();
  nonce_.clear();
  plus_ = false;
  binding_data_.clear();
  keys_ = {};
}

SaslStep SaslExchange::fail(SaslErrorKind kind, std::string message) {
  reset();
  return SaslError{kind, std::move(message)};
}

SaslStep SaslExchange::start(std::string_view mechanism,
                             std::optional<std::string_view> initial_response) {
  reset();
  if (iequals(mechanism, "PLAIN")) {
    if (!initial_response) {
      // RFC 4954 §4: no initial response, so the server sends an empty challenge.
      state_ = State::plain_wait;
      return SaslChallenge{""};
    }
    state_ = State::plain_wait;
    return step(*initial_response);
  }
  if (iequals(mechanism, "LOGIN")) {
    state_ = State::login_user;
    if (!initial_response) return SaslChallenge{std::string(kLoginUserPrompt)};
    // Some clients send the user name as an initial response ("AUTH LOGIN dXNlcg==").
    return step(*initial_response);
  }
  const bool plus = iequals(mechanism, "SCRAM-SHA-256-PLUS") && bindings_.any();
  if (iequals(mechanism, "SCRAM-SHA-256") || plus) {
    state_ = State::scram_first;
    plus_ = plus;
    // RFC 5802 §5: the client speaks first; without an initial response, an empty challenge.
    if (!initial_response) return SaslChallenge{""};
    return step(*initial_response);
  }
  return fail(SaslErrorKind::unknown_mechanism, "unsupported mechanism");
}

SaslStep SaslExchange::step(std::string_view client_line) {
  if (state_ == State::idle) return fail(SaslErrorKind::not_in_progress, "no exchange in progress");
  std::string_view line = drop_line_end(client_line);
  // RFC 4954 §4: a client line of "*" cancels the exchange.
  if (line == "*") return fail(SaslErrorKind::cancelled, "authentication cancelled");
  if (line.size() > kSaslMaxLine) return fail(SaslErrorKind::too_long, "response too long");
  // RFC 4954 §4, RFC 5034 §4: "=" is an empty initial response (also accepted on later
  // lines, where an empty line means the same).
  Result<std::string> decoded = line == "=" ? Result<std::string>(std::string()) : base64_decode(line);
  if (!decoded) return fail(SaslErrorKind::bad_base64, "invalid base64");

  switch (state_) {
    case State::plain_wait: return plain(*decoded);
    case State::login_user:
      if (decoded->empty()) return fail(SaslErrorKind::malformed, "empty user name");
      if (decoded->size() > kSaslMaxField) return fail(SaslErrorKind::too_long, "user name too long");
      if (decoded->find('\0') != std::string::npos)
        return fail(SaslErrorKind::malformed, "NUL in user name");
      login_user_ = std::move(*decoded);
      state_ = State::login_password;
      return SaslChallenge{std::string(kLoginPasswordPrompt)};
    case State::login_password: {
      if (decoded->empty()) return fail(SaslErrorKind::malformed, "empty password");
      if (decoded->size() > kSaslMaxField) return fail(SaslErrorKind::too_long, "password too long");
      if (decoded->find('\0') != std::string::npos)
        return fail(SaslErrorKind::malformed, "NUL in password");
      SaslCredentials creds{std::move(login_user_), std::move(*decoded), "LOGIN"};
      reset();
      return creds;
    }
    case State::scram_first: return scram_client_first(*decoded);
    case State::scram_final: return scram_client_final(*decoded);
    case State::scram_done: {
      // RFC 4954 §4 / RFC 5802 §5: the client acknowledges our server-final message with an
      // empty response; only then is it authenticated.
      if (!decoded->empty()) return fail(SaslErrorKind::malformed, "unexpected data after server-final");
      SaslCredentials creds{std::move(login_user_), "", mechanism_name(), SaslCredentials::Proof::valid};
      reset();
      return creds;
    }
    case State::scram_keys: return fail(SaslErrorKind::malformed, "response before the challenge");
    case State::idle: break;
  }
  return fail(SaslErrorKind::not_in_progress, "no exchange in progress");
}

namespace {

// RFC 5802 §7 saslname: "," and "=" are written "=2C" and "=3D"; any other "=" is invalid.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ',') return std::nullopt;
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    if (s.substr(i, 3) == "=2C") out += ',';
    else if (s.substr(i, 3) == "=3D") out += '=';
    else return std::nullopt;
    i += 2;
  }
  return out;
}

// The value of attribute `name` ("r", "c", "p") at the start of `s` ("r=...,"), advancing s
// past it and its comma; nullopt when `s` does not start with it.
std::optional<std::string_view> take_attr(std::string_view& s, char name) {
  if (s.size() < 2 || s[0] != name || s[1] != '=') return std::nullopt;
  size_t comma = s.find(',');
  std::string_view value = s.substr(2, comma == std::string_view::npos ? std::string_view::npos : comma - 2);
  s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  return value;
}

}  // namespace

SaslStep SaslExchange::scram_client_first(std::string_view msg) {
  // RFC 5802 §7: gs2-header = gs2-cbind-flag "," [authzid] "," ; then client-first-bare.
  if (msg.size() > 3 * kSaslMaxField) return fail(SaslErrorKind::too_long, "response too long");
  // gs2-cbind-flag = ("p=" cb-name) / "n" / "y"
  size_t flag_end = msg.find(',');
  if (flag_end == std::string_view::npos) return fail(SaslErrorKind::malformed, "bad gs2 header");
  std::string_view flag = msg.substr(0, flag_end);
  if (flag.starts_with("p=")) {
    // §6: binding is only for the -PLUS mechanism, and only to a type this connection has.
    if (!plus_) return fail(SaslErrorKind::malformed, "channel binding requested without -PLUS");
    std::string_view type = flag.substr(2);
    if (type == "tls-exporter") binding_data_ = bindings_.tls_exporter;
    else if (type == "tls-server-end-point") binding_data_ = bindings_.tls_server_end_point;
    else binding_data_.clear();
    if (binding_data_.empty()) return fail(SaslErrorKind::malformed, "unsupported channel binding type");
  } else if (flag == "n" || flag == "y") {
    if (plus_) return fail(SaslErrorKind::malformed, "-PLUS without channel binding");
    // §6: "y" means the client could bind but thought we could not; we can (we offer
    // -PLUS on this connection), so someone stripped it from our list: a downgrade.
    if (flag == "y" && bindings_.any()) return fail(SaslErrorKind::malformed, "channel binding downgrade detected");
  } else {
    return fail(SaslErrorKind::malformed, "bad gs2 header");
  }
  size_t end_authz = msg.find(',', flag_end + 1);
  if (end_authz == std::string_view::npos) return fail(SaslErrorKind::malformed, "bad gs2 header");
  std::string_view authz = msg.substr(flag_end + 1, end_authz - flag_end - 1);
  gs2_header_ = std::string(msg.substr(0, end_authz + 1));
  std::string_view bare = msg.substr(end_authz + 1);
  client_first_bare_ = std::string(bare);
  // §5.1: a mandatory extension ("m=") we do not know must fail the exchange.
  if (bare.starts_with("m=")) return fail(SaslErrorKind::malformed, "unsupported mandatory extension");
  auto name = take_attr(bare, 'n');
  auto nonce = take_attr(bare, 'r');
  if (!name || !nonce || name->empty() || nonce->empty()) return fail(SaslErrorKind::malformed, "missing user or nonce");
  auto user = decode_saslname(*name);
  if (!user || user->size() > kSaslMaxField || user->find('\0') != std::string::npos)
    return fail(SaslErrorKind::malformed, "bad user name");
  for (char c : *nonce)
    if (c < 0x21 || c > 0x7e) return fail(SaslErrorKind::malformed, "bad nonce");
  if (!authz.empty()) {
    auto authzid = authz.starts_with("a=") ? decode_saslname(authz.substr(2)) : std::nullopt;
    if (!authzid) return fail(SaslErrorKind::malformed, "bad authzid");
    // As for PLAIN: no proxy authorisation.
    if (!iequals(*authzid, *user)) return fail(SaslErrorKind::authzid_mismatch, "authorization identity differs from user");
  }
  login_user_ = std::move(*user);
  // §5.1: the server appends its own part.
  nonce_ = std::string(*nonce) + (test_nonce_.empty() ? random_id(24) : std::exchange(test_nonce_, {}));
  state_ = State::scram_keys;
  return SaslNeedKeys{login_user_};
}

SaslStep SaslExchange::keys(const ScramKeys& k) {
  if (state_ != State::scram_keys) return fail(SaslErrorKind::not_in_progress, "no SCRAM exchange waiting for keys");
  keys_ = k;
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(k.salt) + ",i=" + std::to_string(k.iterations);
  state_ = State::scram_final;
  return SaslChallenge{base64_encode(server_first_)};
}

SaslStep SaslExchange::scram_client_final(std::string_view msg) {
  // RFC 5802 §7: client-final-message = "c=" base64(gs2-header) "," "r=" nonce
  // ["," extensions] "," "p=" base64(proof).
  size_t proof_at = msg.rfind(",p=");
  if (proof_at == std::string_view::npos) return fail(SaslErrorKind::malformed, "missing proof");
  std::string_view without_proof = msg.substr(0, proof_at);
  std::string_view rest = without_proof;
  auto binding = take_attr(rest, 'c');
  auto nonce = take_attr(rest, 'r');
  if (!binding || !nonce) return fail(SaslErrorKind::malformed, "missing channel binding or nonce");
  auto proof = base64_decode(msg.substr(proof_at + 3));
  std::string user = login_user_;
  auto invalid = [&] {
    SaslCredentials creds{std::move(user), "", mechanism_name(), SaslCredentials::Proof::invalid};
    reset();
    return creds;
  };
  // §6/§7: c= is the gs2 header followed by the channel binding data (none without -PLUS:
  // "biws" for "n,,"); the nonce must be ours.
  if (*binding != base64_encode(gs2_header_ + binding_data_) || *nonce != nonce_)
    return fail(SaslErrorKind::malformed, "channel binding or nonce mismatch");
  if (!proof || proof->size() != keys_.stored_key.size()) return invalid();
  std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  std::string signature = scram_hmac(keys_.stored_key, auth_message);
  std::string client_key(proof->size(), '\0');
  for (size_t i = 0; i < client_key.size(); ++i) client_key[i] = static_cast<char>((*proof)[i] ^ signature[i]);
  std::string stored = scram_hash(client_key);
  // §3: the server verifies the proof by hashing the recovered ClientKey (constant time).
  if (stored.size() != keys_.stored_key.size() ||
      sodium_memcmp(stored.data(), keys_.stored_key.data(), stored.size()) != 0)
    return invalid();
  std::string server_final = "v=" + base64_encode(scram_hmac(keys_.server_key, auth_message));
  state_ = State::scram_done;
  return SaslChallenge{base64_encode(server_final)};
}

SaslStep SaslExchange::plain(std::string_view msg) {
  // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
  if (msg.size() > 3 * kSaslMaxField + 2) return fail(SaslErrorKind::too_long, "response too long");
  size_t first = msg.find('\0');
  if (first == std::string_view::npos) return fail(SaslErrorKind::malformed, "missing NUL separator");
  size_t second = msg.find('\0', first + 1);
  if (second == std::string_view::npos) return fail(SaslErrorKind::malformed, "missing NUL separator");
  std::string_view authzid = msg.substr(0, first);
  std::string_view authcid = msg.substr(first + 1, second - first - 1);
  std::string_view passwd = msg.substr(second + 1);
  // RFC 4616 §2: passwd excludes NUL, so a third NUL is malformed.
  if (passwd.find('\0') != std::string_view::npos)
    return fail(SaslErrorKind::malformed, "too many NUL separators");
  // RFC 4616 §2: authcid and passwd are 1*SAFE (non-empty).
  if (authcid.empty() || passwd.empty()) return fail(SaslErrorKind::malformed, "empty user or password");
  if (authzid.size() > kSaslMaxField || authcid.size() > kSaslMaxField || passwd.size() > kSaslMaxField)
    return fail(SaslErrorKind::too_long, "field too long");
  // RFC 4616 §2: the server may refuse to act as another identity. We never allow proxy
  // authorisation: authzid must be empty or name the authenticating user.
  if (!authzid.empty() && !iequals(authzid, authcid))
    return fail(SaslErrorKind::authzid_mismatch, "authorization identity differs from user");
  SaslCredentials creds{std::string(authcid), std::string(passwd), "PLAIN"};
  reset();
  return creds;
}

}  // namespace tern::auth
