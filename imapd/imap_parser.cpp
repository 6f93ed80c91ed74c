#include "imapd/imap_parser.h"

#include <algorithm>
#include <cstring>

#include "common/strings.h"
#include "common/codec.h"

namespace tern::imapd {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::syntax: return "syntax";
    case ErrorKind::line_too_long: return "line_too_long";
    case ErrorKind::literal_too_big: return "literal_too_big";
    case ErrorKind::command_too_big: return "command_too_big";
  }
  return "?";
}

bool is_idle_done(std::string_view line) { return iequals(line, "DONE"); }

namespace {

constexpr size_t kTailKeep = 32;  // enough for "~{18446744073709551615+}"

// tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9)
bool is_tag_char(char c) { return c != '+' && (detail::is_atom_char(c) || c == ']'); }

// The tag and command name at the start of a first line, best effort (for error replies).
void sniff_first_line(std::string_view line, std::optional<std::string>& tag, CommandName& name) {
  size_t i = 0;
  while (i < line.size() && is_tag_char(line[i])) ++i;
  if (i == 0 || i >= line.size() || line[i] != ' ') return;
  tag = std::string(line.substr(0, i));
  auto word_at = [&](size_t start) {
    size_t e = start;
    while (e < line.size() && detail::is_atom_char(line[e])) ++e;
    return std::pair<std::string_view, size_t>(line.substr(start, e - start), e);
  };
  auto [w, e] = word_at(i + 1);
  if (iequals(w, "UID") && e < line.size() && line[e] == ' ') w = word_at(e + 1).first;
  name = detail::lookup_command_name(w);
}

struct LiteralMarker {
  uint64_t size = 0;
  bool overflow = false;  // more digits than fit: treated as too big
  bool non_sync = false;
  bool literal8 = false;
};

// A line ending in "{n}", "{n+}", "~{n}" or "~{n+}" announces a literal (RFC 9051 §4.3,
// RFC 7888 §3, RFC 3516 §4.4).
std::optional<LiteralMarker> find_marker(std::string_view tail) {
  if (tail.empty() || tail.back() != '}') return std::nullopt;
  size_t i = tail.size() - 1;
  LiteralMarker m;
  if (i > 0 && tail[i - 1] == '+') {
    m.non_sync = true;
    --i;
  }
  size_t digits_end = i;
  while (i > 0 && tail[i - 1] >= '0' && tail[i - 1] <= '9') --i;
  if (i == digits_end || i == 0 || tail[i - 1] != '{') return std::nullopt;
  std::string_view digits = tail.substr(i, digits_end - i);
  if (i >= 2 && tail[i - 2] == '~') m.literal8 = true;
  for (char c : digits) {
    if (m.size > (UINT64_MAX - 9) / 10) {
      m.overflow = true;
      break;
    }
    m.size = m.size * 10 + static_cast<uint64_t>(c - '0');
  }
  return m;
}

}  // namespace

CommandParser::CommandParser(ParserSettings settings) : settings_(settings) {}

void CommandParser::feed(std::string_view bytes) { input_.append(bytes); }

bool CommandParser::idle() const {
  return state_ == State::line && cmd_.empty() && line_len_ == 0 && !discarding_;
}

void CommandParser::compact() {
  if (input_pos_ == input_.size()) {
    // Everything consumed: an idle connection keeps no buffer (an APPEND literal could have
    // grown it to megabytes).
    if (input_.capacity() > kKeepCapacity) std::string().swap(input_);
    else input_.clear();
    input_pos_ = 0;
  } else if (input_pos_ > 65536) {
    input_.erase(0, input_pos_);
    input_pos_ = 0;
  }
}

void CommandParser::reset_command() {
  state_ = State::line;
  cmd_.clear();
  line_start_ = 0;
  line_len_ = 0;
  in_quote_ = false;
  escape_ = false;
  tail_.clear();
  literal_left_ = 0;
  discarding_ = false;
  pending_error_ = ParseError{};
  pending_literal_ = LiteralRequest{};
  first_line_tag_.reset();
}

// Accounts one chunk of the current line (no LF inside): quote tracking, tail, storage.
void CommandParser::note_line_bytes(std::string_view chunk) {
  for (char c : chunk) {
    if (in_quote_) {
      if (escape_)
        escape_ = false;
      else if (c == '\\')
        escape_ = true;
      else if (c == '"')
        in_quote_ = false;
    } else if (c == '"') {
      in_quote_ = true;
    }
  }
  // Exactly the last kTailKeep bytes of the line, however it was chunked: a literal marker
  // too long to fit is then "no marker" both when the line arrives whole and when it trickles
  // in (the fuzzer found the two disagreeing when the tail kept up to twice that).
  tail_.append(chunk.size() > kTailKeep ? chunk.substr(chunk.size() - kTailKeep) : chunk);
  if (tail_.size() > kTailKeep) tail_.erase(0, tail_.size() - kTailKeep);
  line_len_ += chunk.size();
  if (discarding_) return;
  std::optional<ErrorKind> overflow;
  if (line_len_ > settings_.max_line_length)
    overflow = ErrorKind::line_too_long;
  else if (cmd_.size() + chunk.size() > settings_.max_command_size)
    overflow = ErrorKind::command_too_big;
  if (!overflow) {
    cmd_.append(chunk);
    return;
  }
  // Keep what fits of the first line so that the tag can still be answered.
  if (line_start_ == 0) {
    size_t room = settings_.max_line_length > cmd_.size() ? settings_.max_line_length - cmd_.size() : 0;
    cmd_.append(chunk.substr(0, std::min(room, chunk.size())));
    sniff_first_line(cmd_, first_line_tag_, pending_error_.name);
  }
  pending_error_.kind = *overflow;
  pending_error_.tag = first_line_tag_;
  pending_error_.message = *overflow == ErrorKind::line_too_long ? "Line too long" : "Command too long";
  discarding_ = true;
  cmd_.clear();
  cmd_.shrink_to_fit();
}

ParseEvent CommandParser::next() {
  ParseEvent ev;
  while (true) {
    if (state_ == State::await_continuation) {
      ev.kind = ParseEvent::Kind::literal_request;
      ev.literal = pending_literal_;
      return ev;
    }
    if (state_ == State::literal && literal_left_ == 0) {
      // The command continues on the line after the literal.
      state_ = State::line;
      line_start_ = cmd_.size();
      line_len_ = 0;
      in_quote_ = escape_ = false;
      tail_.clear();
    }
    if (input_pos_ >= input_.size()) {
      compact();
      ev.kind = ParseEvent::Kind::need_more;
      return ev;
    }
    std::string_view avail(input_.data() + input_pos_, input_.size() - input_pos_);
    if (state_ == State::literal) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(literal_left_, avail.size()));
      if (!discarding_) cmd_.append(avail.substr(0, n));
      input_pos_ += n;
      literal_left_ -= n;
      continue;
    }
    size_t lf = avail.find('\n');
    note_line_bytes(avail.substr(0, lf == std::string_view::npos ? avail.size() : lf));
    if (lf == std::string_view::npos) {
      input_pos_ = input_.size();
      continue;
    }
    input_pos_ += lf + 1;
    if (process_line_end(ev)) {
      compact();
      return ev;
    }
  }
}

bool CommandParser::process_line_end(ParseEvent& ev) {
  // CRLF is the line end (RFC 9051 §2.2); a bare LF is tolerated.
  if (!tail_.empty() && tail_.back() == '\r') {
    tail_.pop_back();
    --line_len_;
    if (!discarding_ && cmd_.size() > line_start_ && cmd_.back() == '\r') cmd_.pop_back();
  }
  if (line_start_ == 0 && line_len_ == 0 && !discarding_) {
    reset_command();  // an empty line between commands
    return false;
  }
  if (line_start_ == 0 && !discarding_) sniff_first_line(cmd_, first_line_tag_, pending_literal_.name);

  std::optional<LiteralMarker> marker;
  if (!in_quote_) marker = find_marker(tail_);

  auto finish_error = [&](ParseError err) {
    ev.kind = ParseEvent::Kind::error;
    ev.error = std::move(err);
    reset_command();
    return true;
  };

  if (!marker) {
    if (discarding_) return finish_error(pending_error_);
    std::optional<std::string> tag;
    CommandName name = CommandName::unknown;
    Result<Command> parsed = parse_command(cmd_, &tag, &name);
    if (!parsed) return finish_error(ParseError{ErrorKind::syntax, tag, parsed.error().message, name});
    ev.kind = ParseEvent::Kind::command;
    ev.command = std::move(parsed.value());
    reset_command();
    return true;
  }

  if (discarding_) {
    // A synchronizing literal is never sent before "+": the command ends here. A
    // non-synchronizing one follows regardless and must be consumed (RFC 7888 §4).
    if (!marker->non_sync) return finish_error(pending_error_);
    literal_left_ = marker->overflow ? UINT64_MAX : marker->size;
    state_ = State::literal;
    return false;
  }

  ErrorKind too_big = ErrorKind::literal_too_big;
  bool refuse = false;
  if (marker->overflow || marker->size > settings_.max_literal_size) {
    refuse = true;
  } else if (marker->non_sync && !settings_.literal_plus && marker->size > kLiteralMinusMax) {
    refuse = true;  // RFC 7888 §4: LITERAL- allows non-synchronizing literals up to 4096 bytes
  } else if (cmd_.size() + 2 + marker->size > settings_.max_command_size) {
    refuse = true;
    too_big = ErrorKind::command_too_big;
  }
  if (refuse) {
    ParseError err{too_big, first_line_tag_, too_big == ErrorKind::literal_too_big ? "Literal too big" : "Command too long",
                   pending_literal_.name};
    if (!marker->non_sync) return finish_error(std::move(err));
    discarding_ = true;
    pending_error_ = std::move(err);
    cmd_.clear();
    cmd_.shrink_to_fit();
    literal_left_ = marker->overflow ? UINT64_MAX : marker->size;
    state_ = State::literal;
    return false;
  }

  cmd_ += "\r\n";
  literal_left_ = marker->size;
  if (marker->non_sync) {
    state_ = State::literal;
    return false;
  }
  state_ = State::await_continuation;
  pending_literal_.size = marker->size;
  pending_literal_.literal8 = marker->literal8;
  pending_literal_.tag = first_line_tag_;
  ev.kind = ParseEvent::Kind::literal_request;
  ev.literal = pending_literal_;
  return true;
}

void CommandParser::accept_literal() {
  if (state_ == State::await_continuation) state_ = State::literal;
}

void CommandParser::reject_literal() {
  if (state_ == State::await_continuation) reset_command();
}

ParseEvent CommandParser::next_line() {
  ParseEvent ev;
  while (true) {
    if (input_pos_ >= input_.size()) {
      compact();
      ev.kind = ParseEvent::Kind::need_more;
      return ev;
    }
    std::string_view avail(input_.data() + input_pos_, input_.size() - input_pos_);
    size_t lf = avail.find('\n');
    std::string_view chunk = avail.substr(0, lf == std::string_view::npos ? avail.size() : lf);
    line_len_ += chunk.size();
    if (line_len_ > settings_.max_line_length) {
      discarding_ = true;
      cmd_.clear();
    }
    if (!discarding_) cmd_.append(chunk);
    if (lf == std::string_view::npos) {
      input_pos_ = input_.size();
      continue;
    }
    input_pos_ += lf + 1;
    if (discarding_) {
      ev.kind = ParseEvent::Kind::error;
      ev.error = ParseError{ErrorKind::line_too_long, std::nullopt, "Line too long", CommandName::unknown};
    } else {
      if (!cmd_.empty() && cmd_.back() == '\r') cmd_.pop_back();
      ev.kind = ParseEvent::Kind::line;
      ev.line = std::move(cmd_);
    }
    reset_command();
    compact();
    return ev;
  }
}

// ---------------------------------------------------------------------------------------
// TokenReader

namespace detail {

// ATOM-CHAR = <any CHAR except atom-specials>; atom-specials = "(" / ")" / "{" / SP / CTL /
// list-wildcards / quoted-specials / resp-specials (RFC 9051 §9).
bool is_atom_char(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}

namespace {
bool is_word_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_' || c == '$' || c == '\\';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

bool TokenReader::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
}

bool TokenReader::consume(char c) {
  if (at_end() || buf_[pos_] != c) return false;
  ++pos_;
  return true;
}

bool TokenReader::expect(char c, const char* what) { return consume(c) || fail(what); }

bool TokenReader::end() { return at_end() || fail("unexpected text after command"); }

std::optional<std::string_view> TokenReader::atom(bool allow_resp_specials) {
  size_t start = pos_;
  while (!at_end() && (is_atom_char(buf_[pos_]) || (allow_resp_specials && buf_[pos_] == ']'))) ++pos_;
  if (pos_ == start) {
    fail("expected atom");
    return std::nullopt;
  }
  return buf_.substr(start, pos_ - start);
}

std::string_view TokenReader::peek_word() const {
  size_t e = pos_;
  while (e < buf_.size() && is_word_char(buf_[e])) ++e;
  return buf_.substr(pos_, e - pos_);
}

bool TokenReader::keyword(std::string_view kw) {
  std::string_view w = peek_word();
  if (!iequals(w, kw)) return false;
  pos_ += w.size();
  return true;
}

std::optional<std::string> TokenReader::quoted() {
  if (!consume('"')) {
    fail("expected quoted string");
    return std::nullopt;
  }
  std::string out;
  bool eight_bit = false;
  while (true) {
    if (at_end()) {
      fail("unterminated quoted string");
      return std::nullopt;
    }
    char c = buf_[pos_++];
    if (c == '"') break;
    if (c == '\\') {
      // RFC 9051 §9: only quoted-specials may be escaped.
      if (at_end() || (buf_[pos_] != '"' && buf_[pos_] != '\\')) {
        fail("bad escape in quoted string");
        return std::nullopt;
      }
      out += buf_[pos_++];
      continue;
    }
    if (c == '\r' || c == '\n' || c == '\0') {
      fail("bad character in quoted string");
      return std::nullopt;
    }
    if (static_cast<unsigned char>(c) >= 0x80) eight_bit = true;
    out += c;
  }
  // RFC 9051 §9 QUOTED-CHAR: 8-bit content must be UTF-8 (RFC 6855 utf8-quoted for rev1).
  if (eight_bit && !is_valid_utf8(out)) {
    fail("quoted string is not valid UTF-8");
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> TokenReader::literal(bool allow_literal8, bool* was_literal8) {
  bool lit8 = false;
  if (consume('~')) {
    if (!allow_literal8) {
      fail("literal8 not allowed here");
      return std::nullopt;
    }
    lit8 = true;
  }
  if (!consume('{')) {
    fail("expected literal");
    return std::nullopt;
  }
  uint64_t n = 0;
  size_t digits = 0;
  while (!at_end() && is_digit(buf_[pos_])) {
    if (n > (UINT64_MAX - 9) / 10) {
      fail("literal size too large");
      return std::nullopt;
    }
    n = n * 10 + static_cast<uint64_t>(buf_[pos_++] - '0');
    ++digits;
  }
  if (digits == 0) {
    fail("bad literal size");
    return std::nullopt;
  }
  consume('+');
  if (!consume('}') || !consume('\r') || !consume('\n')) {
    fail("bad literal");
    return std::nullopt;
  }
  if (n > buf_.size() - pos_) {
    fail("truncated literal");
    return std::nullopt;
  }
  std::string out(buf_.substr(pos_, static_cast<size_t>(n)));
  pos_ += static_cast<size_t>(n);
  if (was_literal8) *was_literal8 = lit8;
  return out;
}

std::optional<std::string> TokenReader::string() {
  if (peek() == '"') return quoted();
  if (peek() == '{') return literal();
  fail("expected string");
  return std::nullopt;
}

std::optional<std::string> TokenReader::astring() {
  if (peek() == '"' || peek() == '{') return string();
  auto a = atom(true);
  if (!a) return std::nullopt;
  return std::string(*a);
}

std::optional<std::optional<std::string>> TokenReader::nstring() {
  if (peek() != '"' && peek() != '{') {
    if (keyword("NIL")) return std::optional<std::string>();
    fail("expected string or NIL");
    return std::nullopt;
  }
  auto s = string();
  if (!s) return std::nullopt;
  return std::optional<std::string>(std::move(*s));
}

std::optional<std::string> TokenReader::list_mailbox() {
  if (peek() == '"' || peek() == '{') return string();
  size_t start = pos_;
  // list-char = ATOM-CHAR / list-wildcards / resp-specials
  while (!at_end() && (is_atom_char(buf_[pos_]) || buf_[pos_] == '%' || buf_[pos_] == '*' || buf_[pos_] == ']')) ++pos_;
  if (pos_ == start) {
    fail("expected mailbox pattern");
    return std::nullopt;
  }
  return std::string(buf_.substr(start, pos_ - start));
}

std::optional<std::string> TokenReader::mailbox() {
  auto s = astring();
  // RFC 9051 §5.1: INBOX is case-insensitive.
  if (s && iequals(*s, "INBOX")) *s = "INBOX";
  return s;
}

std::optional<std::string> TokenReader::flag(bool allow_star) {
  if (consume('\\')) {
    if (allow_star && consume('*')) return std::string("\\*");
    auto a = atom();
    if (!a) {
      fail("bad flag");
      return std::nullopt;
    }
    return canonical_flag(std::string("\\") + std::string(*a));
  }
  auto a = atom();
  if (!a) {
    fail("bad flag");
    return std::nullopt;
  }
  return std::string(*a);
}

std::optional<std::vector<std::string>> TokenReader::flag_list() {
  if (!consume('(')) {
    fail("expected flag list");
    return std::nullopt;
  }
  std::vector<std::string> flags;
  if (consume(')')) return flags;
  while (true) {
    auto f = flag();
    if (!f) return std::nullopt;
    flags.push_back(std::move(*f));
    if (consume(')')) return flags;
    if (!sp()) return std::nullopt;
  }
}

std::optional<uint64_t> TokenReader::number64() {
  size_t start = pos_;
  uint64_t v = 0;
  while (!at_end() && is_digit(buf_[pos_])) {
    v = v * 10 + static_cast<uint64_t>(buf_[pos_++] - '0');
    // number64 = 1*DIGIT, unsigned 63-bit (RFC 9051 §9)
    if (v > static_cast<uint64_t>(INT64_MAX) || pos_ - start > 19) {
      fail("number too large");
      return std::nullopt;
    }
  }
  if (pos_ == start) {
    fail("expected number");
    return std::nullopt;
  }
  return v;
}

std::optional<uint32_t> TokenReader::number() {
  auto v = number64();
  if (!v) return std::nullopt;
  if (*v > 0xFFFFFFFFull) {
    fail("number too large");
    return std::nullopt;
  }
  return static_cast<uint32_t>(*v);
}

std::optional<uint32_t> TokenReader::nz_number() {
  if (peek() == '0') {
    fail("expected non-zero number");
    return std::nullopt;
  }
  return number();
}

std::optional<SequenceSet> TokenReader::sequence_set(bool allow_saved) {
  size_t start = pos_;
  while (!at_end() && (is_digit(buf_[pos_]) || buf_[pos_] == ':' || buf_[pos_] == ',' || buf_[pos_] == '*' ||
                       buf_[pos_] == '$'))
    ++pos_;
  auto set = SequenceSet::parse(buf_.substr(start, pos_ - start));
  if (!set) {
    fail("bad sequence set");
    return std::nullopt;
  }
  if (!allow_saved && set->is_saved_result()) {
    fail("$ not allowed here");
    return std::nullopt;
  }
  return std::move(*set);
}

namespace {
int month_from_name(std::string_view m) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i)
    if (iequals(m, kMonths[i])) return i + 1;
  return 0;
}
}  // namespace

std::optional<Date> TokenReader::date() {
  bool q = consume('"');
  Date d;
  // date-day = 1*2DIGIT
  size_t start = pos_;
  while (!at_end() && is_digit(buf_[pos_]) && pos_ - start < 2) d.day = d.day * 10 + (buf_[pos_++] - '0');
  if (pos_ == start || !consume('-') || buf_.size() - pos_ < 8) {
    fail("bad date");
    return std::nullopt;
  }
  d.month = month_from_name(buf_.substr(pos_, 3));
  pos_ += 3;
  if (!d.month || !consume('-')) {
    fail("bad date");
    return std::nullopt;
  }
  for (int i = 0; i < 4; ++i) {
    if (!is_digit(peek())) {
      fail("bad date");
      return std::nullopt;
    }
    d.year = d.year * 10 + (buf_[pos_++] - '0');
  }
  if ((q && !consume('"')) || d.day < 1 || d.day > 31) {
    fail("bad date");
    return std::nullopt;
  }
  return d;
}

std::optional<DateTime> TokenReader::date_time() {
  // date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
  // e.g. "17-Jul-1996 02:44:25 -0700" (RFC 9051 §9)
  auto bad = [&]() -> std::optional<DateTime> {
    fail("bad date-time");
    return std::nullopt;
  };
  if (buf_.size() - pos_ < 28 || buf_[pos_] != '"') return bad();
  std::string_view s = buf_.substr(pos_ + 1, 26);
  auto two = [&](size_t i, int& out) {
    if (!is_digit(s[i]) || !is_digit(s[i + 1])) return false;
    out = (s[i] - '0') * 10 + (s[i + 1] - '0');
    return true;
  };
  DateTime dt;
  if (s[0] == ' ' && is_digit(s[1]))
    dt.date.day = s[1] - '0';
  else if (!two(0, dt.date.day))
    return bad();
  dt.date.month = month_from_name(s.substr(3, 3));
  int y1 = 0, y2 = 0, zh = 0, zm = 0;
  if (s[2] != '-' || !dt.date.month || s[6] != '-' || !two(7, y1) || !two(9, y2) || s[11] != ' ' ||
      !two(12, dt.hour) || s[14] != ':' || !two(15, dt.minute) || s[17] != ':' || !two(18, dt.second) ||
      s[20] != ' ' || (s[21] != '+' && s[21] != '-') || !two(22, zh) || !two(24, zm) || buf_[pos_ + 27] != '"')
    return bad();
  dt.date.year = y1 * 100 + y2;
  if (dt.date.day < 1 || dt.date.day > 31 || dt.hour > 23 || dt.minute > 59 || dt.second > 60 || zm > 59)
    return bad();
  dt.zone_minutes = (zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
  pos_ += 28;
  return dt;
}

}  // namespace detail
}  // namespace tern::imapd
