// Test helper: a self-signed EC certificate written to a temporary directory with OpenSSL APIs.
#pragma once

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tern::net::testing {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tern-net-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Writes cert.pem/key.pem (CN = common_name) into dir with the given file name prefix.
inline bool write_self_signed(const std::string& dir, const std::string& prefix,
                              const std::string& common_name, long serial = 1) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) return false;
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  bool ok = X509_sign(x, key, EVP_sha256()) > 0;
  FILE* f = std::fopen((dir + "/" + prefix + "cert.pem").c_str(), "wb");
  ok = ok && f && PEM_write_X509(f, x) == 1;
  if (f) std::fclose(f);
  f = std::fopen((dir + "/" + prefix + "key.pem").c_str(), "wb");
  ok = ok && f && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (f) std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace tern::net::testing
