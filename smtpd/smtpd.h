// smtpd: the SMTP server protocol library (RFC 5321 + ESMTP extensions), sans-I/O.
//
// What it owns
//   - command.h:     the command-line parser (verbs, paths, ESMTP parameters).
//   - data_reader.h: the DATA body reader (dot-unstuffing, the <CRLF>.<CRLF> end only).
//   - session.h:     Session, the per-connection state machine; types.h: its settings,
//                    actions, results and Output.
//   The daemon owns sockets, TLS, timers, and runs the actions on workers.
//
// How the daemon drives a Session
//   greet() once; feed() every chunk of bytes read; when an Output carries an Action, run it
//   and call complete() with an ActionResult of the same id. Write Output::bytes in order;
//   honour start_tls (write, then handshake, then tls_started()) and close_after_write.
//   timeout() on the idle timer (not while action_pending()), shutdown() on SIGTERM.
//
// Invariants
//   - At most one action is pending. While it is, input is buffered (up to
//     max_message_size + 64 KiB, else 421 after the pending reply) and processed after
//     complete(): replies always come out in command order (RFC 2920).
//   - Output does not depend on how the input was split: one byte at a time gives the same
//     bytes and actions as one big feed (tests check this).
//   - DATA ends only at <CRLF>.<CRLF> (see data_reader.h, SMTP smuggling). Bare CR/LF are
//     refused (550 5.6.0) or normalized to CRLF, per settings.
//   - Bytes pipelined after STARTTLS are dropped; after tls_started() the session is as new
//     (EHLO again, no auth, no transaction).
//   - The stored message never exceeds max_message_size (+ our Received: header).
//   - Never an open relay: a non-local recipient needs an authenticated user.
//
// Decisions
//   - SASL mechanisms are auth/sasl.h's exchange (tern_sasl: common/ only, no accounts);
//     the session keeps the framing (334 lines, reply codes, the line limit) and the
//     Authenticate action carries the decoded user and password.
//   - DATA line over max_line_length: read to the end, then 500 5.5.6. BDAT is binary-clean:
//     no line-length or bare-newline checks.
//   - Deliver temporary failure -> 451 4.3.0, permanent -> 554 5.0.0; the detail text goes to
//     Output::log, never to the client.
//   - Every 5xx reply counts toward max_errors; reaching it appends 421 4.7.0 and closes.
//   - Received: uses "(unknown [ip])" when no reverse name is known, names the recipient
//     only when there is exactly one, and does not include the authenticated user name.
//   - Null sender on submission is refused (553 5.7.1); on mx it is accepted.
//   - Remote recipient results ("remote" or "not_local_domain") are treated alike:
//     authenticated + relay_available -> accepted; authenticated without relay -> 451 4.3.2
//     (with a log note); unauthenticated -> 554 5.7.1.
//
// Threading: a Session is used from one thread (the loop); it holds no global state.
#pragma once

#include "smtpd/command.h"
#include "smtpd/data_reader.h"
#include "smtpd/session.h"
#include "smtpd/types.h"
