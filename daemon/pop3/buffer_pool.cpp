#include "daemon/pop3/buffer_pool.h"

#include <utility>

namespace tern::daemon {

void BufferPool::recycle(std::string buf) {
  const size_t cap = buf.capacity();
  if (cap < kMinCapacity || bytes_ + cap > kMaxBytes) return;  // freed here
  bytes_ += cap;
  spare_.push_back(std::move(buf));
}

std::vector<std::string> BufferPool::take(size_t n) {
  std::vector<std::string> out;
  while (out.size() < n && !spare_.empty()) {
    bytes_ -= spare_.back().capacity();
    out.push_back(std::move(spare_.back()));
    spare_.pop_back();
  }
  return out;
}

void BufferPool::clear() {
  spare_.clear();
  bytes_ = 0;
}

}  // namespace tern::daemon
