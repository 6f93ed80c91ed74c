// auth/: a short-lived cache of password verifications, so a client that logs in again and
// again (Thunderbird opens up to 5 connections per account, phones reconnect on every wake-up)
// does not pay argon2id each time. argon2id stays the storage format; the cache only lets a
// recently verified (user, stored hash, password) triple skip the hash.
//
// Implementation notes
// - An entry is keyed by the canonical user and holds a 32-byte BLAKE2b MAC
//   (crypto_generichash with a random key made when the cache is created, never stored) over
//   the user, the stored argon2id string and the password, each length-prefixed. The plain
//   password is never kept. The MAC covers the stored hash, so a password change made by
//   another process (`ternctl user passwd`) makes the entry miss: the caller still reads the
//   user's row on every login and passes the hash it read. Disabled and removed users are
//   refused by that row check, before or after a hit alike.
// - Only successful verifications are remembered; a wrong password always runs argon2id, so
//   guessing stays as slow as before (and the throttle sees every attempt).
// - Entries live `ttl` from their verification (a hit does not extend them), at most
//   `max_entries` users; when full, expired entries go first, then the oldest.
// - Trade-off: someone who can read ternd's memory gets the key and the MACs, and could test
//   guesses at BLAKE2b speed instead of argon2id's for the users that logged in within the
//   last ttl. Such a reader can usually read passwords off live sessions anyway; ttl = 0
//   (auth.credential_cache_ttl) turns the cache off.
// - Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tern::auth {

class VerifiedCache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Tag = std::array<unsigned char, 32>;

  VerifiedCache(std::chrono::seconds ttl, size_t max_entries, Clock clock = {});
  ~VerifiedCache();
  VerifiedCache(const VerifiedCache&) = delete;
  VerifiedCache& operator=(const VerifiedCache&) = delete;

  // True when `password` was verified against `stored_hash` for `user` less than ttl ago.
  bool hit(std::string_view user, std::string_view stored_hash, std::string_view password);
  // After a successful argon2id verification.
  void remember(std::string_view user, std::string_view stored_hash, std::string_view password);
  // In-process changes (set_password, disable, remove) drop the entry at once; changes made by
  // other processes are caught by the stored-hash and row checks instead.
  void forget(std::string_view user);
  size_t size() const;

 private:
  struct Entry {
    Tag tag{};
    std::chrono::steady_clock::time_point expires{};
  };

  Tag mac(std::string_view user, std::string_view stored_hash, std::string_view password) const;
  std::chrono::steady_clock::time_point now() const;
  void make_room(std::chrono::steady_clock::time_point now);

  std::chrono::seconds ttl_;
  size_t max_entries_;
  Clock clock_;
  std::array<unsigned char, 32> key_{};
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace tern::auth
