// SORT and THREAD (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO): the keys of one message and
// the base subject (sort_keys.cpp), the orderings and the thread trees (sort.cpp). Pure
// functions: the session (imapd/commands_sort.cpp) gathers a MessageKeys per matching
// message and renders the results.
//
// Implementation notes
//  * Keys come from the cached ENVELOPE (mime::CachedMetadata, no message bytes read) plus the
//    message's size and internal date; THREAD=REFERENCES also needs the References field,
//    which the envelope lacks, so the session reads each matching message's header for it.
//  * Strings compare with i;ascii-casemap (RFC 5256 §3 / RFC 4790 §9.2): ASCII letters
//    folded, other bytes by value (UTF-8 byte order is code point order).
//  * Ties, and messages whose keys are all equal, keep mailbox (sequence) order (RFC 5256 §3);
//    REVERSE reverses only the criterion it precedes.
//  * Sent date (RFC 5256 §2.2): the Date: field converted to UTC; a missing or unparsable
//    one falls back to the internal date.
//  * Threads are built and rendered without recursion on the message chain, so a long reply
//    chain cannot exhaust the stack.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/message_ids.h"  // message_ids(), for the REFERENCES algorithm
#include "imapd/command.h"

namespace tern::imapd {

// The fields SORT/THREAD need, decoded from the cached ENVELOPE.
struct EnvelopeKeys {
  std::optional<std::string> date, subject, in_reply_to, message_id;
  struct Addr {
    std::optional<std::string> name, mailbox, host;
  };
  std::vector<Addr> from, to, cc;
};
// Parses an IMAP ENVELOPE as FETCH sends it ("(date subject (from) ...)"); nullopt if malformed.
std::optional<EnvelopeKeys> parse_envelope(std::string_view imap);

struct MessageKeys {
  uint32_t seq = 0;
  uint32_t uid = 0;
  uint64_t size = 0;
  int64_t internal_date = 0;  // unix seconds
  int64_t sent_date = 0;      // unix seconds, UTC (falls back to internal_date)
  std::string subject;        // base subject (RFC 5256 §2.1)
  bool reply_or_forward = false;
  std::string from, to, cc;   // addr-mailbox of the first address (RFC 5256 §3)
  std::string display_from, display_to;  // RFC 5957 §3
  std::string message_id;     // "<...>" or ""
  std::vector<std::string> references;  // parent chain, oldest first (References, else In-Reply-To)
};

// Builds the keys from a parsed envelope; `references_field` is the raw References value
// (nullopt when not read or absent).
MessageKeys make_keys(uint32_t seq, uint32_t uid, uint64_t size, int64_t internal_date,
                      const EnvelopeKeys& env, const std::optional<std::string>& references_field);

// RFC 5256 §2.1 base subject of a raw (possibly encoded-word) Subject value.
std::string base_subject(std::string_view raw, bool* reply_or_forward = nullptr);
// RFC 5322 §3.3 date-time (obsolete forms and zones included) -> unix seconds UTC.
std::optional<int64_t> parse_rfc5322_date(std::string_view value);

// The messages in SORT order (indices into `msgs`).
std::vector<size_t> sort_order(const std::vector<MessageKeys>& msgs, const std::vector<SortCriterion>& criteria);

// RFC 5256 §4 thread-list text, e.g. "(2)(3 6 (4 23)(44 7 96))"; use_uid picks UIDs.
std::string thread_orderedsubject(const std::vector<MessageKeys>& msgs, bool use_uid);
std::string thread_references(const std::vector<MessageKeys>& msgs, bool use_uid);

}  // namespace tern::imapd
