// smtpd: the command table and each command's check and proceed steps, plus the handling
// of action results.
#include <algorithm>
#include <array>

#include "smtpd/replies.h"
#include "smtpd/session.h"

namespace tern::smtpd {

namespace {

// Command table: which verbs need a prior HELO/EHLO. Everything else is checked in the
// handler, where the state rules are specific (transaction, TLS, authentication).
struct CommandRule {
  Verb verb;
  bool needs_helo;
};
constexpr std::array<CommandRule, 15> kRules = {{
    {Verb::helo, false},
    {Verb::ehlo, false},
    {Verb::mail, true},  // RFC 5321 §4.1.4: MAIL needs a HELO/EHLO first
    {Verb::rcpt, true},
    {Verb::data, true},
    {Verb::bdat, false},  // checked after reading the chunk (its bytes must be consumed)
    {Verb::rset, false},
    {Verb::noop, false},
    {Verb::quit, false},
    {Verb::vrfy, false},
    {Verb::expn, false},
    {Verb::help, false},
    {Verb::starttls, false},
    {Verb::auth, true},  // RFC 4954 §4: AUTH after EHLO
    {Verb::unknown, false},
}};

bool needs_helo(Verb v) {
  for (const auto& r : kRules)
    if (r.verb == v) return r.needs_helo;
  return false;
}

std::string address_literal(const std::string& ip) {
  // RFC 5321 §4.1.3: IPv6 literals carry the "IPv6:" tag.
  if (ip.find(':') != std::string::npos) return "[IPv6:" + ip + "]";
  return "[" + ip + "]";
}

}  // namespace

void Session::dispatch(std::string_view line, Output& out) {
  Verb verb = parse_verb(line);
  if (verb == Verb::unknown) {
    reply(out, reply::Unrecognized);
    return;
  }
  if (needs_helo(verb) && helo_.empty()) {
    reply(out, verb == Verb::auth ? reply::NeedEhlo : reply::NeedHelo);
    return;
  }
  auto parsed = parse_command(line);
  if (!parsed) {
    // RFC 5321 §4.1.1.11: 555 for unrecognized MAIL/RCPT parameters, else 501.
    const Reply& r = parsed.error().code == Errc::not_found ? reply::UnknownParameter
                                                            : reply::SyntaxError;
    reply(out, r, parsed.error().message);
    return;
  }
  const Command& cmd = *parsed;
  if (unauth_pipelining(cmd.verb, out)) return;
  switch (cmd.verb) {
    case Verb::helo:
    case Verb::ehlo: cmd_helo(cmd, out); break;
    case Verb::mail: cmd_mail(cmd, out); break;
    case Verb::rcpt: cmd_rcpt(cmd, out); break;
    case Verb::data: cmd_data(out); break;
    case Verb::bdat: cmd_bdat(cmd, out); break;
    case Verb::rset:
      // RFC 5321 §4.1.1.5: abort the transaction, keep the HELO.
      reset_transaction();
      reply(out, reply::Ok);
      break;
    case Verb::noop: reply(out, reply::Ok); break;
    case Verb::quit:
      // RFC 5321 §4.1.1.10: 221, then close.
      close_with(out, reply::Bye);
      break;
    case Verb::vrfy:
      // RFC 5321 §3.5.3: 252 without confirming anything (no user enumeration).
      reply(out, reply::CannotVrfy);
      break;
    case Verb::expn: reply(out, reply::NotImplemented); break;
    case Verb::help: reply(out, reply::Help); break;
    case Verb::starttls: cmd_starttls(out); break;
    case Verb::auth: cmd_auth(cmd, out); break;
    case Verb::unknown: reply(out, reply::Unrecognized); break;
  }
}

bool Session::unauth_pipelining(Verb verb, Output& out) {
  if (!settings_.reject_unauth_pipelining || in_pos_ == in_.size()) return false;
  // More input already follows this command line: the client did not wait for our reply.
  // RFC 2920 §3.1: EHLO and DATA end a pipelined group; without EHLO (or before it, or after
  // HELO) PIPELINING was never offered, so every command waits for its reply. BDAT chunks
  // and QUIT after the final "." are data, not commands, and never get here.
  const bool esmtp_client = esmtp_ && !helo_.empty();
  const bool must_be_last = verb == Verb::ehlo || verb == Verb::helo || verb == Verb::data;
  if (esmtp_client && !must_be_last) return false;
  out.log.push_back(std::string("connection refused reason=unauth-pipelining ip=") + peer_.ip +
                    " state=" + to_string(state()));
  close_with(out, reply::UnauthPipelining);
  return true;
}

std::string Session::ehlo_reply() const {
  std::vector<std::string> lines;
  lines.push_back(settings_.hostname);
  lines.push_back("PIPELINING");                                        // RFC 2920
  lines.push_back("SIZE " + std::to_string(settings_.max_message_size));  // RFC 1870
  lines.push_back("8BITMIME");                                          // RFC 6152
  lines.push_back("SMTPUTF8");                                          // RFC 6531
  lines.push_back("ENHANCEDSTATUSCODES");                               // RFC 2034
  lines.push_back("CHUNKING");                                          // RFC 3030
  lines.push_back("DSN");                                               // RFC 3461
  // RFC 3207 §4.2: STARTTLS is not offered once TLS is active.
  if (!peer_.tls && settings_.tls_available) lines.push_back("STARTTLS");
  // RFC 4954 §4 / RFC 8314: no plaintext passwords unless explicitly allowed.
  if (settings_.auth_enabled && (peer_.tls || settings_.allow_plaintext_auth))
    lines.push_back("AUTH " + std::string(sasl_.mechanisms()));
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i)
    out += "250" + std::string(i + 1 == lines.size() ? " " : "-") + lines[i] + "\r\n";
  return out;
}

void Session::cmd_helo(const Command& cmd, Output& out) {
  // RFC 5321 §4.1.4: HELO/EHLO also resets any transaction in progress.
  reset_transaction();
  helo_ = cmd.argument;
  esmtp_ = cmd.verb == Verb::ehlo;
  if (esmtp_) {
    out.bytes += ehlo_reply();
  } else {
    out.bytes += "250 " + settings_.hostname + "\r\n";
  }
}

void Session::cmd_mail(const Command& cmd, Output& out) {
  if (tx_.active) return reply(out, reply::NestedMail);  // RFC 5321 §4.1.4
  bool submission = settings_.kind != ListenerKind::mx;
  // RFC 6409 §4.3: submission requires authentication.
  if (submission && auth_user_.empty()) return reply(out, reply::AuthRequired);
  // RFC 1870 §6.2: a declared size over our limit is refused at MAIL.
  if (cmd.mail.size && *cmd.mail.size > settings_.max_message_size)
    return reply(out, reply::TooBig);
  // RFC 1870 §6.1: a size (declared, or else any message) we cannot store for now: 452 4.3.1,
  // before the client sends it (issue 20: refuse before the disk is full).
  if (settings_.has_room && !settings_.has_room(cmd.mail.size ? *cmd.mail.size : 0)) {
    out.log.push_back("mail deferred reason=storage-full ip=" + peer_.ip);
    return reply(out, reply::SystemFull);
  }
  // Issue 17: messages per hour from this address (authenticated clients are not counted).
  if (auth_user_.empty() && settings_.may_start_message && !settings_.may_start_message()) {
    out.log.push_back("mail deferred reason=message-rate ip=" + peer_.ip);
    return reply(out, reply::TooManyMessages);
  }
  // RFC 6531 §3.4: a non-ASCII reverse-path needs the SMTPUTF8 parameter.
  if (cmd.path_is_utf8 && !cmd.mail.smtputf8) return reply(out, reply::NeedsSmtpUtf8);
  if (submission) {
    if (cmd.path.empty()) return reply(out, reply::NullSenderRefused);
    start_action(out, CheckSender{auth_user_, cmd.path, cmd.address}, PendingKind::sender, cmd);
    return;
  }
  accept_sender(cmd, out);
}

void Session::accept_sender(const Command& cmd, Output& out) {
  reset_transaction();
  tx_.active = true;
  tx_.sender = cmd.path;
  tx_.params = cmd.mail;
  reply(out, reply::SenderOk);
}

void Session::on_sender(const SenderResult& r, const Command& cmd, Output& out) {
  if (r.status != SenderResult::owned) {
    out.log.push_back("mail refused reason=sender-not-owned user=" + auth_user_ +
                      " from=" + cmd.path);
    return reply(out, reply::SenderNotOwned);
  }
  accept_sender(cmd, out);
}

void Session::cmd_rcpt(const Command& cmd, Output& out) {
  if (!tx_.active) return reply(out, reply::NeedMail);
  // RFC 5321 §4.5.3.1.10: 452 for recipients past our limit; the client retries them later.
  if (tx_.accepted >= settings_.max_recipients) return reply(out, reply::TooManyRecipients);
  if (cmd.path_is_utf8 && !tx_.params.smtputf8) return reply(out, reply::NeedsSmtpUtf8);
  start_action(out, ResolveRecipient{cmd.path, cmd.address, auth_user_, tx_.sender, helo_},
               PendingKind::recipient, cmd);
}

void Session::on_recipient(const RecipientResult& r, const Command& cmd, Output& out) {
  if (!tx_.active) return reply(out, reply::NeedMail);  // cannot happen: nothing resets meanwhile
  auto add = [&](bool remote, std::vector<std::string> users) {
    ++tx_.accepted;
    for (const auto& existing : tx_.recipients)
      if (iequals(existing.address, cmd.path)) return;  // same address twice: one copy
    // One copy per local user even when several addresses (aliases) reach them; the user
    // stays under the first address so its DSN parameters apply.
    std::vector<std::string> fresh;
    for (auto& u : users) {
      bool seen = std::any_of(tx_.recipients.begin(), tx_.recipients.end(), [&](const auto& e) {
        return std::find(e.users.begin(), e.users.end(), u) != e.users.end();
      });
      if (!seen && std::find(fresh.begin(), fresh.end(), u) == fresh.end()) fresh.push_back(u);
    }
    tx_.recipients.push_back(
        EnvelopeRecipient{cmd.path, cmd.rcpt.orcpt, cmd.rcpt.notify, remote, std::move(fresh)});
  };
  switch (r.status) {
    case RecipientResult::local:
      if (r.users.empty()) return reply(out, reply::UnknownUser);
      add(false, r.users);
      return reply(out, reply::RecipientOk);
    case RecipientResult::remote:
    case RecipientResult::not_local_domain:
      if (auth_user_.empty()) {
        // Never an open relay: only authenticated users may send to other domains.
        out.log.push_back("rcpt refused reason=relay-denied ip=" + peer_.ip + " to=" + cmd.path);
        return reply(out, reply::RelayDenied);
      }
      if (!settings_.relay_available) {
        out.log.push_back("rcpt deferred reason=relay-unavailable user=" + auth_user_ +
                          " to=" + cmd.path);
        return reply(out, reply::RelayUnavailable);
      }
      add(true, {});
      return reply(out, reply::RecipientOk);
    case RecipientResult::forward:
      if (!settings_.relay_available) {
        out.log.push_back("rcpt deferred reason=relay-unavailable to=" + cmd.path);
        return reply(out, reply::RelayUnavailable);
      }
      add(true, {});
      return reply(out, reply::RecipientOk);
    case RecipientResult::unknown_user: return reply(out, reply::UnknownUser);
    case RecipientResult::over_quota: return reply(out, reply::MailboxFull);
    case RecipientResult::storage_full:
      out.log.push_back("rcpt deferred reason=storage-full to=" + cmd.path);
      return reply(out, reply::SystemFull);
    case RecipientResult::temporary: return reply(out, reply::TempFailure);
    case RecipientResult::policy_deferred:
      out.log.push_back("rcpt deferred reason=policy ip=" + peer_.ip + " to=" + cmd.path);
      return reply(out, reply::RecipientDeferred, r.text);
    case RecipientResult::policy_refused:
      out.log.push_back("rcpt refused reason=policy ip=" + peer_.ip + " to=" + cmd.path);
      return reply(out, reply::RecipientRefused, r.text);
  }
}

void Session::cmd_data(Output& out) {
  if (!tx_.active) return reply(out, reply::NeedMail);
  if (tx_.bdat_used) return reply(out, reply::MixedBdatData);  // RFC 3030 §3
  // RFC 5321 §3.3: DATA with no accepted recipient gets 554 (or 503).
  if (tx_.recipients.empty()) return reply(out, reply::NoValidRecipients);
  reply(out, reply::StartData);
  data_.emplace(settings_.max_message_size, static_cast<size_t>(settings_.max_line_length),
                settings_.bare_newline == BareNewlinePolicy::normalize);
  phase_ = Phase::data;
}

void Session::finish_data(Output& out) {
  phase_ = Phase::command;
  DataReader reader = std::move(*data_);
  data_.reset();
  if (reader.too_big()) {
    // RFC 1870 §6.3: data over the limit: 552 after reading to the end.
    reset_transaction();
    return reply(out, reply::TooBig);
  }
  if (reader.saw_bare_newline() && settings_.bare_newline == BareNewlinePolicy::reject) {
    // RFC 5321 §2.3.8: CR and LF only as CRLF; refusing defeats SMTP smuggling downstream.
    out.log.push_back("data refused reason=bare-newline ip=" + peer_.ip);
    reset_transaction();
    return reply(out, reply::BareNewline);
  }
  if (reader.line_too_long()) {
    // RFC 5321 §4.5.3.1.6: lines over 1000 octets; refused with 500 5.5.6 after the end.
    reset_transaction();
    return reply(out, reply::DataLineTooLong);
  }
  start_delivery(reader.take_body(), out);
}

void Session::cmd_bdat(const Command& cmd, Output& out) {
  bdat_remaining_ = cmd.bdat_size;
  bdat_last_ = cmd.bdat_last;
  bdat_refusal_ = nullptr;
  // The chunk's bytes are always read (never taken as commands), then answered.
  if (helo_.empty()) bdat_refusal_ = &reply::NeedHelo;
  else if (!tx_.active) bdat_refusal_ = &reply::NeedMail;
  else if (tx_.recipients.empty()) bdat_refusal_ = &reply::NoValidRecipients;
  if (!bdat_refusal_) tx_.bdat_used = true;
  phase_ = Phase::bdat;
}

void Session::finish_bdat_chunk(Output& out) {
  phase_ = Phase::command;
  if (bdat_refusal_) {
    const Reply* r = bdat_refusal_;
    bdat_refusal_ = nullptr;
    return reply(out, *r);
  }
  if (tx_.bdat_too_big) {
    // RFC 3030 §3: a 5xx to any chunk fails the transaction.
    reset_transaction();
    return reply(out, reply::TooBig);
  }
  if (!bdat_last_) {
    return reply(out, reply::ChunkOk, std::to_string(tx_.bdat_size) + " octets received");
  }
  std::string body = std::move(tx_.bdat_body);
  start_delivery(std::move(body), out);
}

void Session::start_delivery(std::string body, Output& out) {
  Deliver d;
  Envelope& e = d.envelope;
  e.queue_id = settings_.make_id();
  e.sender = tx_.sender;
  e.recipients = tx_.recipients;
  e.envid = tx_.params.envid;
  e.ret = tx_.params.ret;
  e.body_8bitmime = tx_.params.body == BodyType::eight_bit_mime;
  e.smtputf8 = tx_.params.smtputf8;
  e.auth_user = auth_user_;
  e.client_ip = peer_.ip;
  e.helo = helo_;
  d.message = received_header(e.queue_id);
  d.message += body;
  std::string id = e.queue_id;
  start_action(out, std::move(d), PendingKind::deliver, Command{});
  pending_->detail = std::move(id);
}

void Session::on_deliver(const DeliverResult& r, const std::string& queue_id, Output& out) {
  reset_transaction();
  switch (r.status) {
    case DeliverResult::ok: {
      // The id was fixed when the Received: header was written; the store may confirm it.
      std::string id = r.queue_id.empty() ? queue_id : r.queue_id;
      return reply(out, reply::Queued, std::string(reply::Queued.text) + id);
    }
    case DeliverResult::temporary:
      out.log.push_back("deliver failed temporary ip=" + peer_.ip + " reason=" + r.text);
      return reply(out, reply::TempFailure);
    case DeliverResult::permanent:
      out.log.push_back("deliver failed permanent ip=" + peer_.ip + " reason=" + r.text);
      return reply(out, reply::TransactionFailed);
    case DeliverResult::policy_rejected:
      out.log.push_back("deliver refused by policy ip=" + peer_.ip);
      return reply(out, reply::PolicyRejected, r.text);
    case DeliverResult::virus_rejected:
      out.log.push_back("deliver refused virus ip=" + peer_.ip);
      return reply(out, reply::VirusRejected, r.text);
    case DeliverResult::scan_deferred:
      out.log.push_back("deliver deferred by content scanner ip=" + peer_.ip);
      return reply(out, reply::ScanDeferred, r.text);
    case DeliverResult::policy_deferred:
      out.log.push_back("deliver deferred by policy ip=" + peer_.ip);
      return reply(out, reply::PolicyDeferred, r.text);
  }
}

std::string Session::received_header(const std::string& queue_id) const {
  // RFC 5321 §4.4 trace field; "with" per RFC 3848 (ESMTP + S for TLS + A for AUTH).
  std::string with = esmtp_ ? "ESMTP" : "SMTP";
  if (esmtp_ && peer_.tls) with += "S";
  if (esmtp_ && !auth_user_.empty()) with += "A";
  std::string lit = address_literal(peer_.ip);
  std::vector<std::string> clauses;
  clauses.push_back("from " + helo_ + " (" +
                    (peer_.reverse_name.empty() ? "unknown" : peer_.reverse_name) + " " + lit +
                    ")");
  clauses.push_back("by " + settings_.hostname + " (Tern) with " + with + " id " + queue_id);
  if (peer_.tls)
    clauses.push_back("(using " + peer_.tls_version + " with cipher " + peer_.tls_cipher + ")");
  // Only a single recipient is named: listing several would disclose Bcc recipients.
  if (tx_.recipients.size() == 1) clauses.push_back("for <" + tx_.recipients[0].address + ">");
  std::string h = "Received: ";
  for (size_t i = 0; i < clauses.size(); ++i) {
    if (i > 0) h += "\r\n\t";
    h += clauses[i];
  }
  h += "; " + rfc5322_date(settings_.clock()) + "\r\n";
  return h;
}

void Session::cmd_starttls(Output& out) {
  if (peer_.tls) return reply(out, reply::TlsAlreadyActive);  // RFC 3207 §4.2
  if (!settings_.tls_available) return reply(out, reply::TlsNotAvailable);
  reply(out, reply::ReadyForTls);
  out.start_tls = true;
  // RFC 3207 §5 / CVE-2011-0411: whatever the client pipelined after STARTTLS is dropped;
  // it must not run as if it had come over TLS.
  size_t dropped = in_.size() - in_pos_;
  if (dropped > 0) out.log.push_back("starttls discarded=" + std::to_string(dropped));
  in_pos_ = in_.size();
  phase_ = Phase::tls_handshake;
}

void Session::cmd_auth(const Command& cmd, Output& out) {
  // Not advertised on this listener (the MX, by default): like any unoffered extension.
  if (!settings_.auth_enabled) return reply(out, reply::AuthNotEnabled);
  if (!esmtp_) return reply(out, reply::NeedEhlo);  // RFC 4954 §4: an ESMTP extension
  if (!auth_user_.empty()) return reply(out, reply::AlreadyAuthenticated);  // RFC 4954 §4
  if (tx_.active) return reply(out, reply::AuthInTransaction);              // RFC 4954 §4
  if (!peer_.tls && !settings_.allow_plaintext_auth) return reply(out, reply::EncryptionRequired);
  std::optional<std::string_view> initial;
  if (!cmd.initial_response.empty()) initial = cmd.initial_response;
  phase_ = Phase::auth_response;  // auth_step() leaves it or continues it
  auth_step(sasl_.start(cmd.argument, initial), cmd.initial_response.size(), out);
}

void Session::auth_response(std::string_view line, Output& out) {
  auth_step(sasl_.step(line), line.size(), out);
}

void Session::auth_step(auth::SaslStep step, size_t line_size, Output& out) {
  if (auto* challenge = std::get_if<auth::SaslChallenge>(&step)) {
    // RFC 4954 §4: each challenge is "334 " and base64 text (empty for PLAIN).
    out.bytes += "334 " + challenge->base64 + "\r\n";
    return;
  }
  if (auto* need = std::get_if<auth::SaslNeedKeys>(&step)) {
    // SCRAM: the exchange goes on (phase unchanged) once the daemon has the user's keys.
    start_action(out, LookupScramKeys{need->user}, PendingKind::scram_keys, Command{});
    return;
  }
  phase_ = Phase::command;
  if (auto* creds = std::get_if<auth::SaslCredentials>(&step)) {
    std::string user = creds->user;
    start_action(out, Authenticate{std::move(creds->user), std::move(creds->password), creds->mechanism, creds->proof},
                 PendingKind::auth, Command{});
    pending_->detail = std::move(user);
    return;
  }
  switch (std::get<auth::SaslError>(step).kind) {
    case auth::SaslErrorKind::unknown_mechanism: return reply(out, reply::UnknownMechanism);
    // RFC 4954 §4: "*" cancels the exchange with 501.
    case auth::SaslErrorKind::cancelled: return reply(out, reply::AuthCancelled);
    // RFC 4616 §2: no proxy authorisation; answered like bad credentials (535 5.7.8).
    case auth::SaslErrorKind::authzid_mismatch: return reply(out, reply::AuthFailed);
    // RFC 4954 §4: a response line over our limit ends the exchange with 500 5.5.6; an
    // over-long field inside a short line is just undecodable (501 5.5.2).
    case auth::SaslErrorKind::too_long:
      return reply(out, line_size > auth::kSaslMaxLine ? reply::AuthLineTooLong : reply::AuthMalformed);
    case auth::SaslErrorKind::bad_base64:
    case auth::SaslErrorKind::malformed:
    case auth::SaslErrorKind::not_in_progress: return reply(out, reply::AuthMalformed);
  }
}

void Session::on_scram_keys(const ScramKeysResult& r, Output& out) {
  if (!r.ok) {
    sasl_.reset();
    phase_ = Phase::command;
    return reply(out, reply::AuthTemporary);
  }
  auth_step(sasl_.keys(r.keys), 0, out);
}

void Session::on_auth(const AuthResult& r, const std::string& user, Output& out) {
  switch (r.status) {
    case AuthResult::ok:
      auth_user_ = r.user.empty() ? user : r.user;
      return reply(out, reply::AuthOk);
    case AuthResult::bad: return reply(out, reply::AuthFailed);  // RFC 4954 §6: 535 5.7.8
    case AuthResult::locked_out: return reply(out, reply::AuthLockedOut);
    case AuthResult::temporary: return reply(out, reply::AuthTemporary);  // RFC 4954 §6
  }
}

}  // namespace tern::smtpd
