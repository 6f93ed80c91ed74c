// daemon/pop3_service: runs pop3d::Session on the pop3 (STLS) and pop3s (implicit TLS)
// listeners, on the front-end runtime (daemon/frontend/frontend.h).
//
// Implementation notes
// - One Pop3Handler per connection owns a pop3d::Session. Its actions run on the
//   connection's serial executor in the order emitted (pop3d.h requires it: Release must
//   follow the OpenMaildrop/Commit before it). The executor outlives a dropped connection:
//   on_close() calls session.disconnected(), which emits Release; it runs after whatever was
//   in flight (an OpenMaildrop that took the lock, a QUIT's Commit) although the handler is
//   gone. Nothing else runs for a dead handler's results.
// - The pieces, each in daemon/pop3/ with its own unit tests:
//     maildrops.h        IN-USE lock table and wire-size cache (shared by pop3 and pop3s)
//     maildrop_reader.h  worker side: open, measure sizes, read messages into reused buffers
//     read_ahead.h       the RETR read-ahead window
//     buffer_pool.h      read buffers recycled after their bytes were written
//     seen_batcher.h     \Seen after RETR, batched; flushed on a second serial executor
//                        beside the reads, so a flags commit never stalls RETR. Commit and
//                        Release pass through that executor before they enter the main one,
//                        so they still follow every flush before them.
// - Writing: RETR responses are built in read buffers (status line in their headroom) and
//   written in pieces under glibc's 64 KiB mmap threshold (net copies each write: a larger
//   copy would be mmap()ed and munmap()ed, a TLB shootdown per message), then recycled.
#pragma once

#include "daemon/runtime.h"

namespace tern::daemon {

net::HandlerFactory make_pop3_factory(Runtime& rt, ListenerKind kind);

}  // namespace tern::daemon
