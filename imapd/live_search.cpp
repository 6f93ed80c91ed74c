#include "imapd/live_search.h"

#include <algorithm>
#include <unordered_set>

#include "imapd/sequence_set.h"

namespace tern::imapd {

namespace {

std::string prefix(const LiveSearch& ls, std::string_view quoted_tag) {
  std::string line = "ESEARCH (TAG ";
  line += quoted_tag;
  line += ")";
  if (ls.uid) line += " UID";
  return line;
}

std::string pairs(const std::vector<std::pair<size_t, long>>& v) {
  std::string out;
  for (const auto& [pos, num] : v) {
    if (!out.empty()) out += ' ';
    out += std::to_string(pos) + " " + std::to_string(num);
  }
  return out;
}

}  // namespace

std::vector<std::string> live_update_lines(const LiveSearch& ls, std::string_view quoted_tag,
                                           const std::vector<uint32_t>& before,
                                           const std::vector<uint32_t>& after,
                                           const std::function<long(uint32_t)>& number_of) {
  std::vector<std::string> lines;
  std::unordered_set<uint32_t> in_after(after.begin(), after.end());
  std::unordered_set<uint32_t> in_before(before.begin(), before.end());
  if (!ls.sort) {
    // RFC 5267 §4.3.2: context-position 0 for SEARCH, whose result has no order.
    std::vector<uint32_t> removed, added;
    for (uint32_t u : before)
      if (!in_after.count(u)) {
        long n = number_of(u);
        if (n >= 0) removed.push_back(static_cast<uint32_t>(n));
        else if (ls.uid) removed.push_back(u);  // expunged: only UID contexts are told
      }
    for (uint32_t u : after)
      if (!in_before.count(u))
        if (long n = number_of(u); n >= 0) added.push_back(static_cast<uint32_t>(n));
    std::string line = prefix(ls, quoted_tag);
    if (!removed.empty()) line += " REMOVEFROM (0 " + SequenceSet::from_values(removed).to_string() + ")";
    if (!added.empty()) line += " ADDTO (0 " + SequenceSet::from_values(added).to_string() + ")";
    if (!removed.empty() || !added.empty()) lines.push_back(std::move(line));
    return lines;
  }
  // SORT: positions. A sequence-number context's client already dropped expunged messages.
  std::vector<uint32_t> list;
  for (uint32_t u : before)
    if (ls.uid || number_of(u) >= 0 || in_after.count(u)) list.push_back(u);
  std::vector<std::pair<size_t, long>> removed, added;
  for (size_t i = 0; i < list.size();) {
    if (in_after.count(list[i])) {
      ++i;
      continue;
    }
    long n = number_of(list[i]);
    removed.emplace_back(i + 1, n >= 0 ? n : static_cast<long>(list[i]));
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
  }
  std::unordered_set<uint32_t> kept(list.begin(), list.end());
  for (size_t i = 0; i < after.size(); ++i)
    if (!kept.count(after[i]))
      if (long n = number_of(after[i]); n >= 0) added.emplace_back(i + 1, n);
  // One response; the client applies REMOVEFROM, then ADDTO (RFC 5267 §4.3.2).
  std::string line = prefix(ls, quoted_tag);
  if (!removed.empty()) line += " REMOVEFROM (" + pairs(removed) + ")";
  if (!added.empty()) line += " ADDTO (" + pairs(added) + ")";
  if (!removed.empty() || !added.empty()) lines.push_back(std::move(line));
  return lines;
}

}  // namespace tern::imapd
