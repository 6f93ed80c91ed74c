// acme/: the pure parts of the ACME client: JWS/JWK, key authorization, CSR, the TLS-ALPN-01
// certificate, the placeholder and the renewal schedule. The protocol itself is tested
// against pebble (tests/integration/test_acme.py).
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "acme/acme.h"
#include "acme/crypto.h"
#include "common/codec.h"
#include "common/file.h"

namespace tern::acme {
namespace {

std::string unb64url(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4) s += '=';
  auto d = base64_decode(s);
  EXPECT_TRUE(d.ok());
  return d ? *d : std::string();
}

X509* parse_cert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return x;
}

TEST(AcmeCrypto, Base64urlHasNoPaddingAndUrlAlphabet) {
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url("f"), "Zg");
}

TEST(AcmeCrypto, JwkIsCanonicalAndThumbprintIsItsSha256) {
  auto key = generate_p256();
  ASSERT_TRUE(key.ok());
  auto jwk = jwk_json(key->get());
  ASSERT_TRUE(jwk.ok());
  auto j = nlohmann::json::parse(*jwk);
  EXPECT_EQ(j["kty"], "EC");
  EXPECT_EQ(j["crv"], "P-256");
  EXPECT_EQ(unb64url(j["x"]).size(), 32u);
  EXPECT_EQ(unb64url(j["y"]).size(), 32u);
  // RFC 7638 §3.3: members sorted, no whitespace.
  EXPECT_EQ(jwk->rfind(R"({"crv":"P-256","kty":"EC","x":")", 0), 0u);
  EXPECT_EQ(jwk->find(' '), std::string::npos);
  unsigned char md[32];
  SHA256(reinterpret_cast<const unsigned char*>(jwk->data()), jwk->size(), md);
  auto tp = jwk_thumbprint(key->get());
  ASSERT_TRUE(tp.ok());
  EXPECT_EQ(*tp, base64url(std::string(reinterpret_cast<char*>(md), 32)));
  EXPECT_EQ(key_authorization("tok", *tp), "tok." + *tp);
}

TEST(AcmeCrypto, ThumbprintSurvivesPemRoundTrip) {
  // The thumbprint depends only on the public point: the same key loaded back gives the same.
  auto key = generate_p256();
  ASSERT_TRUE(key.ok());
  auto pem = private_key_pem(key->get());
  ASSERT_TRUE(pem.ok());
  auto again = load_private_key(*pem);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*jwk_thumbprint(key->get()), *jwk_thumbprint(again->get()));
  EXPECT_FALSE(load_private_key("not a key").ok());
}

TEST(AcmeCrypto, Es256JwsVerifiesWithThePublicKey) {
  auto key = generate_p256();
  ASSERT_TRUE(key.ok());
  std::string prot = R"({"alg":"ES256","nonce":"n1","url":"https://ca/acct"})";
  auto jws = jws_es256(key->get(), prot, R"({"a":1})");
  ASSERT_TRUE(jws.ok());
  auto j = nlohmann::json::parse(*jws);
  EXPECT_EQ(unb64url(j["protected"]), prot);
  EXPECT_EQ(unb64url(j["payload"]), R"({"a":1})");
  std::string sig = unb64url(j["signature"]);
  ASSERT_EQ(sig.size(), 64u);  // RFC 7518 §3.4: R || S, not DER

  // Rebuild the DER signature from R || S and verify it over protected "." payload.
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  std::string input = j["protected"].get<std::string>() + "." + j["payload"].get<std::string>();
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key->get()), 1);
  EXPECT_EQ(EVP_DigestVerify(md, der, der_len, reinterpret_cast<const unsigned char*>(input.data()),
                             input.size()),
            1);
  // A changed payload does not verify: the signature covers it.
  std::string tampered = input + "x";
  EVP_MD_CTX_reset(md);
  ASSERT_EQ(EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key->get()), 1);
  EXPECT_NE(EVP_DigestVerify(md, der, der_len,
                             reinterpret_cast<const unsigned char*>(tampered.data()),
                             tampered.size()),
            1);
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);

  // POST-as-GET (RFC 8555 §6.3): the payload is the empty string.
  auto empty = jws_es256(key->get(), prot, "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(nlohmann::json::parse(*empty)["payload"], "");
}

TEST(AcmeCrypto, CsrCarriesEveryNameAndIsSignedByTheKey) {
  for (bool rsa : {false, true}) {
    auto key = rsa ? generate_rsa2048() : generate_p256();
    ASSERT_TRUE(key.ok());
    auto der = make_csr_der(key->get(), {"mail.example.test", "mta-sts.example.test"});
    ASSERT_TRUE(der.ok());
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
    X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size()));
    ASSERT_NE(req, nullptr);
    EXPECT_EQ(X509_REQ_verify(req, key->get()), 1);
    STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
    auto* names = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
    ASSERT_NE(names, nullptr);
    ASSERT_EQ(sk_GENERAL_NAME_num(names), 2);
    auto dns = [&](int i) {
      auto* gn = sk_GENERAL_NAME_value(names, i);
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)));
    };
    EXPECT_EQ(dns(0), "mail.example.test");
    EXPECT_EQ(dns(1), "mta-sts.example.test");
    GENERAL_NAMES_free(names);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
  }
  auto key = generate_p256();
  EXPECT_FALSE(make_csr_der(key->get(), {}).ok());
}

TEST(AcmeCrypto, AlpnCertificateHasCriticalAcmeIdentifier) {
  auto cert = alpn_certificate("mail.example.test", "tok.thumb");
  ASSERT_TRUE(cert.ok());
  X509* x = parse_cert(cert->cert_pem);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(X509_check_host(x, "mail.example.test", 0, 0, nullptr), 1);
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
  int idx = X509_get_ext_by_OBJ(x, oid, -1);
  ASSERT_GE(idx, 0);
  X509_EXTENSION* ext = X509_get_ext(x, idx);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);  // RFC 8737 §3: MUST be critical
  ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
  std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)), ASN1_STRING_length(data));
  unsigned char md[32];
  std::string ka = "tok.thumb";
  SHA256(reinterpret_cast<const unsigned char*>(ka.data()), ka.size(), md);
  EXPECT_EQ(value, std::string("\x04\x20", 2) + std::string(reinterpret_cast<char*>(md), 32));
  // The key is the certificate's.
  auto key = load_private_key(cert->key_pem);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(X509_check_private_key(x, key->get()), 1);
  ASN1_OBJECT_free(oid);
  X509_free(x);
}

TEST(AcmeRenewal, TwoThirdsOfTheLifetime) {
  Validity v{1000, 1000 + 90 * 86400};
  EXPECT_EQ(renewal_time(v), 1000 + 60 * 86400);
  EXPECT_EQ(renewal_time(v, 30), 1030);  // the test-only override
}

TEST(AcmeRenewal, BackoffDoublesUpToADay) {
  EXPECT_EQ(retry_delay(1), 60);
  EXPECT_EQ(retry_delay(2), 120);
  EXPECT_EQ(retry_delay(3), 240);
  EXPECT_EQ(retry_delay(30), 86400);
  EXPECT_EQ(retry_delay(2, 1), 2);
}

TEST(AcmeRenewal, PlaceholderIsWrittenOnceAndAlwaysReordered) {
  auto dir = std::filesystem::temp_directory_path() / ("acme_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto paths = certificate_paths(dir.string(), "mail.example.test");
  EXPECT_EQ(paths.cert, (dir / "mail.example.test" / "cert.pem").string());
  std::vector<std::string> names{"mail.example.test"};
  ASSERT_TRUE(ensure_placeholder(paths, names).ok());
  auto first = read_file(paths.cert);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(std::filesystem::status(paths.key).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  ASSERT_TRUE(ensure_placeholder(paths, names).ok());
  EXPECT_EQ(*read_file(paths.cert), *first);  // kept: the pair matches
  // A self-signed certificate is never kept, whatever its dates.
  EXPECT_TRUE(needs_order(*first, names, 0));
  auto v = certificate_validity(*first);
  ASSERT_TRUE(v.ok());
  EXPECT_GT(v->not_after, v->not_before);
  // A key that does not match (a crash between the two renames) gets a new placeholder.
  auto other = self_signed(names);
  ASSERT_TRUE(other.ok());
  {
    FILE* f = fopen(paths.key.c_str(), "w");
    fputs(other->second.c_str(), f);
    fclose(f);
  }
  ASSERT_TRUE(ensure_placeholder(paths, names).ok());
  EXPECT_NE(*read_file(paths.cert), *first);
  std::filesystem::remove_all(dir);
}

TEST(AcmeRenewal, NeedsOrderWhenMissingOrNamesChange) {
  EXPECT_TRUE(needs_order("", {"a.example"}, 0));
  EXPECT_TRUE(needs_order("garbage", {"a.example"}, 0));
}

}  // namespace
}  // namespace tern::acme
