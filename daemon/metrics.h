// daemon/metrics: the counters ternd shows on /metrics (Prometheus text format, http/).
//
// Implementation notes
// - One Metrics object, owned by main() and reached through Runtime::metrics: no globals.
//   Counters are relaxed atomics, bumped from the loop thread or workers; rendering reads
//   them without a lock (each value is exact; the set is not one instant, which Prometheus
//   tolerates).
// - What other modules already count is read, not copied: store::Store::stats() (commits,
//   group-commit batches, delivered messages), auth::Authenticator::failures(), and the relay
//   engine's outcome counters (loop thread only: the HTTP service snapshots them there).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/runtime.h"

namespace tern::daemon {

class Metrics {
 public:
  // SMTP DATA outcomes (smtp_service's log_message words).
  enum class Received { delivered, tempfail, rejected };
  static constexpr size_t kProtocols = 4;  // Protocol values
  // End of DATA to the final answer, in seconds.
  static constexpr std::array<double, 10> kLatencyBounds = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,  1,     2.5,  10};

  void connection_opened(Protocol p) { count(connections_[static_cast<size_t>(p)]); }
  void message_received(Received r, bool submission) {
    count(received_[submission][static_cast<size_t>(r)]);
  }
  void delivery_latency(std::chrono::steady_clock::duration d);

  // What only the loop thread may read (relay counters), taken there and handed to render().
  struct LoopSnapshot {
    uint64_t relay_delivered = 0, relay_deferred = 0, relay_failed = 0;
    uint64_t open_connections = 0;
  };
  // Loop thread: added by main() and the relay service.
  std::vector<std::function<void(LoopSnapshot&)>> loop_sources;
  LoopSnapshot loop_snapshot() const;

  // Any thread (a worker: queue_gauge reads queue.db). The exposition text.
  std::string render(const Runtime& rt, const LoopSnapshot& loop) const;

 private:
  static void count(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

  std::array<std::atomic<uint64_t>, kProtocols> connections_{};
  std::array<std::array<std::atomic<uint64_t>, 3>, 2> received_{};  // [submission][Received]
  std::array<std::atomic<uint64_t>, kLatencyBounds.size()> latency_{};
  std::atomic<uint64_t> latency_overflow_{0};
  std::atomic<uint64_t> latency_sum_us_{0};
};

}  // namespace tern::daemon
