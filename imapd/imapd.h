// imapd: the IMAP4rev2 (RFC 9051) / IMAP4rev1 (RFC 3501) server side.
//
// Implementation notes
//  * This step owns the protocol layer only: the incremental command parser (imap_parser.h)
//    producing typed Commands (command.h, search_key.h, fetch_item.h, sequence_set.h), the
//    response writer (response_writer.h) and the modified UTF-7 codec (mutf7.h). The session
//    that executes commands over the store is added on top of these.
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
#pragma once

#include "imapd/command.h"
#include "imapd/fetch_item.h"
#include "imapd/imap_parser.h"
#include "imapd/mutf7.h"
#include "imapd/response_writer.h"
#include "imapd/search_key.h"
#include "imapd/sequence_set.h"
