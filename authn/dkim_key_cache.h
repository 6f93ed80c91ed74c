// authn/dkim_key_cache.h: decoded DKIM public keys, shared by every verifier of a process.
//
// OpenSSL 3 decodes a SubjectPublicKeyInfo through its provider decoder chain, which costs
// several times the RSA verification itself (measured: 80 % of the DKIM CPU per message
// with a 2048-bit key). A domain signs all its mail with one or two keys, so the decoded key
// is kept, keyed by the exact p= bytes: a rotated key has other bytes and is decoded afresh,
// a revoked one (empty p=) never reaches the cache. Bounded: the least recently used entry
// goes first. Thread-safe (verifiers may run on the worker pool); EVP_PKEY is only read
// after decoding, which OpenSSL allows from several threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

typedef struct evp_pkey_st EVP_PKEY;

namespace tern::authn {

class DkimKeyCache {
 public:
  using PublicKey = std::shared_ptr<EVP_PKEY>;  // frees with EVP_PKEY_free

  explicit DkimKeyCache(size_t capacity = 512) : capacity_(capacity ? capacity : 1) {}
  DkimKeyCache(const DkimKeyCache&) = delete;
  DkimKeyCache& operator=(const DkimKeyCache&) = delete;

  // The key decoded from `der` for key type `kind` ("rsa", "ed25519"): from the cache, or
  // decode(der) on a miss (outside the lock). A null result is returned and not kept.
  PublicKey get(std::string_view kind, std::string_view der,
                const std::function<PublicKey(std::string_view der)>& decode);

  size_t size() const;

 private:
  using Order = std::list<std::string>;  // most recently used first
  struct Entry {
    PublicKey key;
    Order::iterator age;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  Order order_;
  std::unordered_map<std::string, Entry> entries_;
};

// Wraps a freshly decoded key (takes the reference).
DkimKeyCache::PublicKey adopt_public_key(EVP_PKEY* key);

}  // namespace tern::authn
