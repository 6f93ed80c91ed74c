// daemon/pop3: read buffers one POP3 connection reuses for RETR.
//
// A message is read into a buffer (daemon/pop3/maildrop_reader.h), the session writes its
// status line into the buffer's headroom, the handler writes it out, and the buffer comes
// back here for the next batch: a download of many messages allocates (and page-faults, and
// unmaps) almost nothing per message. Bounded: at most kMaxBytes of spare capacity per
// connection; tiny buffers are not worth keeping.
//
// Threading: loop thread (one per connection).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tern::daemon {

class BufferPool {
 public:
  static constexpr size_t kMaxBytes = 2 << 20;
  static constexpr size_t kMinCapacity = 4096;

  // Keeps `buf` (its contents are irrelevant) if there is room; frees it otherwise.
  void recycle(std::string buf);
  // Up to n spare buffers, largest-last-recycled first; fewer when the pool has fewer.
  std::vector<std::string> take(size_t n);
  void clear();

  size_t count() const { return spare_.size(); }
  size_t bytes() const { return bytes_; }  // spare capacity held

 private:
  std::vector<std::string> spare_;
  size_t bytes_ = 0;
};

}  // namespace tern::daemon
