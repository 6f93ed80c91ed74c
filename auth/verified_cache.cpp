#include "auth/verified_cache.h"

#include <sodium.h>

#include <algorithm>
#include <cstdint>

namespace tern::auth {

namespace {

void absorb(crypto_generichash_state& st, std::string_view field) {
  // Length-prefixed, so ("ab","c") and ("a","bc") never give the same input.
  uint64_t n = field.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  crypto_generichash_update(&st, len, sizeof len);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(field.data()), field.size());
}

}  // namespace

VerifiedCache::VerifiedCache(std::chrono::seconds ttl, size_t max_entries, Clock clock)
    : ttl_(ttl), max_entries_(std::max<size_t>(1, max_entries)), clock_(std::move(clock)) {
  // sodium_init() is idempotent; randombytes needs it on some platforms. If it failed the
  // key would not be random: keep the cache off rather than risk it.
  if (sodium_init() < 0) ttl_ = std::chrono::seconds(0);
  randombytes_buf(key_.data(), key_.size());
}

VerifiedCache::~VerifiedCache() { sodium_memzero(key_.data(), key_.size()); }

std::chrono::steady_clock::time_point VerifiedCache::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

VerifiedCache::Tag VerifiedCache::mac(std::string_view user, std::string_view stored_hash,
                                      std::string_view password) const {
  static_assert(sizeof(Tag) >= crypto_generichash_BYTES_MIN && sizeof(Tag) <= crypto_generichash_BYTES_MAX);
  crypto_generichash_state st;
  crypto_generichash_init(&st, key_.data(), key_.size(), sizeof(Tag));
  absorb(st, user);
  absorb(st, stored_hash);
  absorb(st, password);
  Tag out{};
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(&st, sizeof st);
  return out;
}

bool VerifiedCache::hit(std::string_view user, std::string_view stored_hash, std::string_view password) {
  if (ttl_.count() <= 0) return false;
  Tag t = mac(user, stored_hash, password);  // outside the lock: the MAC is the costly part
  auto t_now = now();
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(user));
  if (it == entries_.end()) return false;
  if (it->second.expires <= t_now) {
    entries_.erase(it);
    return false;
  }
  // Constant time, so a near-miss password is not told apart from a far one by timing.
  return sodium_memcmp(t.data(), it->second.tag.data(), t.size()) == 0;
}

void VerifiedCache::remember(std::string_view user, std::string_view stored_hash, std::string_view password) {
  if (ttl_.count() <= 0) return;
  Tag t = mac(user, stored_hash, password);
  auto t_now = now();
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(user));
  if (it == entries_.end()) {
    make_room(t_now);
    it = entries_.emplace(std::string(user), Entry{}).first;
  }
  it->second.tag = t;
  it->second.expires = t_now + ttl_;
}

void VerifiedCache::forget(std::string_view user) {
  std::lock_guard lock(mu_);
  entries_.erase(std::string(user));
}

size_t VerifiedCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void VerifiedCache::make_room(std::chrono::steady_clock::time_point t_now) {
  if (entries_.size() < max_entries_) return;
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.expires <= t_now; });
  if (entries_.size() < max_entries_) return;
  // All live: drop the one verified longest ago (a linear scan, only when full).
  auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
    return a.second.expires < b.second.expires;
  });
  entries_.erase(oldest);
}

}  // namespace tern::auth
