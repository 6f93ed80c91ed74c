// daemon/pop3: the maildrop lock (IN-USE) and the wire-size cache, shared by every POP3
// connection of one ternd (pop3 and pop3s listeners alike).
//
// - IN-USE (RFC 1939 §8, RFC 2449 §8.1.2): the set of canonical users whose maildrop a POP3
//   session holds, in this process. OpenMaildrop takes it before the listing and gives it
//   back if the listing fails; Release gives it back. IMAP sessions never look at it, so they
//   run beside POP3.
// - Sizes: RFC 1939 §11 wants LIST/STAT sizes exactly as RETR sends them (CRLF line ends,
//   before byte-stuffing). The store keeps bytes as given (an IMAP APPEND may contain bare
//   LF), so each message is read once and its pop3d::wire_size() cached per (user,
//   UIDVALIDITY, UID): a UID's content never changes while UIDVALIDITY stays. Bounded: past
//   kMaxCachedUsers users the cache starts over.
//
// Threading: thread-safe (one mutex); used from worker threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "pop3d/uidl_format.h"

namespace tern::daemon {

// Shared by every POP3 connection of one ternd (pop3 and pop3s listeners alike).
class Pop3Maildrops {
 public:
  static constexpr size_t kMaxCachedUsers = 10000;

  explicit Pop3Maildrops(pop3d::UidlFormat uidl) : uidl_(std::move(uidl)) {}
  // pop3.uidl_format, checked at start-up.
  const pop3d::UidlFormat& uidl() const { return uidl_; }

  // IN-USE lock. acquire() is false when another POP3 session holds `user`.
  bool acquire(const std::string& user);
  void release(const std::string& user);
  bool held(const std::string& user) const;

  // Wire-size cache for one user's INBOX. take_sizes() moves the cached map out (empty if the
  // uidvalidity changed); put_sizes() stores the map for the current snapshot back.
  using SizeMap = std::unordered_map<uint32_t, uint64_t>;
  SizeMap take_sizes(const std::string& user, uint32_t uidvalidity);
  void put_sizes(const std::string& user, uint32_t uidvalidity, SizeMap sizes);

 private:
  struct CacheEntry {
    uint32_t uidvalidity = 0;
    SizeMap sizes;
  };
  const pop3d::UidlFormat uidl_;
  mutable std::mutex mu_;
  std::set<std::string> in_use_;
  std::unordered_map<std::string, CacheEntry> sizes_;
};

}  // namespace tern::daemon
