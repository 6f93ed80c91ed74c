// The answers to ACME challenges in flight (RFC 8555 §8), shared between the one writer (the
// ACME client, acme/) and the listeners that answer the CA's validation requests: the HTTP
// listener for HTTP-01 (RFC 8555 §8.3, GET /.well-known/acme-challenge/TOKEN) and the TLS
// layer for TLS-ALPN-01 (RFC 8737 §3, a self-signed certificate offered to a ClientHello
// whose ALPN list is exactly "acme-tls/1"). Read from the loop thread, written from the
// ACME worker; hence the mutex. Entries live only while a challenge is pending.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

class AcmeChallenges {
 public:
  // A TLS-ALPN-01 answer: the PEM certificate carrying the acmeIdentifier extension
  // (RFC 8737 §3) for one name, and its PEM private key.
  struct AlpnCertificate {
    std::string cert_pem;
    std::string key_pem;
  };

  void put_http01(std::string token, std::string key_authorization) {
    std::lock_guard lock(mu_);
    http01_[std::move(token)] = std::move(key_authorization);
  }
  void drop_http01(const std::string& token) {
    std::lock_guard lock(mu_);
    http01_.erase(token);
  }
  // The key authorization to serve for TOKEN, if a challenge with that token is pending.
  std::optional<std::string> http01(std::string_view token) const {
    std::lock_guard lock(mu_);
    auto it = http01_.find(std::string(token));
    if (it == http01_.end()) return std::nullopt;
    return it->second;
  }

  void put_alpn(std::string name, AlpnCertificate cert) {
    std::lock_guard lock(mu_);
    alpn_[std::move(name)] = std::move(cert);
  }
  void drop_alpn(const std::string& name) {
    std::lock_guard lock(mu_);
    alpn_.erase(name);
  }
  // The certificate to present to "acme-tls/1" for server name NAME (lower case), if pending.
  std::optional<AlpnCertificate> alpn(std::string_view name) const {
    std::lock_guard lock(mu_);
    auto it = alpn_.find(std::string(name));
    if (it == alpn_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> http01_;
  std::map<std::string, AlpnCertificate, std::less<>> alpn_;
};

}  // namespace tern
