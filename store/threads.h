// Private to store/: RFC 8474 THREADID, a persistent thread id per message (store/threads.cpp).
//
// Implementation notes
//  * A message's thread comes from message ids only: its own Message-ID, its References and
//    In-Reply-To (RFC 5322 §3.6.4), as RFC 5256 §4 REFERENCES links messages. Base subjects are
//    not used: RFC 8474 §5.2 lets the server decide, and a THREADID is permanent, so two
//    unrelated "Hello" messages merged by subject could never be parted again (THREAD
//    ORDEREDSUBJECT may group by subject because it is recomputed at every command).
//  * Per user: thread_refs maps each msg-id any of the user's messages named to the thread it
//    was given. A new message looks its ids up; none known: a new thread ("T" + 24 hex
//    digits, the objectid syntax of RFC 8474 §4); one or more known threads: it joins the
//    thread first seen (smallest rowid), since RFC 8474 §5.2 lets no message's THREADID change,
//    so two threads a message links stay two, and the oldest is the one a reader most likely
//    follows. Its ids not yet known are recorded for that thread, so a reply that arrives
//    before its parent still ends up in the parent's thread.
//  * COPY and MOVE keep the row's thread_id (the same email, RFC 8474 §5.1). A message without
//    any msg-id is a thread of its own.
//  * Assigned in the delivery transaction; rows without one (an index from before THREADID,
//    messages recovery indexed from files) get theirs when the owner opens the store or
//    ternctl reindexes, oldest internal date first, from their files' headers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/index_db.h"

namespace tern::store::detail {

// The msg-ids of a message's header that link it to a thread: its Message-ID first, then
// References (oldest first), then In-Reply-To; each once, at most kMaxThreadKeys of them.
std::vector<std::string> thread_keys(std::string_view message);
inline constexpr size_t kMaxThreadKeys = 64;

// The thread of a new message of `user` with these keys (see the notes); records its keys.
// Inside the caller's write transaction.
std::string assign_thread(Db& db, std::string_view user, const std::vector<std::string>& keys);

}  // namespace tern::store::detail
