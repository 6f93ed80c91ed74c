// imapd: the IMAP4rev2 (RFC 9051) / IMAP4rev1 (RFC 3501) server side.
//
// Implementation notes
//  * This step owns the protocol layer only: the incremental command parser (imap_parser.h)
//    producing typed Commands (command.h, search_key.h, fetch_item.h, sequence_set.h), the
//    response writer (response_writer.h); mailbox names use common/codec.h's modified UTF-7.
//    The session that executes commands over the store is added on top of these.
//  * Sans-I/O: the parser is fed bytes and returns events (a command, a literal request that
//    the session must answer with "+" or a tagged NO/BAD, an error to answer with BAD, or a
//    raw line for AUTHENTICATE/IDLE). It never reads sockets, clocks or configuration.
//  * Memory is bounded by ParserSettings: max_line_length per line, max_literal_size per
//    literal, max_command_size per command; oversized input is counted and dropped, never
//    stored, and the stream stays in sync (literals announced with "{n+}" are skipped).
//  * Invariants of a parsed Command: `args` holds the struct documented for `name`; sequence
//    sets keep '*' symbolic until the session resolves it; SEARCH trees are at most
//    kMaxSearchDepth deep; strings are unquoted bytes (literal data may hold any byte).
//  * Threading: every object belongs to one session on the loop thread; nothing is shared.
//  * Dependencies: common/ only.
//  * Session (session.h) executes commands over the shared store. Execution model ("strand"):
//    the daemon glue calls a Session only from worker threads, one call at a time per
//    connection, buffering socket input on the loop thread meanwhile; so the session calls
//    store::Store and auth::Authenticator (thread-safe, blocking) directly. It never touches
//    sockets, timers or the clock (Backend::now is injected). A Store::watch on the selected
//    mailbox marks it dirty and calls Backend::change_notifier(); the glue then schedules
//    Session::on_mailbox_changed() on the strand (IDLE updates within a second of a commit).
//    Output::delay_ms asks the glue to wait (login throttle) before writing.
//  * Sequence numbers are per session (session_sync.cpp): other sessions' changes become
//    untagged EXISTS / FETCH at any command and EXPUNGE / VANISHED only where RFC 9051 §7.5.1
//    allows (not during FETCH, STORE, SEARCH; yes during their UID forms and IDLE). A command
//    that finds a message of its map gone from the store marks the mailbox dirty: the store's
//    watch fires only after its lock is released, and the sync closing that command must
//    still take the expunge in (a UID FETCH/SEARCH that left a message out says why at once).
//  * A silent STORE (RFC 3501 §6.4.6) first takes in others' pending changes, and counts its
//    own as shown only when nobody else changed the mailbox meanwhile: a client computing
//    the new flags itself must never miss another session's change to the same message.
//  * Session dependencies: auth/ (LoginResult, SASL), store/, mime/ (via fetch/search).
#pragma once

#include "imapd/command.h"
#include "imapd/fetch_item.h"
#include "imapd/imap_parser.h"
#include "imapd/response_writer.h"
#include "imapd/search_key.h"
#include "imapd/sequence_set.h"
#include "imapd/session.h"
