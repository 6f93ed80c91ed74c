#include "daemon/pop3/read_ahead.h"

#include <algorithm>

namespace tern::daemon {

void ReadAhead::reset(const pop3d::MaildropResult& m) {
  order_.clear();
  position_.clear();
  if (m.outcome != pop3d::MaildropResult::Outcome::ok) return;
  for (size_t i = 0; i < m.messages.size(); ++i) {
    order_.push_back({m.messages[i].uid, m.messages[i].size_octets});
    position_[m.messages[i].uid] = i;
  }
}

uint64_t ReadAhead::window_bytes() const {
  uint64_t n = 0;
  for (const auto& p : window_) n += p.result.bytes.size();
  return n;
}

std::optional<ReadAhead::Batch> ReadAhead::plan(size_t from, bool must, size_t max_count) {
  Batch b;
  uint64_t bytes = window_bytes();
  size_t count = window_.size();
  for (size_t i = from; i < order_.size() && count < limits_.messages && b.uids.size() < max_count;
       ++i, ++count) {
    const uint64_t size = order_[i].second;
    if (!(must && b.uids.empty()) && (size > limits_.bytes || bytes + size > limits_.bytes)) break;
    b.uids.push_back(order_[i].first);
    bytes += size;
  }
  if (b.uids.empty()) return std::nullopt;
  inflight_ = b.uids;
  next_ = from + b.uids.size();
  b.generation = ++generation_;
  return b;
}

bool ReadAhead::landed(uint64_t generation, std::vector<Prefetched> got) {
  if (generation != generation_) {  // superseded by a read from elsewhere
    for (auto& p : got) pool_.recycle(std::move(p.result.bytes));
    return false;
  }
  inflight_.clear();
  for (auto& p : got) window_.push_back(std::move(p));
  return true;
}

std::optional<pop3d::RetrieveResult> ReadAhead::take(pop3d::Uid uid) {
  auto it = std::find_if(window_.begin(), window_.end(),
                         [uid](const Prefetched& p) { return p.uid == uid; });
  if (it == window_.end()) return std::nullopt;
  pop3d::RetrieveResult r = std::move(it->result);
  for (auto skipped = window_.begin(); skipped != it; ++skipped)
    pool_.recycle(std::move(skipped->result.bytes));
  window_.erase(window_.begin(), it + 1);
  return r;
}

bool ReadAhead::in_flight(pop3d::Uid uid) const {
  return std::find(inflight_.begin(), inflight_.end(), uid) != inflight_.end();
}

std::optional<ReadAhead::Batch> ReadAhead::top_up() {
  if (!inflight_.empty()) return std::nullopt;
  if (next_ == 0 || next_ >= order_.size()) return std::nullopt;  // nothing asked yet, or at the end
  if (window_.size() + limits_.batch > limits_.messages) return std::nullopt;
  return plan(next_, false, limits_.batch);
}

std::optional<ReadAhead::Batch> ReadAhead::restart_at(pop3d::Uid uid) {
  // A stale batch still in the queue is ignored when it lands (its generation is old).
  drop_window();
  inflight_.clear();
  auto pos = position_.find(uid);
  if (pos != position_.end())
    if (auto b = plan(pos->second, true, 1)) return b;
  ++generation_;
  return std::nullopt;
}

void ReadAhead::clear() {
  drop_window();
  inflight_.clear();
  ++generation_;
}

void ReadAhead::drop_window() {
  for (auto& p : window_) pool_.recycle(std::move(p.result.bytes));
  window_.clear();
}

}  // namespace tern::daemon
