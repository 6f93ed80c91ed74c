// The server side of SASL for every front end (smtpd/, pop3d/, imapd/): pure and sans-I/O,
// built as its own library (tern_sasl) with no SQLite or account dependency, so the protocol
// libraries link it without linking the account database.
//
// A SaslExchange turns the client's base64 lines into credentials. It never checks a
// password: the session hands the credentials to the daemon, which runs the (blocking)
// Authenticator on a worker. One exchange per AUTH/AUTHENTICATE command; reusable after it
// finishes (start() resets it).
//
// Mechanisms: PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login, the de-facto one).
// The protocol framing ("334 " / "+ " continuation lines, reply codes, line length limits of
// the transport) is the caller's; the exchange owns the mechanism rules: the "*" cancel line
// and the "=" empty response (RFC 4954 §4, RFC 5034 §4, RFC 9051 §6.2.2), PLAIN's authzid
// rules and field caps (RFC 4616 §2), LOGIN's prompts.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tern::auth {

// The server must send this challenge (already base64; may be empty, i.e. "334 " alone).
struct SaslChallenge {
  std::string base64;
};

// The exchange finished; the caller verifies these. authcid is as the client sent it (not
// canonicalised). An authzid equal to the authcid has been folded away.
struct SaslCredentials {
  std::string user;
  std::string password;
  std::string mechanism;  // "PLAIN" or "LOGIN", for the log line and Authentication-Results
};

enum class SaslErrorKind {
  unknown_mechanism,  // SMTP 504 5.5.4, IMAP NO/BAD
  bad_base64,         // the response is not base64 (RFC 4648 §4) (SMTP 501 5.5.2)
  malformed,          // missing NULs, empty fields, NUL in a LOGIN field (SMTP 501 5.5.2)
  too_long,           // a line or field over the limits below (SMTP 500 5.5.6)
  authzid_mismatch,   // PLAIN authzid names someone else: no proxy logins (SMTP 535 5.7.8)
  cancelled,          // the client sent "*" (SMTP 501 5.0.0)
  not_in_progress,    // step() without a running exchange: programmer error in the caller
};

const char* to_string(SaslErrorKind kind);

struct SaslError {
  SaslErrorKind kind;
  std::string message;  // short English text, safe to log (never contains the password)
};

using SaslStep = std::variant<SaslChallenge, SaslCredentials, SaslError>;

// Limits. RFC 4616 §2: servers MUST accept authcid/passwd of up to 255 octets; we refuse more
// so a pre-authentication client cannot make us hold or hash large buffers.
inline constexpr size_t kSaslMaxField = 255;
inline constexpr size_t kSaslMaxLine = 2048;  // base64 text of one client line

class SaslExchange {
 public:
  // Mechanism names compare case-insensitively. initial_response is the optional argument of
  // AUTH (RFC 4954 §4) / SASL-IR (RFC 4959); "=" stands for an empty response.
  SaslStep start(std::string_view mechanism, std::optional<std::string_view> initial_response);
  // One client line without CRLF (a trailing CR/LF is tolerated and dropped).
  SaslStep step(std::string_view client_line);
  bool in_progress() const { return state_ != State::idle; }
  // Abandons a running exchange (the session ended it, e.g. an overlong line).
  void reset();

  // "PLAIN LOGIN": what EHLO AUTH, CAPABILITY AUTH= and CAPA SASL advertise, in this order.
  static std::string_view mechanisms() { return "PLAIN LOGIN"; }

 private:
  enum class State { idle, plain_wait, login_user, login_password };
  SaslStep plain(std::string_view base64);
  SaslStep fail(SaslErrorKind kind, std::string message);

  State state_ = State::idle;
  std::string login_user_;
};

}  // namespace tern::auth
