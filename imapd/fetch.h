// FETCH rendering (RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY; RFC 7162 CONDSTORE MODSEQ).
//
// Implementation notes
//  * render_fetch() builds one whole untagged "* <seq> FETCH (...)\r\n" line for one message,
//    items in request order. Extra items are added when the context requires them:
//    UID first for UID FETCH/STORE (RFC 9051 §6.4.9), FLAGS after the requested items when
//    \Seen was set implicitly (RFC 9051 §6.4.5), MODSEQ last once CONDSTORE is enabled
//    (RFC 7162 §3.2.4). An item is never written twice.
//  * The caller does the \Seen update BEFORE rendering (MessageView::set_flags) so that FLAGS
//    shows the new state.
//  * Body sections (BODY[...], RFC822*, BINARY[...]) are always sent as literals; BINARY uses
//    literal8 "~{n}" when the decoded data holds NUL (RFC 3516 §4.3). A section that does not
//    exist in the message (BODY[9], BODY[1.HEADER] of a non-message part) is answered NIL.
//    A partial <o.n> beyond the end gives an empty string; the response names only <o>.
//    BODY[...] and RFC822* come from MessageView::text_bytes(): a message holding NUL is sent
//    in its NUL-free form (binary parts base64-encoded), never NUL in a plain literal.
//  * ENVELOPE/BODY/BODYSTRUCTURE come from the cached metadata when available (no bytes read).
//  * Errors: the loader's error (I/O), or kUnknownCteMessage for BINARY/BINARY.SIZE of a part
//    with an unknown Content-Transfer-Encoding: the session answers
//    "NO [UNKNOWN-CTE] ..." (RFC 3516 §4.2). Test with is_unknown_cte().
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "imapd/fetch_item.h"
#include "imapd/message_view.h"

namespace tern::imapd {

struct FetchContext {
  bool utf8_accept = false;   // ENABLE UTF8=ACCEPT (RFC 6855): 8-bit strings may be sent quoted
  bool imap4rev2 = false;     // ENABLE IMAP4rev2
  bool condstore = false;     // CONDSTORE enabled: MODSEQ included in every FETCH (RFC 7162 §3.2)
  bool uid_command = false;   // UID FETCH/STORE: UID always included (RFC 9051 §6.4.9)
  bool include_flags = false; // caller changed \Seen implicitly: FLAGS must be included
  bool recent = false;        // this message is \Recent for the session (rev1, per message)
};

// Error::message of the error render_fetch returns for an unknown Content-Transfer-Encoding
// (Error::code is Errc::syntax). The session answers NO [UNKNOWN-CTE].
inline constexpr std::string_view kUnknownCteMessage = "UNKNOWN-CTE";
bool is_unknown_cte(const Error& e);

// The untagged "* <seq> FETCH (...)\r\n" for one message, items in request order (macros
// ALL/FAST/FULL already expanded by the parser). Errors only for I/O failures and UNKNOWN-CTE.
Result<std::string> render_fetch(const std::vector<FetchItem>& items, MessageView& msg,
                                 const FetchContext& ctx);
// The same, appended to `out` (nothing is appended on error): FETCH writes each message
// straight into the session's output, so a body is copied once, from the file's bytes into
// the response. `names` is response_names(items), computed once per command.
std::vector<std::string> response_names(const std::vector<FetchItem>& items);
Status render_fetch_into(std::string& out, const std::vector<FetchItem>& items,
                         const std::vector<std::string>& names, MessageView& msg,
                         const FetchContext& ctx);

// True when any item is built from the cached metadata (ENVELOPE, BODY, BODYSTRUCTURE).
bool fetch_wants_metadata(const std::vector<FetchItem>& items);
// True when any item needs the message bytes whatever the cache holds (sections, RFC822*,
// BINARY*). ENVELOPE/BODY/BODYSTRUCTURE are not counted: they normally come from the cache.
bool fetch_needs_bytes(const std::vector<FetchItem>& items);
// Same, but also true for ENVELOPE/BODY/BODYSTRUCTURE when this message's cached metadata is
// missing or unreadable (so the view will have to parse the message).
bool fetch_needs_bytes(const std::vector<FetchItem>& items, const store::MessageInfo& info);
// The items that can be rendered for this row without the message bytes (no sections;
// ENVELOPE/BODY/BODYSTRUCTURE only when cached): what FETCH still returns for a message
// whose file was expunged while the FETCH ran.
std::vector<FetchItem> items_without_bytes(const std::vector<FetchItem>& items, const store::MessageInfo& info);
// True when any item implicitly sets \Seen (non-PEEK BODY[...], BINARY[...], RFC822, RFC822.TEXT).
bool fetch_sets_seen(const std::vector<FetchItem>& items);

// BODY[section] of a parsed message: a view into it, or into `owned` (HEADER.FIELDS, which
// is built); nullopt when the message has no such section. Also CATENATE's URL sections.
std::optional<std::string_view> message_section(const mime::Message& m, const Section& s, std::string& owned);

// INTERNALDATE as RFC 9051 date-time, "17-Jul-1996 09:44:25 +0000" (the store keeps UTC).
std::string format_internal_date(int64_t unix_seconds);

}  // namespace tern::imapd
