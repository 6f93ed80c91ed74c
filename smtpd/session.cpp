// smtpd: session core — input loop, pipelining, action bookkeeping, STARTTLS, shutdown.
// Command handlers live in session_commands.cpp.
#include "smtpd/session.h"

#include <algorithm>
#include <cassert>
#include <unordered_set>

#include "smtpd/replies.h"

namespace tern::smtpd {

namespace {
// While an action is pending, input is buffered. A client may legitimately pipeline BDAT
// chunks behind a RCPT, so allow a message's worth plus some commands; past that, the
// client is abusing us and is disconnected once its queued replies are out.
constexpr uint64_t kPipelineSlack = 64 * 1024;
}  // namespace

std::string render(const Reply& r, std::string_view text) {
  std::string out = std::to_string(r.code);
  out += ' ';
  if (!r.status.empty()) {
    out += r.status;
    out += ' ';
  }
  out += text.empty() ? r.text : text;
  out += "\r\n";
  return out;
}

const char* to_string(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::mx: return "mx";
    case ListenerKind::submission: return "submission";
    case ListenerKind::submissions: return "submissions";
  }
  return "?";
}

const char* to_string(State state) {
  switch (state) {
    case State::fresh: return "fresh";
    case State::ready: return "ready";
    case State::mail: return "mail";
    case State::data: return "data";
    case State::bdat: return "bdat";
    case State::auth: return "auth";
    case State::tls_handshake: return "tls-handshake";
    case State::closed: return "closed";
  }
  return "?";
}

std::vector<std::string> Envelope::local_users() const {
  std::vector<std::string> out;
  for (const auto& r : recipients)
    for (const auto& u : r.users)
      if (std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
  return out;
}

std::vector<std::string> Envelope::remote_addresses() const {
  std::vector<std::string> out;
  for (const auto& r : recipients)
    if (r.remote && std::find(out.begin(), out.end(), r.address) == out.end())
      out.push_back(r.address);
  return out;
}

Session::Session(const SessionSettings& settings, const PeerInfo& peer)
    : settings_(settings), peer_(peer) {
  if (!settings_.clock) settings_.clock = [] { return int64_t{0}; };
  if (!settings_.make_id) settings_.make_id = [n = uint64_t{0}]() mutable {
    return "ID" + std::to_string(++n);
  };
  if (settings_.max_line_length < 3) settings_.max_line_length = 3;
  if (settings_.max_errors < 1) settings_.max_errors = 1;
}

State Session::state() const {
  switch (phase_) {
    case Phase::closed: return State::closed;
    case Phase::tls_handshake: return State::tls_handshake;
    case Phase::auth_response: return State::auth;
    case Phase::data: return State::data;
    case Phase::bdat: return State::bdat;
    case Phase::command: break;
  }
  if (tx_.active) return State::mail;
  return helo_.empty() ? State::fresh : State::ready;
}

Output Session::greet() {
  Output out;
  if (closed()) return out;
  // RFC 5321 §4.2: the greeting names the server; RFC 2034: no enhanced code here.
  out.bytes = std::to_string(reply::Greeting.code) + " " + settings_.hostname + " " +
              std::string(reply::Greeting.text) + "\r\n";
  return out;
}

Output Session::refuse_busy() {
  return refuse_connection(reply::TooManyConnections, "connection-rate");
}

Output Session::early_talker() {
  // RFC 5321 §4.3.1: the client waits for the 220 before it sends anything. Postfix's
  // postscreen calls this the pregreet test; spam engines fail it.
  return refuse_connection(reply::EarlyTalker, "early-talker");
}

Output Session::refuse_connection(const Reply& r, const char* reason) {
  Output out;
  if (closed()) return out;
  out.log.push_back(std::string("connection refused reason=") + reason + " ip=" + peer_.ip);
  close_with(out, r);
  return out;
}

Output Session::feed(std::string_view bytes) {
  Output out;
  if (closed()) return out;
  if (phase_ == Phase::tls_handshake) {
    // RFC 3207 §4.2 / CVE-2011-0411: plaintext sent after STARTTLS is never executed.
    if (!bytes.empty()) out.log.push_back("starttls discarded=" + std::to_string(bytes.size()));
    return out;
  }
  if (pending_) {
    uint64_t cap = settings_.max_message_size + kPipelineSlack;
    uint64_t buffered = in_.size() - in_pos_;
    if (overflow_ || buffered + bytes.size() > cap) {
      overflow_ = true;
      return out;
    }
  }
  in_.append(bytes);
  process(out);
  return out;
}

Output Session::complete(const ActionResult& result) {
  Output out;
  if (closed()) return out;
  if (!pending_ || pending_->id != result.id) {
    // The daemon answered something we did not ask (or twice): a wiring bug, not a peer
    // problem. Ignored so the session stays consistent.
    out.log.push_back("smtpd unexpected action result id=" + std::to_string(result.id));
    return out;
  }
  Pending p = std::move(*pending_);
  pending_.reset();
  bool kind_ok = true;
  switch (p.kind) {
    case PendingKind::auth:
      if (auto* r = std::get_if<AuthResult>(&result.result)) on_auth(*r, p.detail, out);
      else kind_ok = false;
      break;
    case PendingKind::scram_keys:
      if (auto* r = std::get_if<ScramKeysResult>(&result.result)) on_scram_keys(*r, out);
      else kind_ok = false;
      break;
    case PendingKind::sender:
      if (auto* r = std::get_if<SenderResult>(&result.result)) on_sender(*r, p.command, out);
      else kind_ok = false;
      break;
    case PendingKind::recipient:
      if (auto* r = std::get_if<RecipientResult>(&result.result)) on_recipient(*r, p.command, out);
      else kind_ok = false;
      break;
    case PendingKind::deliver:
      if (auto* r = std::get_if<DeliverResult>(&result.result)) on_deliver(*r, p.detail, out);
      else kind_ok = false;
      break;
  }
  if (!kind_ok) {
    out.log.push_back("smtpd wrong result type for action id=" + std::to_string(result.id));
    if (p.kind == PendingKind::deliver) reset_transaction();
    reply(out, reply::TempFailure);
  }
  if (overflow_ && !closed()) {
    close_with(out, reply::InputOverflow);
    return out;
  }
  process(out);
  return out;
}

Output Session::timeout() {
  Output out;
  if (closed()) return out;
  // RFC 5321 §4.5.3.2: the server may close after its timeout, with 421.
  close_with(out, reply::Timeout);
  return out;
}

Output Session::shutdown() {
  Output out;
  shutdown_requested_ = true;
  if (!closed()) maybe_shutdown(out);
  return out;
}

void Session::tls_started(std::string version, std::string cipher) {
  peer_.tls = true;
  peer_.tls_version = std::move(version);
  peer_.tls_cipher = std::move(cipher);
  if (phase_ != Phase::tls_handshake) return;  // implicit TLS set-up: nothing to reset
  // RFC 3207 §4.2: discard any knowledge obtained from the client before TLS; the client
  // must send EHLO again. Authentication did not happen (AUTH is refused mid-transaction
  // and before TLS when plaintext auth is off) but is dropped too, to be safe.
  helo_.clear();
  esmtp_ = false;
  auth_user_.clear();
  reset_transaction();
  in_.clear();
  in_pos_ = 0;
  phase_ = Phase::command;
}

// ---- Replies ----

void Session::reply(Output& out, const Reply& r, std::string_view text) {
  out.bytes += render(r, text);
  if (r.code >= 500) {
    // RFC 5321 §4.5.3.1.10 allows closing on abuse; we count every permanent error.
    if (++errors_ >= settings_.max_errors) {
      out.log.push_back("smtpd too many errors ip=" + peer_.ip);
      close_with(out, reply::TooManyErrors);
    }
  }
}

void Session::close_with(Output& out, const Reply& r) {
  if (closed()) return;
  out.bytes += render(r);
  out.close_after_write = true;
  phase_ = Phase::closed;
  in_.clear();
  in_pos_ = 0;
  data_.reset();
}

bool Session::maybe_shutdown(Output& out) {
  if (!shutdown_requested_ || closed() || pending_ || tx_.active) return false;
  if (phase_ != Phase::command && phase_ != Phase::auth_response) return false;
  close_with(out, reply::ShuttingDown);
  return true;
}

uint64_t Session::start_action(Output& out, ActionRequest request, PendingKind kind, Command cmd) {
  assert(!pending_);
  uint64_t id = next_action_id_++;
  out.actions.push_back(Action{id, std::move(request)});
  pending_ = Pending{id, kind, std::move(cmd), {}};
  return id;
}

void Session::reset_transaction() { tx_ = Transaction{}; }

// ---- Input loop ----

// Extracts one line ending in LF (a CR before it is dropped). Lines longer than `limit`
// (including CRLF) are reported as too long; an unterminated overlong line is discarded as
// it arrives so that it never sits in memory.
bool Session::take_line(size_t limit, std::string_view* line, bool* too_long) {
  std::string_view avail(in_.data() + in_pos_, in_.size() - in_pos_);
  size_t nl = avail.find('\n');
  if (nl == std::string_view::npos) {
    if (discarding_line_ || avail.size() > limit) {
      discarding_line_ = true;
      in_pos_ = in_.size();
    }
    return false;
  }
  std::string_view l = avail.substr(0, nl);
  in_pos_ += nl + 1;
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  *too_long = discarding_line_ || l.size() + 2 > limit;
  discarding_line_ = false;
  *line = l;
  return true;
}

void Session::process(Output& out) {
  while (!closed() && !pending_) {
    if (phase_ == Phase::tls_handshake) break;
    if (phase_ == Phase::data) {
      if (in_pos_ == in_.size()) break;
      consume_data(out);
      continue;
    }
    if (phase_ == Phase::bdat) {
      if (bdat_remaining_ > 0 && in_pos_ == in_.size()) break;
      consume_bdat(out);
      continue;
    }
    if (maybe_shutdown(out)) break;
    bool auth = phase_ == Phase::auth_response;
    // RFC 4954 §4: a SASL response line may be longer than a command line.
    size_t limit = auth ? std::max<size_t>(auth::kSaslMaxLine + 2, settings_.max_line_length)
                        : static_cast<size_t>(settings_.max_line_length);
    std::string_view line;
    bool too_long = false;
    if (!take_line(limit, &line, &too_long)) break;
    if (too_long) {
      if (auth) {
        phase_ = Phase::command;
        sasl_.reset();
        reply(out, reply::AuthLineTooLong);
      } else {
        // RFC 5321 §4.5.3.1.4: command lines are limited; §4.5.3.1.10 suggests 500.
        reply(out, reply::LineTooLong);
      }
      continue;
    }
    if (auth) {
      auth_response(line, out);
    } else {
      dispatch(line, out);
    }
  }
  // Compact the buffer: drop what was consumed.
  if (in_pos_ > 0) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  if (!closed() && !pending_) maybe_shutdown(out);
}

std::string_view Session::body_so_far() const {
  if (data_) return data_->body();
  return tx_.bdat_body;
}

void Session::consume_data(Output& out) {
  std::string_view avail(in_.data() + in_pos_, in_.size() - in_pos_);
  in_pos_ += data_->feed(avail);
  if (data_->done()) finish_data(out);
}

void Session::consume_bdat(Output& out) {
  // RFC 3030 §2: exactly chunk-size octets follow the BDAT line, with no dot-stuffing.
  uint64_t avail = in_.size() - in_pos_;
  uint64_t n = std::min<uint64_t>(avail, bdat_remaining_);
  if (n > 0 && !bdat_refusal_ && !tx_.bdat_too_big) {
    if (tx_.bdat_size + n > settings_.max_message_size) {
      // RFC 3030 §3 / RFC 1870: over the limit, keep reading but stop storing.
      tx_.bdat_too_big = true;
      tx_.bdat_body.clear();
      tx_.bdat_body.shrink_to_fit();
    } else {
      tx_.bdat_body.append(in_, in_pos_, n);
    }
  }
  tx_.bdat_size += bdat_refusal_ ? 0 : n;
  in_pos_ += n;
  bdat_remaining_ -= n;
  if (bdat_remaining_ == 0) finish_bdat_chunk(out);
}

}  // namespace tern::smtpd
