// The server side of SASL for every front end (smtpd/, pop3d/, imapd/): pure and sans-I/O,
// built as its own library (tern_sasl) with no SQLite or account dependency, so the protocol
// libraries link it without linking the account database.
//
// A SaslExchange turns the client's base64 lines into credentials. It never checks a
// password: the session hands the credentials to the daemon, which runs the (blocking)
// Authenticator on a worker. One exchange per AUTH/AUTHENTICATE command; reusable after it
// finishes (start() resets it).
//
// Mechanisms: SCRAM-SHA-256 and, over TLS, SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677, channel
// bindings tls-exporter RFC 9266 and tls-server-end-point RFC 5929), PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login, the de-facto one). SCRAM needs the user's stored keys half-way
// (SaslNeedKeys): the session fetches them like it checks a password (blocking, on a worker)
// and passes them to keys(); SCRAM then checks the client's proof itself and hands back
// credentials that say so instead of a password.
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

#include "auth/scram.h"

namespace tern::auth {

// The server must send this challenge (already base64; may be empty, i.e. "334 " alone).
// The TLS channel bindings of the connection (binary, from net::ConnectionInfo); both empty
// without TLS. SCRAM-SHA-256-PLUS is offered when either is known.
struct ChannelBindings {
  std::string tls_exporter;          // RFC 9266 (TLS 1.3)
  std::string tls_server_end_point;  // RFC 5929 §4.1
  bool any() const { return !tls_exporter.empty() || !tls_server_end_point.empty(); }
};

struct SaslChallenge {
  std::string base64;
};

// The exchange finished; the caller verifies these. authcid is as the client sent it (not
// canonicalised). An authzid equal to the authcid has been folded away.
struct SaslCredentials {
  std::string user;
  std::string password;   // PLAIN and LOGIN; empty for SCRAM
  std::string mechanism;  // "PLAIN", "LOGIN", "SCRAM-SHA-256(-PLUS)", for the log line and A-R
  // SCRAM: whether the client proved it knows the password (the exchange checked it against
  // the stored keys). The account checks (disabled, throttle, logging) remain the caller's.
  enum class Proof { none, valid, invalid } proof = Proof::none;
};

// SCRAM: look up the user's ScramKeys (fake ones for an unknown user or one without keys, so
// the exchange runs the same way and only fails at the proof) and call keys().
struct SaslNeedKeys {
  std::string user;
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

using SaslStep = std::variant<SaslChallenge, SaslCredentials, SaslError, SaslNeedKeys>;

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
  // After SaslNeedKeys: the user's keys; returns the server-first challenge.
  SaslStep keys(const ScramKeys& keys);
  // Tests (RFC test vectors): the server's part of the next SCRAM nonce instead of a random one.
  void set_server_nonce_for_test(std::string nonce) { test_nonce_ = std::move(nonce); }
  bool in_progress() const { return state_ != State::idle; }
  // Abandons a running exchange (the session ended it, e.g. an overlong line).
  void reset();

  // The connection's channel bindings: set when TLS starts (implicit TLS: before the first
  // exchange). They decide whether SCRAM-SHA-256-PLUS is offered and what it must match.
  void set_channel_bindings(ChannelBindings b) { bindings_ = std::move(b); }
  bool channel_binding_available() const { return bindings_.any(); }
  // What EHLO AUTH, CAPABILITY AUTH= and CAPA SASL advertise, strongest first.
  std::string_view mechanisms() const {
    return bindings_.any() ? "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN" : "SCRAM-SHA-256 PLAIN LOGIN";
  }

 private:
  enum class State { idle, plain_wait, login_user, login_password, scram_first, scram_keys, scram_final, scram_done };
  SaslStep plain(std::string_view base64);
  SaslStep scram_client_first(std::string_view msg);
  SaslStep scram_client_final(std::string_view msg);
  SaslStep fail(SaslErrorKind kind, std::string message);
  std::string mechanism_name() const { return plus_ ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256"; }

  State state_ = State::idle;
  std::string login_user_;
  // SCRAM: what the proof is computed over (RFC 5802 §3 AuthMessage) and the keys.
  std::string gs2_header_, client_first_bare_, server_first_, nonce_;
  bool plus_ = false;         // this exchange is SCRAM-SHA-256-PLUS
  std::string binding_data_;  // the cbind-data the client must send back (PLUS)
  ScramKeys keys_;
  ChannelBindings bindings_;
  std::string test_nonce_;
};

}  // namespace tern::auth
