// UidMap: a selected mailbox's sequence number -> UID map kept as runs of consecutive UIDs.
//
// Implementation notes
//  * Mail is appended with consecutive UIDs and expunged in few places, so a mailbox of
//    10,000 messages is usually a handful of runs: 8 bytes per run instead of 4-12 bytes per
//    message in every session (10,000 IDLE sessions on one big mailbox stay small).
//  * Index = sequence number - 1. Run k covers indexes [runs_[k].first_index, next run's
//    first_index or count()) with UIDs first_uid, first_uid + 1, ...; UIDs strictly increase.
//  * Lookups are binary searches over the runs; erase_at() is O(runs).
//  * Plain value type; not thread-safe (one session owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tern::imapd {

class UidMap {
 public:
  uint32_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  uint32_t max_uid() const;                 // 0 when empty
  uint32_t uid_at(size_t index) const;      // index < count()
  long index_of(uint32_t uid) const;        // -1 when absent
  size_t lower_bound(uint32_t uid) const;   // first index whose UID >= uid (count() if none)
  void push_back(uint32_t uid);             // uid > max_uid()
  void erase_at(size_t index);              // index < count()
  void shrink_to_fit() { runs_.shrink_to_fit(); }
  size_t runs() const { return runs_.size(); }
  size_t memory_bytes() const { return runs_.capacity() * sizeof(Run); }

 private:
  struct Run {
    uint32_t first_uid;
    uint32_t first_index;
  };
  size_t run_of(size_t index) const;  // the run holding index
  size_t run_end(size_t k) const { return k + 1 < runs_.size() ? runs_[k + 1].first_index : count_; }
  std::vector<Run> runs_;
  uint32_t count_ = 0;
};

}  // namespace tern::imapd
