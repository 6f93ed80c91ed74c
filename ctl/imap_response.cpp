#include "ctl/imap_response.h"

#include <cctype>
#include <cstring>
#include <ctime>

#include "common/strings.h"

namespace tern::ctl::imap {

namespace {

// RFC 9051 §4.3: literal = "{" number64 ["+"] "}" CRLF *CHAR8. The "{n}" must end the line.
std::optional<uint64_t> literal_at_end(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  return parse_u64(digits);
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<std::vector<Value>> all() {
    std::vector<Value> out;
    while (true) {
      skip_spaces();
      if (at_end()) return out;
      auto v = value(0);
      if (!v) return v.error();
      out.push_back(std::move(*v));
    }
  }

 private:
  bool at_end() const { return i_ >= s_.size() || s_[i_] == '\r' || s_[i_] == '\n'; }
  void skip_spaces() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  static Error bad(const char* what) { return make_error(Errc::syntax, std::string("IMAP response: ") + what); }

  Result<Value> value(int depth) {
    if (depth > kMaxDepth) return bad("lists nested too deep");
    char c = s_[i_];
    if (c == '(') return list(depth);
    if (c == '"') return quoted();
    if (c == '{') return literal();
    if (c == ')') return bad("unbalanced ')'");
    return atom();
  }

  Result<Value> list(int depth) {
    ++i_;  // '('
    Value v;
    v.kind = Value::Kind::list;
    while (true) {
      skip_spaces();
      if (i_ >= s_.size() || s_[i_] == '\r' || s_[i_] == '\n') return bad("unterminated list");
      if (s_[i_] == ')') {
        ++i_;
        return v;
      }
      auto item = value(depth + 1);
      if (!item) return item.error();
      v.items.push_back(std::move(*item));
    }
  }

  Result<Value> quoted() {
    ++i_;  // '"'
    Value v;
    v.kind = Value::Kind::string;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return v;
      if (c == '\r' || c == '\n') break;
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        c = s_[i_++];
      }
      v.text += c;
    }
    return bad("unterminated quoted string");
  }

  Result<Value> literal() {
    size_t close = s_.find('}', i_);
    if (close == std::string_view::npos) return bad("unterminated literal length");
    std::string_view digits = s_.substr(i_ + 1, close - i_ - 1);
    if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
    auto n = digits.size() <= 19 ? parse_u64(digits) : std::nullopt;
    if (!n || *n > kMaxLiteral) return bad("bad literal length");
    if (s_.substr(close + 1, 2) != "\r\n") return bad("literal length not followed by CRLF");
    size_t start = close + 3;
    if (s_.size() - std::min(s_.size(), start) < *n) return bad("literal shorter than announced");
    Value v;
    v.kind = Value::Kind::string;
    v.text = std::string(s_.substr(start, *n));
    i_ = start + *n;
    return v;
  }

  Result<Value> atom() {
    size_t start = i_;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '[') {
        // A section ("BODY[HEADER.FIELDS (A B)]", "[UIDVALIDITY 1]") stays in its atom.
        size_t close = s_.find(']', i_);
        if (close == std::string_view::npos) return bad("unterminated '['");
        i_ = close + 1;
        continue;
      }
      if (c == ' ' || c == '(' || c == ')' || c == '"' || c == '{' || c == '\r' || c == '\n') break;
      ++i_;
    }
    if (i_ == start) return bad("unexpected character");
    Value v;
    v.text = std::string(s_.substr(start, i_ - start));
    if (iequals(v.text, "NIL")) v.kind = Value::Kind::nil;
    return v;
  }

  std::string_view s_;
  size_t i_ = 0;
};

std::optional<uint32_t> as_u32(const Value& v) {
  if (v.kind != Value::Kind::atom) return std::nullopt;
  auto n = parse_u64(v.text);
  if (!n || *n > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*n);
}

}  // namespace

bool Value::is_atom(std::string_view s) const { return kind == Kind::atom && iequals(text, s); }

Result<size_t> frame_response(std::string_view buf) {
  size_t pos = 0, line_bytes = 0;
  while (true) {
    size_t eol = buf.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      if (line_bytes + (buf.size() - pos) > kMaxLine) return make_error(Errc::syntax, "IMAP response line too long");
      return size_t(0);
    }
    line_bytes += eol - pos;
    if (line_bytes > kMaxLine) return make_error(Errc::syntax, "IMAP response line too long");
    auto n = literal_at_end(buf.substr(pos, eol - pos));
    if (!n) return eol + 2;
    if (*n > kMaxLiteral) return make_error(Errc::syntax, "IMAP literal too large");
    size_t after = eol + 2 + *n;
    if (after > buf.size()) return size_t(0);
    pos = after;
  }
}

Result<std::vector<Value>> parse_values(std::string_view response) { return Parser(response).all(); }

std::optional<uint32_t> response_code_number(std::string_view line, std::string_view code) {
  std::string needle = "[" + std::string(code) + " ";
  // Codes are case-insensitive; servers send them upper-case, so compare on an upper copy.
  std::string upper(line.substr(0, std::min(line.size(), size_t(4096))));
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  size_t at = upper.find(needle);
  if (at == std::string::npos) return std::nullopt;
  size_t start = at + needle.size(), end = upper.find(']', start);
  if (end == std::string::npos) return std::nullopt;
  auto n = parse_u64(std::string_view(upper).substr(start, end - start));
  if (!n || *n > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*n);
}

std::optional<ListEntry> parse_list(const std::vector<Value>& v) {
  // * LIST (attrs) delim name [extended data]
  if (v.size() < 5 || !v[0].is_atom("*") || !(v[1].is_atom("LIST") || v[1].is_atom("XLIST"))) return std::nullopt;
  if (!v[2].is_list() || !(v[3].is_string_like() || v[3].kind == Value::Kind::nil) || !v[4].is_string_like())
    return std::nullopt;
  ListEntry e;
  for (const Value& a : v[2].items)
    if (a.kind == Value::Kind::atom) e.attributes.push_back(a.text);
  if (v[3].kind != Value::Kind::nil) e.delimiter = v[3].text;
  e.name = v[4].text;
  if (e.name.empty() || e.delimiter.size() > 1) return std::nullopt;
  return e;
}

std::optional<FetchItem> parse_fetch(const std::vector<Value>& v) {
  if (v.size() != 4 || !v[0].is_atom("*") || !v[2].is_atom("FETCH") || !v[3].is_list()) return std::nullopt;
  auto seq = as_u32(v[1]);
  if (!seq) return std::nullopt;
  FetchItem f;
  f.seq = *seq;
  const auto& items = v[3].items;
  if (items.size() % 2 != 0) return std::nullopt;
  for (size_t i = 0; i < items.size(); i += 2) {
    const Value& key = items[i];
    const Value& val = items[i + 1];
    if (key.kind != Value::Kind::atom) return std::nullopt;
    if (key.is_atom("UID")) {
      f.uid = as_u32(val);
      if (!f.uid) return std::nullopt;
    } else if (key.is_atom("RFC822.SIZE")) {
      auto n = val.kind == Value::Kind::atom ? parse_u64(val.text) : std::nullopt;
      if (!n) return std::nullopt;
      f.size = *n;
    } else if (key.is_atom("INTERNALDATE")) {
      if (val.kind != Value::Kind::string) return std::nullopt;
      f.internaldate = val.text;
    } else if (key.is_atom("FLAGS")) {
      if (!val.is_list()) return std::nullopt;
      std::vector<std::string> flags;
      for (const Value& fl : val.items)
        if (fl.kind == Value::Kind::atom) flags.push_back(fl.text);
      f.flags = std::move(flags);
    } else if (key.is_atom("BODY[]")) {
      if (val.kind == Value::Kind::nil) continue;
      if (val.kind != Value::Kind::string) return std::nullopt;
      f.body = val.text;
    }
  }
  return f;
}

std::optional<int64_t> parse_internaldate(std::string_view t) {
  // RFC 9051 §9: date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
  static const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  if (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  auto num = [&](std::string_view s) -> std::optional<int> {
    auto n = parse_u64(s);
    if (!n || *n > 100000) return std::nullopt;
    return static_cast<int>(*n);
  };
  size_t d1 = t.find('-');
  if (d1 == std::string_view::npos || d1 == 0 || d1 > 2) return std::nullopt;
  std::string_view rest = t.substr(d1 + 1);
  if (rest.size() != 23 || rest[3] != '-' || rest[8] != ' ' || rest[11] != ':' || rest[14] != ':' || rest[17] != ' ')
    return std::nullopt;
  auto day = num(t.substr(0, d1));
  int month = -1;
  for (int m = 0; m < 12; ++m)
    if (iequals(rest.substr(0, 3), kMonths[m])) month = m;
  auto year = num(rest.substr(4, 4)), hh = num(rest.substr(9, 2)), mm = num(rest.substr(12, 2)),
       ss = num(rest.substr(15, 2)), zh = num(rest.substr(19, 2)), zm = num(rest.substr(21, 2));
  char sign = rest[18];
  if (!day || month < 0 || !year || !hh || !mm || !ss || !zh || !zm || (sign != '+' && sign != '-')) return std::nullopt;
  if (*day < 1 || *day > 31 || *hh > 23 || *mm > 59 || *ss > 60 || *year < 1970) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = *day;
  tm.tm_hour = *hh;
  tm.tm_min = *mm;
  tm.tm_sec = *ss;
  int64_t utc = static_cast<int64_t>(::timegm(&tm));
  int64_t offset = (*zh * 3600 + *zm * 60) * (sign == '+' ? 1 : -1);
  return utc - offset;
}

std::optional<std::string> quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return std::nullopt;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace tern::ctl::imap
