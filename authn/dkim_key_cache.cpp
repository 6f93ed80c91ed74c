// Decoded DKIM public keys (see authn/dkim_key_cache.h).
#include "authn/dkim_key_cache.h"

#include <openssl/evp.h>

namespace tern::authn {

DkimKeyCache::PublicKey adopt_public_key(EVP_PKEY* key) {
  if (!key) return nullptr;
  return DkimKeyCache::PublicKey(key, [](EVP_PKEY* k) { EVP_PKEY_free(k); });
}

DkimKeyCache::PublicKey DkimKeyCache::get(std::string_view kind, std::string_view der,
                                          const std::function<PublicKey(std::string_view)>& decode) {
  std::string id;
  id.reserve(kind.size() + 1 + der.size());
  id.append(kind).push_back('\0');
  id.append(der);
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      order_.splice(order_.begin(), order_, it->second.age);
      return it->second.key;
    }
  }
  PublicKey key = decode(der);
  if (!key) return nullptr;
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) return it->second.key;  // another thread decoded it meanwhile
  if (entries_.size() >= capacity_) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
  order_.push_front(id);
  entries_.emplace(std::move(id), Entry{key, order_.begin()});
  return key;
}

size_t DkimKeyCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace tern::authn
