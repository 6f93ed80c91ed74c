#include "imapd/esearch.h"

#include <algorithm>
#include <cstdlib>

#include "imapd/sequence_set.h"

namespace tern::imapd {

namespace {

// RFC 5267 §3: ESORT's ALL lists the numbers in sort order; a range only stands for an
// ascending run of consecutive numbers, so the order survives.
std::string ordered_set(const std::vector<uint32_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(v[i]);
    if (j > i) out += ":" + std::to_string(v[j]);
    i = j + 1;
  }
  return out;
}

uint64_t highest(const std::vector<uint64_t>& modseqs) {
  return modseqs.empty() ? 0 : *std::max_element(modseqs.begin(), modseqs.end());
}

}  // namespace

std::pair<size_t, size_t> partial_slice(const PartialRange& range, size_t n) {
  // RFC 9394 §3.1: 500:400 is 400:500, and -500:-400 is -400:-500.
  uint64_t lo = static_cast<uint64_t>(std::min(std::abs(range.first), std::abs(range.last)));
  uint64_t hi = static_cast<uint64_t>(std::max(std::abs(range.first), std::abs(range.last)));
  uint64_t count = n;
  uint64_t begin = 0, end = 0;
  if (range.first > 0) {
    // From the lowest: positions lo..hi are indices lo-1 .. hi-1.
    begin = lo - 1;
    end = std::min(hi, count);
  } else {
    // From the highest: -1 is index n-1, -hi is index n-hi.
    begin = count >= hi ? count - hi : 0;
    end = count >= lo ? count - lo + 1 : 0;
  }
  if (begin >= end) return {0, 0};
  return {static_cast<size_t>(begin), static_cast<size_t>(end)};
}

std::string esearch_line(std::string_view quoted_tag, bool uid, const SearchReturn& ret,
                         const SearchResult& r) {
  const auto& vals = r.values;
  std::string line = "ESEARCH (TAG ";
  line += quoted_tag;
  line += ")";
  if (uid) line += " UID";
  // MIN/MAX are the first and last of the result: the lowest and highest for SEARCH, the
  // first and last in sort order for ESORT (RFC 5267 §3).
  if (ret.min && !vals.empty()) line += " MIN " + std::to_string(vals.front());
  if (ret.max && !vals.empty()) line += " MAX " + std::to_string(vals.back());
  if (ret.all && !vals.empty())
    line += " ALL " + (r.sort_order ? ordered_set(vals) : SequenceSet::from_values(vals).to_string());
  if (ret.count) line += " COUNT " + std::to_string(vals.size());
  std::pair<size_t, size_t> slice{0, 0};
  if (ret.partial) {
    // RFC 9394 §3.1: PARTIAL (<requested range> <the values at those positions> / NIL). For
    // ESORT the positions are in sort order and the set keeps it (RFC 5267 §4.4).
    slice = partial_slice(*ret.partial, vals.size());
    std::vector<uint32_t> part(vals.begin() + static_cast<std::ptrdiff_t>(slice.first),
                               vals.begin() + static_cast<std::ptrdiff_t>(slice.second));
    line += " PARTIAL (" + to_string(*ret.partial) + " ";
    if (part.empty())
      line += "NIL";
    else
      line += r.sort_order ? ordered_set(part) : SequenceSet::from_values(part).to_string();
    line += ")";
  }
  if (r.report_modseq && !vals.empty()) {
    // RFC 7162 §3.1.5 (RFC 4731 §3.2): with only MIN and/or MAX returned, MODSEQ is that of
    // the message(s) returned (the higher of the two); with ALL or COUNT, the highest of the
    // whole result. PARTIAL without ALL/COUNT counts as returning only its messages.
    uint64_t m = highest(r.modseqs);
    if (!ret.all && !ret.count && (ret.min || ret.max || ret.partial)) {
      m = std::max(ret.min ? r.modseqs.front() : 0, ret.max ? r.modseqs.back() : 0);
      for (size_t i = slice.first; i < slice.second; ++i) m = std::max(m, r.modseqs[i]);
    }
    if (m > 0) line += " MODSEQ " + std::to_string(m);
  }
  return line;
}

std::string classic_result_line(std::string_view name, const SearchResult& r) {
  std::string line(name);
  for (uint32_t v : r.values) line += " " + std::to_string(v);
  // RFC 7162 §3.1.5: the highest mod-sequence of the matches when MODSEQ was searched (it
  // applies to SORT as to SEARCH).
  if (r.report_modseq && !r.values.empty()) line += " (MODSEQ " + std::to_string(highest(r.modseqs)) + ")";
  return line;
}

}  // namespace tern::imapd
