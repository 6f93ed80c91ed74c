// daemon/pop3: \Seen after RETR, batched.
//
// The session emits MarkSeen after every lock-step RETR, and each Store::store_flags is a
// durable index commit (an fsync, and a rename per message into cur/). Flags are
// fire-and-forget, so they are collected and handed to `flush` every `interval`, every
// `max_count` messages, and whenever the handler asks (before a Commit or a Release, so they
// stay ahead of the session's end). Messages a Commit expunges are left out (forget()):
// Dovecot's POP3 likewise sets \Seen only in UPDATE, and only on what it keeps. A crash can
// lose the last `interval` of \Seen flags, never a message.
//
// Threading: loop thread. `flush` runs on the loop thread and should queue the write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "net/net.h"
#include "pop3d/pop3d.h"

namespace tern::daemon {

class SeenBatcher {
 public:
  static constexpr uint64_t kIntervalMs = 2000;
  static constexpr size_t kMaxCount = 4096;
  using Flush = std::function<void(std::vector<pop3d::Uid>)>;

  SeenBatcher(net::Loop& loop, Flush flush, uint64_t interval_ms = kIntervalMs,
              size_t max_count = kMaxCount);

  void add(const std::vector<pop3d::Uid>& uids);
  // Drops these messages from the batch (a Commit expunges them).
  void forget(std::vector<pop3d::Uid> expunged);
  // Hands the batch to `flush` now (nothing when it is empty).
  void flush_now();
  size_t size() const { return batch_.size(); }

 private:
  net::Timer timer_;
  Flush flush_;
  uint64_t interval_ms_;
  size_t max_count_;
  std::vector<pop3d::Uid> batch_;
};

}  // namespace tern::daemon
