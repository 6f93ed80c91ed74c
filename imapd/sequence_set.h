// IMAP sequence sets (RFC 9051 §9 "sequence-set"): message sequence numbers or UIDs written
// as "1,3:5,7:*" or "$" (the saved SEARCH result, RFC 5182 / RFC 9051 §6.4.4.1).
//
// The set keeps the ranges as the client wrote them, with '*' kept symbolic (kStar), because
// '*' only gets a value once the session knows the mailbox (largest sequence number or UID).
// Every query takes that value as `max`. Nothing here allocates per element: "1:4294967295"
// is one range, and iteration is bounded by `max`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tern::imapd {

// One element as written; first/last may be kStar and may be in either order ("5:2" == "2:5").
struct SeqRange {
  uint32_t first = 0;
  uint32_t last = 0;
  bool operator==(const SeqRange&) const = default;
};

class SequenceSet {
 public:
  static constexpr uint32_t kStar = 0;  // '*': the largest number in use (RFC 9051 §9)

  SequenceSet() = default;

  // Parses "sequence-set" (or "$"). Numbers are nz-number (1..4294967295, no leading zero).
  static Result<SequenceSet> parse(std::string_view text);
  // "$": the session substitutes the saved search result (RFC 5182).
  static SequenceSet saved_result();
  // A compact set from concrete values (any order, duplicates allowed): for responses such
  // as COPYUID, VANISHED or ESEARCH ALL.
  static SequenceSet from_values(std::vector<uint32_t> values);

  void add(uint32_t first, uint32_t last);  // appends one range as written (kStar allowed)

  bool is_saved_result() const { return saved_; }
  bool empty() const { return !saved_ && ranges_.empty(); }
  bool uses_star() const;
  const std::vector<SeqRange>& ranges() const { return ranges_; }

  // Largest explicit number written (ignores '*'); 0 when none. Lets the session answer
  // BAD for message sequence numbers beyond the mailbox size (RFC 9051 §6.4.5... "invalid
  // sequence numbers"), while UID sets are simply clipped.
  uint32_t max_explicit() const;

  // Queries below resolve '*' to `max` (0 = empty mailbox: '*' matches nothing) and ignore
  // values outside 1..max. A saved-result set ("$") must be substituted by the session first;
  // these treat it as empty.
  bool contains(uint32_t value, uint32_t max) const;
  // Concrete ranges, sorted, merged and clipped to 1..max (first <= last in each).
  std::vector<SeqRange> resolve(uint32_t max) const;
  uint64_t count(uint32_t max) const;
  template <class F>
  void for_each(uint32_t max, F&& f) const {
    for (const SeqRange& r : resolve(max))
      for (uint64_t v = r.first; v <= r.last; ++v) f(static_cast<uint32_t>(v));
  }

  // Wire form ("1:3,5,7:*" or "$").
  std::string to_string() const;

  bool operator==(const SequenceSet&) const = default;

 private:
  std::vector<SeqRange> ranges_;
  bool saved_ = false;
};

}  // namespace tern::imapd
