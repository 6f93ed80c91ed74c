// relay: outbound delivery: durable queue, scheduler with retries, MX routing, SMTP client,
// DSNs (bounces) and DKIM signing.
//
//   queue.h        - QueueStore: data_dir/queue/<id> files + data_dir/queue.db (SQLite WAL);
//                    durable, group-committed enqueue; per-recipient state. Blocking.
//   outbound.h     - Relay (the engine, loop thread), Transport (one SMTP connection;
//                    make_net_transport is the real one), DKIM signing of outbound mail.
//   dsn.h          - DSN composition (RFC 3464), NOTIFY rules (RFC 3461), retry schedule. Pure.
//   dkim.h         - DKIM signer (RFC 6376 relaxed/relaxed; rsa-sha256 and ed25519-sha256,
//                    RFC 8463), key generation and the DNS TXT record to publish. Pure.
//   smtp_client.h  - sans-I/O SMTP client session (RFC 5321) for one connection to a remote
//                    MX or a smarthost: bytes in -> bytes out + start-TLS request + results.
//
// Implementation notes
// - Queue. enqueue() returns only after queue/<id> is fsynced and renamed, queue/ fsynced and
//   the rows committed (group commit: one dir fsync + one transaction for every concurrent
//   enqueue). The SMTP submission path answers 250 after it returns. Recipient states:
//   pending -> deferred -> delivered | failed; final states are never changed again, so a
//   restart resumes exactly: every pending/deferred recipient is scheduled again (nothing is
//   kept "in flight" on disk) and delivered/failed ones never are.
// - Scheduler (Relay, loop thread). queue.db is the source of truth: a "tick" runs on a worker
//   (expire past max_queue_lifetime -> delay warnings -> generate pending DSNs -> purge
//   finished messages -> read due recipients), then the loop dispatches the due recipients
//   not already in flight, grouped by destination domain (one transaction per message and
//   domain, several RCPTs) and up to max_messages_per_connection messages per connection,
//   within max_concurrency connections overall and max_per_destination per domain. Ticks run
//   on new mail, after each attempt is recorded, at the next retry time, on rescan() (SIGUSR1
//   from `ternctl queue flush`) and every rescan_seconds (ternctl edits queue.db directly).
//   Rows recorded while a tick was reading are skipped by that tick (no double dispatch).
//   The clock is injectable (RelayOptions::clock) for tests.
// - Retries: after the n-th temporary failure the next attempt is retry_schedule[n-1] later
//   (the last value repeats), capped at arrival + max_queue_lifetime; then the recipient
//   expires (Status 4.4.7) and is bounced.
// - Routing: smarthost if configured (TLS starttls -> required, implicit, or none; AUTH with
//   its credentials), else MX via dns::Resolver: MXes in order, each MX's A then AAAA
//   addresses; the next address on connection failure, the next MX on 4xx or a broken
//   session. Null MX -> 556 5.1.10 permanent; NXDOMAIN -> 550 5.1.2; DNS trouble -> 4.4.3.
//   STARTTLS opportunistic (unverified), required for require_tls_domains. Remote MX port is
//   relay.smtp_port. Per recipient: 2xx delivered, 5xx failed, else deferred.
// - DSNs (RFC 3464/3461). A state change that calls for a DSN sets recipients.dsn_action in
//   the same transaction; the next tick composes one DSN per message and kind (failure,
//   delay, success), honouring NOTIFY (absent = FAILURE+DELAY; NEVER = none), then clears the
//   marks. Success: "relayed" only when the next hop lacks DSN (§5.2.2); a DSN-capable hop got
//   NOTIFY/ORCPT and reports itself (§5.2.1). Returned content: RET=HDRS headers, RET=FULL
//   the message; RET absent: the message if <= 256 KiB else headers; delay/success reports
//   carry headers only. A local sender's address is resolved like normal delivery
//   (deps.resolve_local: every alias target, de-duplicated) and each mailbox gets the DSN in
//   its INBOX (deps.deliver_local, quota applied); a mailbox that cannot take it now (full,
//   gone) and off-site alias targets get it through the queue with MAIL FROM:<>, like a
//   remote sender: the attempt delivers local rows of queued DSNs on a worker
//   (deliver_local_rows), so they follow the retry schedule and expire instead of being
//   retried on every tick. Null-sender messages (and our DSNs) are never reported on; a
//   failed DSN goes to postmaster@hostname when undeliverable_bounce = "postmaster", else it
//   is logged ("relay bounce dropped") and dropped.
// - Shutdown. stop() closes open sessions and cancels connects still in progress
//   (net::connect_cancellable); their recipients are recorded as deferred.
// - TLS. Certificates of MXes are never verified (opportunistic TLS, RFC 7435);
//   require_tls_domains insists on encryption only. The smarthost, which gets our
//   credentials, must present a certificate that chains to a trusted CA (system store or
//   smarthost_ca_file) and names the configured host (DNS name or IP address), unless
//   smarthost_verify = false; a failed check defers the mail and sends nothing.
// - DKIM. Relay::enqueue signs at enqueue time with every key in
//   data_dir/dkim/<From domain>/<selector>.{rsa,ed25519}.pem (both present -> two
//   signatures), so every retry sends the same signed bytes.
// - Logs, one line per outcome: `relay delivered|deferred|failed id=.. rcpt=.. mx=..
//   reply="..."`, `relay bounce id=.. to=..`, `relay queued id=..`.
// Threading: QueueStore is thread-safe and blocking (workers, ternctl). Relay lives on the
// loop thread except Relay::enqueue (any worker thread). DkimKey is immutable and shareable.
#pragma once

#include "relay/dkim.h"
#include "relay/dsn.h"
#include "relay/outbound.h"
#include "relay/queue.h"
#include "relay/smtp_client.h"
