// Command grammar (RFC 9051 §9, RFC 3501 §9 and the extensions named at each command).
// The canonical debug rendering of a Command is in command_debug.cpp.
#include "imapd/command.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "common/codec.h"
#include "common/strings.h"
#include "imapd/imap_parser.h"

namespace tern::imapd {

using detail::TokenReader;

namespace {

struct NameEntry {
  const char* wire;
  CommandName name;
};

constexpr std::array<NameEntry, 37> kNames = {{
    {"CAPABILITY", CommandName::capability}, {"NOOP", CommandName::noop},
    {"LOGOUT", CommandName::logout},         {"ID", CommandName::id},
    {"STARTTLS", CommandName::starttls},     {"AUTHENTICATE", CommandName::authenticate},
    {"LOGIN", CommandName::login},           {"ENABLE", CommandName::enable},
    {"SELECT", CommandName::select},         {"EXAMINE", CommandName::examine},
    {"CREATE", CommandName::create},         {"DELETE", CommandName::delete_},
    {"RENAME", CommandName::rename},         {"SUBSCRIBE", CommandName::subscribe},
    {"UNSUBSCRIBE", CommandName::unsubscribe}, {"LIST", CommandName::list},
    {"LSUB", CommandName::lsub},             {"NAMESPACE", CommandName::namespace_},
    {"STATUS", CommandName::status},         {"APPEND", CommandName::append},
    {"IDLE", CommandName::idle},             {"CHECK", CommandName::check},
    {"CLOSE", CommandName::close},           {"UNSELECT", CommandName::unselect},
    {"UNAUTHENTICATE", CommandName::unauthenticate},
    {"EXPUNGE", CommandName::expunge},       {"SEARCH", CommandName::search},
    {"FETCH", CommandName::fetch},           {"STORE", CommandName::store},
    {"COPY", CommandName::copy},             {"MOVE", CommandName::move},
    {"SORT", CommandName::sort},             {"THREAD", CommandName::thread},  // RFC 5256
    {"COMPRESS", CommandName::compress},     // RFC 4978
    {"GETMETADATA", CommandName::getmetadata}, {"SETMETADATA", CommandName::setmetadata},  // RFC 5464
    {"CANCELUPDATE", CommandName::cancelupdate},  // RFC 5267 §4.3.5
}};

struct StatusEntry {
  const char* wire;
  StatusItem item;
};
constexpr std::array<StatusEntry, 9> kStatusItems = {{
    {"MESSAGES", StatusItem::messages},
    {"UIDNEXT", StatusItem::uidnext},
    {"UIDVALIDITY", StatusItem::uidvalidity},
    {"UNSEEN", StatusItem::unseen},
    {"DELETED", StatusItem::deleted},  // RFC 9051 §6.3.11
    {"SIZE", StatusItem::size},        // RFC 8438
    {"RECENT", StatusItem::recent},    // rev1 only
    {"HIGHESTMODSEQ", StatusItem::highestmodseq},  // RFC 7162 §3.1.6
    {"MAILBOXID", StatusItem::mailboxid},          // RFC 8474 §4.3
}};

constexpr size_t kMaxIdPairs = 30;  // RFC 2971 §3.3: at most 30 field-value pairs

bool flags_ok(TokenReader& r, const std::vector<std::string>& flags) {
  for (const std::string& f : flags)
    // RFC 3501 §2.3.2: \Recent cannot be set by the client.
    if (iequals(f, "\\Recent")) return r.fail("\\Recent cannot be stored");
  return true;
}

// "(" status-att *(SP status-att) ")"
std::optional<std::vector<StatusItem>> status_items(TokenReader& r) {
  if (!r.expect('(', "expected status item list")) return std::nullopt;
  std::vector<StatusItem> items;
  while (true) {
    auto word = r.atom();
    if (!word) return std::nullopt;
    bool found = false;
    for (const StatusEntry& e : kStatusItems)
      if (iequals(*word, e.wire)) {
        items.push_back(e.item);
        found = true;
      }
    if (!found) {
      r.fail("unknown status item");
      return std::nullopt;
    }
    if (r.consume(')')) return items;
    if (!r.sp()) return std::nullopt;
  }
}

bool parse_id(TokenReader& r, Command& cmd) {
  IdArgs args;
  if (!r.sp()) return false;
  if (!r.keyword("NIL")) {
    if (!r.expect('(', "expected ( or NIL")) return false;
    args.params.emplace();
    if (!r.consume(')')) {
      while (true) {
        auto field = r.string();
        if (!field || !r.sp()) return false;
        auto value = r.nstring();
        if (!value) return false;
        if (args.params->size() >= kMaxIdPairs) return r.fail("too many ID fields");
        args.params->emplace_back(std::move(*field), std::move(*value));
        if (r.consume(')')) break;
        if (!r.sp()) return false;
      }
    }
  }
  cmd.args = std::move(args);
  return r.end();
}

bool parse_authenticate(TokenReader& r, Command& cmd) {
  AuthenticateArgs args;
  if (!r.sp()) return false;
  auto mech = r.atom();
  if (!mech) return false;
  args.mechanism = ascii_upper(*mech);
  if (r.consume(' ')) {
    // RFC 4959 §3: initial response is base64, or "=" for an empty one.
    auto ir = r.atom();
    if (!ir) return false;
    std::string_view s = *ir;
    if (s != "=" && !base64_decode(s)) return r.fail("bad base64 initial response");
    args.initial_response = std::string(s);
  }
  cmd.args = std::move(args);
  return r.end();
}

bool parse_login(TokenReader& r, Command& cmd) {
  LoginArgs args;
  if (!r.sp()) return false;
  auto user = r.astring();
  if (!user || !r.sp()) return false;
  auto pass = r.astring();
  if (!pass) return false;
  args.user = std::move(*user);
  args.password = std::move(*pass);
  cmd.args = std::move(args);
  return r.end();
}

bool parse_enable(TokenReader& r, Command& cmd) {
  EnableArgs args;
  // enable = "ENABLE" 1*(SP capability) (RFC 5161 §4)
  do {
    if (!r.sp()) return false;
    auto cap = r.atom();
    if (!cap) return false;
    args.capabilities.push_back(ascii_upper(*cap));
  } while (!r.at_end());
  cmd.args = std::move(args);
  return true;
}

bool parse_mod_sequence_value(TokenReader& r, uint64_t& out, bool allow_zero) {
  auto v = r.number64();
  if (!v) return false;
  // RFC 7162 §7: mod-sequence-value = 1*DIGIT, at least 1; mod-sequence-valzer allows 0.
  if (*v == 0 && !allow_zero) return r.fail("mod-sequence must be non-zero");
  out = *v;
  return true;
}

bool parse_select(TokenReader& r, Command& cmd) {
  SelectArgs args;
  if (!r.sp()) return false;
  auto mbox = r.mailbox();
  if (!mbox) return false;
  args.mailbox = std::move(*mbox);
  if (r.consume(' ')) {
    // select-params = SP "(" select-param *(SP select-param) ")" (RFC 4466 §2.1)
    if (!r.expect('(', "expected select parameters")) return false;
    while (true) {
      if (r.keyword("CONDSTORE")) {
        args.condstore = true;
      } else if (r.keyword("QRESYNC")) {
        // RFC 7162 §3.2.5: QRESYNC (uidvalidity modseq [known-uids [seq-match-data]])
        QresyncParams q;
        if (!r.sp() || !r.expect('(', "expected QRESYNC parameters")) return false;
        auto uv = r.nz_number();
        if (!uv || !r.sp()) return false;
        q.uidvalidity = *uv;
        if (!parse_mod_sequence_value(r, q.modseq, false)) return false;
        auto seq_match = [&]() {
          // seq-match-data = "(" known-sequence-set SP known-uid-set ")"
          if (!r.expect('(', "expected sequence match data")) return false;
          auto seqs = r.sequence_set(false);
          if (!seqs || !r.sp()) return false;
          auto uids = r.sequence_set(false);
          if (!uids || !r.expect(')', "expected )")) return false;
          q.seq_match.emplace(std::move(*seqs), std::move(*uids));
          return true;
        };
        if (r.consume(' ')) {
          if (r.peek() == '(') {
            if (!seq_match()) return false;
          } else {
            auto known = r.sequence_set(false);
            if (!known) return false;
            if (known->uses_star()) return r.fail("* not allowed in known-uids");
            q.known_uids = std::move(*known);
            if (r.consume(' ') && !seq_match()) return false;
          }
        }
        if (!r.expect(')', "expected )")) return false;
        args.qresync = std::move(q);
      } else {
        return r.fail("unknown select parameter");
      }
      if (r.consume(')')) break;
      if (!r.sp()) return false;
    }
  }
  cmd.args = std::move(args);
  return r.end();
}

bool parse_mailbox_only(TokenReader& r, Command& cmd) {
  MailboxArgs args;
  if (!r.sp()) return false;
  auto mbox = r.mailbox();
  if (!mbox) return false;
  args.mailbox = std::move(*mbox);
  if (cmd.name == CommandName::create && r.peek() == ' ') {
    // RFC 4466 §2.2 create-params; RFC 6154 §3 (CREATE-SPECIAL-USE) defines the only one we
    // know: "USE" SP "(" [use-attr *(SP use-attr)] ")".
    if (!r.sp() || !r.consume('(')) return false;
    while (true) {
      if (!r.keyword("USE")) return r.fail("unknown CREATE parameter");
      if (!r.sp()) return false;
      auto list = r.flag_list();
      if (!list) return false;
      for (auto& a : *list) {
        if (a.empty() || a[0] != '\\') return r.fail("bad special-use attribute");
        args.use.push_back(std::move(a));
      }
      if (r.consume(')')) break;
      if (!r.sp()) return false;
    }
  }
  cmd.args = std::move(args);
  return r.end();
}

bool parse_rename(TokenReader& r, Command& cmd) {
  RenameArgs args;
  if (!r.sp()) return false;
  auto from = r.mailbox();
  if (!from || !r.sp()) return false;
  auto to = r.mailbox();
  if (!to) return false;
  args.from = std::move(*from);
  args.to = std::move(*to);
  cmd.args = std::move(args);
  return r.end();
}

bool parse_list(TokenReader& r, Command& cmd) {
  ListArgs args;
  if (!r.sp()) return false;
  // RFC 5258 §6: list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
  if (r.consume('(')) {
    args.extended = true;
    while (!r.consume(')')) {
      if (r.keyword("SUBSCRIBED"))
        args.select_subscribed = true;
      else if (r.keyword("REMOTE"))
        args.select_remote = true;
      else if (r.keyword("RECURSIVEMATCH"))
        args.select_recursive_match = true;
      else if (r.keyword("SPECIAL-USE"))
        args.select_special_use = true;  // RFC 6154 §5.1
      else
        return r.fail("unknown LIST selection option");  // RFC 5258 §3: BAD
      if (r.peek() != ')' && !r.sp()) return false;
    }
    // RFC 5258 §3.1: RECURSIVEMATCH needs another selection option (REMOTE does not count).
    if (args.select_recursive_match && !args.select_subscribed && !args.select_special_use)
      return r.fail("RECURSIVEMATCH requires another selection option");
    if (!r.sp()) return false;
  }
  auto ref = r.astring();
  if (!ref || !r.sp()) return false;
  args.reference = std::move(*ref);
  if (r.consume('(')) {
    args.extended = true;
    while (true) {
      auto pat = r.list_mailbox();
      if (!pat) return false;
      args.patterns.push_back(std::move(*pat));
      if (r.consume(')')) break;
      if (!r.sp()) return false;
    }
  } else {
    auto pat = r.list_mailbox();
    if (!pat) return false;
    args.patterns.push_back(std::move(*pat));
  }
  if (r.consume(' ')) {
    // list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
    if (!r.keyword("RETURN")) return r.fail("expected RETURN");
    if (!r.sp() || !r.expect('(', "expected (")) return false;
    args.extended = true;
    while (!r.consume(')')) {
      if (r.keyword("SUBSCRIBED")) {
        args.return_subscribed = true;
      } else if (r.keyword("CHILDREN")) {
        args.return_children = true;
      } else if (r.keyword("SPECIAL-USE")) {
        args.return_special_use = true;
      } else if (r.keyword("STATUS")) {
        // RFC 5819 §2: STATUS (status-att ...)
        if (!r.sp()) return false;
        auto items = status_items(r);
        if (!items) return false;
        args.return_status = std::move(*items);
      } else {
        return r.fail("unknown LIST return option");
      }
      if (r.peek() != ')' && !r.sp()) return false;
    }
  }
  cmd.args = std::move(args);
  return r.end();
}

bool parse_lsub(TokenReader& r, Command& cmd) {
  ListArgs args;
  if (!r.sp()) return false;
  auto ref = r.astring();
  if (!ref || !r.sp()) return false;
  auto pat = r.list_mailbox();
  if (!pat) return false;
  args.reference = std::move(*ref);
  args.patterns.push_back(std::move(*pat));
  cmd.args = std::move(args);
  return r.end();
}

bool parse_status(TokenReader& r, Command& cmd) {
  StatusArgs args;
  if (!r.sp()) return false;
  auto mbox = r.mailbox();
  if (!mbox || !r.sp()) return false;
  args.mailbox = std::move(*mbox);
  auto items = status_items(r);
  if (!items) return false;
  args.items = std::move(*items);
  cmd.args = std::move(args);
  return r.end();
}

// RFC 4469 §5: append-data-ext = "CATENATE" SP "(" cat-part *(SP cat-part) ")",
// cat-part = text-literal / url, text-literal = "TEXT" SP literal, url = "URL" SP astring.
bool parse_catenate(TokenReader& r, AppendMessage& msg) {
  if (!r.sp() || !r.expect('(', "expected (")) return false;
  do {
    CatenatePart part;
    if (r.keyword("TEXT")) {
      if (!r.sp()) return false;
      // RFC 4469 §5 with RFC 3516: a TEXT part may be literal8 where BINARY is offered.
      auto data = r.literal(true, &part.literal8);
      if (!data) return false;
      part.data = std::move(*data);
    } else if (r.keyword("URL")) {
      if (!r.sp()) return false;
      auto url = r.astring();
      if (!url) return false;
      part.url = true;
      part.data = std::move(*url);
    } else {
      return r.fail("expected TEXT or URL");
    }
    msg.catenate.push_back(std::move(part));
  } while (r.consume(' '));
  return r.expect(')', "expected )");
}

bool parse_append(TokenReader& r, Command& cmd) {
  AppendArgs args;
  if (!r.sp()) return false;
  auto mbox = r.mailbox();
  if (!mbox) return false;
  args.mailbox = std::move(*mbox);
  // append = "APPEND" SP mailbox 1*append-message (RFC 3502 §6.3.11)
  // append-message = [SP flag-list] [SP date-time] SP (literal / literal8)
  do {
    AppendMessage msg;
    if (!r.sp()) return false;
    if (r.peek() == '(') {
      auto flags = r.flag_list();
      if (!flags || !flags_ok(r, *flags) || !r.sp()) return false;
      msg.flags = std::move(*flags);
    }
    if (r.peek() == '"') {
      auto dt = r.date_time();
      if (!dt || !r.sp()) return false;
      msg.internal_date = *dt;
    }
    if (r.keyword("CATENATE")) {
      if (!parse_catenate(r, msg)) return false;
      args.messages.push_back(std::move(msg));
      continue;
    }
    if (r.peek() != '{' && r.peek() != '~') return r.fail("expected message literal");
    auto data = r.literal(true, &msg.literal8);  // RFC 3516 §4.4: literal8 in APPEND
    if (!data) return false;
    msg.data = std::move(*data);
    args.messages.push_back(std::move(msg));
  } while (!r.at_end());
  cmd.args = std::move(args);
  return true;
}

bool parse_uid_expunge(TokenReader& r, Command& cmd) {
  UidExpungeArgs args;
  if (!r.sp()) return false;
  auto set = r.sequence_set();
  if (!set) return false;
  args.set = std::move(*set);
  cmd.args = std::move(args);
  return r.end();
}

bool parse_fetch(TokenReader& r, Command& cmd) {
  FetchArgs args;
  if (!r.sp()) return false;
  auto set = r.sequence_set();
  if (!set || !r.sp()) return false;
  args.set = std::move(*set);
  if (r.consume('(')) {
    while (true) {
      if (!detail::parse_fetch_att(r, args.items, false)) return false;
      if (r.consume(')')) break;
      if (!r.sp()) return false;
    }
  } else if (!detail::parse_fetch_att(r, args.items, true)) {
    return false;
  }
  if (r.consume(' ')) {
    // fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")" (RFC 4466 §2.4)
    if (!r.expect('(', "expected fetch modifiers")) return false;
    while (true) {
      if (r.keyword("CHANGEDSINCE")) {
        uint64_t v = 0;
        if (!r.sp() || !parse_mod_sequence_value(r, v, false)) return false;
        args.changed_since = v;
      } else if (r.keyword("VANISHED")) {
        args.vanished = true;
      } else if (r.keyword("PARTIAL")) {
        PartialRange pr;
        if (args.partial) return r.fail("PARTIAL repeated");
        if (!r.sp() || !detail::parse_partial_range(r, pr)) return false;
        args.partial = pr;
      } else {
        return r.fail("unknown fetch modifier");
      }
      if (r.consume(')')) break;
      if (!r.sp()) return false;
    }
    // RFC 7162 §3.2.6: VANISHED only in UID FETCH and only together with CHANGEDSINCE.
    if (args.vanished && (!cmd.uid || !args.changed_since))
      return r.fail("VANISHED requires UID FETCH with CHANGEDSINCE");
  }
  cmd.args = std::move(args);
  return r.end();
}

bool parse_store(TokenReader& r, Command& cmd) {
  StoreArgs args;
  if (!r.sp()) return false;
  auto set = r.sequence_set();
  if (!set || !r.sp()) return false;
  args.set = std::move(*set);
  if (r.consume('(')) {
    // store-modifiers: RFC 7162 §3.1.3 UNCHANGEDSINCE mod-sequence-valzer
    if (!r.keyword("UNCHANGEDSINCE")) return r.fail("unknown store modifier");
    uint64_t v = 0;
    if (!r.sp() || !parse_mod_sequence_value(r, v, true) || !r.expect(')', "expected )") || !r.sp()) return false;
    args.unchanged_since = v;
  }
  if (r.consume('+'))
    args.mode = StoreArgs::Mode::add;
  else if (r.consume('-'))
    args.mode = StoreArgs::Mode::remove;
  if (r.keyword("FLAGS.SILENT"))
    args.silent = true;
  else if (!r.keyword("FLAGS"))
    return r.fail("expected FLAGS, +FLAGS or -FLAGS");
  if (!r.sp()) return false;
  // store-att-flags: flag-list / (flag *(SP flag))
  if (r.peek() == '(') {
    auto flags = r.flag_list();
    if (!flags) return false;
    args.flags = std::move(*flags);
  } else {
    while (true) {
      auto f = r.flag();
      if (!f) return false;
      args.flags.push_back(std::move(*f));
      if (!r.consume(' ')) break;
    }
  }
  if (!flags_ok(r, args.flags)) return false;
  cmd.args = std::move(args);
  return r.end();
}

bool parse_copy(TokenReader& r, Command& cmd) {
  CopyArgs args;
  if (!r.sp()) return false;
  auto set = r.sequence_set();
  if (!set || !r.sp()) return false;
  args.set = std::move(*set);
  auto mbox = r.mailbox();
  if (!mbox) return false;
  args.mailbox = std::move(*mbox);
  cmd.args = std::move(args);
  return r.end();
}

bool parse_args(TokenReader& r, Command& cmd) {
  switch (cmd.name) {
    case CommandName::capability:
    case CommandName::noop:
    case CommandName::logout:
    case CommandName::starttls:
    case CommandName::namespace_:
    case CommandName::idle:
    case CommandName::check:
    case CommandName::close:
    case CommandName::unselect:
    case CommandName::unauthenticate:
      cmd.args = NoArgs{};
      return r.end();
    case CommandName::expunge:
      if (cmd.uid) return parse_uid_expunge(r, cmd);
      cmd.args = NoArgs{};
      return r.end();
    case CommandName::id: return parse_id(r, cmd);
    case CommandName::authenticate: return parse_authenticate(r, cmd);
    case CommandName::login: return parse_login(r, cmd);
    case CommandName::enable: return parse_enable(r, cmd);
    case CommandName::compress: {
      // compress = "COMPRESS" SP algorithm (RFC 4978 §4)
      if (!r.sp()) return false;
      auto mech = r.atom();
      if (!mech) return false;
      cmd.args = CompressArgs{ascii_upper(*mech)};
      return r.end();
    }
    case CommandName::select:
    case CommandName::examine: return parse_select(r, cmd);
    case CommandName::create:
    case CommandName::delete_:
    case CommandName::subscribe:
    case CommandName::unsubscribe: return parse_mailbox_only(r, cmd);
    case CommandName::rename: return parse_rename(r, cmd);
    case CommandName::list: return parse_list(r, cmd);
    case CommandName::lsub: return parse_lsub(r, cmd);
    case CommandName::status: return parse_status(r, cmd);
    case CommandName::append: return parse_append(r, cmd);
    case CommandName::search: {
      auto s = detail::parse_search(r);
      if (!s) return r.fail(s.error().message);
      cmd.args = std::move(*s);
      return r.end();
    }
    case CommandName::cancelupdate: {
      // RFC 5267 §4.3.5: "CANCELUPDATE" 1*(SP tag-string), tag-string = string.
      CancelUpdateArgs a;
      while (r.consume(' ')) {
        auto t = r.string();
        if (!t) return false;
        a.tags.push_back(std::move(*t));
      }
      if (a.tags.empty()) return r.fail("expected a tag");
      cmd.args = std::move(a);
      return r.end();
    }
    case CommandName::sort: {
      auto s = detail::parse_sort(r);
      if (!s) return r.fail(s.error().message);
      cmd.args = std::move(*s);
      return r.end();
    }
    case CommandName::thread: {
      auto t = detail::parse_thread(r);
      if (!t) return r.fail(t.error().message);
      cmd.args = std::move(*t);
      return r.end();
    }
    case CommandName::getmetadata: {
      auto g = detail::parse_getmetadata(r);
      if (!g) return r.fail(g.error().message);
      cmd.args = std::move(*g);
      return r.end();
    }
    case CommandName::setmetadata: {
      auto s = detail::parse_setmetadata(r);
      if (!s) return r.fail(s.error().message);
      cmd.args = std::move(*s);
      return r.end();
    }
    case CommandName::fetch: return parse_fetch(r, cmd);
    case CommandName::store: return parse_store(r, cmd);
    case CommandName::copy:
    case CommandName::move: return parse_copy(r, cmd);
    case CommandName::unknown: break;
  }
  return r.fail("unknown command");
}

}  // namespace

namespace detail {
CommandName lookup_command_name(std::string_view word) {
  for (const NameEntry& e : kNames)
    if (iequals(word, e.wire)) return e.name;
  return CommandName::unknown;
}
}  // namespace detail

const char* to_string(CommandName name) {
  for (const NameEntry& e : kNames)
    if (e.name == name) return e.wire;
  return "UNKNOWN";
}

std::string to_string(const PartialRange& r) {
  return std::to_string(r.first) + ":" + std::to_string(r.last);
}

const char* to_string(SortKey key) {
  switch (key) {
    case SortKey::arrival: return "ARRIVAL";
    case SortKey::cc: return "CC";
    case SortKey::date: return "DATE";
    case SortKey::from: return "FROM";
    case SortKey::size: return "SIZE";
    case SortKey::subject: return "SUBJECT";
    case SortKey::to: return "TO";
    case SortKey::display_from: return "DISPLAYFROM";
    case SortKey::display_to: return "DISPLAYTO";
  }
  return "?";
}

const char* to_string(StatusItem item) {
  for (const StatusEntry& e : kStatusItems)
    if (e.item == item) return e.wire;
  return "?";
}

std::string canonical_flag(std::string_view flag) {
  static const char* const kSystem[] = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent"};
  for (const char* s : kSystem)
    if (iequals(flag, s)) return s;
  return std::string(flag);
}

int64_t DateTime::to_unix() const {
  // Days from civil (proleptic Gregorian), then subtract the zone offset.
  int y = date.year - (date.month <= 2 ? 1 : 0);
  int era = (y >= 0 ? y : y - 399) / 400;
  int yoe = y - era * 400;
  int mp = (date.month + 9) % 12;
  int doy = (153 * mp + 2) / 5 + date.day - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = static_cast<int64_t>(era) * 146097 + doe - 719468;
  return days * 86400 + hour * 3600 + minute * 60 + second - static_cast<int64_t>(zone_minutes) * 60;
}

Result<Command> parse_command(std::string_view framed, std::optional<std::string>* tag_out, CommandName* name_out) {
  TokenReader r(framed);
  // tag = 1*<any ASTRING-CHAR except "+">
  auto tag = r.atom(true);
  if (!tag || tag->find('+') != std::string_view::npos) return make_error(Errc::syntax, "Missing or invalid tag");
  Command cmd;
  cmd.tag = std::string(*tag);
  if (tag_out) *tag_out = cmd.tag;
  if (!r.consume(' ')) return make_error(Errc::syntax, "Missing command");
  auto word = r.atom();
  if (!word) return make_error(Errc::syntax, "Missing command");
  cmd.name = detail::lookup_command_name(*word);
  if (cmd.name == CommandName::unknown && iequals(*word, "UID")) {
    // uid = "UID" SP (copy / move / fetch / search / store / uid-expunge); RFC 5256 §5 adds
    // sort and thread.
    if (!r.consume(' ')) return make_error(Errc::syntax, "Missing UID command");
    auto sub = r.atom();
    CommandName n = sub ? detail::lookup_command_name(*sub) : CommandName::unknown;
    if (n != CommandName::copy && n != CommandName::move && n != CommandName::fetch && n != CommandName::search &&
        n != CommandName::store && n != CommandName::expunge && n != CommandName::sort &&
        n != CommandName::thread) {
      if (name_out) *name_out = n;
      return make_error(Errc::syntax, "Unknown UID command");
    }
    cmd.name = n;
    cmd.uid = true;
  }
  if (name_out) *name_out = cmd.name;
  if (cmd.name == CommandName::unknown) {
    // Parsed, not rejected: the session answers BAD with its own text.
    cmd.args = UnknownArgs{std::string(*word)};
    return cmd;
  }
  if (!parse_args(r, cmd)) return make_error(Errc::syntax, r.error().empty() ? "Syntax error" : r.error());
  return cmd;
}

}  // namespace tern::imapd
