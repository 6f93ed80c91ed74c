// SEARCH criteria (RFC 9051 §6.4.4, RFC 3501 §6.4.4 rev1 keys, RFC 7162 MODSEQ,
// RFC 5032 OLDER/YOUNGER, RFC 8514 SAVED*) as a tree of SearchKey nodes.
//
// The top level of a SEARCH command is an implicit AND, represented as one node of kind
// `and_` (even for a single key). `or_` has exactly two children, `not_` exactly one,
// `and_` one or more (a parenthesised group is an `and_`). Nesting depth is bounded by the
// parser (kMaxSearchDepth) so evaluating the tree recursively is safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "imapd/sequence_set.h"

namespace tern::imapd {

// A calendar date as written in SEARCH (date-text "1-Feb-1994"), no time zone.
struct Date {
  int year = 0;
  int month = 0;  // 1..12
  int day = 0;    // 1..31
  bool operator==(const Date&) const = default;
};

struct SearchKey {
  enum class Kind {
    and_, or_, not_,
    all,
    sequence_set,  // message sequence numbers (or "$", see set.is_saved_result())
    uid,           // UID sequence-set (or "UID $")
    // flags
    answered, deleted, draft, flagged, seen,
    unanswered, undeleted, undraft, unflagged, unseen,
    recent, new_, old,  // rev1 only (RFC 3501); RFC 9051 drops \Recent
    keyword, unkeyword, // text = the keyword
    // header / body text (text = the string to match, as sent in `charset`)
    bcc, body, cc, from, subject, text, to,
    header,             // header_name + text
    // dates: internal date (before/on/since) or Date: header (sent*)
    before, on, since, sentbefore, senton, sentsince,
    // sizes (RFC822.SIZE)
    larger, smaller,    // number
    older, younger,     // number = seconds (RFC 5032 WITHIN)
    modseq,             // number = mod-sequence (RFC 7162 §3.1.5), optional entry
    // RFC 8514 §4.2: save date (date keys) and whether the mailbox keeps it
    savedbefore, savedon, savedsince, savedatesupported,
    emailid, threadid,  // RFC 8474 §6: text = the objectid
  };
  Kind kind = Kind::all;
  std::vector<SearchKey> children;  // and_, or_, not_
  SequenceSet set;                  // sequence_set, uid
  std::string text;                 // keyword, unkeyword, string keys, header value
  std::string header_name;          // header
  Date date;                        // date keys
  uint64_t number = 0;              // larger, smaller, older, younger, modseq
  // MODSEQ "/flags/\Seen" all: metadata entry the client names (RFC 7162 §3.1.5).
  std::string modseq_entry;         // empty when absent
  std::string modseq_entry_type;    // "priv", "shared" or "all" (lower-case)

  bool operator==(const SearchKey&) const = default;
};

inline constexpr int kMaxSearchDepth = 32;

const char* to_string(SearchKey::Kind kind);
// A canonical, re-parsable rendering (upper-case names, strings quoted): for logs and tests.
std::string to_string(const SearchKey& key);

}  // namespace tern::imapd
