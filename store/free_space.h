// store: the free-space guard (issue 20: a full disk must never lock users out).
//
// Two defences, both owned by one SpaceMonitor per store:
//   1. Refuse early. has_room(n) says whether n more bytes leave at least `min_free_bytes`
//      free on every watched file system (data_dir, and the queue's when it is elsewhere).
//      New mail (SMTP RCPT, IMAP APPEND, local submissions to the relay) is refused with a
//      temporary error below that line, as Postfix's queue_minfree does, so that mail never
//      takes the space that deletions and the index need.
//   2. A reserve file (data_dir/tern-reserve, preallocated). When something else filled the
//      disk anyway, an operation that frees space (STORE \Deleted, EXPUNGE, MOVE, POP3 DELE,
//      user removal) that fails for lack of space releases the reserve and runs once more.
//      It is created again once the file system has room for it above min_free_bytes.
//
// Cost: statvfs reads the file system's counters in memory (no disk I/O on local file
// systems, one round trip on NFS). It is called at most once per `max_age` (and after
// invalidate()), only from worker threads; the loop thread reads the cached answer
// (cached_has_room), which is two atomic loads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

namespace tern::store {

struct SpaceOptions {
  std::vector<std::string> paths;      // statvfs()ed; the one with the least room counts
  uint64_t min_free_bytes = 0;         // 0 = never refuse
  std::string reserve_file;            // "" = no reserve file
  uint64_t reserve_file_bytes = 0;
  std::chrono::milliseconds max_age{1000};  // how long a reading is trusted
  // Tests: free bytes of a path, instead of statvfs.
  std::function<Result<uint64_t>(const std::string&)> free_bytes_for_testing;
};

class SpaceMonitor {
 public:
  explicit SpaceMonitor(SpaceOptions options);
  SpaceMonitor(const SpaceMonitor&) = delete;
  SpaceMonitor& operator=(const SpaceMonitor&) = delete;

  // Whether `bytes` more leave min_free_bytes free. Reads the file systems again when the
  // last reading is older than max_age or was invalidated (blocking: workers only). A
  // failed statvfs counts as room: the guard must not refuse mail because it cannot look.
  bool has_room(uint64_t bytes = 0);
  // The last reading only, no system call (the loop thread). A reading that has_room()
  // would take again (older than max_age, or invalidated) says "room": the caller's next
  // step (SMTP RCPT, on a worker) looks for real, so space freed meanwhile is never missed.
  bool cached_has_room(uint64_t bytes = 0) const;
  // The next has_room() reads again: space was freed (expunge) or used (a delivery batch).
  void invalidate() { stale_.store(true, std::memory_order_relaxed); }
  // `bytes` were just written (a delivery batch): taken off the last reading, so that a burst
  // of mail meets the line without waiting for the next statvfs (no system call).
  void consume(uint64_t bytes);
  // Free bytes now (reads the file systems again: blocking); UINT64_MAX when it cannot look.
  uint64_t free_now();
  // Free bytes at the last reading (UINT64_MAX before the first one).
  uint64_t last_free() const { return free_.load(std::memory_order_relaxed); }
  uint64_t min_free_bytes() const { return opts_.min_free_bytes; }

  // Creates the reserve file when it is missing and the file system has room for it above
  // min_free_bytes; no-op without one. Blocking.
  void ensure_reserve();
  // Unlinks the reserve file; true when it existed (so space was just freed).
  bool release_reserve();

 private:
  void refresh();  // requires mu_
  bool fresh() const;
  bool room_in(uint64_t free, uint64_t bytes) const;
  SpaceOptions opts_;
  std::mutex mu_;
  std::atomic<int64_t> read_at_ns_{0};  // steady_clock
  std::atomic<bool> stale_{true};
  std::atomic<uint64_t> free_{UINT64_MAX};
};

}  // namespace tern::store
