#include "daemon/pop3/seen_batcher.h"

#include <algorithm>
#include <utility>

namespace tern::daemon {

SeenBatcher::SeenBatcher(net::Loop& loop, Flush flush, uint64_t interval_ms, size_t max_count)
    : timer_(loop), flush_(std::move(flush)), interval_ms_(interval_ms), max_count_(max_count) {}

void SeenBatcher::add(const std::vector<pop3d::Uid>& uids) {
  batch_.insert(batch_.end(), uids.begin(), uids.end());
  if (batch_.size() >= max_count_) return flush_now();
  // The timer is ours: destroyed with the batcher, so `this` is valid when it fires.
  if (!timer_.active()) timer_.start(interval_ms_, [this] { flush_now(); });
}

void SeenBatcher::forget(std::vector<pop3d::Uid> expunged) {
  std::sort(expunged.begin(), expunged.end());
  std::erase_if(batch_, [&](pop3d::Uid u) {
    return std::binary_search(expunged.begin(), expunged.end(), u);
  });
}

void SeenBatcher::flush_now() {
  timer_.stop();
  if (batch_.empty()) return;
  flush_(std::exchange(batch_, {}));
}

}  // namespace tern::daemon
