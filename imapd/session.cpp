// Session: input framing, the command table (allowed states per command), dispatch, BAD
// counting, and the Output handed back to the glue.
#include "imapd/session.h"

#include <algorithm>

#include "common/strings.h"
#include "common/codec.h"
#include "imapd/session_impl.h"

namespace tern::imapd {

const char* to_string(State s) {
  switch (s) {
    case State::not_authenticated: return "not_authenticated";
    case State::authenticated: return "authenticated";
    case State::selected: return "selected";
    case State::logout: return "logout";
  }
  return "?";
}

ParserSettings parser_settings(const SessionSettings& s) {
  ParserSettings p;
  p.max_line_length = s.max_line_length;
  p.max_literal_size = s.max_literal_size;
  p.max_command_size = s.max_literal_size + (16u << 20);
  p.literal_plus = true;
  return p;
}

namespace {

// States in which a command is valid (RFC 9051 §6).
enum : unsigned { kNA = 1, kAU = 2, kSE = 4, kAny = kNA | kAU | kSE, kAuth = kAU | kSE };

unsigned state_bit(State s) {
  switch (s) {
    case State::not_authenticated: return kNA;
    case State::authenticated: return kAU;
    case State::selected: return kSE;
    case State::logout: return 0;
  }
  return 0;
}

using Handler = void (*)(Session::Impl&, const Command&);

struct CommandSpec {
  CommandName name;
  unsigned states;
  Handler run;
};

// The command table.
const CommandSpec kCommands[] = {
    {CommandName::capability, kAny, [](Session::Impl& s, const Command& c) { s.cmd_capability(c); }},
    {CommandName::noop, kAny, [](Session::Impl& s, const Command& c) { s.cmd_noop(c); }},
    {CommandName::check, kSE, [](Session::Impl& s, const Command& c) { s.cmd_noop(c); }},
    {CommandName::logout, kAny, [](Session::Impl& s, const Command& c) { s.cmd_logout(c); }},
    {CommandName::id, kAny, [](Session::Impl& s, const Command& c) { s.cmd_id(c); }},
    {CommandName::starttls, kNA, [](Session::Impl& s, const Command& c) { s.cmd_starttls(c); }},
    {CommandName::login, kNA, [](Session::Impl& s, const Command& c) { s.cmd_login(c); }},
    {CommandName::authenticate, kNA, [](Session::Impl& s, const Command& c) { s.cmd_authenticate(c); }},
    {CommandName::unauthenticate, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_unauthenticate(c); }},
    {CommandName::compress, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_compress(c); }},
    {CommandName::enable, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_enable(c); }},
    {CommandName::select, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_select(c); }},
    {CommandName::examine, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_select(c); }},
    {CommandName::create, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_create(c); }},
    {CommandName::delete_, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_delete(c); }},
    {CommandName::rename, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_rename(c); }},
    {CommandName::subscribe, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_subscribe(c, true); }},
    {CommandName::unsubscribe, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_subscribe(c, false); }},
    {CommandName::list, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_list(c); }},
    {CommandName::lsub, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_list(c); }},
    {CommandName::namespace_, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_namespace(c); }},
    {CommandName::status, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_status(c); }},
    {CommandName::append, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_append(c); }},
    {CommandName::idle, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_idle(c); }},
    {CommandName::close, kSE, [](Session::Impl& s, const Command& c) { s.cmd_close(c, true); }},
    {CommandName::unselect, kSE, [](Session::Impl& s, const Command& c) { s.cmd_close(c, false); }},
    {CommandName::expunge, kSE, [](Session::Impl& s, const Command& c) { s.cmd_expunge(c); }},
    {CommandName::search, kSE, [](Session::Impl& s, const Command& c) { s.cmd_search(c); }},
    {CommandName::sort, kSE, [](Session::Impl& s, const Command& c) { s.cmd_sort(c); }},
    {CommandName::cancelupdate, kSE, [](Session::Impl& s, const Command& c) { s.cmd_cancelupdate(c); }},
    {CommandName::thread, kSE, [](Session::Impl& s, const Command& c) { s.cmd_thread(c); }},
    {CommandName::fetch, kSE, [](Session::Impl& s, const Command& c) { s.cmd_fetch(c); }},
    {CommandName::store, kSE, [](Session::Impl& s, const Command& c) { s.cmd_store(c); }},
    {CommandName::copy, kSE, [](Session::Impl& s, const Command& c) { s.cmd_copy(c, false); }},
    {CommandName::move, kSE, [](Session::Impl& s, const Command& c) { s.cmd_copy(c, true); }},
    {CommandName::getmetadata, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_getmetadata(c); }},
    {CommandName::setmetadata, kAuth, [](Session::Impl& s, const Command& c) { s.cmd_setmetadata(c); }},
};

}  // namespace

Session::Impl::Impl(const SessionSettings& s, const PeerInfo& p, Backend& b)
    : settings(s), peer(p), backend(b), parser(parser_settings(s)), tls(s.tls_active) {}

std::string Session::Impl::capabilities() const {
  std::string caps = "IMAP4rev2 IMAP4rev1";
  if (state == State::not_authenticated) {
    if (settings.tls_available && !tls) caps += " STARTTLS";
    // RFC 9051 §6.2.3 / §7.2.2: LOGINDISABLED while plaintext login is refused.
    if (login_allowed()) {
      for (auto m : split(sasl.mechanisms(), ' ')) caps += " AUTH=" + std::string(m);
      caps += " SASL-IR";
    }
    else
      caps += " LOGINDISABLED";
  }
  // RFC 8437 §2: UNAUTHENTICATE is advertised once authenticated.
  if (state == State::authenticated || state == State::selected) {
    caps += " UNAUTHENTICATE";
    // RFC 4978 §3: COMPRESS is a command of the authenticated and selected states.
    if (settings.compress_available) caps += " COMPRESS=DEFLATE";
  }
  caps +=
      " LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE CREATE-SPECIAL-USE MULTIAPPEND"
      " WITHIN PREVIEW SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES"
      " LIST-EXTENDED LIST-STATUS STATUS=SIZE ESEARCH SEARCHRES CONDSTORE QRESYNC QUOTA"
      " QUOTA=RES-STORAGE ACL RIGHTS=texk UTF8=ACCEPT BINARY SAVEDATE OBJECTID METADATA METADATA-SERVER APPENDLIMIT=" +
      std::to_string(settings.max_literal_size);
  caps += " PARTIAL CATENATE CONTEXT=SEARCH CONTEXT=SORT";  // RFC 9394, RFC 4469, RFC 5267 §4
  caps += " NOTIFY";  // RFC 5465 (notify.cpp)
  return caps;
}

void Session::Impl::ok(std::string_view tag, std::string_view msg, const std::optional<ResponseCode>& rc) {
  tagged_out += tagged(tag, Condition::ok, msg, rc);
}

void Session::Impl::no(std::string_view tag, std::string_view msg, const std::optional<ResponseCode>& rc) {
  tagged_out += tagged(tag, Condition::no, msg, rc);
}

void Session::Impl::bad(std::string_view tag, std::string_view msg, const std::optional<ResponseCode>& rc) {
  if (tag.empty())
    tagged_out += untagged_status(Condition::bad, msg, rc);
  else
    tagged_out += tagged(tag, Condition::bad, msg, rc);
  ++errors;
  // Too many protocol errors: the client is confused or hostile; say why and hang up.
  if (settings.max_errors > 0 && errors >= settings.max_errors) bye(text::TooManyErrors);
}

void Session::Impl::bye(std::string_view msg) {
  tagged_out += untagged_status(Condition::bye, msg);
  out.close_after_write = true;
  mode = Mode::closed;
  state = State::logout;
  deselect();
  notify.reset();
}

void Session::Impl::store_error(std::string_view tag, const Error& e, bool trycreate) {
  switch (e.code) {
    case Errc::syntax: return no(tag, e.message.empty() ? text::InvalidName : e.message, ResponseCode{code::Cannot, ""});
    case Errc::not_found:
      // RFC 9051 §6.3.12 / §6.4.7: TRYCREATE when the target mailbox does not exist.
      return no(tag, text::NoSuchMailbox, ResponseCode{trycreate ? code::TryCreate : code::NonExistent, ""});
    case Errc::exists: return no(tag, "Mailbox already exists", ResponseCode{code::AlreadyExists, ""});
    case Errc::refused: return no(tag, e.message, ResponseCode{code::Cannot, ""});
    case Errc::over_quota: return no(tag, "Quota exceeded", ResponseCode{code::OverQuota, ""});
    case Errc::temporary: return no(tag, "Temporarily unavailable, try again", ResponseCode{code::Unavailable, ""});
    case Errc::internal: break;
  }
  no(tag, text::ServerError, ResponseCode{code::ServerBug, ""});
}

std::optional<std::string> Session::Impl::decode_mailbox(std::string_view wire) const {
  if (wire == "INBOX") return std::string("INBOX");
  // RFC 9051 §5.1 / RFC 6855 §3: UTF-8 names once IMAP4rev2 or UTF8=ACCEPT is enabled;
  // RFC 3501 §5.1.3: modified UTF-7 otherwise.
  if (imap4rev2 || utf8_accept) {
    if (!is_valid_utf8(wire)) return std::nullopt;
    return std::string(wire);
  }
  auto decoded = mutf7_decode(wire);
  if (!decoded) return std::nullopt;
  return std::move(decoded.value());
}

void Session::Impl::feed_parser(std::string_view bytes) {
  parser.feed(bytes);
  raw_unconsumed.append(bytes);
}

// Moves what the parser consumed from raw_unconsumed to raw_head (capped).
void Session::Impl::track_consumed() {
  size_t left = parser.buffered();
  if (left > raw_unconsumed.size()) left = raw_unconsumed.size();
  size_t consumed = raw_unconsumed.size() - left;
  if (consumed == 0) return;
  if (raw_head.size() < kRawHeadMax)
    raw_head.append(raw_unconsumed, 0, std::min(consumed, kRawHeadMax - raw_head.size()));
  raw_unconsumed.erase(0, consumed);
}

void Session::Impl::on_literal_request(const LiteralRequest& lit) {
  uint64_t limit =
      state == State::not_authenticated ? settings.max_preauth_literal : settings.max_literal_size;
  if (lit.size > limit) {
    parser.reject_literal();
    raw_head.clear();
    std::string tag = lit.tag.value_or("");
    // RFC 7889 §4 (APPENDLIMIT): NO [TOOBIG] for a message over the limit.
    if (lit.name == CommandName::append && !tag.empty() && state != State::not_authenticated)
      no(tag, "Message too big", ResponseCode{code::TooBig, ""});
    else
      bad(tag, "Literal too big");
    return;
  }
  parser.accept_literal();
  // RFC 9051 §7.5: the command continuation request for a synchronizing literal.
  out.bytes += continuation("Ready for literal data");
}

void Session::Impl::on_parse_error(const ParseError& e) {
  std::string tag = e.tag.value_or("");
  if (e.kind == ErrorKind::literal_too_big && e.name == CommandName::append && !tag.empty() &&
      state != State::not_authenticated)
    return no(tag, "Message too big", ResponseCode{code::TooBig, ""});
  bad(tag, e.message.empty() ? "Syntax error" : e.message);
}

void Session::Impl::execute(const Command& cmd) {
  if (cmd.name == CommandName::unknown) {
    const std::string& name = cmd.as<UnknownArgs>().name;
    // RFC 9208: the parser has no QUOTA grammar; commands_mailbox.cpp parses the raw line.
    if (iequals(name, "GETQUOTA") || iequals(name, "GETQUOTAROOT") || iequals(name, "SETQUOTA")) {
      if (state != State::authenticated && state != State::selected) return bad(cmd.tag, text::LoginFirst);
      cmd_quota(cmd, name);
    } else if (iequals(name, "SETACL") || iequals(name, "DELETEACL") || iequals(name, "GETACL") ||
               iequals(name, "LISTRIGHTS") || iequals(name, "MYRIGHTS")) {
      // RFC 4314 §3: the parser has no ACL grammar either; commands_acl.cpp reads the line.
      if (state != State::authenticated && state != State::selected) return bad(cmd.tag, text::LoginFirst);
      cmd_acl(cmd, name);
    } else if (iequals(name, "NOTIFY")) {
      // RFC 5465: the parser has no NOTIFY grammar either (notify_parse.cpp).
      if (state != State::authenticated && state != State::selected) return bad(cmd.tag, text::LoginFirst);
      cmd_notify(cmd);
    } else {
      return bad(cmd.tag, std::string(text::UnknownCommand) + " " + name.substr(0, 40));
    }
  } else {
    const CommandSpec* spec = nullptr;
    for (const auto& s : kCommands)
      if (s.name == cmd.name) spec = &s;
    if (!spec) return bad(cmd.tag, text::UnknownCommand);
    if (!(spec->states & state_bit(state))) {
      if (state == State::not_authenticated) return bad(cmd.tag, text::LoginFirst);
      if (spec->states == kNA) return bad(cmd.tag, text::AlreadyAuthenticated);
      return bad(cmd.tag, text::NoMailboxSelected);
    }
    // RFC 4314: an ACL change applies to the sessions that have the mailbox selected.
    if (sel && state == State::selected && !selected_rights_allow(cmd)) return;
    // Handlers write untagged data to `out` and their tagged answer to `tagged_out`, so the
    // untagged updates for other sessions' changes can still go before the tagged answer.
    spec->run(*this, cmd);
    if (sel && mode == Mode::commands && state == State::selected) {
      // RFC 9051 §7.5.1: no EXPUNGE while responding to FETCH, STORE or SEARCH (the UID
      // forms are different commands and may carry them); RFC 5256 §3/§4 extend this to
      // SORT and THREAD, whose numbers would shift.
      bool allow = cmd.uid || (cmd.name != CommandName::fetch && cmd.name != CommandName::store &&
                               cmd.name != CommandName::search && cmd.name != CommandName::sort &&
                               cmd.name != CommandName::thread);
      sync_selected(allow || notify_immediate_expunge());
    }
  }
  // RFC 5465: other mailboxes' events may go at any time; here, before the tagged answer.
  if (notify && mode == Mode::commands) notify_deliver();
}

void Session::Impl::run() {
  while (true) {
    flush();
    if (mode == Mode::closed || mode == Mode::starttls) return;
    if (mode == Mode::idle || mode == Mode::sasl) {
      ParseEvent ev = parser.next_line();
      track_consumed();
      raw_head.clear();
      if (ev.kind == ParseEvent::Kind::need_more) return;
      if (ev.kind == ParseEvent::Kind::error) {
        Mode was = mode;
        mode = Mode::commands;
        if (was == Mode::sasl) sasl.reset();
        bad(mode_tag, "Line too long");
        continue;
      }
      if (mode == Mode::idle)
        idle_line(ev.line);
      else
        sasl_line(ev.line);
      continue;
    }
    ParseEvent ev = parser.next();
    track_consumed();
    flush();
    switch (ev.kind) {
      case ParseEvent::Kind::need_more: return;
      case ParseEvent::Kind::literal_request: on_literal_request(ev.literal); break;
      case ParseEvent::Kind::command:
        execute(ev.command);
        raw_head.clear();
        break;
      case ParseEvent::Kind::error:
        raw_head.clear();
        on_parse_error(ev.error);
        break;
      case ParseEvent::Kind::line: break;  // not produced by next()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Session

Session::Session(const SessionSettings& settings, const PeerInfo& peer, Backend& backend)
    : impl_(std::make_unique<Impl>(settings, peer, backend)) {}

Session::~Session() = default;

Output Session::greet() {
  Impl& s = *impl_;
  // RFC 9051 §7.1.1: the greeting may carry the capabilities, saving a round trip.
  s.out.bytes += untagged_status(Condition::ok, text::Greeting, ResponseCode{code::Capability, s.capabilities()});
  s.flush();
  return std::exchange(s.out, Output{});
}

Output Session::feed(std::string_view bytes) {
  Impl& s = *impl_;
  if (s.mode == Impl::Mode::closed || s.mode == Impl::Mode::starttls) return {};
  s.feed_parser(bytes);
  s.run();
  s.flush();
  s.release_idle_buffers();
  return std::exchange(s.out, Output{});
}

void Session::Impl::release_idle_buffers() {
  // Between commands (and while idling) the session holds no scratch buffers.
  if (!parser.idle() || parser.buffered() != 0) return;
  auto drop = [](std::string& b) {
    if (b.capacity() > 64) std::string().swap(b);
  };
  if (raw_unconsumed.empty()) drop(raw_unconsumed);
  if (raw_head.empty()) drop(raw_head);
  drop(tagged_out);
}

Output Session::on_mailbox_changed() {
  Impl& s = *impl_;
  // RFC 9051 §6.3.13: while idling the server sends updates as they happen. Otherwise the
  // dirty flag makes the next allowed point pick them up.
  if (s.mode == Impl::Mode::idle) {
    if (s.sel) s.sync_selected(true);
    s.notify_deliver();
  } else if (s.mode == Impl::Mode::commands && s.notify && s.parser.idle() && s.parser.buffered() == 0) {
    // RFC 5465 §1: with NOTIFY the server sends events between commands too. The selected
    // mailbox's only when a selected filter asks for them; its expunges then only with
    // "selected" (§6.1), since RFC 9051 §7.5.1 forbids EXPUNGE with no command in progress.
    const auto& g = s.notify->selected;
    if (s.sel && g && g->events) s.sync_selected(s.notify_immediate_expunge());
    s.notify_deliver();
  }
  s.flush();
  return std::exchange(s.out, Output{});
}

Output Session::timeout() {
  Impl& s = *impl_;
  if (s.mode != Impl::Mode::closed && s.mode != Impl::Mode::starttls) s.bye(text::Autologout);
  s.out.close_after_write = true;
  s.flush();
  return std::exchange(s.out, Output{});
}

Output Session::shutdown() {
  Impl& s = *impl_;
  if (s.mode != Impl::Mode::closed && s.mode != Impl::Mode::starttls) s.bye(text::ShuttingDown);
  s.out.close_after_write = true;
  s.flush();
  return std::exchange(s.out, Output{});
}

void Session::set_channel_bindings(auth::ChannelBindings b) { impl_->sasl.set_channel_bindings(std::move(b)); }

void Session::tls_started(std::string_view, std::string_view) {
  Impl& s = *impl_;
  s.tls = true;
  if (s.mode == Impl::Mode::starttls) s.mode = Impl::Mode::commands;
}

State Session::state() const { return impl_->state; }
bool Session::idling() const { return impl_->mode == Impl::Mode::idle; }
const std::string& Session::user() const { return impl_->user; }
bool Session::closed() const { return impl_->mode == Impl::Mode::closed; }
size_t Session::buffered() const { return impl_->parser.buffered(); }

// ---------------------------------------------------------------------------------------------
// Flags

std::vector<std::string> flags_to_list(const store::Flags& f) {
  std::vector<std::string> out;
  if (f.system & store::kAnswered) out.push_back("\\Answered");
  if (f.system & store::kFlagged) out.push_back("\\Flagged");
  if (f.system & store::kDeleted) out.push_back("\\Deleted");
  if (f.system & store::kSeen) out.push_back("\\Seen");
  if (f.system & store::kDraft) out.push_back("\\Draft");
  for (const auto& k : f.keywords) out.push_back(k);
  return out;
}

bool is_valid_keyword(std::string_view k) {
  if (k.empty() || k.size() > 200) return false;
  for (char c : k)
    if (!detail::is_atom_char(c) || c == ']') return false;
  return true;
}

store::Flags list_to_flags(const std::vector<std::string>& names) {
  store::Flags f;
  for (const auto& n : names) {
    std::string c = canonical_flag(n);
    if (c == "\\Seen") f.system |= store::kSeen;
    else if (c == "\\Answered") f.system |= store::kAnswered;
    else if (c == "\\Flagged") f.system |= store::kFlagged;
    else if (c == "\\Deleted") f.system |= store::kDeleted;
    else if (c == "\\Draft") f.system |= store::kDraft;
    else if (!c.empty() && c[0] == '\\') continue;  // \Recent or an unknown system flag
    else if (is_valid_keyword(c)) {
      bool dup = false;
      for (const auto& k : f.keywords) dup |= iequals(k, c);
      if (!dup) f.keywords.push_back(c);
    }
  }
  std::sort(f.keywords.begin(), f.keywords.end());
  return f;
}

}  // namespace tern::imapd
