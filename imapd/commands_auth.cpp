// Any-state and not-authenticated commands: CAPABILITY, NOOP/CHECK, LOGOUT, ID, STARTTLS,
// LOGIN, AUTHENTICATE (RFC 9051 §6.1, §6.2; SASL-IR RFC 4959; ID RFC 2971), ENABLE
// (RFC 5161) and IDLE (RFC 9051 §6.3.13).
#include "common/strings.h"
#include "imapd/session_impl.h"

namespace tern::imapd {

void Session::Impl::cmd_capability(const Command& c) {
  untagged("CAPABILITY " + capabilities());
  ok(c.tag, "CAPABILITY completed");
}

void Session::Impl::cmd_noop(const Command& c) {
  // The untagged updates come from execute()'s sync (RFC 9051 §6.1.2: NOOP polls).
  ok(c.tag, std::string(to_string(c.name)) + " completed");
}

void Session::Impl::cmd_logout(const Command& c) {
  // RFC 9051 §6.1.3: BYE first, then the tagged OK, then the server closes.
  untagged("BYE " + std::string(text::LogoutBye));
  ok(c.tag, "LOGOUT completed");
  deselect();
  state = State::logout;
  mode = Mode::closed;
  out.close_after_write = true;
}

void Session::Impl::cmd_id(const Command& c) {
  // RFC 2971 §3.3: the server answers with its own parameters (or NIL).
  untagged("ID (\"name\" \"Tern\" \"vendor\" \"Tern\")");
  ok(c.tag, "ID completed");
}

void Session::Impl::cmd_starttls(const Command& c) {
  if (tls) return bad(c.tag, "TLS is already active");
  if (!settings.tls_available) return no(c.tag, "TLS is not available");
  ok(c.tag, "Begin TLS negotiation now");
  flush();
  // RFC 9051 §6.2.1: anything the client pipelined after STARTTLS is discarded; the
  // handshake starts after the tagged OK is written.
  parser = CommandParser(parser_settings(settings));
  raw_unconsumed.clear();
  raw_head.clear();
  out.start_tls = true;
  mode = Mode::starttls;
}

void Session::Impl::cmd_compress(const Command& c) {
  const auto& a = c.as<CompressArgs>();
  // RFC 4978 §3: an unknown mechanism is BAD; compression already active is NO
  // [COMPRESSIONACTIVE] (TLS-level compression is never on: OpenSSL's is disabled).
  if (!settings.compress_available || a.mechanism != "DEFLATE")
    return bad(c.tag, "Unknown compression mechanism");
  if (compressed) return no(c.tag, "DEFLATE is already active", ResponseCode{code::CompressionActive, {}});
  ok(c.tag, "DEFLATE active");
  flush();
  // The tagged OK goes out uncompressed; both directions compress from the next byte. A
  // client waits for the OK before it compresses, so nothing pipelined is worth keeping.
  parser = CommandParser(parser_settings(settings));
  raw_unconsumed.clear();
  raw_head.clear();
  compressed = true;
  out.start_compress = true;
}

void Session::Impl::finish_login(std::string_view tag, std::string_view name, std::string_view password) {
  login_answer(tag, backend.login(name, password, peer.ip));
}

void Session::Impl::login_answer(std::string_view tag, const auth::LoginResult& r) {
  // The throttle delay applies to every answer so that timing reveals nothing; the glue
  // waits with a timer before writing.
  out.delay_ms = std::max<uint32_t>(out.delay_ms, static_cast<uint32_t>(r.delay.count()));
  switch (r.outcome) {
    case auth::LoginResult::Outcome::ok: {
      user = r.user;
      state = State::authenticated;
      (void)backend.store().ensure_user(user);  // INBOX and the special-use folders
      // RFC 9051 §6.2.3: the OK may carry the new capability list.
      return ok(tag, "Logged in", ResponseCode{code::Capability, capabilities()});
    }
    case auth::LoginResult::Outcome::bad_credentials:
    case auth::LoginResult::Outcome::disabled:
      // RFC 5530 §3: AUTHENTICATIONFAILED, without saying which part was wrong.
      return no(tag, "Invalid credentials", ResponseCode{code::AuthenticationFailed, ""});
    case auth::LoginResult::Outcome::locked_out:
      return no(tag, "Too many failed logins, try again later", ResponseCode{code::Unavailable, ""});
    case auth::LoginResult::Outcome::unavailable:
      return no(tag, "Authentication temporarily unavailable", ResponseCode{code::Unavailable, ""});
    case auth::LoginResult::Outcome::too_many_connections:
      // RFC 5530 §3: LIMIT, an implementation limit was hit; the client may retry later.
      return no(tag, "Too many connections for this user from your address",
                ResponseCode{code::Limit, ""});
  }
}

void Session::Impl::cmd_login(const Command& c) {
  // RFC 9051 §6.2.3: LOGIN must be refused while LOGINDISABLED is advertised.
  if (!login_allowed()) return no(c.tag, "Use STARTTLS first", ResponseCode{code::PrivacyRequired, ""});
  const auto& a = c.as<LoginArgs>();
  finish_login(c.tag, a.user, a.password);
}

void Session::Impl::cmd_authenticate(const Command& c) {
  if (!login_allowed()) return no(c.tag, "Use STARTTLS first", ResponseCode{code::PrivacyRequired, ""});
  const auto& a = c.as<AuthenticateArgs>();
  mode_tag = c.tag;
  std::optional<std::string_view> ir;
  if (a.initial_response) ir = *a.initial_response;
  sasl_answer(sasl.start(a.mechanism, ir));
}

void Session::Impl::sasl_line(const std::string& line) { sasl_answer(sasl.step(line)); }

void Session::Impl::sasl_answer(auth::SaslStep step) {
  if (auto* need = std::get_if<auth::SaslNeedKeys>(&step)) {
    // SCRAM: the keys come from the account db (this runs on the strand: it may block).
    auto keys = backend.scram_keys(need->user);
    if (!keys) {
      sasl.reset();
      mode = Mode::commands;
      return no(mode_tag, "Authentication temporarily unavailable", ResponseCode{code::Unavailable, ""});
    }
    step = sasl.keys(*keys);
  }
  if (auto* ch = std::get_if<auth::SaslChallenge>(&step)) {
    // RFC 9051 §6.2.2: each challenge is a continuation request with base64 data.
    out.bytes += continuation(ch->base64);
    mode = Mode::sasl;
    return;
  }
  mode = Mode::commands;
  if (auto* creds = std::get_if<auth::SaslCredentials>(&step)) {
    if (creds->proof == auth::SaslCredentials::Proof::none) return finish_login(mode_tag, creds->user, creds->password);
    return login_answer(mode_tag,
                        backend.login_proven(creds->user, creds->proof == auth::SaslCredentials::Proof::valid, peer.ip));
  }
  const auto& error = std::get<auth::SaslError>(step);
  if (error.kind == auth::SaslErrorKind::unknown_mechanism)
    return no(mode_tag, "Unsupported authentication mechanism", ResponseCode{code::Cannot, ""});
  // RFC 9051 §6.2.2: "*" cancels; the server answers BAD.
  if (error.kind == auth::SaslErrorKind::cancelled) return bad(mode_tag, "Authentication cancelled");
  if (error.kind == auth::SaslErrorKind::authzid_mismatch)
    return no(mode_tag, "Authorization identity refused", ResponseCode{code::AuthenticationFailed, ""});
  bad(mode_tag, error.message);
}

void Session::Impl::cmd_unauthenticate(const Command& c) {
  // RFC 8437 §3: back to the not-authenticated state, as on a new connection except for TLS:
  // the mailbox deselected (no untagged CLOSED, §3), extensions ENABLEd no longer so, the
  // saved search result gone; the client may log in again, as another user.
  deselect();
  notify.reset();  // RFC 5465: the events were the old user's
  user.clear();
  state = State::not_authenticated;
  imap4rev2 = utf8_accept = condstore = qresync = false;
  saved_uids.clear();
  sasl.reset();
  backend.logged_out();
  ok(c.tag, "UNAUTHENTICATE completed");
}

void Session::Impl::cmd_enable(const Command& c) {
  std::string enabled;
  for (const std::string& cap : c.as<EnableArgs>().capabilities) {
    if (iequals(cap, "IMAP4REV2") && !imap4rev2) {
      imap4rev2 = true;
      enabled += " IMAP4rev2";
    } else if (iequals(cap, "CONDSTORE") && !condstore) {
      enable_condstore();
      enabled += " CONDSTORE";
    } else if (iequals(cap, "QRESYNC") && !qresync) {
      // RFC 7162 §3.2.3: enabling QRESYNC implies CONDSTORE.
      qresync = true;
      enable_condstore();
      enabled += " QRESYNC";
    } else if (iequals(cap, "UTF8=ACCEPT") && !utf8_accept) {
      utf8_accept = true;
      enabled += " UTF8=ACCEPT";
    }
  }
  // RFC 5161 §3.2: ENABLED lists what this command enabled (possibly nothing).
  untagged("ENABLED" + enabled);
  ok(c.tag, "ENABLE completed");
}

void Session::Impl::cmd_idle(const Command& c) {
  mode = Mode::idle;
  mode_tag = c.tag;
  out.bytes += continuation("idling");
  if (sel) sync_selected(true);
  notify_deliver();
}

void Session::Impl::idle_line(const std::string& line) {
  mode = Mode::commands;
  if (!is_idle_done(line)) return bad(mode_tag, "Expected DONE to end IDLE");
  if (sel) sync_selected(true);
  notify_deliver();
  ok(mode_tag, "IDLE terminated");
}

}  // namespace tern::imapd
