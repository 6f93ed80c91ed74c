// pop3d AUTHORIZATION state: CAPA, USER/PASS, AUTH (SASL PLAIN and LOGIN), STLS, QUIT, and
// the Authenticate -> OpenMaildrop sequence that leads to TRANSACTION.
#include <utility>

#include "common/strings.h"
#include "pop3d/pop3d.h"
#include "pop3d/replies.h"

namespace tern::pop3d {

namespace {

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

void Session::refuse_plaintext() {
  reply_err(stls_offered() ? reply::TlsRequiredUseStls : reply::TlsRequired);
}

void Session::cmd_capa() {
  // RFC 2449 §5: capabilities may differ by state and by TLS; list login mechanisms only
  // where a login would be accepted.
  reply_ok(reply::CapaFollows);
  std::string& o = out_.bytes;
  o.append("TOP\r\n");
  bool offer_login = state_ == State::authorization && login_allowed();
  if (offer_login) o.append("USER\r\n");
  o.append("UIDL\r\n");
  o.append("RESP-CODES\r\n");
  o.append("AUTH-RESP-CODE\r\n");  // RFC 3206 §6
  o.append("PIPELINING\r\n");
  if (offer_login) {
    o.append("SASL ");
    o.append(sasl_.mechanisms());
    o.append("\r\n");
  }
  if (stls_offered()) o.append("STLS\r\n");  // RFC 2595 §4
  o.append("IMPLEMENTATION ");
  o.append(settings_.implementation);
  o.append("\r\n.\r\n");
}

void Session::cmd_stls(std::string_view) {
  // RFC 2595 §4: STLS only before login and only once; under implicit TLS it is refused.
  if (tls_) return reply_err(reply::TlsActive);
  if (!stls_offered()) return reply_err(reply::TlsUnavailable);
  reply_ok(reply::BeginTls);
  out_.start_tls = true;
  tls_pending_ = true;
  // Anything pipelined after STLS arrived in plaintext: discard it (it must not be
  // executed as if it had been sent under TLS).
  in_.clear();
  in_pos_ = 0;
  discarding_ = false;
}

void Session::cmd_quit_authorization() {
  // RFC 1939 §4: QUIT in AUTHORIZATION ends the session without entering UPDATE.
  end_session("+OK " + settings_.hostname + " " + std::string(reply::Bye));
}

void Session::cmd_user(std::string_view arg) {
  // RFC 2595 §4 spirit: refuse to collect a cleartext password on an unprotected link.
  if (!login_allowed()) return refuse_plaintext();
  std::string_view name = trim(arg);
  if (name.empty() || has_nul(name)) return reply_err(reply::UserMissing);
  user_arg_ = std::string(name);
  reply_ok(reply::UserAccepted);
}

void Session::cmd_pass(std::string_view arg) {
  std::string user = std::exchange(user_arg_, {});
  if (!login_allowed()) return refuse_plaintext();
  if (user.empty()) return reply_err(reply::PassWithoutUser);
  // RFC 1939 §7: the password is the rest of the line; spaces are part of it.
  if (arg.empty() || has_nul(arg)) return reply_err(reply::Syntax);
  start_authenticate(std::move(user), std::string(arg), "USER");
}

void Session::cmd_auth(std::string_view arg) {
  if (!login_allowed()) return refuse_plaintext();
  std::string_view rest = trim(arg);
  if (rest.empty()) {
    // Not in RFC 5034, but several clients probe with a bare AUTH to list mechanisms.
    reply_ok(reply::MechanismsFollow);
    for (auto m : split(sasl_.mechanisms(), ' ')) {
      out_.bytes.append(m);
      out_.bytes.append("\r\n");
    }
    out_.bytes.append(".\r\n");
    return;
  }
  auto parts = split(rest, ' ');
  if (parts.size() > 2) return reply_err(reply::Syntax);
  std::string_view mech = parts[0];
  std::optional<std::string_view> initial;
  if (parts.size() == 2) initial = parts[1];

  sasl_result(sasl_.start(mech, initial));
}

void Session::sasl_line(std::string_view line) { sasl_result(sasl_.step(line)); }

void Session::sasl_result(auth::SaslStep step) {
  if (auto* challenge = std::get_if<auth::SaslChallenge>(&step)) {
    // RFC 5034 §4: a challenge is "+" SP base64 (an empty one is "+ ").
    out_.bytes.append("+ ");
    out_.bytes.append(challenge->base64);
    out_.bytes.append("\r\n");
    return;
  }
  if (auto* need = std::get_if<auth::SaslNeedKeys>(&step)) {
    begin(Pending::scram_keys, LookupScramKeys{need->user});
    return;
  }
  if (auto* creds = std::get_if<auth::SaslCredentials>(&step)) {
    if (creds->proof == auth::SaslCredentials::Proof::none)
      return start_authenticate(std::move(creds->user), std::move(creds->password), std::move(creds->mechanism));
    begin(Pending::authenticate, Authenticate{std::move(creds->user), "", std::move(creds->mechanism), creds->proof});
    return;
  }
  switch (std::get<auth::SaslError>(step).kind) {
    case auth::SaslErrorKind::unknown_mechanism: return reply_err(reply::UnknownMechanism);
    // RFC 5034 §4: a response of "*" cancels the exchange and is answered with -ERR.
    case auth::SaslErrorKind::cancelled: return reply_err_nocount(reply::AuthCancelled);
    case auth::SaslErrorKind::bad_base64: return reply_err(reply::BadBase64);
    // RFC 4616 §2: acting as another identity is not supported.
    case auth::SaslErrorKind::authzid_mismatch: return reply_err(reply::AuthzidRefused);
    case auth::SaslErrorKind::malformed:
    case auth::SaslErrorKind::too_long:
    case auth::SaslErrorKind::not_in_progress: return reply_err(reply::BadSaslMessage);
  }
}

void Session::start_authenticate(std::string user, std::string password, std::string mechanism) {
  begin(Pending::authenticate, Authenticate{std::move(user), std::move(password), std::move(mechanism)});
}

void Session::on_scram_keys(const ScramKeysResult& r) {
  if (!r.ok) {
    sasl_.reset();
    return reply_err_nocount(reply::AuthTemporary);
  }
  sasl_result(sasl_.keys(r.keys));
}

void Session::on_auth(const AuthResult& r) {
  switch (r.outcome) {
    case AuthResult::Outcome::ok:
      if (r.canonical_user.empty()) return reply_err_nocount(reply::AuthTemporary);
      user_ = r.canonical_user;
      // RFC 1939 §4: after authentication the server acquires the maildrop lock.
      maildrop_opened_ = true;
      begin(Pending::open_maildrop, OpenMaildrop{user_});
      return;
    case AuthResult::Outcome::invalid_credentials: return reply_err(reply::InvalidCredentials);
    case AuthResult::Outcome::locked_out: return reply_err(reply::LockedOut);
    case AuthResult::Outcome::temporary_failure: return reply_err_nocount(reply::AuthTemporary);
  }
}

void Session::on_maildrop(const MaildropResult& r) {
  if (r.outcome != MaildropResult::Outcome::ok) {
    // RFC 1939 §4: on failure the lock is not held (the daemon's OpenMaildrop releases what
    // it took before failing); the client may log in again or QUIT.
    maildrop_opened_ = false;
    user_.clear();
    return reply_err_nocount(r.outcome == MaildropResult::Outcome::in_use ? reply::MaildropInUse
                                                                          : reply::MaildropTemporary);
  }
  messages_.clear();
  messages_.reserve(r.messages.size());
  for (const auto& m : r.messages) messages_.push_back(Message{m, false});
  state_ = State::transaction;
  sizes_known_ = r.sizes_known;
  // RFC 1939 §7 PASS: "+OK" once the maildrop is locked; the summary is informative only,
  // so without sizes yet it gives the count alone.
  if (sizes_known_) reply_ok(reply::maildrop_summary(live_count(), live_octets()));
  else reply_ok(reply::maildrop_count(live_count()));
}

}  // namespace tern::pop3d
