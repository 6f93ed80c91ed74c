// The client side of SCRAM-SHA-256 (RFC 5802 §3) for unit tests: the client-final message a
// client that knows `password` sends after `server_first`, computed from the RFC's formulas
// (PBKDF2 straight from OpenSSL, not through auth::scram_keys).
#pragma once

#include <openssl/evp.h>

#include <string>

#include "auth/scram.h"
#include "common/codec.h"

namespace tern::test {

// `bare` is the client-first-message-bare ("n=user,r=nonce"); the result is the plain
// (not base64) client-final-message. Its c= is the gs2 header sent plus the channel binding
// data (-PLUS), by default "n,," alone ("biws").
inline std::string scram_client_final(const std::string& password, const std::string& bare,
                                      const std::string& server_first, const std::string& gs2_header = "n,,",
                                      const std::string& cbind_data = "") {
  std::string nonce = server_first.substr(2, server_first.find(',') - 2);
  std::string salt_b64 = server_first.substr(server_first.find(",s=") + 3);
  salt_b64 = salt_b64.substr(0, salt_b64.find(','));
  int iterations = std::stoi(server_first.substr(server_first.find(",i=") + 3));
  std::string salt = *base64_decode(salt_b64);
  unsigned char salted[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    EVP_sha256(), 32, salted);
  std::string client_key = auth::scram_hmac(std::string(reinterpret_cast<char*>(salted), 32), "Client Key");
  std::string without_proof = "c=" + base64_encode(gs2_header + cbind_data) + ",r=" + nonce;
  std::string signature =
      auth::scram_hmac(auth::scram_hash(client_key), bare + "," + server_first + "," + without_proof);
  std::string proof(32, '\0');
  for (size_t i = 0; i < 32; ++i) proof[i] = static_cast<char>(client_key[i] ^ signature[i]);
  return without_proof + ",p=" + base64_encode(proof);
}

}  // namespace tern::test
