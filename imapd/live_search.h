// Live SEARCH / SORT results (RFC 5267 §4, CONTEXT=SEARCH and CONTEXT=SORT): a search made
// with RETURN (UPDATE) is kept with its last result, and as the selected mailbox changes the
// session re-evaluates it and sends the difference as ESEARCH ADDTO / REMOVEFROM.
//
// Implementation notes
//  * The result is kept as UIDs in result order (ascending for SEARCH, sort order for SORT),
//    so it survives renumbering; numbers are produced when a line is written.
//  * SEARCH contexts use context-position 0 (unordered, RFC 5267 §4.3.2); SORT contexts give
//    each message its 1-based position, one (position number) pair per message: removals
//    first, positions counted in the list as each removal leaves it, then additions at their
//    positions in the new result (RFC 5267 §4.3.3, §4.3.4).
//  * An expunged message leaves the results (REMOVEFROM) before its EXPUNGE is sent, while
//    its number is still valid: the session re-evaluates live searches first thing when it
//    announces expunges, and at every sync (a message expunged elsewhere keeps its number
//    until EXPUNGE may be sent). Should a message's number be gone already, sequence-number
//    contexts get nothing for it (the EXPUNGE said it), UID contexts still get REMOVEFROM.
//  * REMOVEFROM and ADDTO of one change go in one ESEARCH response, REMOVEFROM first.
//  * Every context gets ADDTO / REMOVEFROM, whatever else it asked for: RFC 5267 §4.3 "There
//    is no interaction between UPDATE and any other return options; therefore, use of RETURN
//    (UPDATE MIN), for example, does not notify about the minimum UID or sequence number, but
//    notifies instead about all changes to the set of matching messages." MIN / MAX / COUNT
//    are not sent again (§4.3.3's example: "only the ADDTO is included, and not the (now
//    changed) COUNT"), and a PARTIAL context is told about every match, not its page (§4.4).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "imapd/command.h"

namespace tern::imapd {

struct LiveSearch {
  std::string tag;                       // as sent
  bool uid = false;                      // UID SEARCH / UID SORT: numbers are UIDs
  bool sort = false;                     // SORT (ordered result)
  SearchArgs search;                     // key and charset (charset always set)
  std::vector<SortCriterion> criteria;   // SORT only
  SearchReturn ret;
  std::vector<uint32_t> uids;            // last result sent, UIDs in result order
  uint64_t modseq = 0;                   // mailbox HIGHESTMODSEQ when last evaluated
  uint32_t exists = 0;                   // and its size
  uint32_t known = 0;                    // and how many messages the session knew of
};

// The ESEARCH lines (without "* ") that take a client from `before` to `after` (UIDs in
// result order). number_of(uid): the message's number in this context (its UID, or its
// sequence number), or -1 when it is no longer in the mailbox.
std::vector<std::string> live_update_lines(const LiveSearch& ls, std::string_view quoted_tag,
                                           const std::vector<uint32_t>& before,
                                           const std::vector<uint32_t>& after,
                                           const std::function<long(uint32_t)>& number_of);

}  // namespace tern::imapd
