// Per-address rate limits (see screen/rate_limit.h).
#include "screen/rate_limit.h"

#include <algorithm>
#include <vector>

namespace tern::screen {

std::string rate_key(const authn::IpAddress& ip) {
  if (!ip.v6) return ip.str();
  authn::IpAddress net = ip;
  std::fill(net.bytes.begin() + 8, net.bytes.end(), 0);
  return net.str() + "/64";
}

bool RateLimiter::allow(std::string_view kind, std::string_view key, int limit,
                        int64_t window_ms, int64_t now_ms) {
  if (limit <= 0) return true;
  const int64_t interval = std::max<int64_t>(1, window_ms / limit);
  std::string k;
  k.reserve(kind.size() + 1 + key.size());
  k.append(kind).push_back(' ');
  k.append(key);
  auto it = tat_.find(k);
  int64_t tat = it == tat_.end() ? now_ms : std::max(it->second, now_ms);
  // GCRA: the event fits when the bucket, after it, holds at most one window's worth.
  const int64_t next = tat + interval;
  if (next - now_ms > interval * limit) return false;
  if (it != tat_.end()) {
    it->second = next;
    return true;
  }
  if (tat_.size() >= max_entries_) make_room(now_ms);
  tat_.emplace(std::move(k), next);
  return true;
}

void RateLimiter::make_room(int64_t now_ms) {
  // Drained buckets remember nothing a fresh one would not.
  std::erase_if(tat_, [now_ms](const auto& e) { return e.second <= now_ms; });
  if (tat_.size() < max_entries_) return;
  // Still full (an address scan): forget the eighth closest to draining.
  std::vector<int64_t> tats;
  tats.reserve(tat_.size());
  for (const auto& e : tat_) tats.push_back(e.second);
  auto nth = tats.begin() + static_cast<std::ptrdiff_t>(tats.size() / 8);
  std::nth_element(tats.begin(), nth, tats.end());
  const int64_t cutoff = *nth;
  std::erase_if(tat_, [cutoff](const auto& e) { return e.second <= cutoff; });
}

}  // namespace tern::screen
