// Connections per (protocol, user, client address) after login: Dovecot's
// mail_max_userip_connections idea. An office behind one NAT address shares one client IP,
// so the per-address limit of the login listeners counts only connections that have not
// logged in (net::ListenerOptions::max_per_ip, released by Connection::release_ip_slot());
// after login each user gets its own allowance from that address, and one user's runaway
// client cannot take everyone else's.
//
// Thread-safe: logins complete on worker threads, leases are dropped wherever the session
// dies.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tern::daemon {

class UserIpLimiter : public std::enable_shared_from_this<UserIpLimiter> {
 public:
  // A counted connection; the count drops when the last copy of the lease is destroyed.
  class Lease {
   public:
    Lease(std::shared_ptr<UserIpLimiter> owner, std::string key)
        : owner_(std::move(owner)), key_(std::move(key)) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

   private:
    std::shared_ptr<UserIpLimiter> owner_;
    std::string key_;
  };

  static std::shared_ptr<UserIpLimiter> create(int max_per_user_ip) {
    return std::shared_ptr<UserIpLimiter>(new UserIpLimiter(max_per_user_ip));
  }

  // A lease, or null when `user` already has the maximum of `protocol` connections from `ip`.
  std::shared_ptr<Lease> acquire(std::string_view protocol, std::string_view user,
                                 std::string_view ip);
  int held(std::string_view protocol, std::string_view user, std::string_view ip) const;
  int limit() const { return max_; }

 private:
  explicit UserIpLimiter(int max_per_user_ip) : max_(max_per_user_ip) {}
  static std::string key_of(std::string_view protocol, std::string_view user, std::string_view ip);
  void release(const std::string& key);

  const int max_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int> counts_;
};

}  // namespace tern::daemon
