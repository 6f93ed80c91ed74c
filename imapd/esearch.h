// The result lines of SEARCH and SORT, built once for both: ESEARCH (RFC 4731 §3.1, and
// ESORT, RFC 5267 §3) and the classic "* SEARCH" / "* SORT" lines, each with the MODSEQ
// the client is owed when the criteria searched MODSEQ (RFC 7162 §3.1.5).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "imapd/command.h"

namespace tern::imapd {

struct SearchResult {
  std::vector<uint32_t> values;   // sequence numbers or UIDs, in result order
  std::vector<uint64_t> modseqs;  // the mod-sequence of each value, same order
  bool sort_order = false;        // ESORT: ALL must keep this order (not ascending)
  bool report_modseq = false;     // the criteria searched MODSEQ
};

// RFC 9394 §3.1: the positions [first, second) of a result of `n` values that `range`
// selects; empty (first == second) when the range lies past the end of the result.
std::pair<size_t, size_t> partial_slice(const PartialRange& range, size_t n);

// "ESEARCH (TAG <tag>) [UID] ..." without the leading "* ". `tag` is already quoted.
std::string esearch_line(std::string_view quoted_tag, bool uid, const SearchReturn& ret,
                         const SearchResult& r);
// "<name> v1 v2 ... [(MODSEQ n)]" without the leading "* ": name is "SEARCH" or "SORT".
std::string classic_result_line(std::string_view name, const SearchResult& r);

}  // namespace tern::imapd
