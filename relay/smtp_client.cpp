// SmtpClient: the state machine of one outbound SMTP connection (see smtp_client.h).
#include "relay/smtp_client.h"

#include "common/codec.h"
#include "common/strings.h"

namespace tern::relay {

namespace {

// Replies we synthesise ourselves (RecipientResult::local = true). Named once here.
struct LocalReply {
  int code;
  const char* enhanced;
  const char* text;
};
// RFC 1870 §6.2 / RFC 3463 X.3.4: message too big for the remote system.
constexpr LocalReply kSizeExceeded{552, "5.3.4", "message size exceeds the remote server's SIZE limit"};
// RFC 6152 §3: 8-bit content needs 8BITMIME; we do not downgrade. RFC 3463 X.6.3.
constexpr LocalReply kNo8BitMime{554, "5.6.3", "message has 8-bit content and the remote server lacks 8BITMIME"};
// RFC 6531 §3.2: SMTPUTF8 content to a server without SMTPUTF8 must not be sent. RFC 6533 X.6.7.
constexpr LocalReply kNoSmtpUtf8{553, "5.6.7", "message needs SMTPUTF8 and the remote server lacks it"};
constexpr LocalReply kBadAddress{553, "5.1.3", "address contains characters that cannot be sent"};
constexpr LocalReply kTlsRequired{421, "4.7.0", "TLS required by policy but STARTTLS not available"};
constexpr LocalReply kTlsFailed{421, "4.7.0", "TLS negotiation failed"};
constexpr LocalReply kAuthNoTls{421, "4.7.0", "refusing to send credentials without TLS"};
constexpr LocalReply kAuthNoMechanism{421, "4.7.0", "server offers no supported AUTH mechanism (PLAIN, LOGIN)"};
constexpr LocalReply kConnectionLost{421, "4.4.2", "connection lost"};
constexpr LocalReply kTimeout{421, "4.4.2", "timeout waiting for the remote server"};
constexpr LocalReply kProtocolError{421, "4.5.0", "malformed reply from the remote server"};
constexpr LocalReply kNoRecipientsData{554, "5.5.0", "no recipient was accepted"};

constexpr int kServiceClosing = 421;  // RFC 5321 §3.8: the server is closing the channel
constexpr int kStartData = 354;
constexpr int kAuthContinue = 334;

SmtpReply make_reply(const LocalReply& r, const std::string& detail = {}) {
  SmtpReply reply;
  reply.code = r.code;
  reply.enhanced = r.enhanced;
  reply.lines.push_back(detail.empty() ? std::string(r.text) : std::string(r.text) + ": " + detail);
  return reply;
}

bool has_non_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return true;
  }
  return false;
}

bool has_control(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '<' || c == '>') return true;
  }
  return false;
}

bool has_mech(const Capabilities& caps, std::string_view mech) {
  for (const auto& m : caps.auth) {
    if (m == mech) return true;
  }
  return false;
}

}  // namespace

const char* to_string(ClientPhase phase) {
  switch (phase) {
    case ClientPhase::greeting: return "greeting";
    case ClientPhase::ehlo: return "ehlo";
    case ClientPhase::helo: return "helo";
    case ClientPhase::starttls: return "starttls";
    case ClientPhase::tls_handshake: return "tls_handshake";
    case ClientPhase::auth: return "auth";
    case ClientPhase::mail: return "mail";
    case ClientPhase::rcpt: return "rcpt";
    case ClientPhase::data: return "data";
    case ClientPhase::data_end: return "data_end";
    case ClientPhase::rset: return "rset";
    case ClientPhase::quit: return "quit";
    case ClientPhase::done: return "done";
  }
  return "unknown";
}

SmtpClient::SmtpClient(SmtpClientSettings settings, std::vector<OutboundMessage> messages)
    : settings_(std::move(settings)), messages_(std::move(messages)) {
  tls_active_ = settings_.tls_active;
  pending_.push_back({Expect::greeting});  // RFC 5321 §3.1: the server speaks first
}

ClientPhase SmtpClient::phase() const {
  if (closed_) return ClientPhase::done;
  if (in_tls_handshake_) return ClientPhase::tls_handshake;
  if (pending_.empty()) return ClientPhase::done;
  switch (pending_.front().kind) {
    case Expect::greeting: return ClientPhase::greeting;
    case Expect::ehlo: return ClientPhase::ehlo;
    case Expect::helo: return ClientPhase::helo;
    case Expect::starttls: return ClientPhase::starttls;
    case Expect::auth_plain:
    case Expect::auth_login_user:
    case Expect::auth_login_pass:
    case Expect::auth_done: return ClientPhase::auth;
    case Expect::mail: return ClientPhase::mail;
    case Expect::rcpt: return ClientPhase::rcpt;
    case Expect::data: return ClientPhase::data;
    case Expect::data_end: return ClientPhase::data_end;
    case Expect::rset: return ClientPhase::rset;
    case Expect::quit: return ClientPhase::quit;
  }
  return ClientPhase::done;
}

int SmtpClient::timeout_seconds() const {
  const auto& t = settings_.timeouts;
  switch (phase()) {
    case ClientPhase::greeting: return t.greeting;
    case ClientPhase::mail: return t.mail;
    case ClientPhase::rcpt: return t.rcpt;
    case ClientPhase::data: return t.data_init;
    case ClientPhase::data_end: return t.data_end;
    case ClientPhase::done: return 0;
    default: return t.command;
  }
}

void SmtpClient::send(ClientOutput& out, const std::string& line, Expect kind, size_t index) {
  out.write += line;
  out.write += "\r\n";
  pending_.push_back({kind, index});
}

ClientOutput SmtpClient::feed(std::string_view bytes) {
  ClientOutput out;
  if (closed_) return out;
  parser_.append(bytes);
  SmtpReply reply;
  while (!closed_ && !in_tls_handshake_) {
    auto state = parser_.next(reply);
    if (state == ReplyParser::State::need_more) break;
    if (state == ReplyParser::State::error) {
      abort_connection(out, parser_.error());
      break;
    }
    if (pending_.empty()) {
      // A reply nobody asked for: the peer is out of step with us.
      abort_connection(out, "unexpected reply " + reply.str());
      break;
    }
    on_reply(reply, out);
  }
  return out;
}

void SmtpClient::on_reply(const SmtpReply& reply, ClientOutput& out) {
  Pending p = pending_.front();
  pending_.pop_front();
  Outcome cls = classify_reply(reply.code);

  if (reply.code == kServiceClosing && p.kind != Expect::quit) {
    // RFC 5321 §3.8: 421 means the server is closing; everything unfinished is temporary.
    fail_remaining(out, Outcome::temporary, reply, false);
    closed_ = true;
    pending_.clear();
    out.close = true;
    return;
  }

  switch (p.kind) {
    case Expect::greeting:
      if (cls != Outcome::delivered) {
        // RFC 5321 §3.1: a 554 greeting means no service; QUIT and give up on this host.
        fail_remaining(out, cls, reply, false);
        quit(out);
        return;
      }
      send(out, "EHLO " + settings_.helo_name, Expect::ehlo);
      return;

    case Expect::ehlo:
      if (cls == Outcome::delivered) {
        caps_ = parse_ehlo_reply(reply);
        after_hello(out);
      } else if (cls == Outcome::permanent) {
        // RFC 5321 §3.2: a server that rejects EHLO may still accept HELO.
        send(out, "HELO " + settings_.helo_name, Expect::helo);
      } else {
        fail_remaining(out, cls, reply, false);
        quit(out);
      }
      return;

    case Expect::helo:
      if (cls != Outcome::delivered) {
        fail_remaining(out, cls, reply, false);
        quit(out);
        return;
      }
      caps_ = Capabilities{};  // HELO: no extensions at all
      after_hello(out);
      return;

    case Expect::starttls:
      if (reply.code == 220) {
        // RFC 3207 §4.2: anything the server sent after 220 and before the handshake is
        // discarded (it could be injected plaintext).
        parser_.clear();
        in_tls_handshake_ = true;
        out.start_tls = true;
        return;
      }
      if (settings_.tls == TlsPolicy::required) {
        fail_remaining(out, Outcome::temporary, make_reply(kTlsRequired, reply.str()), true);
        quit(out);
        return;
      }
      after_tls_decision(out);  // opportunistic: carry on in plaintext
      return;

    case Expect::auth_plain:
    case Expect::auth_done:
      if (cls == Outcome::delivered) {
        next_message(out);
      } else {
        // Credential problems are the admin's to fix: temporary, so mail waits in the queue.
        fail_remaining(out, Outcome::temporary, reply, false);
        quit(out);
      }
      return;

    case Expect::auth_login_user:
    case Expect::auth_login_pass:
      if (reply.code != kAuthContinue) {
        fail_remaining(out, Outcome::temporary, reply, false);
        quit(out);
        return;
      }
      // RFC 4954 §4 with the LOGIN mechanism: username then password, each base64.
      if (p.kind == Expect::auth_login_user) {
        send(out, base64_encode(settings_.auth_username), Expect::auth_login_pass);
      } else {
        send(out, base64_encode(settings_.auth_password), Expect::auth_done);
      }
      return;

    case Expect::mail:
      if (cls != Outcome::delivered) {
        txn_->mail_failed = true;
        for (size_t i = 0; i < current().recipients.size(); ++i) {
          txn_->results[i] = RecipientResult{current().recipients[i].address, cls, reply, false};
        }
        if (pending_.empty()) {  // not pipelined: nothing else in flight
          finish_message(out, true);
          next_message(out);
        }
        return;
      }
      if (pending_.empty()) send_rcpt(out, 0);
      return;

    case Expect::rcpt:
      if (!txn_->mail_failed) {
        RecipientResult r{current().recipients[p.index].address, cls, reply, false};
        if (cls == Outcome::delivered) {
          txn_->accepted[p.index] = true;
          ++txn_->accepted_count;
        } else {
          txn_->results[p.index] = std::move(r);
        }
      }
      if (pending_.empty()) {  // not pipelined
        if (p.index + 1 < current().recipients.size()) {
          send_rcpt(out, p.index + 1);
        } else {
          send_data_or_abort(out);
        }
      }
      return;

    case Expect::data: {
      bool live = !txn_->mail_failed && txn_->accepted_count > 0;
      if (reply.code == kStartData) {
        if (live) {
          out.write += txn_->payload;
        } else {
          // RFC 2920 §3.1: DATA was pipelined although nothing was accepted and the server
          // still said 354: send an empty body so the server ends the transaction.
          txn_->ignore_data = true;
          out.write += ".\r\n";
        }
        pending_.push_back({Expect::data_end});
        return;
      }
      if (live) {
        for (size_t i = 0; i < txn_->accepted.size(); ++i) {
          if (txn_->accepted[i]) txn_->results[i] = RecipientResult{current().recipients[i].address, cls == Outcome::delivered ? Outcome::temporary : cls, reply, false};
        }
      }
      finish_message(out, true);
      next_message(out);
      return;
    }

    case Expect::data_end:
      if (!txn_->ignore_data) {
        for (size_t i = 0; i < txn_->accepted.size(); ++i) {
          if (txn_->accepted[i]) txn_->results[i] = RecipientResult{current().recipients[i].address, cls, reply, false};
        }
      }
      finish_message(out, false);
      next_message(out);
      return;

    case Expect::rset:
      if (cls != Outcome::delivered) {
        fail_remaining(out, Outcome::temporary, reply, false);
        quit(out);
        return;
      }
      next_message(out);
      return;

    case Expect::quit:
      closed_ = true;
      out.close = true;
      return;
  }
}

void SmtpClient::after_hello(ClientOutput& out) {
  if (!tls_active_ && settings_.tls != TlsPolicy::none && caps_.starttls) {
    send(out, "STARTTLS", Expect::starttls);  // RFC 3207 §4
    return;
  }
  if (!tls_active_ && settings_.tls == TlsPolicy::required) {
    fail_remaining(out, Outcome::temporary, make_reply(kTlsRequired), true);
    quit(out);
    return;
  }
  after_tls_decision(out);
}

void SmtpClient::after_tls_decision(ClientOutput& out) {
  if (settings_.auth_username.empty()) {
    next_message(out);
    return;
  }
  // RFC 4954 §4: PLAIN/LOGIN expose the password; only over TLS unless explicitly allowed.
  if (!tls_active_ && !settings_.allow_auth_without_tls) {
    fail_remaining(out, Outcome::temporary, make_reply(kAuthNoTls), true);
    quit(out);
    return;
  }
  if (has_mech(caps_, "PLAIN")) {
    // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd; sent as an initial response.
    std::string plain;
    plain += '\0';
    plain += settings_.auth_username;
    plain += '\0';
    plain += settings_.auth_password;
    send(out, "AUTH PLAIN " + base64_encode(plain), Expect::auth_plain);
  } else if (has_mech(caps_, "LOGIN")) {
    send(out, "AUTH LOGIN", Expect::auth_login_user);
  } else {
    fail_remaining(out, Outcome::temporary, make_reply(kAuthNoMechanism), true);
    quit(out);
  }
}

void SmtpClient::next_message(ClientOutput& out) {
  while (current_ < messages_.size()) {
    if (rset_before_next_) {
      // The previous transaction ended without a reply to the end of DATA: reset state.
      rset_before_next_ = false;
      send(out, "RSET", Expect::rset);  // RFC 5321 §4.1.1.5
      return;
    }
    const OutboundMessage& msg = current();
    txn_.emplace();
    txn_->results.resize(msg.recipients.size());
    txn_->accepted.assign(msg.recipients.size(), false);
    txn_->payload = smtp_data_encode(msg.data);

    bool eight_bit = has_non_ascii(msg.data);
    bool utf8 = msg.requires_smtputf8 || has_non_ascii(msg.sender);
    bool bad_address = has_control(msg.sender);
    for (const auto& r : msg.recipients) {
      utf8 = utf8 || has_non_ascii(r.address);
      bad_address = bad_address || has_control(r.address) || r.address.empty();
    }
    std::optional<LocalReply> refuse;
    uint64_t size = txn_->payload.size() - 3;  // without the terminating ".\r\n"
    if (bad_address || msg.recipients.empty()) {
      refuse = kBadAddress;
    } else if (caps_.size_advertised && caps_.size > 0 && size > caps_.size) {
      refuse = kSizeExceeded;  // RFC 1870 §6.1: do not send what the server announced it refuses
    } else if (utf8 && !caps_.smtputf8) {
      refuse = kNoSmtpUtf8;
    } else if (eight_bit && !caps_.eightbitmime) {
      refuse = kNo8BitMime;
    }
    if (refuse) {
      SmtpReply reply = make_reply(*refuse);
      for (size_t i = 0; i < msg.recipients.size(); ++i) {
        txn_->results[i] = RecipientResult{msg.recipients[i].address, Outcome::permanent, reply, true};
      }
      finish_message(out, false);
      continue;
    }

    std::string mail = "MAIL FROM:<" + msg.sender + ">";
    if (caps_.size_advertised) mail += " SIZE=" + std::to_string(size);  // RFC 1870 §6
    if (eight_bit) mail += " BODY=8BITMIME";                               // RFC 6152 §3
    if (utf8) mail += " SMTPUTF8";                                         // RFC 6531 §3.4
    if (caps_.dsn && !msg.dsn_ret.empty()) mail += " RET=" + msg.dsn_ret;  // RFC 3461 §4.3
    if (caps_.dsn && !msg.dsn_envid.empty()) mail += " ENVID=" + xtext_encode(msg.dsn_envid);
    send(out, mail, Expect::mail);
    if (caps_.pipelining && settings_.use_pipelining) {
      // RFC 2920 §3.1: MAIL, RCPTs and DATA may go in one group; DATA must be last.
      for (size_t i = 0; i < msg.recipients.size(); ++i) send_rcpt(out, i);
      send(out, "DATA", Expect::data);
    }
    return;
  }
  quit(out);
}

void SmtpClient::send_rcpt(ClientOutput& out, size_t i) {
  const OutboundRecipient& r = current().recipients[i];
  std::string line = "RCPT TO:<" + r.address + ">";
  if (caps_.dsn && !r.notify.empty()) line += " NOTIFY=" + r.notify;  // RFC 3461 §4.1
  if (caps_.dsn && !r.orcpt.empty()) line += " ORCPT=rfc822;" + xtext_encode(r.orcpt);  // §4.2
  send(out, line, Expect::rcpt, i);
}

void SmtpClient::send_data_or_abort(ClientOutput& out) {
  if (txn_->accepted_count > 0) {
    send(out, "DATA", Expect::data);
    return;
  }
  finish_message(out, true);
  next_message(out);
}

void SmtpClient::finish_message(ClientOutput& out, bool needs_rset) {
  const OutboundMessage& msg = current();
  MessageResult result;
  result.id = msg.id;
  bool any_temp = false, any_perm = false;
  for (size_t i = 0; i < msg.recipients.size(); ++i) {
    RecipientResult r = txn_->results[i].value_or(
        RecipientResult{msg.recipients[i].address, Outcome::permanent, make_reply(kNoRecipientsData), true});
    any_temp = any_temp || r.outcome == Outcome::temporary;
    any_perm = any_perm || r.outcome == Outcome::permanent;
    result.recipients.push_back(std::move(r));
  }
  result.outcome = any_temp ? Outcome::temporary : any_perm ? Outcome::permanent : Outcome::delivered;
  out.results.push_back(std::move(result));
  txn_.reset();
  ++current_;
  rset_before_next_ = needs_rset;
}

void SmtpClient::fail_remaining(ClientOutput& out, Outcome outcome, const SmtpReply& reply, bool local) {
  // Results already final for a recipient (e.g. a 550 to its RCPT) are kept; everything not
  // yet decided gets `outcome`.
  for (; current_ < messages_.size(); ++current_) {
    const OutboundMessage& msg = current();
    MessageResult result;
    result.id = msg.id;
    bool any_temp = false, any_perm = false;
    for (size_t i = 0; i < msg.recipients.size(); ++i) {
      RecipientResult r{msg.recipients[i].address, outcome, reply, local};
      if (txn_ && txn_->results[i] && !txn_->accepted[i]) r = *txn_->results[i];
      any_temp = any_temp || r.outcome == Outcome::temporary;
      any_perm = any_perm || r.outcome == Outcome::permanent;
      result.recipients.push_back(std::move(r));
    }
    result.outcome = any_temp ? Outcome::temporary : any_perm ? Outcome::permanent : Outcome::delivered;
    out.results.push_back(std::move(result));
    txn_.reset();
  }
}

void SmtpClient::quit(ClientOutput& out) {
  pending_.clear();
  send(out, "QUIT", Expect::quit);  // RFC 5321 §4.1.1.10
}

void SmtpClient::abort_connection(ClientOutput& out, const std::string& why) {
  fail_remaining(out, Outcome::temporary, make_reply(kProtocolError, why), true);
  pending_.clear();
  closed_ = true;
  out.close = true;
}

ClientOutput SmtpClient::tls_established() {
  ClientOutput out;
  if (!in_tls_handshake_ || closed_) return out;
  in_tls_handshake_ = false;
  tls_active_ = true;
  parser_.clear();
  // RFC 3207 §4.2: forget everything learnt before TLS and say EHLO again.
  caps_ = Capabilities{};
  send(out, "EHLO " + settings_.helo_name, Expect::ehlo);
  return out;
}

ClientOutput SmtpClient::tls_failed(const std::string& reason) {
  ClientOutput out;
  if (closed_) return out;
  in_tls_handshake_ = false;
  // The connection state is unknown after a failed handshake: close it. The caller may retry
  // in plaintext on a new connection if policy allows (opportunistic TLS).
  fail_remaining(out, Outcome::temporary, make_reply(kTlsFailed, reason), true);
  pending_.clear();
  closed_ = true;
  out.close = true;
  return out;
}

ClientOutput SmtpClient::connection_lost() {
  ClientOutput out;
  if (closed_) return out;
  // RFC 5321 §6.1: if the connection drops after the end of DATA but before the reply, the
  // message may have been delivered; treating it as temporary risks a duplicate, not a loss.
  fail_remaining(out, Outcome::temporary, make_reply(kConnectionLost, std::string("during ") + to_string(phase())), true);
  pending_.clear();
  closed_ = true;
  out.close = true;
  return out;
}

ClientOutput SmtpClient::timed_out() {
  ClientOutput out;
  if (closed_) return out;
  fail_remaining(out, Outcome::temporary, make_reply(kTimeout, std::string("in phase ") + to_string(phase())), true);
  pending_.clear();
  closed_ = true;
  out.close = true;
  return out;
}

}  // namespace tern::relay
