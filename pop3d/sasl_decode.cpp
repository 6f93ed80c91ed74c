#include "pop3d/sasl_decode.h"

#include "common/strings.h"

namespace tern::pop3d::detail {

std::optional<std::string> decode_response(std::string_view base64_text) {
  if (base64_text == "=") return std::string();
  return base64_decode(base64_text);
}

PlainDecode decode_plain(std::string_view base64_text) {
  PlainDecode out;
  auto raw = decode_response(base64_text);
  if (!raw) {
    out.error = SaslError::bad_base64;
    return out;
  }
  size_t first = raw->find('\0');
  if (first == std::string::npos) return out;
  size_t second = raw->find('\0', first + 1);
  if (second == std::string::npos) return out;
  if (raw->find('\0', second + 1) != std::string::npos) return out;
  PlainCredentials c;
  c.authzid = raw->substr(0, first);
  c.authcid = raw->substr(first + 1, second - first - 1);
  c.password = raw->substr(second + 1);
  if (c.authcid.empty() || c.password.empty()) return out;
  out.creds = std::move(c);
  return out;
}

}  // namespace tern::pop3d::detail
