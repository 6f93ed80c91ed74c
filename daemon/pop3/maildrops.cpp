#include "daemon/pop3/maildrops.h"

#include <utility>

namespace tern::daemon {

bool Pop3Maildrops::acquire(const std::string& user) {
  std::lock_guard lock(mu_);
  return in_use_.insert(user).second;
}

void Pop3Maildrops::release(const std::string& user) {
  std::lock_guard lock(mu_);
  in_use_.erase(user);
}

bool Pop3Maildrops::held(const std::string& user) const {
  std::lock_guard lock(mu_);
  return in_use_.count(user) != 0;
}

Pop3Maildrops::SizeMap Pop3Maildrops::take_sizes(const std::string& user, uint32_t uidvalidity) {
  std::lock_guard lock(mu_);
  auto it = sizes_.find(user);
  if (it == sizes_.end()) return {};
  SizeMap out;
  // A new UIDVALIDITY means UIDs may name other messages now: nothing cached is valid.
  if (it->second.uidvalidity == uidvalidity) out = std::move(it->second.sizes);
  sizes_.erase(it);
  return out;
}

void Pop3Maildrops::put_sizes(const std::string& user, uint32_t uidvalidity, SizeMap sizes) {
  std::lock_guard lock(mu_);
  // Bounded memory: past the limit start over (sizes are recomputed from the files on need).
  if (sizes_.size() >= kMaxCachedUsers && sizes_.count(user) == 0) sizes_.clear();
  sizes_[user] = CacheEntry{uidvalidity, std::move(sizes)};
}

}  // namespace tern::daemon
