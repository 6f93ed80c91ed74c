// pop3d session core: line framing, the command table and dispatch, action bookkeeping and
// the ways a session ends. Command handlers live in commands_authorization.cpp and
// commands_transaction.cpp.
#include <utility>

#include "common/strings.h"
#include "pop3d/pop3d.h"
#include "pop3d/replies.h"

namespace tern::pop3d {

const char* to_string(State s) {
  switch (s) {
    case State::authorization: return "AUTHORIZATION";
    case State::transaction: return "TRANSACTION";
    case State::update: return "UPDATE";
    case State::closed: return "CLOSED";
  }
  return "?";
}

namespace {

enum class Cmd { capa, quit, user, pass, auth, stls, stat, list, uidl, retr, top, dele, noop, rset };

// The command table: keyword and the states it is valid in (RFC 1939 §4, §5, §7; RFC 2449
// §5 CAPA in both; RFC 2595 §4 STLS and RFC 5034 §4 AUTH in AUTHORIZATION only).
struct CommandSpec {
  std::string_view name;
  Cmd cmd;
  bool in_authorization;
  bool in_transaction;
};

constexpr CommandSpec kCommands[] = {
    {"CAPA", Cmd::capa, true, true},  {"QUIT", Cmd::quit, true, true},
    {"USER", Cmd::user, true, false}, {"PASS", Cmd::pass, true, false},
    {"AUTH", Cmd::auth, true, false}, {"STLS", Cmd::stls, true, false},
    {"STAT", Cmd::stat, false, true}, {"LIST", Cmd::list, false, true},
    {"UIDL", Cmd::uidl, false, true}, {"RETR", Cmd::retr, false, true},
    {"TOP", Cmd::top, false, true},   {"DELE", Cmd::dele, false, true},
    {"NOOP", Cmd::noop, false, true}, {"RSET", Cmd::rset, false, true},
};

const CommandSpec* find_command(std::string_view name) {
  for (const auto& spec : kCommands)
    if (iequals(spec.name, name)) return &spec;
  return nullptr;
}

}  // namespace

bool needs_result(const Action& action) {
  return std::holds_alternative<Authenticate>(action.kind) ||
         std::holds_alternative<OpenMaildrop>(action.kind) ||
         std::holds_alternative<MeasureSizes>(action.kind) ||
         std::holds_alternative<Retrieve>(action.kind) || std::holds_alternative<Commit>(action.kind) ||
         std::holds_alternative<LookupScramKeys>(action.kind);
}

Session::Session(const SessionSettings& settings, const PeerInfo& peer)
    : settings_(settings), peer_(peer), tls_(peer.tls || settings.implicit_tls) {}

Output Session::take() { return std::exchange(out_, Output{}); }

Output Session::greet() {
  reply_ok(settings_.hostname + " " + std::string(reply::Ready));
  return take();
}

Output Session::feed(std::string_view bytes) {
  // After QUIT (UPDATE) nothing more is read; after STLS, input sent before the handshake
  // is discarded (RFC 2595 §4 requires a fresh start; pipelined plaintext must not be
  // interpreted as if it had arrived under TLS).
  if (state_ == State::closed || state_ == State::update || tls_pending_) return take();
  in_.append(bytes);
  process();
  if (pending_ && state_ != State::closed && in_.size() - in_pos_ > settings_.max_pipelined_bytes) {
    // The peer keeps sending while we wait: stop rather than buffer without bound. Writing
    // an -ERR now would answer out of order, so the connection just closes.
    end_session({});
  }
  return take();
}

std::string Output::wire() const {
  if (bodies.empty()) return bytes;
  std::string out;
  size_t from = 0;
  for (const auto& body : bodies) {
    out.append(bytes, from, body.at - from);
    out.append(body.view());
    from = body.at;
  }
  out.append(bytes, from, std::string::npos);
  return out;
}

Output Session::complete(ActionResult r) {
  if (!pending_ || r.id != pending_->id) return take();  // fire-and-forget or stale result
  PendingAction p = *pending_;
  pending_.reset();
  // A result of the wrong type is the daemon's bug; answer as a temporary failure.
  switch (p.kind) {
    case Pending::authenticate: {
      auto* v = std::get_if<AuthResult>(&r.value);
      on_auth(v ? *v : AuthResult{});
      break;
    }
    case Pending::scram_keys: {
      auto* v = std::get_if<ScramKeysResult>(&r.value);
      on_scram_keys(v ? *v : ScramKeysResult{});
      break;
    }
    case Pending::open_maildrop: {
      auto* v = std::get_if<MaildropResult>(&r.value);
      on_maildrop(v ? *v : MaildropResult{});
      break;
    }
    case Pending::measure_sizes: {
      auto* v = std::get_if<SizesResult>(&r.value);
      on_sizes(v ? *v : SizesResult{});
      std::string line = std::exchange(held_line_, {});
      // The held command runs now that sizes are known; after a failure it was answered.
      if (sizes_known_ && state_ == State::transaction) dispatch(line);
      break;
    }
    case Pending::retrieve: {
      RetrieveResult failed;
      auto* v = std::get_if<RetrieveResult>(&r.value);
      on_retrieve(p, v ? *v : failed);
      break;
    }
    case Pending::commit: {
      auto* v = std::get_if<CommitResult>(&r.value);
      on_commit(v ? *v : CommitResult{});
      break;
    }
  }
  process();
  return take();
}

Output Session::timeout() {
  // The daemon's idle timer should not run while a Commit is in flight; if it does, the
  // Commit finishes and QUIT is answered as usual.
  if (state_ == State::closed || state_ == State::update) return take();
  // RFC 1939 §3: an autologout does not enter UPDATE; nothing is deleted.
  end_session(tls_pending_ ? std::string() : "-ERR " + std::string(reply::Autologout));
  return take();
}

Output Session::shutdown() {
  if (state_ == State::closed || state_ == State::update) return take();  // let QUIT finish
  end_session(tls_pending_ ? std::string() : "-ERR " + std::string(reply::ShuttingDown));
  return take();
}

Output Session::disconnected() {
  if (state_ == State::closed) return take();
  // RFC 1939 §6: a session that ends other than by QUIT does not enter UPDATE. A Commit
  // already issued (QUIT received) still runs; Release is queued after it.
  end_session({});
  return take();
}

Output Session::tls_started() {
  if (!tls_pending_) return take();
  tls_pending_ = false;
  tls_ = true;
  // RFC 2595 §4: after the handshake the client must re-learn capabilities; the session
  // is back at the start of AUTHORIZATION with no state carried over from plaintext.
  state_ = State::authorization;
  user_arg_.clear();
  sasl_.reset();
  in_.clear();
  in_pos_ = 0;
  discarding_ = false;
  return take();
}

// --- framing ---

std::optional<std::string> Session::next_line(bool& overlong) {
  overlong = false;
  size_t limit = !sasl_.in_progress() ? settings_.max_line_length : settings_.sasl_max_line_length;
  if (limit < 3) limit = 3;
  size_t lf = in_.find('\n', in_pos_);
  if (lf == std::string::npos) {
    // RFC 2449 §4: commands are limited in length; once a partial line can no longer fit
    // (content + CRLF <= limit) drop it as it arrives and answer when its end comes.
    if (discarding_ || in_.size() - in_pos_ >= limit) {
      discarding_ = true;
      in_.clear();
      in_pos_ = 0;
    } else if (in_pos_ > 0) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
    return std::nullopt;
  }
  std::string line = in_.substr(in_pos_, lf - in_pos_);
  in_pos_ = lf + 1;
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (discarding_ || line.size() + 2 > limit) {
    discarding_ = false;
    overlong = true;
    return std::string();
  }
  return line;
}

void Session::process() {
  while (state_ != State::closed && state_ != State::update && !pending_ && !tls_pending_) {
    bool overlong = false;
    auto line = next_line(overlong);
    if (!line) break;
    if (overlong) {
      sasl_.reset();  // an overlong SASL response ends the exchange too
      user_arg_.clear();
      reply_err(reply::LineTooLong);
      continue;
    }
    if (sasl_.in_progress())
      sasl_line(*line);
    else
      dispatch(*line);
  }
  if (!pending_ && state_ != State::closed) flush_seen();
}

void Session::dispatch(std::string_view line) {
  // RFC 1939 §3: a keyword, then arguments separated by single spaces; keywords are
  // case-insensitive. PASS takes the rest of the line verbatim (RFC 1939 §7).
  size_t sp = line.find(' ');
  std::string_view name = line.substr(0, sp);
  std::string_view arg = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  // RFC 1939 §7: PASS is only valid immediately after a successful USER.
  std::string pending_user = std::exchange(user_arg_, {});

  const CommandSpec* spec = find_command(name);
  if (!spec) return reply_err(reply::UnknownCommand);
  bool allowed = state_ == State::authorization ? spec->in_authorization : spec->in_transaction;
  if (!allowed) return reply_err(reply::WrongState);
  // STAT, LIST and RSET show sizes: when the maildrop came without them, they are measured
  // first and this line runs again once they are in (pipelined input waits behind it).
  if ((spec->cmd == Cmd::stat || spec->cmd == Cmd::list || spec->cmd == Cmd::rset) &&
      sizes_needed(line))
    return;

  auto no_args = [&]() {
    if (!trim(arg).empty()) {
      reply_err(reply::Syntax);
      return false;
    }
    return true;
  };
  switch (spec->cmd) {
    case Cmd::capa: if (no_args()) cmd_capa(); break;
    case Cmd::quit:
      if (!no_args()) break;
      if (state_ == State::authorization) cmd_quit_authorization();
      else cmd_quit_transaction();
      break;
    case Cmd::user: cmd_user(arg); break;
    case Cmd::pass:
      user_arg_ = std::move(pending_user);
      cmd_pass(arg);
      break;
    case Cmd::auth: cmd_auth(arg); break;
    case Cmd::stls: if (no_args()) cmd_stls(arg); break;
    case Cmd::stat: if (no_args()) cmd_stat(); break;
    case Cmd::list: cmd_list(arg); break;
    case Cmd::uidl: cmd_uidl(arg); break;
    case Cmd::retr: cmd_retr(arg); break;
    case Cmd::top: cmd_top(arg); break;
    case Cmd::dele: cmd_dele(arg); break;
    case Cmd::noop: if (no_args()) reply_ok({}); break;
    case Cmd::rset: if (no_args()) cmd_rset(); break;
  }
}

// --- replies, actions, endings ---

void Session::reply_ok(std::string_view text) {
  out_.bytes.append("+OK");
  if (!text.empty()) {
    out_.bytes.push_back(' ');
    out_.bytes.append(text);
  }
  out_.bytes.append("\r\n");
}

void Session::reply_err_nocount(std::string_view text) {
  out_.bytes.append("-ERR ");
  out_.bytes.append(text);
  out_.bytes.append("\r\n");
}

void Session::reply_err(std::string_view text) {
  ++errors_;
  if (settings_.max_errors > 0 && errors_ >= settings_.max_errors) {
    end_session("-ERR " + std::string(reply::TooManyErrors));
    return;
  }
  reply_err_nocount(text);
}

ActionId Session::emit(ActionKind kind) {
  ActionId id = next_id_++;
  out_.actions.push_back(Action{id, std::move(kind)});
  return id;
}

ActionId Session::begin(Pending kind, ActionKind action) {
  ActionId id = emit(std::move(action));
  pending_ = PendingAction{id, kind, 0, false, 0};
  return id;
}

void Session::flush_seen() {
  if (seen_.empty()) return;
  emit(MarkSeen{std::exchange(seen_, {})});
}

void Session::end_session(std::string_view final_line) {
  if (!final_line.empty()) {
    out_.bytes.append(final_line);
    out_.bytes.append("\r\n");
  }
  flush_seen();
  if (maildrop_opened_) {
    maildrop_opened_ = false;
    emit(Release{});
  }
  pending_.reset();  // a late result for an in-flight action is ignored
  state_ = State::closed;
  sasl_.reset();
  tls_pending_ = false;
  out_.close_after_write = true;
  in_.clear();
  in_pos_ = 0;
  messages_.clear();
}

bool Session::login_allowed() const { return tls_ || settings_.allow_plaintext_auth; }

bool Session::stls_offered() const {
  return settings_.stls_available && !tls_ && !settings_.implicit_tls &&
         state_ == State::authorization;
}

}  // namespace tern::pop3d
