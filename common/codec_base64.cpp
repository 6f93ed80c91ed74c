// base64 (RFC 4648 §4) and hex: one alphabet table, three decoders for the three rules mail
// uses (strict for SASL and DKIM keys, folding whitespace for DKIM signatures, RFC 2045
// best-effort for message bodies).
#include <cstdint>

#include "common/codec.h"

namespace tern {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) { return detail::base64_value(c, '/'); }

Error bad_base64() { return make_error(Errc::syntax, "invalid base64"); }

}  // namespace

int detail::base64_value(char c, char c63) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == c63) return 63;
  return -1;
}

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += kB64[n & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t n = uint8_t(data[i]) << 16;
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  // RFC 4648 §3.3: characters outside the alphabet are an error unless the specification
  // referring to it says otherwise; §4: the encoded length is a multiple of 4.
  if (text.size() % 4 != 0) return bad_base64();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return bad_base64();  // data after padding
      v[k] = b64_value(c);
      if (v[k] < 0) return bad_base64();
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

Result<std::string> base64_decode_fws(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact += c;
  return base64_decode(compact);
}

std::string base64_decode_mime(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int n = 0;
  auto flush = [&] {
    // A partial quantum: 2 sextets -> 1 byte, 3 -> 2 bytes; 1 sextet carries no full byte.
    if (n == 2) out += static_cast<char>((acc >> 4) & 0xFF);
    if (n == 3) {
      out += static_cast<char>((acc >> 10) & 0xFF);
      out += static_cast<char>((acc >> 2) & 0xFF);
    }
    acc = 0;
    n = 0;
  };
  for (char c : in) {
    if (c == '=') {  // RFC 2045 §6.8: padding ends the quantum
      flush();
      continue;
    }
    int v = b64_value(c);
    if (v < 0) continue;  // RFC 2045 §6.8: characters outside the alphabet are ignored
    acc = (acc << 6) | static_cast<uint32_t>(v);
    if (++n == 4) {
      out += static_cast<char>((acc >> 16) & 0xFF);
      out += static_cast<char>((acc >> 8) & 0xFF);
      out += static_cast<char>(acc & 0xFF);
      acc = 0;
      n = 0;
    }
  }
  flush();
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string hex_encode(std::string_view data, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

Result<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return make_error(Errc::syntax, "odd number of hex digits");
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int h = hex_value(text[i]), l = hex_value(text[i + 1]);
    if (h < 0 || l < 0) return make_error(Errc::syntax, "invalid hex digit");
    out += static_cast<char>(h * 16 + l);
  }
  return out;
}

Result<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int h = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int l = h >= 0 ? hex_value(text[i + 2]) : -1;
    if (l < 0) return make_error(Errc::syntax, "bad percent-escape");
    out += static_cast<char>(h * 16 + l);
    i += 2;
  }
  return out;
}

}  // namespace tern
