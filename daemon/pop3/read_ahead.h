// daemon/pop3: the RETR read-ahead window of one POP3 connection.
//
// Clients fetch in order (RETR 1, RETR 2, ..., lock-step or pipelined). The connection keeps
// the next messages of the maildrop in memory (at most Limits::messages and Limits::bytes;
// a message over Limits::bytes is never read ahead, only when asked for), read on a worker
// several at a time, so a RETR is normally answered on the loop thread at once and only
// every few messages costs a worker round trip, overlapped with the client's reading.
// - plan() picks the next batch; the handler reads it (daemon/pop3/maildrop_reader.h) and
//   gives it back with landed(). top_up() plans Limits::batch more as soon as that many fit
//   (small batches: a RETR that catches up with the read waits for fewer files).
// - A RETR outside the window (a client skipping about) restart_at()s from that message
//   alone, so it is answered after one read; the window fills behind it. A batch planned
//   before a restart is stale when it lands (generation numbers): its buffers are recycled.
// This class only keeps the books (no I/O): the handler runs the reads.
//
// Threading: loop thread (one per connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/pop3/buffer_pool.h"
#include "pop3d/pop3d.h"

namespace tern::daemon {

struct ReadAheadLimits {
  size_t messages = 32;
  uint64_t bytes = 2 << 20;
  size_t batch = 8;
};

class ReadAhead {
 public:
  using Limits = ReadAheadLimits;
  struct Batch {
    uint64_t generation = 0;
    std::vector<pop3d::Uid> uids;
  };
  struct Prefetched {
    pop3d::Uid uid = 0;
    pop3d::RetrieveResult result;
  };

  explicit ReadAhead(BufferPool& pool, Limits limits = {}) : pool_(pool), limits_(limits) {}

  // The maildrop as opened (uid order and sizes); forgets any earlier one.
  void reset(const pop3d::MaildropResult& maildrop);
  // The next batch from maildrop index `from` within the limits (the first message always
  // when `must`), at most max_count messages; nullopt when nothing fits.
  std::optional<Batch> plan(size_t from, bool must, size_t max_count);
  // A batch was read. False (buffers recycled) when a restart made it stale.
  bool landed(uint64_t generation, std::vector<Prefetched> got);
  // The window's copy of `uid`, dropping what comes before it; nullopt if it is not there.
  std::optional<pop3d::RetrieveResult> take(pop3d::Uid uid);
  bool in_flight(pop3d::Uid uid) const;
  // More ahead once a batch fits (nothing in flight, something retrieved already).
  std::optional<Batch> top_up();
  // Starts over at `uid` (see above); nullopt when it is not in the maildrop.
  std::optional<Batch> restart_at(pop3d::Uid uid);
  // Drops the window (buffers recycled) and anything in flight.
  void clear();

  size_t window_size() const { return window_.size(); }
  uint64_t window_bytes() const;

 private:
  void drop_window();

  BufferPool& pool_;
  Limits limits_;
  std::vector<std::pair<pop3d::Uid, uint64_t>> order_;  // maildrop: uid, size
  std::unordered_map<pop3d::Uid, size_t> position_;     // uid -> index in order_
  std::deque<Prefetched> window_;                       // read ahead, in maildrop order
  std::vector<pop3d::Uid> inflight_;                    // being read by the current batch
  size_t next_ = 0;         // index in order_ after the last one planned
  uint64_t generation_ = 0; // bumped when the window starts over
};

}  // namespace tern::daemon
