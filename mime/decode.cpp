// Content-Transfer-Encoding decoders (RFC 2045 §6), RFC 2047 encoded words and the small set
// of charsets we convert to UTF-8 ourselves.
#include <algorithm>
#include <array>
#include <cstdint>

#include "common/codec.h"
#include "common/strings.h"
#include "mime/internal.h"

namespace tern::mime {
namespace {

// Windows-1252 0x80..0x9F (0 = unassigned).
constexpr std::array<uint16_t, 32> kCp1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

enum class Charset { utf8, ascii, latin1, latin9, cp1252, unknown };

Charset classify(std::string_view name) {
  std::string n = ascii_lower(trim(name));
  if (n == "utf-8" || n == "utf8") return Charset::utf8;
  if (n == "us-ascii" || n == "ascii" || n == "ansi_x3.4-1968" || n == "us") return Charset::ascii;
  if (n == "iso-8859-1" || n == "iso8859-1" || n == "iso_8859-1" || n == "latin1" ||
      n == "latin-1" || n == "l1")
    return Charset::latin1;
  if (n == "iso-8859-15" || n == "iso8859-15" || n == "iso_8859-15" || n == "latin-9" ||
      n == "latin9")
    return Charset::latin9;
  if (n == "windows-1252" || n == "cp1252" || n == "x-cp1252") return Charset::cp1252;
  return Charset::unknown;
}

uint32_t single_byte(unsigned char c, Charset cs) {
  if (c < 0x80) return c;
  switch (cs) {
    case Charset::latin9:
      // ISO-8859-15 differs from ISO-8859-1 in eight positions.
      switch (c) {
        case 0xA4: return 0x20AC;
        case 0xA6: return 0x0160;
        case 0xA8: return 0x0161;
        case 0xB4: return 0x017D;
        case 0xB8: return 0x017E;
        case 0xBC: return 0x0152;
        case 0xBD: return 0x0153;
        case 0xBE: return 0x0178;
        default: return c;
      }
    case Charset::cp1252:
      if (c <= 0x9F) return kCp1252High[c - 0x80] ? kCp1252High[c - 0x80] : kReplacementChar;
      return c;
    default:
      return c;  // latin1
  }
}

std::string single_byte_to_utf8(std::string_view s, Charset cs) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (char ch : s) append_utf8(out, single_byte(static_cast<unsigned char>(ch), cs));
  return out;
}

}  // namespace

std::string decode_base64(std::string_view in) { return base64_decode_mime(in); }

std::string decode_quoted_printable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t pos = 0;
  while (pos < in.size()) {
    detail::Line l = detail::line_at(in, pos);
    std::string_view line = in.substr(l.start, l.content_end - l.start);
    bool has_break = l.next > l.content_end;
    // RFC 2045 §6.7 (3): trailing white space on an encoded line is transport padding.
    while (!line.empty() && detail::is_wsp(line.back())) line.remove_suffix(1);
    bool soft = false;
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (c != '=') {
        out += c;
        continue;
      }
      if (i + 1 == line.size()) {  // RFC 2045 §6.7 (5): soft line break
        soft = true;
        break;
      }
      int h = i + 1 < line.size() ? hex_value(line[i + 1]) : -1;
      int lo = i + 2 < line.size() ? hex_value(line[i + 2]) : -1;
      if (h >= 0 && lo >= 0) {
        out += static_cast<char>(h * 16 + lo);
        i += 2;
      } else {
        out += '=';  // RFC 2045 §6.7 note: keep a malformed "=" as is
      }
    }
    if (has_break && !soft) out.append(in.substr(l.content_end, l.next - l.content_end));
    pos = l.next;
  }
  return out;
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  switch (classify(charset)) {
    case Charset::utf8:
      return sanitize_utf8(bytes);
    case Charset::ascii:
    case Charset::unknown:
      // 8-bit bytes in "us-ascii" or an unknown charset: best effort.
      if (is_valid_utf8(bytes)) return std::string(bytes);
      return single_byte_to_utf8(bytes, Charset::cp1252);
    case Charset::latin1:
      return single_byte_to_utf8(bytes, Charset::latin1);
    case Charset::latin9:
      return single_byte_to_utf8(bytes, Charset::latin9);
    case Charset::cp1252:
      return single_byte_to_utf8(bytes, Charset::cp1252);
  }
  return std::string(bytes);
}

namespace {

struct EncodedWord {
  size_t end = 0;  // offset after "?="
  std::string charset;
  std::string bytes;
};

// RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?=" at s[pos].
std::optional<EncodedWord> encoded_word_at(std::string_view s, size_t pos) {
  if (s.compare(pos, 2, "=?") != 0) return std::nullopt;
  // RFC 2047 §2 limits a word to 75 octets; a generous window keeps "=?=?=?..." linear.
  constexpr size_t kMaxWord = 2048;
  s = s.substr(0, std::min(s.size(), pos + kMaxWord));
  size_t q1 = s.find('?', pos + 2);
  if (q1 == std::string_view::npos || q1 + 2 >= s.size() || s[q1 + 2] != '?') return std::nullopt;
  char enc = s[q1 + 1];
  size_t text_start = q1 + 3;
  size_t close = s.find("?=", text_start);
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view cs = s.substr(pos + 2, q1 - pos - 2);
  std::string_view text = s.substr(text_start, close - text_start);
  if (cs.empty() || text.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  // RFC 2231 §5: charset may carry "*language".
  size_t star = cs.find('*');
  if (star != std::string_view::npos) cs = cs.substr(0, star);
  EncodedWord w;
  w.end = close + 2;
  w.charset = ascii_lower(cs);
  if (enc == 'B' || enc == 'b') {
    w.bytes = decode_base64(text);
  } else if (enc == 'Q' || enc == 'q') {
    // RFC 2047 §4.2: "_" is space, "=XX" an octet.
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c == '_') {
        w.bytes += ' ';
      } else if (c == '=' && i + 2 < text.size() &&
                 hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
        w.bytes += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
        i += 2;
      } else {
        w.bytes += c;
      }
    }
  } else {
    return std::nullopt;
  }
  return w;
}

}  // namespace

std::string decode_header_value(std::string_view raw) {
  std::string s = detail::unfold(raw);
  std::string out;
  std::string pending_bytes, pending_charset;  // adjacent words of one charset, joined
  auto flush = [&] {
    if (!pending_bytes.empty() || !pending_charset.empty()) out += to_utf8(pending_bytes, pending_charset);
    pending_bytes.clear();
    pending_charset.clear();
  };
  size_t i = 0;
  size_t plain_start = 0;
  bool last_was_word = false;
  while (i < s.size()) {
    if (s[i] == '=' && i + 1 < s.size() && s[i + 1] == '?') {
      if (auto w = encoded_word_at(s, i)) {
        std::string_view between = std::string_view(s).substr(plain_start, i - plain_start);
        bool only_ws = between.find_first_not_of(" \t") == std::string_view::npos;
        // RFC 2047 §6.2: white space between adjacent encoded words is ignored.
        if (!(last_was_word && only_ws)) {
          flush();
          out += to_utf8(between, "");
        } else if (w->charset != pending_charset) {
          flush();
        }
        pending_charset = w->charset;
        pending_bytes += w->bytes;
        i = plain_start = w->end;
        last_was_word = true;
        continue;
      }
    }
    ++i;
  }
  flush();
  out += to_utf8(std::string_view(s).substr(plain_start), "");
  return out;
}

Result<std::string> decode_body(const Message& msg, const Part& part) {
  std::string_view body = msg.body_bytes(part);
  const std::string& e = part.encoding;
  if (e.empty() || e == "7bit" || e == "8bit" || e == "binary") return std::string(body);
  if (e == "base64") return decode_base64(body);
  if (e == "quoted-printable") return decode_quoted_printable(body);
  // RFC 3516 §4.2: the server answers NO [UNKNOWN-CTE].
  return make_error(Errc::syntax, "UNKNOWN-CTE");
}

namespace {
void collect_text(const Message& msg, const Part& p, std::string& out) {
  if (!p.children.empty()) {
    for (const auto& c : p.children) collect_text(msg, c, out);
    return;
  }
  if (p.type != "text") return;
  auto decoded = decode_body(msg, p);
  if (!decoded) return;
  if (!out.empty()) out += '\n';
  // What a reader sees: words inside HTML markup (tag and attribute names, styles) are not
  // the message's text, and SEARCH must not find them (issue 18).
  if (p.subtype == "html") out += html_to_text(to_utf8(*decoded, p.charset()));
  else out += to_utf8(*decoded, p.charset());
}
}  // namespace

std::string text_for_search(const Message& msg, const Part& part) {
  std::string out;
  collect_text(msg, part, out);
  return out;
}

}  // namespace tern::mime
