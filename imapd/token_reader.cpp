// TokenReader: the RFC 9051 §9 token grammar (atoms, strings, literals, flags, numbers,
// sequence sets, dates) over one framed command, used by the command parser (command.cpp).
#include <algorithm>
#include <cstring>

#include "common/codec.h"
#include "common/strings.h"
#include "imapd/imap_parser.h"

namespace tern::imapd {

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
