// acme/crypto: keys, JWS, CSRs and certificates for the ACME client (OpenSSL 3). Pure
// functions of their inputs (plus the random source), unit-tested without a network.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/acme_challenges.h"
#include "common/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace tern::acme {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const;
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Result<Pkey> generate_p256();
Result<Pkey> generate_rsa2048();
Result<Pkey> load_private_key(std::string_view pem);
Result<std::string> private_key_pem(EVP_PKEY* key);

// RFC 4648 §5 without padding (RFC 7515 §2 "Base64url Encoding").
std::string base64url(std::string_view data);

// The public P-256 key as a JWK (RFC 7518 §6.2.1) with exactly the required members in
// lexicographic order and no whitespace, the form RFC 7638 §3 hashes for the thumbprint.
Result<std::string> jwk_json(EVP_PKEY* key);
// RFC 7638: base64url(SHA-256(jwk_json)).
Result<std::string> jwk_thumbprint(EVP_PKEY* key);
// RFC 8555 §8.1: token "." thumbprint.
std::string key_authorization(std::string_view token, std::string_view thumbprint);

// RFC 7515 §7.2.2 flattened JSON serialization signed with ES256 (RFC 7518 §3.4: the
// signature is R || S, 32 octets each, not DER). `protected_json` is the header as JSON.
Result<std::string> jws_es256(EVP_PKEY* key, std::string_view protected_json,
                              std::string_view payload);

// A PKCS#10 request (DER) for `names` (subjectAltName dNSNames; CN the first name), signed
// with `key` (RFC 8555 §7.4: the finalize "csr").
Result<std::string> make_csr_der(EVP_PKEY* key, const std::vector<std::string>& names);

// RFC 8737 §3: the self-signed certificate answering TLS-ALPN-01 for `name`: one dNSName,
// and the critical id-pe-acmeIdentifier extension holding SHA-256(key authorization).
Result<AcmeChallenges::AlpnCertificate> alpn_certificate(const std::string& name,
                                                         std::string_view key_authorization);

// A self-signed certificate for `names` with a new P-256 key: {cert PEM, key PEM}.
Result<std::pair<std::string, std::string>> self_signed(const std::vector<std::string>& names);

}  // namespace tern::acme
