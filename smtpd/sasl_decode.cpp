#include "smtpd/sasl_decode.h"

#include "common/strings.h"

namespace tern::smtpd {
namespace {

std::optional<std::string> decode_b64(std::string_view text) {
  if (text == "=") return std::string();  // RFC 4954 §4: "=" is an empty response
  if (text.empty()) return std::string();
  return base64_decode(text);
}

}  // namespace

PlainDecoded decode_sasl_plain(std::string_view text) {
  PlainDecoded out;
  auto raw = decode_b64(text);
  if (!raw) return out;
  // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
  size_t nul1 = raw->find('\0');
  if (nul1 == std::string::npos) return out;
  size_t nul2 = raw->find('\0', nul1 + 1);
  if (nul2 == std::string::npos) return out;
  std::string authzid = raw->substr(0, nul1);
  std::string authcid = raw->substr(nul1 + 1, nul2 - nul1 - 1);
  std::string passwd = raw->substr(nul2 + 1);
  if (authcid.empty() || passwd.empty() || passwd.find('\0') != std::string::npos) return out;
  if (authzid.size() > kSaslMaxField || authcid.size() > kSaslMaxField ||
      passwd.size() > kSaslMaxField)
    return out;
  if (!authzid.empty() && authzid != authcid) {
    out.error = SaslDecodeError::authzid_mismatch;
    return out;
  }
  out.credentials = SaslCredentials{std::move(authcid), std::move(passwd)};
  return out;
}

std::optional<std::string> decode_sasl_login_field(std::string_view text) {
  auto raw = decode_b64(text);
  if (!raw || raw->empty() || raw->size() > kSaslMaxField ||
      raw->find('\0') != std::string::npos)
    return std::nullopt;
  return raw;
}

}  // namespace tern::smtpd
