#include "auth/scram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "common/codec.h"

namespace tern::auth {

std::string scram_hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string scram_hash(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

ScramKeys scram_keys(std::string_view password, std::string_view salt, int iterations) {
  unsigned char salted[SHA256_DIGEST_LENGTH];
  // RFC 5802 §2.2: Hi() is PBKDF2 (RFC 2898) with HMAC as the PRF and dkLen = the hash size.
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    EVP_sha256(), sizeof salted, salted);
  std::string salted_password(reinterpret_cast<char*>(salted), sizeof salted);
  ScramKeys k;
  k.salt = std::string(salt);
  k.iterations = iterations;
  k.stored_key = scram_hash(scram_hmac(salted_password, "Client Key"));
  k.server_key = scram_hmac(salted_password, "Server Key");
  return k;
}

ScramKeys new_scram_keys(std::string_view password) {
  std::string salt(kScramSaltBytes, '\0');
  randombytes_buf(salt.data(), salt.size());
  return scram_keys(password, salt);
}

std::string ScramKeys::serialize() const {
  return "SCRAM-SHA-256$" + std::to_string(iterations) + ":" + base64_encode(salt) + "$" + base64_encode(stored_key) +
         ":" + base64_encode(server_key);
}

std::optional<ScramKeys> ScramKeys::parse(std::string_view text) {
  constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  size_t colon1 = text.find(':'), dollar = text.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || dollar < colon1) return std::nullopt;
  size_t colon2 = text.find(':', dollar);
  if (colon2 == std::string_view::npos) return std::nullopt;
  ScramKeys k;
  std::string_view iter = text.substr(0, colon1);
  if (iter.empty() || iter.size() > 7) return std::nullopt;
  k.iterations = 0;
  for (char c : iter) {
    if (c < '0' || c > '9') return std::nullopt;
    k.iterations = k.iterations * 10 + (c - '0');
  }
  auto salt = base64_decode(text.substr(colon1 + 1, dollar - colon1 - 1));
  auto stored = base64_decode(text.substr(dollar + 1, colon2 - dollar - 1));
  auto server = base64_decode(text.substr(colon2 + 1));
  if (!salt || !stored || !server || salt->empty() || stored->size() != 32 || server->size() != 32 ||
      k.iterations < 1)
    return std::nullopt;
  k.salt = std::move(*salt);
  k.stored_key = std::move(*stored);
  k.server_key = std::move(*server);
  return k;
}

}  // namespace tern::auth
