// pop3d private: the few lines of SASL decoding POP3 needs (PLAIN, RFC 4616; LOGIN, the
// de-facto "Username:"/"Password:" exchange). auth/ has the shared SASL code; the session
// keeps its own copy so the protocol library stays independent of auth/'s internals.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tern::pop3d::detail {

struct PlainCredentials {
  std::string authzid;  // empty when absent
  std::string authcid;
  std::string password;
};

enum class SaslError { bad_base64, bad_message };

// RFC 4616 §2: message = [authzid] NUL authcid NUL passwd, each part without NUL,
// authcid and passwd non-empty. Input is the base64 text of one client response.
struct PlainDecode {
  std::optional<PlainCredentials> creds;
  SaslError error = SaslError::bad_message;
};
PlainDecode decode_plain(std::string_view base64_text);

// RFC 5034 §4: a client response of "=" is an empty initial response.
std::optional<std::string> decode_response(std::string_view base64_text);

}  // namespace tern::pop3d::detail
