// daemon/pop3_service: runs pop3d::Session on the pop3 (STLS) and pop3s (implicit TLS)
// listeners against the shared account db and store.
//
// Implementation notes
// - One Pop3Handler per connection owns a pop3d::Session. Bytes in -> session.feed(); the
//   Output's bytes are written, its actions go to a per-connection serial ActionQueue that
//   runs them on rt.workers one at a time, in the order emitted (pop3d.h requires it: Release
//   must follow the OpenMaildrop/Commit before it). Results come back on the loop thread and
//   are fed to the session only while the handler lives (net::if_alive).
// - The ActionQueue is held by shared_ptr by the jobs themselves, so it outlives a dropped
//   connection: on_close() calls session.disconnected(), which emits Release; Release runs
//   after whatever was in flight (an OpenMaildrop that took the lock, a QUIT's Commit) even
//   though the handler is gone. Nothing else is run for a dead handler's results.
// - IN-USE (RFC 1939 §8, RFC 2449 §8.1.2): Pop3Maildrops keeps the set of canonical users
//   whose maildrop a POP3 session holds, in this process. OpenMaildrop takes it before the
//   listing and gives it back if the listing fails; Release gives it back. IMAP sessions
//   never look at it, so they run beside POP3.
// - Sizes: RFC 1939 §11 wants LIST/STAT sizes exactly as RETR sends them (CRLF line ends,
//   before byte-stuffing). The store keeps bytes as given: SMTP deliveries are CRLF, but an
//   IMAP APPEND may contain bare LF, so the file size is not a safe answer: each message is
//   read once and pop3d::wire_size() (the very count RETR agrees with) cached per (user,
//   UIDVALIDITY, UID): a UID's content never changes while UIDVALIDITY stays. OpenMaildrop is
//   one index query (Store::message_files); it returns the sizes only when all are cached,
//   otherwise the session asks with MeasureSizes at its first STAT/LIST/RSET (clients that
//   only UIDL and RETR never pay for it). MeasureSizes reads the uncached files on the job's
//   worker plus up to 3 helper jobs sharing one counter (the job never waits for a helper
//   that has not started, so a busy pool cannot deadlock it). The cache is pruned to the
//   maildrop at every open and dropped wholesale past kMaxCachedUsers users.
// - \Seen after RETR: the session emits MarkSeen after each lock-step RETR; every
//   store_flags is a durable index commit (and a rename into cur/ per message), so the
//   handler batches them (at most every 2 seconds or 4096 messages), leaving out the messages
//   a Commit expunges. The flushes run on a second serial queue, beside the reads, so a
//   flags commit never stalls RETR; Commit and Release pass through that queue before they
//   enter the main one, so they still follow every flush before them. A crash can lose the
//   last 2 seconds of \Seen flags, never a message.
// - Read-ahead: a window of the next messages of the maildrop (at most 32 messages and
//   2 MiB; larger messages are only read when asked for) is kept in memory, read on workers
//   through the same serial queue several at a time, so a client fetching in order (RETR 1,
//   RETR 2, ..., lock-step or pipelined) is answered on the loop thread without a worker
//   round trip per message. A RETR outside the window reads that message alone, then the
//   window refills behind it. Bounded per connection; dropped when the session ends.
// - RETR data path: a batch looks up its files in one query and reads each straight into a
//   reused buffer, 32 bytes of headroom first; pop3d::to_wire_body() stuffs it in place on
//   the worker. The session writes "+OK n octets" into the headroom and hands the buffer over
//   as an Output body (no copy on the loop thread); the handler writes it in pieces under
//   glibc's 64 KiB mmap threshold (net copies each write: a larger copy would be mmap()ed and
//   munmap()ed, a TLB shootdown per message) and recycles the buffer (at most 2 MiB of spare
//   capacity per connection). A message renamed meanwhile (\Seen flush) is looked up again.
// - UIDL (RFC 1939 §7): "<uidvalidity>.<uid>", stable across restarts and index rebuilds
//   because the store persists both.
// - Threading: Pop3Maildrops is thread-safe (one mutex); the handler and the queue's
//   bookkeeping live on the loop thread; jobs run on workers one at a time per connection.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/runtime.h"

namespace tern::daemon {

// Shared by every POP3 connection of one ternd (pop3 and pop3s listeners alike).
class Pop3Maildrops {
 public:
  static constexpr size_t kMaxCachedUsers = 10000;

  // IN-USE lock. acquire() is false when another POP3 session holds `user`.
  bool acquire(const std::string& user);
  void release(const std::string& user);
  bool held(const std::string& user) const;

  // Wire-size cache for one user's INBOX. take_sizes() moves the cached map out (empty if the
  // uidvalidity changed); put_sizes() stores the map for the current snapshot back.
  using SizeMap = std::unordered_map<uint32_t, uint64_t>;
  SizeMap take_sizes(const std::string& user, uint32_t uidvalidity);
  void put_sizes(const std::string& user, uint32_t uidvalidity, SizeMap sizes);

 private:
  struct CacheEntry {
    uint32_t uidvalidity = 0;
    SizeMap sizes;
  };
  mutable std::mutex mu_;
  std::set<std::string> in_use_;
  std::unordered_map<std::string, CacheEntry> sizes_;
};

}  // namespace tern::daemon
