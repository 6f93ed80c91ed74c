// SCRAM-SHA-256 (RFC 5802, RFC 7677): the keys stored per user and the arithmetic of the
// exchange. Pure (OpenSSL's PBKDF2/HMAC/SHA-256 on memory); the message flow is in sasl.h.
//
// What is stored (never the password): the salt, the iteration count, StoredKey = H(ClientKey)
// and ServerKey, as one text field "SCRAM-SHA-256$<i>:<salt b64>$<StoredKey b64>:<ServerKey
// b64>". With them the server checks a client's proof and proves itself in turn, but cannot
// log in as the user elsewhere (ClientKey is not derivable from StoredKey).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tern::auth {

// RFC 7677 §4: at least 4096 iterations; clients pay this once per login.
inline constexpr int kScramIterations = 4096;
inline constexpr size_t kScramSaltBytes = 16;

struct ScramKeys {
  std::string salt;        // raw bytes
  int iterations = kScramIterations;
  std::string stored_key;  // 32 raw bytes
  std::string server_key;  // 32 raw bytes

  std::string serialize() const;
  static std::optional<ScramKeys> parse(std::string_view text);
};

// RFC 5802 §3: SaltedPassword = Hi(password, salt, i), and the two keys derived from it. The
// password is used as its UTF-8 bytes (SASLprep, RFC 4013, maps only non-ASCII spaces and
// deletes a few code points: ASCII passwords are unchanged).
ScramKeys scram_keys(std::string_view password, std::string_view salt, int iterations = kScramIterations);
// With a fresh random salt (libsodium).
ScramKeys new_scram_keys(std::string_view password);

std::string scram_hmac(std::string_view key, std::string_view data);  // HMAC-SHA-256
std::string scram_hash(std::string_view data);                        // SHA-256

}  // namespace tern::auth
