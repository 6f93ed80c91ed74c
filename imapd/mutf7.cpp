#include "imapd/mutf7.h"

#include <cstdint>
#include <vector>

namespace tern::imapd {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;  // RFC 3501 §5.1.3: "," replaces "/" of RFC 2152
  return -1;
}

// Decodes one UTF-8 sequence at s[i]; returns the code point or -1 and advances i.
int32_t next_code_point(std::string_view s, size_t& i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int len = 0;
  int32_t cp = 0;
  int32_t min = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    uint8_t cc = b(i + k);
    if ((cc & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  i += len;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void flush_base64(std::string& out, const std::vector<uint16_t>& units) {
  uint32_t bits = 0;
  int nbits = 0;
  out += '&';
  for (uint16_t u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += kAlphabet[(bits >> nbits) & 0x3F];
    }
    bits &= (1u << nbits) - 1;
  }
  if (nbits > 0) out += kAlphabet[(bits << (6 - nbits)) & 0x3F];
  out += '-';
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();)
    if (next_code_point(s, i) < 0) return false;
  return true;
}

Result<std::string> mutf7_encode(std::string_view utf8) {
  std::string out;
  std::vector<uint16_t> pending;  // UTF-16 units of the current shift sequence
  for (size_t i = 0; i < utf8.size();) {
    int32_t cp = next_code_point(utf8, i);
    if (cp < 0) return make_error(Errc::syntax, "mailbox name is not valid UTF-8");
    // RFC 3501 §5.1.3: printable US-ASCII (0x20-0x7e) represent themselves, "&" is "&-".
    if (cp >= 0x20 && cp <= 0x7E) {
      if (!pending.empty()) {
        flush_base64(out, pending);
        pending.clear();
      }
      if (cp == '&')
        out += "&-";
      else
        out += static_cast<char>(cp);
      continue;
    }
    if (cp >= 0x10000) {
      uint32_t v = static_cast<uint32_t>(cp) - 0x10000;
      pending.push_back(static_cast<uint16_t>(0xD800 | (v >> 10)));
      pending.push_back(static_cast<uint16_t>(0xDC00 | (v & 0x3FF)));
    } else {
      pending.push_back(static_cast<uint16_t>(cp));
    }
  }
  if (!pending.empty()) flush_base64(out, pending);
  return out;
}

Result<std::string> mutf7_decode(std::string_view in) {
  std::string out;
  bool prev_was_shift = false;  // the previous item was a base64 shift sequence
  size_t i = 0;
  while (i < in.size()) {
    uint8_t c = static_cast<uint8_t>(in[i]);
    if (c < 0x20 || c > 0x7E) return make_error(Errc::syntax, "invalid byte in modified UTF-7");
    if (c != '&') {
      out += static_cast<char>(c);
      prev_was_shift = false;
      ++i;
      continue;
    }
    ++i;
    if (i < in.size() && in[i] == '-') {
      out += '&';
      prev_was_shift = false;
      ++i;
      continue;
    }
    if (prev_was_shift) return make_error(Errc::syntax, "adjacent shift sequences in modified UTF-7");
    uint32_t bits = 0;
    int nbits = 0;
    uint32_t high = 0;  // pending high surrogate
    size_t units = 0;
    while (true) {
      if (i >= in.size()) return make_error(Errc::syntax, "unterminated shift sequence in modified UTF-7");
      char d = in[i++];
      if (d == '-') break;
      int v = b64_value(d);
      if (v < 0) return make_error(Errc::syntax, "bad base64 in modified UTF-7");
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        uint32_t u = (bits >> nbits) & 0xFFFF;
        bits &= (1u << nbits) - 1;
        ++units;
        if (u >= 0xD800 && u <= 0xDBFF) {
          if (high) return make_error(Errc::syntax, "unpaired surrogate in modified UTF-7");
          high = u;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
          if (!high) return make_error(Errc::syntax, "unpaired surrogate in modified UTF-7");
          append_utf8(out, 0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00));
          high = 0;
        } else {
          if (high) return make_error(Errc::syntax, "unpaired surrogate in modified UTF-7");
          // RFC 3501 §5.1.3: printable US-ASCII must represent itself, never base64.
          if (u >= 0x20 && u <= 0x7E) return make_error(Errc::syntax, "printable ASCII encoded in modified UTF-7");
          append_utf8(out, u);
        }
      }
    }
    // Leftover bits are padding: fewer than 6 and all zero, else the encoding was not minimal.
    if (units == 0 || high || nbits >= 6 || bits != 0)
      return make_error(Errc::syntax, "malformed shift sequence in modified UTF-7");
    prev_was_shift = true;
  }
  return out;
}

}  // namespace tern::imapd
