// daemon/pop3: the worker side of the POP3 service, reading the maildrop.
//
// - OpenMaildrop is one index query (Store::message_files); it returns the sizes only when
//   all are in the size cache (daemon/pop3/maildrops.h), otherwise the session asks with
//   MeasureSizes at its first STAT/LIST/RSET (clients that only UIDL and RETR never pay for
//   it). MeasureSizes reads the uncached files on the job's worker plus up to 3 helper jobs
//   sharing one counter (the job never waits for a helper that has not started, so a busy
//   pool cannot deadlock it). The cache is pruned to the maildrop at every open.
// - RETR data path: a batch looks up its files in one query and reads each straight into a
//   reused buffer, kHeadroom bytes of headroom first; pop3d::to_wire_body() stuffs it in
//   place on the worker. The session writes "+OK n octets" into the headroom and hands the
//   buffer over as an Output body (no copy on the loop thread). A message renamed meanwhile
//   (\Seen flush, IMAP flags) is looked up again; one no longer listed was expunged.
// - UIDL (RFC 1939 §7): "<uidvalidity>.<uid>", stable across restarts and index rebuilds
//   because the store persists both.
//
// Threading: every function here blocks; worker threads only.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pop3d/pop3d.h"

namespace tern::net {
class WorkerPool;
}  // namespace tern::net
namespace tern::store {
class Store;
}  // namespace tern::store

namespace tern::daemon {

class Pop3Maildrops;

// The user whose IN-USE lock one connection holds. Written and read only by that
// connection's serial jobs, which never overlap.
struct MaildropHold {
  std::string user;
};

// Room left in front of each body read for RETR: the session writes the status line
// ("+OK <20 digits> octets\r\n") there, so status and body leave in one write.
constexpr size_t kHeadroom = 32;

// OpenMaildrop: lock, list. Releases the lock again on failure (pop3d.h: a failed
// OpenMaildrop holds nothing, and the session owes no Release).
pop3d::MaildropResult open_maildrop(store::Store& store, Pop3Maildrops& drops, MaildropHold& hold,
                                    const std::string& user);

// MeasureSizes: every message's wire size, from the cache or its file.
pop3d::SizesResult measure_sizes(store::Store& store, net::WorkerPool& workers,
                                 Pop3Maildrops& drops, const std::string& user,
                                 const std::vector<pop3d::Uid>& uids);

// Retrieve: message `uid` read into `buf` (reused; its capacity is kept) after kHeadroom
// bytes and turned into its wire body. `path` may be empty (looked up).
pop3d::RetrieveResult read_retrieve(store::Store* store, const std::string& user, pop3d::Uid uid,
                                    std::string path, std::string buf);

// The read-ahead: several messages, their paths in one query, each file into one of `bufs`
// (new buffers when there are too few). One result per uid, in order.
std::vector<pop3d::RetrieveResult> read_messages(store::Store* store, const std::string& user,
                                                 const std::vector<pop3d::Uid>& uids,
                                                 std::vector<std::string> bufs);

}  // namespace tern::daemon
