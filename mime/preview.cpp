// Plain text of a message for display: RFC 8970 PREVIEW (and the markup-free text of HTML
// parts that full-text search will want too).
#include <cctype>

#include "common/codec.h"
#include "common/strings.h"
#include "mime/internal.h"

namespace tern::mime {
namespace {

bool attachment(const Part& p) { return p.disposition && p.disposition->type == "attachment"; }

// The first displayable text leaf: text/plain preferred (multipart/alternative lists it
// first by convention, RFC 2046 §5.1.4, but any order is searched), else text/html.
const Part* first_text(const Part& p, std::string_view subtype) {
  if (!p.children.empty()) {
    for (const Part& c : p.children)
      if (const Part* t = first_text(c, subtype)) return t;
    return nullptr;
  }
  if (p.type == "text" && p.subtype == subtype && !attachment(p)) return &p;
  return nullptr;
}

bool starts_with_ci(std::string_view s, size_t at, std::string_view word) {
  return s.size() - at >= word.size() && iequals(s.substr(at, word.size()), word);
}

// "<name" followed by the end of the name (so "<head" does not match "<header").
bool element_at(std::string_view s, size_t lt, std::string_view name) {
  if (!starts_with_ci(s, lt + 1, name)) return false;
  size_t e = lt + 1 + name.size();
  return e >= s.size() || s[e] == '>' || s[e] == '/' || s[e] == ' ' || s[e] == '\t' || s[e] == '\r' || s[e] == '\n';
}

// HTML numeric character references ("&#233;", "&#xE9;", the ';' required), and the named
// ones mail writers use most for Latin letters and punctuation: appended to `out` as UTF-8.
// Returns the bytes read, 0 when there is none at `at`.
size_t numeric_entity(std::string_view html, size_t at, std::string& out) {
  size_t semi = html.find(';', at);
  if (semi == std::string_view::npos || semi - at > 10) return 0;
  std::string_view ref = html.substr(at + 1, semi - at - 1);
  uint32_t cp = 0;
  if (ref.size() > 1 && ref[0] == '#') {
    bool hex = ref[1] == 'x' || ref[1] == 'X';
    std::string_view digits = ref.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char d : digits) {
      int v = std::isdigit(static_cast<unsigned char>(d)) ? d - '0'
              : hex && std::isxdigit(static_cast<unsigned char>(d)) ? (std::tolower(d) - 'a' + 10)
                                                                     : -1;
      if (v < 0) return 0;
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
    }
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  } else {
    static constexpr std::pair<std::string_view, uint32_t> kNamed[] = {
        {"eacute", 0xE9}, {"Eacute", 0xC9}, {"egrave", 0xE8}, {"Egrave", 0xC8}, {"ecirc", 0xEA},
        {"agrave", 0xE0}, {"Agrave", 0xC0}, {"aacute", 0xE1}, {"acirc", 0xE2}, {"auml", 0xE4},
        {"Auml", 0xC4}, {"ouml", 0xF6}, {"Ouml", 0xD6}, {"uuml", 0xFC}, {"Uuml", 0xDC},
        {"oacute", 0xF3}, {"uacute", 0xFA}, {"iacute", 0xED}, {"ntilde", 0xF1}, {"ccedil", 0xE7},
        {"Ccedil", 0xC7}, {"szlig", 0xDF}, {"aring", 0xE5}, {"Aring", 0xC5}, {"oslash", 0xF8},
        {"Oslash", 0xD8}, {"aelig", 0xE6}, {"euro", 0x20AC}, {"copy", 0xA9}, {"reg", 0xAE},
        {"hellip", 0x2026}, {"ndash", 0x2013}, {"mdash", 0x2014}, {"lsquo", 0x2018},
        {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"laquo", 0xAB}, {"raquo", 0xBB}};
    for (const auto& [name, value] : kNamed)
      if (ref == name) cp = value;
    if (!cp) return 0;
  }
  append_utf8(out, cp);
  return semi - at + 1;
}

}  // namespace

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  for (size_t i = 0; i < html.size();) {
    char c = html[i];
    if (c == '<') {
      // The content of these elements is not text a reader sees.
      for (std::string_view el : {"style", "script", "head", "title"}) {
        if (element_at(html, i, el)) {
          std::string close = "</" + std::string(el);
          size_t j = i;
          while (j < html.size() && !starts_with_ci(html, j, close)) ++j;
          i = j;
          break;
        }
      }
      if (starts_with_ci(html, i, "<!--")) {
        size_t e = html.find("-->", i + 4);
        i = e == std::string_view::npos ? html.size() : e + 3;
        continue;
      }
      size_t e = html.find('>', i);
      // A block tag separates words (<br>, </p>, </td>); an inline one does not.
      size_t n = i + 1 + (i + 1 < html.size() && html[i + 1] == '/');
      size_t ne = n;
      while (ne < html.size() && std::isalnum(static_cast<unsigned char>(html[ne]))) ++ne;
      std::string_view name = html.substr(n, ne - n);
      bool inline_tag = false;
      for (std::string_view t : {"a", "b", "i", "u", "s", "em", "strong", "span", "font", "small", "big", "sub",
                                 "sup", "code", "abbr", "mark", "q"})
        inline_tag |= iequals(name, t);
      i = e == std::string_view::npos ? html.size() : e + 1;
      if (!inline_tag) out += ' ';
      continue;
    }
    if (c == '&') {
      static constexpr std::pair<std::string_view, std::string_view> kEntities[] = {
          {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", " "}};
      bool done = false;
      for (const auto& [name, text] : kEntities) {
        if (starts_with_ci(html, i, name)) {
          out += text;
          i += name.size();
          done = true;
          break;
        }
      }
      if (done) continue;
      if (size_t n = numeric_entity(html, i, out)) {
        i += n;
        continue;
      }
    }
    out += c;
    ++i;
  }
  return out;
}

std::string preview_text(const Message& msg, size_t max_chars) {
  const Part* p = first_text(msg.root(), "plain");
  bool html = false;
  if (!p) {
    p = first_text(msg.root(), "html");
    html = p != nullptr;
  }
  if (!p) return "";
  auto body = decode_body(msg, *p);
  if (!body) return "";
  std::string text = to_utf8(*body, p->charset());
  if (html) text = html_to_text(text);
  // White space runs (line breaks included) become one space; control characters go.
  std::string out;
  size_t chars = 0;
  bool space = false;
  for (size_t i = 0; i < text.size() && chars < max_chars;) {
    unsigned char b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      if (std::isspace(b) || b < 0x20 || b == 0x7F) {
        space = !out.empty();
        continue;
      }
      if (space) {
        if (chars + 1 >= max_chars) break;  // no room for what follows the space
        out += ' ';
        ++chars;
        space = false;
      }
      out += static_cast<char>(b);
      ++chars;
      continue;
    }
    // to_utf8 gives valid UTF-8: the lead byte says the sequence length.
    size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    if (i + n > text.size()) break;
    if (b == 0xC2 && static_cast<unsigned char>(text[i + 1]) == 0xA0) {  // no-break space
      space = !out.empty();
      i += n;
      continue;
    }
    if (space) {
      if (chars + 1 >= max_chars) break;
      out += ' ';
      ++chars;
      space = false;
    }
    out.append(text, i, n);
    i += n;
    ++chars;
  }
  return out;
}

}  // namespace tern::mime
