// Brute-force throttle: failure counters per client IP and per account, in memory.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "auth/auth.h"
#include "common/strings.h"

namespace tern::auth {

using std::chrono::steady_clock;

std::string throttle_ip_key(std::string_view ip) {
  std::string text(ip);
  unsigned char buf[16];
  if (text.find(':') != std::string::npos && inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    // IPv4-mapped addresses (::ffff:a.b.c.d) count as the IPv4 address.
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char out[INET6_ADDRSTRLEN];
    if (std::memcmp(buf, kMapped, 12) == 0) {
      if (inet_ntop(AF_INET, buf + 12, out, sizeof out)) return out;
    }
    std::memset(buf + 8, 0, 8);  // one host usually has a whole /64
    if (inet_ntop(AF_INET6, buf, out, sizeof out)) return std::string(out) + "/64";
  }
  return text;
}

Throttle::Throttle(const AuthConfig& config, Clock clock, size_t max_entries)
    : config_(config), clock_(std::move(clock)), max_entries_(std::max<size_t>(max_entries, 1)) {}

steady_clock::time_point Throttle::now() const { return clock_ ? clock_() : steady_clock::now(); }

void Throttle::refresh(Entry& e, steady_clock::time_point now) const {
  // A finished lockout or an elapsed window starts a fresh count.
  bool lock_over = e.locked_until != steady_clock::time_point{} && now >= e.locked_until;
  bool window_over = now - e.window_start >= std::chrono::seconds(config_.failure_window);
  if (lock_over || (window_over && now >= e.locked_until)) {
    e.failures = 0;
    e.locked_until = {};
    e.window_start = now;
  }
}

Throttle::Decision Throttle::check(std::string_view ip, std::string_view account) {
  std::lock_guard lock(mu_);
  auto t = now();
  Decision d;
  int worst = 0;
  auto look = [&](Table& table, const std::string& key) {
    auto it = table.find(key);
    if (it == table.end()) return;
    refresh(it->second, t);
    if (it->second.locked_until > t) d.locked_out = true;
    worst = std::max(worst, it->second.failures);
  };
  look(by_ip_, throttle_ip_key(ip));
  look(by_account_, ascii_lower(account));
  if (config_.delay_after_failures >= 0 && worst >= config_.delay_after_failures && worst > 0)
    d.delay = std::chrono::milliseconds(config_.failure_delay_ms);
  return d;
}

void Throttle::fail_one(Table& table, const std::string& key, int max_failures, steady_clock::time_point t) {
  auto it = table.find(key);
  if (it == table.end()) {
    make_room(table, t);
    it = table.emplace(key, Entry{0, t, {}, t}).first;
  }
  Entry& e = it->second;
  refresh(e, t);
  e.last_seen = t;
  ++e.failures;
  // Reaching the maximum within the window locks further attempts out for `lockout`.
  if (e.failures >= max_failures && config_.lockout > 0 && e.locked_until <= t)
    e.locked_until = t + std::chrono::seconds(config_.lockout);
}

void Throttle::make_room(Table& table, steady_clock::time_point t) {
  if (table.size() < max_entries_) return;
  // First drop everything that no longer matters: window over and not locked.
  for (auto it = table.begin(); it != table.end();) {
    const Entry& e = it->second;
    bool idle = t - e.window_start >= std::chrono::seconds(config_.failure_window) && e.locked_until <= t;
    it = idle ? table.erase(it) : std::next(it);
  }
  if (table.size() < max_entries_) return;
  // Still full (a wide attack): forget the least recently seen entry.
  auto oldest = std::min_element(table.begin(), table.end(), [](const auto& a, const auto& b) {
    return a.second.last_seen < b.second.last_seen;
  });
  table.erase(oldest);
}

void Throttle::record_failure(std::string_view ip, std::string_view account) {
  std::lock_guard lock(mu_);
  auto t = now();
  fail_one(by_ip_, throttle_ip_key(ip), config_.max_failures_per_ip, t);
  fail_one(by_account_, ascii_lower(account), config_.max_failures_per_account, t);
}

void Throttle::record_success(std::string_view ip, std::string_view account) {
  std::lock_guard lock(mu_);
  by_account_.erase(ascii_lower(account));
}

size_t Throttle::tracked_entries() const {
  std::lock_guard lock(mu_);
  return by_ip_.size() + by_account_.size();
}

}  // namespace tern::auth
