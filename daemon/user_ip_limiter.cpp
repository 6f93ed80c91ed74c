#include "daemon/user_ip_limiter.h"

namespace tern::daemon {

UserIpLimiter::Lease::~Lease() {
  if (owner_) owner_->release(key_);
}

std::string UserIpLimiter::key_of(std::string_view protocol, std::string_view user,
                                  std::string_view ip) {
  // NUL cannot occur in any of the three (user names are canonical addresses).
  std::string key;
  key.reserve(protocol.size() + user.size() + ip.size() + 2);
  key.append(protocol).push_back('\0');
  key.append(user).push_back('\0');
  key.append(ip);
  return key;
}

std::shared_ptr<UserIpLimiter::Lease> UserIpLimiter::acquire(std::string_view protocol,
                                                             std::string_view user,
                                                             std::string_view ip) {
  std::string key = key_of(protocol, user, ip);
  {
    std::lock_guard lock(mu_);
    int& n = counts_[key];
    if (n >= max_) return nullptr;
    ++n;
  }
  return std::make_shared<Lease>(shared_from_this(), std::move(key));
}

int UserIpLimiter::held(std::string_view protocol, std::string_view user,
                        std::string_view ip) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key_of(protocol, user, ip));
  return it == counts_.end() ? 0 : it->second;
}

void UserIpLimiter::release(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  if (it != counts_.end() && --it->second <= 0) counts_.erase(it);
}

}  // namespace tern::daemon
