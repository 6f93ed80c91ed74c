// daemon/imap_service: runs imapd::Session on the imap (STARTTLS) and imaps (implicit TLS)
// listeners, on the front-end runtime (daemon/frontend/frontend.h).
//
// Implementation notes
// - imapd::Session calls its Backend (the store, the account db) itself, so the session call
//   is the action: one ImapHandler per connection owns (through a shared Core) the session,
//   and every call (feed, on_mailbox_changed, timeout, shutdown) is a job of the
//   connection's serial executor; input that arrives meanwhile is appended to the handler's
//   inbox and fed with the next call. Reading pauses while the inbox is over kMaxInbox.
// - Jobs hold the Core (session + backend) by shared_ptr and the handler only weakly, so a
//   completion never touches a closed connection and the session outlives a running call.
// - IDLE wake-up: the session's Store::watch callback (run on the committing thread) calls
//   the backend notifier, which posts to the loop; the handler then schedules
//   on_mailbox_changed() on the executor. Delivery to IDLE client: one post + one worker hop.
// - Streaming: a large FETCH hands chunks of its output (kStreamThreshold) to
//   Backend::write_partial on the worker; they are posted to the loop and written at once.
//   Loop::post is FIFO and the call's completion is posted after them, so the bytes go out
//   in order; a chunk for a closed connection is dropped (the handler is held weakly).
// - Output::delay_ms (login throttle) is waited out with Frontend::after_delay, never a
//   sleeping worker; nothing else runs for the connection meanwhile.
// - STARTTLS: the session has already dropped pipelined input; the handler drops its inbox
//   too (RFC 9051 §6.2.1), starts TLS after the OK is queued, and calls tls_started() once
//   the handshake is done (no call is in flight then).
#pragma once

#include "daemon/runtime.h"

namespace tern::daemon {

net::HandlerFactory make_imap_factory(Runtime& rt, ListenerKind kind);

}  // namespace tern::daemon
