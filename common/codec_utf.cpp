// UTF-8 (RFC 3629), IMAP modified UTF-7 (RFC 3501 §5.1.3) and SMTP xtext (RFC 3461 §4).
#include <vector>

#include "common/codec.h"

namespace tern {
namespace {

// RFC 3501 §5.1.3: modified base64 of RFC 2152, with "," in place of "/".
constexpr char kMutf7Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int mutf7_value(char c) { return detail::base64_value(c, ','); }

void flush_mutf7(std::string& out, const std::vector<uint16_t>& units) {
  uint32_t bits = 0;
  int nbits = 0;
  out += '&';
  for (uint16_t u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += kMutf7Alphabet[(bits >> nbits) & 0x3F];
    }
    bits &= (1u << nbits) - 1;
  }
  if (nbits > 0) out += kMutf7Alphabet[(bits << (6 - nbits)) & 0x3F];
  out += '-';
}

Error bad_mutf7(const char* what) { return make_error(Errc::syntax, what); }

bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

}  // namespace

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

size_t utf8_decode_at(std::string_view s, size_t i, uint32_t& cp) {
  unsigned char b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t v = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < n; ++k) {
    unsigned char c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    v = (v << 6) | (c & 0x3F);
  }
  // RFC 3629 §3: no overlong forms, no surrogates, nothing past U+10FFFF.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  cp = v;
  return n;
}

bool is_valid_utf8(std::string_view s) {
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_decode_at(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_decode_at(s, i, cp);
    if (n == 0) {
      append_utf8(out, kReplacementChar);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

Result<std::string> mutf7_encode(std::string_view utf8) {
  std::string out;
  std::vector<uint16_t> pending;  // UTF-16 units of the current shift sequence
  for (size_t i = 0; i < utf8.size();) {
    uint32_t cp = 0;
    size_t n = utf8_decode_at(utf8, i, cp);
    if (n == 0) return bad_mutf7("mailbox name is not valid UTF-8");
    i += n;
    // RFC 3501 §5.1.3: printable US-ASCII (0x20-0x7e) represent themselves, "&" is "&-".
    if (cp >= 0x20 && cp <= 0x7E) {
      if (!pending.empty()) {
        flush_mutf7(out, pending);
        pending.clear();
      }
      if (cp == '&')
        out += "&-";
      else
        out += static_cast<char>(cp);
      continue;
    }
    if (cp >= 0x10000) {
      uint32_t v = cp - 0x10000;
      pending.push_back(static_cast<uint16_t>(0xD800 | (v >> 10)));
      pending.push_back(static_cast<uint16_t>(0xDC00 | (v & 0x3FF)));
    } else {
      pending.push_back(static_cast<uint16_t>(cp));
    }
  }
  if (!pending.empty()) flush_mutf7(out, pending);
  return out;
}

Result<std::string> mutf7_decode(std::string_view in) {
  std::string out;
  bool prev_was_shift = false;  // the previous item was a base64 shift sequence
  size_t i = 0;
  while (i < in.size()) {
    uint8_t c = static_cast<uint8_t>(in[i]);
    if (c < 0x20 || c > 0x7E) return bad_mutf7("invalid byte in modified UTF-7");
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
    // RFC 3501 §5.1.3 / RFC 2152: an encoder never ends a shift only to start another.
    if (prev_was_shift) return bad_mutf7("adjacent shift sequences in modified UTF-7");
    uint32_t bits = 0;
    int nbits = 0;
    uint32_t high = 0;  // pending high surrogate
    size_t units = 0;
    while (true) {
      if (i >= in.size()) return bad_mutf7("unterminated shift sequence in modified UTF-7");
      char d = in[i++];
      if (d == '-') break;
      int v = mutf7_value(d);
      if (v < 0) return bad_mutf7("bad base64 in modified UTF-7");
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits < 16) continue;
      nbits -= 16;
      uint32_t u = (bits >> nbits) & 0xFFFF;
      bits &= (1u << nbits) - 1;
      ++units;
      if (u >= 0xD800 && u <= 0xDBFF) {
        if (high) return bad_mutf7("unpaired surrogate in modified UTF-7");
        high = u;
      } else if (u >= 0xDC00 && u <= 0xDFFF) {
        if (!high) return bad_mutf7("unpaired surrogate in modified UTF-7");
        append_utf8(out, 0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00));
        high = 0;
      } else {
        if (high) return bad_mutf7("unpaired surrogate in modified UTF-7");
        // RFC 3501 §5.1.3: printable US-ASCII must represent itself, never base64.
        if (u >= 0x20 && u <= 0x7E) return bad_mutf7("printable ASCII encoded in modified UTF-7");
        append_utf8(out, u);
      }
    }
    // Leftover bits are padding: fewer than 6 and all zero, else the encoding was not minimal.
    if (units == 0 || high || nbits >= 6 || bits != 0)
      return bad_mutf7("malformed shift sequence in modified UTF-7");
    prev_was_shift = true;
  }
  return out;
}

std::string xtext_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    // RFC 3461 §4: xchar is "!".."~" except "+" and "="; everything else is "+" 2HEXCHAR.
    if (c < '!' || c > '~' || c == '+' || c == '=') {
      out += '+';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool is_valid_xtext(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '+') {
      // RFC 3461 §4: hexchar = "+" 2(%x30-39 / %x41-46), upper-case only.
      if (i + 2 >= s.size() || !is_upper_hex(s[i + 1]) || !is_upper_hex(s[i + 2])) return false;
      i += 2;
    } else if (c >= 0x80) {
      continue;  // RFC 6533 §3: UTF-8 in utf-8-addr-xtext
    } else if (c < '!' || c > '~' || c == '=') {
      return false;
    }
  }
  return true;
}

Result<std::string> xtext_decode(std::string_view s) {
  if (!is_valid_xtext(s)) return make_error(Errc::syntax, "invalid xtext");
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace tern
