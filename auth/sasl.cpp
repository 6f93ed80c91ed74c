#include "auth/sasl.h"

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
    case State::idle: break;
  }
  return fail(SaslErrorKind::not_in_progress, "no exchange in progress");
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
