// acme/crypto: OpenSSL 3 key, JWS, CSR and certificate helpers for the ACME client.
#include "acme/crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "common/codec.h"

namespace tern::acme {

void PkeyFree::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

namespace {

Error ssl_error(const std::string& what) {
  std::string why;
  while (unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    if (!why.empty()) why += "; ";
    why += r ? r : "unknown";
  }
  return make_error(Errc::internal, what + ": " + (why.empty() ? "OpenSSL error" : why));
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof md);
}

// A BIGNUM parameter of the key as exactly `len` big-endian octets.
Result<std::string> bn_param(EVP_PKEY* key, const char* name, int len) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return ssl_error(std::string("key ") + name);
  std::string out(static_cast<size_t>(len), '\0');
  int ok = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
  BN_free(bn);
  if (ok != len) return make_error(Errc::internal, std::string("key ") + name + " too long");
  return out;
}

// Adds one extension given in OpenSSL's config syntax ("DNS:a,DNS:b") to a certificate.
bool add_ext(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1;
}

std::string san_value(const std::vector<std::string>& names) {
  std::string v;
  for (const auto& n : names) v += (v.empty() ? "DNS:" : ",DNS:") + n;
  return v;
}

// A self-signed X.509 v3 certificate for `names`, valid `days`, signed by `key`; when
// `acme_digest` is not empty it carries RFC 8737's acmeIdentifier extension.
Result<std::string> build_self_signed(EVP_PKEY* key, const std::vector<std::string>& names,
                                      int days, std::string_view acme_digest) {
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!cert) return ssl_error("X509_new");
  X509_set_version(cert.get(), 2);  // v3, for extensions
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // RFC 5280 §4.1.2.2: positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names.front().c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  X509_set_pubkey(cert.get(), key);
  if (!add_ext(cert.get(), NID_subject_alt_name, san_value(names)))
    return ssl_error("subjectAltName");
  if (!acme_digest.empty()) {
    // RFC 8737 §3: id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31), critical; its extnValue is the
    // DER of Authorization ::= OCTET STRING (SIZE (32)), the SHA-256 of the key authorization.
    std::string der = std::string("\x04\x20", 2) + std::string(acme_digest);
    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(value, reinterpret_cast<const unsigned char*>(der.data()),
                          static_cast<int>(der.size()));
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, oid, 1, value);
    bool ok = ext && X509_add_ext(cert.get(), ext, -1) == 1;
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(oid);
    if (!ok) return ssl_error("acmeIdentifier");
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return ssl_error("X509_sign");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert.get());
  return bio_string(bio.get());
}

}  // namespace

Result<Pkey> generate_p256() {
  Pkey k(EVP_EC_gen("P-256"));
  if (!k) return ssl_error("P-256 key generation");
  return k;
}

Result<Pkey> generate_rsa2048() {
  Pkey k(EVP_RSA_gen(2048));
  if (!k) return ssl_error("RSA key generation");
  return k;
}

Result<Pkey> load_private_key(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  Pkey k(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!k) {
    ERR_clear_error();
    return make_error(Errc::syntax, "no PEM private key found");
  }
  return k;
}

Result<std::string> private_key_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return ssl_error("PEM_write_bio_PrivateKey");
  return bio_string(bio.get());
}

std::string base64url(std::string_view data) {
  std::string s = base64_encode(data);
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

Result<std::string> jwk_json(EVP_PKEY* key) {
  auto x = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
  if (!x) return x.error();
  auto y = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
  if (!y) return y.error();
  // RFC 7638 §3.2: required members only, sorted, no whitespace.
  return R"({"crv":"P-256","kty":"EC","x":")" + base64url(*x) + R"(","y":")" + base64url(*y) +
         R"("})";
}

Result<std::string> jwk_thumbprint(EVP_PKEY* key) {
  auto jwk = jwk_json(key);
  if (!jwk) return jwk.error();
  return base64url(sha256(*jwk));
}

std::string key_authorization(std::string_view token, std::string_view thumbprint) {
  return std::string(token) + "." + std::string(thumbprint);
}

Result<std::string> jws_es256(EVP_PKEY* key, std::string_view protected_json,
                              std::string_view payload) {
  std::string prot = base64url(protected_json);
  std::string pay = base64url(payload);
  std::string input = prot + "." + pay;  // RFC 7515 §5.1 step 5: the JWS signing input
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1)
    return ssl_error("ES256 sign");
  std::string der(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    return ssl_error("ES256 sign");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  if (!sig) return ssl_error("ES256 signature");
  // RFC 7518 §3.4: R and S as 32-octet big-endian integers, concatenated.
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (!ok) return make_error(Errc::internal, "ES256 signature too long");
  return R"({"protected":")" + prot + R"(","payload":")" + pay + R"(","signature":")" +
         base64url(raw) + R"("})";
}

Result<std::string> make_csr_der(EVP_PKEY* key, const std::vector<std::string>& names) {
  if (names.empty()) return make_error(Errc::syntax, "no names for the certificate");
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), X509_REQ_free);
  X509_REQ_set_version(req.get(), 0);  // RFC 2986 §4.1: v1
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names.front().c_str()), -1,
                             -1, 0);
  X509_REQ_set_pubkey(req.get(), key);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name,
                                            san_value(names).c_str());
  if (!san) return ssl_error("CSR subjectAltName");
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, san);
  int ok = X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (ok != 1) return ssl_error("CSR extensions");
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) == 0) return ssl_error("CSR sign");
  unsigned char* der = nullptr;
  int n = i2d_X509_REQ(req.get(), &der);
  if (n <= 0) return ssl_error("CSR encode");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

Result<AcmeChallenges::AlpnCertificate> alpn_certificate(const std::string& name,
                                                         std::string_view key_authorization) {
  auto key = generate_p256();
  if (!key) return key.error();
  // Short-lived: it answers one validation and is dropped after.
  auto cert = build_self_signed(key->get(), {name}, 7, sha256(key_authorization));
  if (!cert) return cert.error();
  auto key_pem = private_key_pem(key->get());
  if (!key_pem) return key_pem.error();
  return AcmeChallenges::AlpnCertificate{std::move(*cert), std::move(*key_pem)};
}

Result<std::pair<std::string, std::string>> self_signed(const std::vector<std::string>& names) {
  if (names.empty()) return make_error(Errc::syntax, "no names for the certificate");
  auto key = generate_p256();
  if (!key) return key.error();
  auto cert = build_self_signed(key->get(), names, 90, {});
  if (!cert) return cert.error();
  auto key_pem = private_key_pem(key->get());
  if (!key_pem) return key_pem.error();
  return std::make_pair(std::move(*cert), std::move(*key_pem));
}

}  // namespace tern::acme
