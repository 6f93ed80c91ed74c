// smtpd (private): the few lines of SASL PLAIN / LOGIN decoding the session needs.
// Kept here rather than using auth/sasl.h so smtpd depends on common/ only; the rules are
// the same (RFC 4616 PLAIN, the de-facto LOGIN): fields of at most 255 octets, no NULs in
// the user name or password, an authzid only when it equals the authcid (no proxy logins).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tern::smtpd {

inline constexpr size_t kSaslMaxField = 255;   // RFC 4616 §2: MUST accept up to 255
inline constexpr size_t kSaslMaxLine = 2048;   // base64 text of one client response

enum class SaslDecodeError { malformed, authzid_mismatch };

struct SaslCredentials {
  std::string user;
  std::string password;
};

// `text` is the base64 client response ("=" = empty). Errors as values.
struct PlainDecoded {
  std::optional<SaslCredentials> credentials;
  SaslDecodeError error = SaslDecodeError::malformed;
};
PlainDecoded decode_sasl_plain(std::string_view text);

// LOGIN: one base64 field (user name or password). nullopt when malformed or too long.
std::optional<std::string> decode_sasl_login_field(std::string_view text);

}  // namespace tern::smtpd
