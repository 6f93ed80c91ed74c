// The text IMAP SEARCH matches (RFC 9051 §6.4.4: case-insensitive substrings), shared by the
// per-message check (imapd/search.cpp) and the full-text index (store/fts_index.h), so that
// what the index finds is exactly what the check confirms.
#include <cstdint>

#include "common/codec.h"
#include "mime/mime.h"

namespace tern::mime {
namespace {

// ---- case folding ----

uint32_t fold_code_point(uint32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c == 0xB5) return 0x3BC;                                  // micro sign -> mu
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;        // Latin-1 capitals
  if (c >= 0x100 && c <= 0x17F) {                                // Latin Extended-A
    if (c == 0x130) return 'i';                                  // İ
    if (c == 0x131 || c == 0x138) return c;                      // ı, ĸ: no pair
    if (c == 0x178) return 0xFF;                                 // Ÿ
    if (c == 0x17F) return 's';                                  // long s
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2) ? c + 1 : c;
    return (c % 2) ? c : c + 1;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;     // Greek capitals
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c == 0x3C2) return 0x3C3;                                  // final sigma
  if (c >= 0x410 && c <= 0x42F) return c + 32;                   // Cyrillic capitals
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) return (c % 2) ? c : c + 1;
  return c;
}


}  // namespace

std::string fold_for_search(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out += (b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : static_cast<char>(b);
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t n = utf8_decode_at(s, i, cp);
    if (n == 0) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    i += n;
    if (cp == 0xDF || cp == 0x1E9E) {  // ß, ẞ: full folding to "ss"
      out += "ss";
      continue;
    }
    append_utf8(out, fold_code_point(cp));
  }
  return out;
}

std::string header_text_for_search(const Message& msg) {
  std::string all;
  for (const auto& h : msg.root().headers) {
    all += h.name;
    all += ": ";
    all += decode_header_value(h.raw_value);
    all += '\n';
  }
  return all;
}

void search_document(std::string_view bytes, std::string& header, std::string& body) {
  Message m = Message::parse(std::string(bytes));
  header = fold_for_search(header_text_for_search(m));
  body = fold_for_search(text_for_search(m, m.root()));
}

}  // namespace tern::mime
