// SEARCH evaluation (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 7162 §3.1.5 MODSEQ,
// RFC 5032 OLDER/YOUNGER, RFC 5182 SEARCHRES "$") for one message.
//
// Implementation notes
//  * String keys match case-insensitively as substrings of DECODED text: header fields with
//    RFC 2047 words decoded, bodies with their transfer encoding removed and converted to
//    UTF-8 (mime::text_for_search). The search string is converted from ctx.charset to UTF-8.
//  * Case folding (fold_for_search): ASCII, Latin-1 Supplement, Latin Extended-A, Greek and
//    Cyrillic upper case map to lower case; U+00DF ß and U+1E9E match "ss"; final sigma
//    matches sigma. Other scripts compare exactly. No accent stripping, no normalisation.
//  * FROM/TO/CC/BCC/SUBJECT/HEADER search the decoded field value of every field of that
//    name in the top-level header; HEADER with an empty string matches when the field is
//    present. TEXT searches the decoded top-level header and the body text; BODY the body.
//  * Dates: BEFORE/ON/SINCE compare the internal date's UTC calendar day; SENTBEFORE/SENTON/
//    SENTSINCE the Date: header's own calendar day (time and zone ignored, RFC 9051 §6.4.4).
//    A missing or unparsable Date: falls back to the internal date (as RFC 5256 §2.2 does).
//  * \Recent comes from the session (SearchContext::is_recent); rev2 sessions have none.
//  * OLDER/YOUNGER need the current time: SearchContext::now (sans-I/O: injected).
//  * Evaluation is recursive; the parser bounds the depth (kMaxSearchDepth).
//  * The full-text index (issue 18) only chooses which messages are evaluated (index_needles
//    below, Session::Impl::index_candidates); the match itself is always decided here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <functional>
#include <vector>

#include "common/result.h"
#include "imapd/message_view.h"
#include "imapd/search_key.h"

namespace tern::imapd {

struct SearchContext {
  uint32_t max_seq = 0;                               // value of '*' for sequence numbers
  uint32_t max_uid = 0;                               // value of '*' for UIDs
  // "$" (RFC 5182 SEARCHRES) as UIDs, sorted ascending (as SEARCH results are); null = empty.
  const std::vector<uint32_t>* saved_uids = nullptr;
  std::string charset = "UTF-8";                      // CHARSET given, already validated
  int64_t now = 0;                                    // unix seconds, for OLDER/YOUNGER
  // RFC 3501 RECENT/NEW/OLD: is this UID \Recent for the session? Null: nothing is (rev2).
  std::function<bool(uint32_t)> is_recent;
};

// Does the message match? Errors only when the message bytes cannot be loaded.
Result<bool> search_matches(const SearchKey& key, MessageView& msg, const SearchContext& ctx);
// True when evaluating the key may need the message bytes (string keys, SENT* dates).
bool search_needs_bytes(const SearchKey& key);

// UTF-8 text lower-cased for matching as described above (exposed for tests).
std::string fold_for_search(std::string_view utf8);
// A search string as it is matched: converted from `charset` to UTF-8 (RFC 9051 §6.4.4),
// folded.
std::string search_needle(std::string_view text, std::string_view charset);

// Issue 18, the full-text index (store::Store::fts_search): the TEXT and BODY strings every
// matching message must contain, i.e. those at the top of the key or inside ANDs (never
// under OR or NOT), as search needles. The index may narrow the messages to these; each
// candidate is still checked by search_matches (the index narrows, the message confirms).
struct IndexNeedle {
  bool body_only = false;  // BODY; TEXT otherwise
  std::string needle;      // search_needle()
};
std::vector<IndexNeedle> index_needles(const SearchKey& key, std::string_view charset);
// The UTC calendar day of a unix time (internal dates are kept in UTC).
Date utc_calendar_date(int64_t unix_seconds);

}  // namespace tern::imapd
