// daemon/smtp_service: runs smtpd::Session on the smtp, submission and submissions
// listeners, on the front-end runtime (daemon/frontend/frontend.h).
//
// Implementation notes
// - One SmtpHandler per connection owns one smtpd::Session. Bytes read are fed to the
//   session; its Output is applied in order: log notes, bytes, start_tls,
//   close_after_write, then the action (at most one is pending at a time).
// - Actions run on the connection's serial executor; what they decide is
//   daemon/delivery_policy.h (recipients, senders, local delivery, the relay copy). Each
//   action kind has one "try again later" answer (temporary_answer), given when the pool is
//   shutting down or a backend is missing.
// - Reading goes on while an action is pending, up to 256 KiB (RFC 2920 pipelining: the
//   session buffers it), and the idle timer is off meanwhile; RFC 5321 §4.5.3.2 command and
//   data timeouts otherwise.
// - AUTH: the Authenticator's throttle delay is honoured before the answer, for success and
//   failure alike.
// - Delivery: local copies only go through Store::deliver_async (the worker is free as soon
//   as they are queued; the group commit's thread posts the answer); with remote copies the
//   worker delivers locally, then queues the relay copy (Runtime::enqueue_remote).
// - Sender checks (MX listener only, daemon/inbound_checks.h): an MxAuth per connection;
//   the first RCPT of a transaction starts SPF, the body streams to DKIM while DATA arrives,
//   and the Deliver action waits for the verdicts (bounded by inbound_auth.timeout) before
//   anything is stored: a DMARC reject answers 550 5.7.1 (DeliverResult::policy_rejected), a
//   quarantine files the copies in \Junk.
// - Log, one line per message:
//     msg id=<queueid> from=<sender> rcpt=<a,b> size=<n> outcome=delivered|tempfail|rejected
//         proto=smtp listener=<name> ip=<ip> [reason=...]
#pragma once

#include "daemon/runtime.h"

namespace tern::daemon {

net::HandlerFactory make_smtp_factory(Runtime& rt, ListenerKind kind);

}  // namespace tern::daemon
