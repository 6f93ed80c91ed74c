// Content-* header fields: Content-Type / Content-Disposition parameters (RFC 2045 §5.1,
// RFC 2183, RFC 2231), Content-Transfer-Encoding, Content-Language, and Part accessors.
#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

#include "common/codec.h"
#include "common/strings.h"
#include "mime/internal.h"

namespace tern::mime {
namespace detail {

Line line_at(std::string_view d, size_t pos) {
  Line l;
  l.start = pos;
  const void* nl = pos < d.size() ? std::memchr(d.data() + pos, '\n', d.size() - pos) : nullptr;
  if (!nl) {
    l.content_end = l.next = d.size();
    return l;
  }
  size_t lf = static_cast<size_t>(static_cast<const char*>(nl) - d.data());
  l.next = lf + 1;
  l.content_end = (lf > pos && d[lf - 1] == '\r') ? lf - 1 : lf;
  return l;
}

std::string unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    if (c == '\n') continue;
    out += c;
  }
  return std::string(trim(out));
}

uint64_t count_lines(std::string_view body) {
  if (body.empty()) return 0;
  uint64_t n = static_cast<uint64_t>(std::count(body.begin(), body.end(), '\n'));
  if (body.back() != '\n') ++n;
  return n;
}

namespace {
// RFC 2045 §5.1: tspecials.
bool is_tspecial(char c) { return std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr && c != '\0'; }
bool is_token_char(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f && !is_tspecial(c);
}
}  // namespace

void Lexer::skip_cfws() {
  while (i_ < s_.size()) {
    char c = s_[i_];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i_;
    } else if (c == '(') {
      // RFC 5322 §3.2.2: comments nest and may contain quoted-pairs.
      int depth = 0;
      while (i_ < s_.size()) {
        char d = s_[i_++];
        if (d == '\\' && i_ < s_.size()) {
          ++i_;
        } else if (d == '(') {
          ++depth;
        } else if (d == ')' && --depth == 0) {
          break;
        }
      }
    } else {
      break;
    }
  }
}

bool Lexer::consume(char c) {
  if (peek() != c || at_end()) return false;
  ++i_;
  return true;
}

std::optional<std::string> Lexer::token() {
  size_t b = i_;
  while (i_ < s_.size() && is_token_char(s_[i_])) ++i_;
  if (i_ == b) return std::nullopt;
  return std::string(s_.substr(b, i_ - b));
}

std::optional<std::string> Lexer::quoted_string() {
  if (peek() != '"' || at_end()) return std::nullopt;
  ++i_;
  std::string out;
  while (i_ < s_.size()) {
    char c = s_[i_++];
    if (c == '"') return out;
    if (c == '\\' && i_ < s_.size()) {
      out += s_[i_++];
    } else if (c != '\r' && c != '\n') {
      out += c;
    }
  }
  return out;  // unterminated: tolerate, take the rest
}

std::string Lexer::rest_until(char stop) {
  size_t b = i_;
  while (i_ < s_.size() && s_[i_] != stop) ++i_;
  return std::string(s_.substr(b, i_ - b));
}

namespace {

struct RawParam {
  std::string attr;  // lower-cased, with any RFC 2231 suffix
  std::string value;
};

// Parameters after the media type / disposition type: *(";" attribute "=" value), tolerant of
// unquoted values containing tspecials (common with boundaries such as ----=_Part_1).
std::vector<RawParam> parse_raw_params(Lexer& lx) {
  std::vector<RawParam> out;
  while (true) {
    lx.skip_cfws();
    if (lx.at_end()) break;
    if (lx.consume(';')) continue;
    auto attr = lx.token();
    if (!attr) {  // junk: skip to the next parameter
      lx.rest_until(';');
      continue;
    }
    lx.skip_cfws();
    if (!lx.consume('=')) {
      lx.rest_until(';');
      continue;
    }
    lx.skip_cfws();
    std::string value;
    if (lx.peek() == '"') {
      value = *lx.quoted_string();
      lx.rest_until(';');  // anything after the closing quote is ignored
    } else {
      std::string raw = lx.rest_until(';');
      // Drop a trailing comment and white space: charset=us-ascii (Plain text).
      size_t paren = raw.find('(');
      if (paren != std::string::npos) raw.resize(paren);
      value = std::string(trim(raw));
    }
    out.push_back({ascii_lower(*attr), std::move(value)});
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int h = hex_value(s[i + 1]), l = hex_value(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out += static_cast<char>(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// RFC 2231 §3-§4: name*0=..; name*1*=..; name*=charset'lang'%XX. Segments are joined in index
// order up to the first gap; encoded segments are %-decoded and the result converted to UTF-8.
std::vector<Param> fold_rfc2231(const std::vector<RawParam>& raw) {
  struct Segment {
    std::string value;
    bool encoded = false;
  };
  struct Group {
    std::string name;
    std::optional<std::string> plain;  // name=value
    std::optional<Segment> single;     // name*=...
    std::map<int, Segment> sections;   // name*N / name*N*
  };
  std::vector<Group> groups;  // in order of first appearance
  std::unordered_map<std::string, size_t> index;  // keeps many parameters linear
  auto group_for = [&](const std::string& name) -> Group& {
    auto [it, fresh] = index.emplace(name, groups.size());
    if (fresh) groups.push_back(Group{name, {}, {}, {}});
    return groups[it->second];
  };
  for (const auto& rp : raw) {
    size_t star = rp.attr.find('*');
    if (star == std::string::npos) {
      Group& g = group_for(rp.attr);
      if (!g.plain) g.plain = rp.value;
      continue;
    }
    std::string base = rp.attr.substr(0, star);
    std::string_view suffix = std::string_view(rp.attr).substr(star + 1);
    Group& g = group_for(base);
    if (suffix.empty()) {
      if (!g.single) g.single = Segment{rp.value, true};
      continue;
    }
    bool encoded = suffix.back() == '*';
    if (encoded) suffix.remove_suffix(1);
    auto idx = parse_u64(suffix);
    // RFC 2231 §3: no leading zeros; a sane bound keeps the map small.
    if (!idx || *idx > 999 || (suffix.size() > 1 && suffix[0] == '0')) continue;
    g.sections.emplace(static_cast<int>(*idx), Segment{rp.value, encoded});
  }

  std::vector<Param> out;
  for (auto& g : groups) {
    Param p;
    p.name = g.name;
    std::optional<Segment> first;
    std::string joined;
    bool any_encoded = false;
    if (g.single) {
      first = g.single;
      joined = g.single->value;
      any_encoded = true;
    } else if (!g.sections.empty() && g.sections.begin()->first == 0) {
      int expect = 0;
      for (auto& [i, seg] : g.sections) {
        if (i != expect++) break;
        if (i == 0) first = seg;
        // Only the first encoded segment carries charset'language'.
        if (seg.encoded && i == 0) {
          joined += seg.value;
        } else if (seg.encoded) {
          joined += "\x01" + seg.value;  // marker: decode separately below
        } else {
          joined += "\x02" + seg.value;
        }
        any_encoded |= seg.encoded;
      }
    } else if (g.plain) {
      p.value = *g.plain;
      out.push_back(std::move(p));
      continue;
    } else {
      continue;
    }
    if (!any_encoded) {
      joined.erase(std::remove(joined.begin(), joined.end(), '\x02'), joined.end());
      p.value = joined;
      out.push_back(std::move(p));
      continue;
    }
    // Split charset'language' from the first segment when it is encoded.
    std::string body = joined;
    std::string bytes;
    bool first_encoded = first && first->encoded;
    if (first_encoded) {
      size_t q1 = body.find('\'');
      size_t q2 = q1 == std::string::npos ? std::string::npos : body.find('\'', q1 + 1);
      size_t stop = body.find_first_of("\x01\x02");
      if (q2 != std::string::npos && (stop == std::string::npos || q2 < stop)) {
        p.charset = ascii_lower(body.substr(0, q1));
        p.language = body.substr(q1 + 1, q2 - q1 - 1);
        body = body.substr(q2 + 1);
      }
    }
    // Decode segment by segment: encoded ones are %-decoded, plain ones taken literally.
    bool enc = first_encoded;
    size_t i = 0;
    while (i <= body.size()) {
      size_t next = body.find_first_of("\x01\x02", i);
      std::string_view seg =
          std::string_view(body).substr(i, next == std::string::npos ? std::string::npos : next - i);
      bytes += enc ? percent_decode(seg) : std::string(seg);
      if (next == std::string::npos) break;
      enc = body[next] == '\x01';
      i = next + 1;
    }
    p.value = p.charset.empty() ? bytes : to_utf8(bytes, p.charset);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

std::optional<ContentType> parse_content_type(std::string_view value) {
  Lexer lx(value);
  lx.skip_cfws();
  auto type = lx.token();
  lx.skip_cfws();
  if (!type || !lx.consume('/')) return std::nullopt;
  lx.skip_cfws();
  auto subtype = lx.token();
  if (!subtype) return std::nullopt;
  ContentType ct{ascii_lower(*type), ascii_lower(*subtype), {}};
  ct.params = fold_rfc2231(parse_raw_params(lx));
  return ct;
}

std::optional<Disposition> parse_disposition(std::string_view value) {
  Lexer lx(value);
  lx.skip_cfws();
  auto type = lx.token();
  if (!type) return std::nullopt;
  return Disposition{ascii_lower(*type), fold_rfc2231(parse_raw_params(lx))};
}

std::vector<std::string> parse_languages(std::string_view value) {
  // RFC 3282: Language-List = [CFWS] Language-Tag [CFWS] *("," [CFWS] Language-Tag [CFWS])
  std::vector<std::string> out;
  Lexer lx(value);
  while (true) {
    lx.skip_cfws();
    if (lx.at_end()) break;
    if (lx.consume(',')) continue;
    auto tag = lx.token();
    if (!tag) {
      lx.rest_until(',');
      continue;
    }
    out.push_back(*tag);
  }
  return out;
}

std::string parse_encoding(std::string_view value) {
  Lexer lx(value);
  lx.skip_cfws();
  auto tok = lx.token();
  return tok ? ascii_lower(*tok) : std::string();
}

void apply_content_headers(Part& p, bool in_digest) {
  p.has_content_type = false;
  if (in_digest) {
    p.type = "message";
    p.subtype = "rfc822";
  } else {
    p.type = "text";
    p.subtype = "plain";
  }
  p.params.clear();
  if (const HeaderField* h = p.header("Content-Type")) {
    if (auto ct = parse_content_type(h->value)) {
      p.has_content_type = true;
      p.type = std::move(ct->type);
      p.subtype = std::move(ct->subtype);
      p.params = std::move(ct->params);
    } else {
      // RFC 2045 §5.2: an invalid Content-Type is treated as text/plain; charset=us-ascii.
      p.type = "text";
      p.subtype = "plain";
    }
  }
  if (!p.has_content_type && p.type == "text") p.params.push_back({"charset", "us-ascii", "", ""});
  if (const HeaderField* h = p.header("Content-Transfer-Encoding")) p.encoding = parse_encoding(h->value);
  if (const HeaderField* h = p.header("Content-ID")) p.id = h->value;
  if (const HeaderField* h = p.header("Content-Description")) p.description = h->value;
  if (const HeaderField* h = p.header("Content-MD5")) p.md5 = h->value;
  if (const HeaderField* h = p.header("Content-Location")) p.location = h->value;
  if (const HeaderField* h = p.header("Content-Disposition")) p.disposition = parse_disposition(h->value);
  if (const HeaderField* h = p.header("Content-Language")) p.languages = parse_languages(h->value);
}

}  // namespace detail

bool Part::is_message() const {
  return type == "message" && (subtype == "rfc822" || subtype == "global") && children.size() == 1;
}

const HeaderField* Part::header(std::string_view name) const {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return &h;
  return nullptr;
}

std::vector<const HeaderField*> Part::headers_named(std::string_view name) const {
  std::vector<const HeaderField*> out;
  for (const auto& h : headers)
    if (iequals(h.name, name)) out.push_back(&h);
  return out;
}

std::optional<std::string> Part::param(std::string_view name) const {
  for (const auto& p : params)
    if (iequals(p.name, name)) return p.value;
  return std::nullopt;
}

std::string Part::charset() const {
  auto cs = param("charset");
  return cs && !cs->empty() ? ascii_lower(*cs) : std::string("us-ascii");
}

}  // namespace tern::mime
