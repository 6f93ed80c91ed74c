// screen/rate_limit.h: events per client address per time window (connections per minute,
// messages and recipients per hour), in memory and bounded.
//
// Accounting is GCRA (a leaky bucket kept as one "theoretical arrival time" per key): a
// limit of N per window W lets N events through at once, then one per W/N; the N+1-th
// event inside the window is refused and does not count. One int64 per key and limit, so
// memory is bounded by `max_entries`: when the table is full, keys whose bucket has drained
// are dropped, and if that is not enough the eighth closest to draining goes too (a client
// forgotten early gets a fresh allowance, never a refusal it did not earn).
//
// Keys are the client's network: the address for IPv4 (/32), its /64 for IPv6 (one host
// usually has a whole /64). Not thread-safe: ternd calls it on the loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "authn/ip.h"

namespace tern::screen {

// "192.0.2.1" / "2001:db8:1:2::/64": the key of an address for rate limits.
std::string rate_key(const authn::IpAddress& ip);

class RateLimiter {
 public:
  explicit RateLimiter(size_t max_entries) : max_entries_(max_entries < 8 ? 8 : max_entries) {}

  // One event of `kind` ("conn", "msg", "rcpt") for `key` at `now_ms`: true when within
  // `limit` per `window_ms` (and counted), false when over (not counted). limit 0: always
  // true, nothing kept.
  bool allow(std::string_view kind, std::string_view key, int limit, int64_t window_ms,
             int64_t now_ms);

  size_t size() const { return tat_.size(); }

 private:
  void make_room(int64_t now_ms);

  size_t max_entries_;
  std::unordered_map<std::string, int64_t> tat_;  // "kind key" -> theoretical arrival time
};

}  // namespace tern::screen
