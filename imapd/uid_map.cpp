// See imapd/uid_map.h.
#include "imapd/uid_map.h"

#include <algorithm>
#include <cassert>

namespace tern::imapd {

uint32_t UidMap::max_uid() const {
  if (runs_.empty()) return 0;
  const Run& r = runs_.back();
  return r.first_uid + (count_ - 1 - r.first_index);
}

size_t UidMap::run_of(size_t index) const {
  auto it = std::upper_bound(runs_.begin(), runs_.end(), index,
                             [](size_t i, const Run& r) { return i < r.first_index; });
  return static_cast<size_t>(it - runs_.begin()) - 1;
}

uint32_t UidMap::uid_at(size_t index) const {
  assert(index < count_);
  const Run& r = runs_[run_of(index)];
  return r.first_uid + static_cast<uint32_t>(index - r.first_index);
}

size_t UidMap::lower_bound(uint32_t uid) const {
  // The last run starting at or below uid holds it or ends below it.
  auto it = std::upper_bound(runs_.begin(), runs_.end(), uid,
                             [](uint32_t u, const Run& r) { return u < r.first_uid; });
  if (it == runs_.begin()) return 0;
  size_t k = static_cast<size_t>(it - runs_.begin()) - 1;
  size_t len = run_end(k) - runs_[k].first_index;
  uint32_t off = uid - runs_[k].first_uid;
  return off < len ? runs_[k].first_index + off : run_end(k);
}

long UidMap::index_of(uint32_t uid) const {
  size_t i = lower_bound(uid);
  return i < count_ && uid_at(i) == uid ? static_cast<long>(i) : -1;
}

void UidMap::push_back(uint32_t uid) {
  assert(uid > max_uid());
  if (runs_.empty() || uid != max_uid() + 1) runs_.push_back(Run{uid, count_});
  ++count_;
}

void UidMap::erase_at(size_t index) {
  assert(index < count_);
  size_t k = run_of(index);
  Run& r = runs_[k];
  size_t len = run_end(k) - r.first_index;
  size_t off = index - r.first_index;
  size_t shift_from = k + 1;  // runs from here on start one index earlier
  if (len == 1) {
    runs_.erase(runs_.begin() + static_cast<long>(k));
    shift_from = k;
  } else if (off == 0) {
    ++r.first_uid;
  } else if (off + 1 < len) {
    // Split: the messages after the hole start a new run at the erased index.
    Run tail{r.first_uid + static_cast<uint32_t>(off) + 1, static_cast<uint32_t>(index + 1)};
    runs_.insert(runs_.begin() + static_cast<long>(k) + 1, tail);
  }
  for (size_t j = shift_from; j < runs_.size(); ++j) --runs_[j].first_index;
  --count_;
}

}  // namespace tern::imapd
