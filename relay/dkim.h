// DKIM signing (RFC 6376) with rsa-sha256 and ed25519-sha256 (RFC 8463), relaxed/relaxed.
// Pure functions over bytes: no files, clocks or randomness beyond key generation (OpenSSL).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tern::relay {

enum class DkimAlgorithm { rsa_sha256, ed25519_sha256 };
const char* to_string(DkimAlgorithm algorithm);  // the a= value

// A private signing key. Copyable (shared, immutable OpenSSL key).
class DkimKey {
 public:
  // PKCS#8 or traditional PEM; RSA (>= 1024 bits accepted, 2048 recommended) or Ed25519.
  static Result<DkimKey> from_pem(std::string_view pem);
  DkimAlgorithm algorithm() const { return algorithm_; }
  // The p= value: base64 SubjectPublicKeyInfo DER for RSA (RFC 6376 §3.6.1), base64 of the
  // raw 32-byte public key for Ed25519 (RFC 8463 §4.2).
  std::string public_key_base64() const;
  // Signs `data` the DKIM way for this key: RSA: RSASSA-PKCS1-v1_5 with SHA-256 over data
  // (RFC 6376 §3.3.1); Ed25519: PureEdDSA over the 32-byte SHA-256(data) (RFC 8463 §3).
  Result<std::string> sign_data(std::string_view data) const;

  struct Pkey;  // private holder of the EVP_PKEY

 private:
  std::shared_ptr<Pkey> key_;
  DkimAlgorithm algorithm_ = DkimAlgorithm::rsa_sha256;
};

// A fresh private key as PKCS#8 PEM text (RSA 2048 or Ed25519).
Result<std::string> generate_dkim_key(DkimAlgorithm algorithm);

// The TXT record text to publish at <selector>._domainkey.<domain>:
// "v=DKIM1; k=rsa; p=..." or "v=DKIM1; k=ed25519; p=...".
std::string dkim_dns_txt_record(const DkimKey& key);
// The owner name of that record: "<selector>._domainkey.<domain>".
std::string dkim_dns_name(std::string_view selector, std::string_view domain);

struct DkimSignOptions {
  std::string domain;    // d=
  std::string selector;  // s=
  int64_t timestamp = 0; // t= (unix seconds), injected by the caller
  // Header field names to sign; empty -> default_dkim_headers(). Only names present in the
  // message are listed in h= (once per occurrence).
  std::vector<std::string> headers;
  bool oversign_from = true;  // list "from" once more so a second From cannot be added
};

// from, to, cc, subject, date, message-id, reply-to, in-reply-to, references, mime-version,
// content-type, content-transfer-encoding.
const std::vector<std::string>& default_dkim_headers();

// Returns the complete "DKIM-Signature: ..." header field (folded, ending in CRLF) to prepend
// to `message`. Lone LF in `message` is treated as CRLF (smtp_client sends it that way).
// Errors: syntax (no From header, or no header/body separation issues), internal (crypto).
Result<std::string> dkim_sign(std::string_view message, const DkimKey& key,
                              const DkimSignOptions& options);

// ---- Canonicalisation, exposed for tests ---------------------------------------------------
// Thin wrappers over mime/dkim_canon.h, which authn/'s verifier uses too (one implementation).
// RFC 6376 §3.4.2: one header field (name ":" value, possibly folded, without final CRLF)
// -> "lowername:value" without the final CRLF.
std::string dkim_relaxed_header(std::string_view field);
// RFC 6376 §3.4.4: the body (after the empty line) -> canonical body.
std::string dkim_relaxed_body(std::string_view body);

}  // namespace tern::relay
