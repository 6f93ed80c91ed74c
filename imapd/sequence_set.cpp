#include "imapd/sequence_set.h"

#include <algorithm>

namespace tern::imapd {

namespace {

// seq-number = nz-number / "*"; nz-number = digit-nz *DIGIT, fits in 32 bits (RFC 9051 §9).
bool parse_seq_number(std::string_view s, uint32_t& out) {
  if (s == "*") {
    out = SequenceSet::kStar;
    return true;
  }
  if (s.empty() || s.size() > 10 || s[0] < '1' || s[0] > '9') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xFFFFFFFFull) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

Result<SequenceSet> SequenceSet::parse(std::string_view text) {
  if (text == "$") return saved_result();
  if (text.empty()) return make_error(Errc::syntax, "empty sequence set");
  SequenceSet set;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    size_t colon = item.find(':');
    uint32_t a = 0, b = 0;
    if (colon == std::string_view::npos) {
      if (!parse_seq_number(item, a)) return make_error(Errc::syntax, "bad sequence number");
      b = a;
    } else if (!parse_seq_number(item.substr(0, colon), a) || !parse_seq_number(item.substr(colon + 1), b)) {
      return make_error(Errc::syntax, "bad sequence range");
    }
    set.ranges_.push_back({a, b});
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

SequenceSet SequenceSet::saved_result() {
  SequenceSet s;
  s.saved_ = true;
  return s;
}

SequenceSet SequenceSet::from_values(std::vector<uint32_t> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  SequenceSet s;
  for (uint32_t v : values) {
    if (v == 0) continue;
    if (!s.ranges_.empty() && s.ranges_.back().last != 0xFFFFFFFFu && s.ranges_.back().last + 1 == v)
      s.ranges_.back().last = v;
    else
      s.ranges_.push_back({v, v});
  }
  return s;
}

void SequenceSet::add(uint32_t first, uint32_t last) { ranges_.push_back({first, last}); }

bool SequenceSet::uses_star() const {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [](const SeqRange& r) { return r.first == kStar || r.last == kStar; });
}

uint32_t SequenceSet::max_explicit() const {
  uint32_t m = 0;
  for (const SeqRange& r : ranges_) m = std::max({m, r.first, r.last});
  return m;
}

bool SequenceSet::contains(uint32_t value, uint32_t max) const {
  if (value == 0 || value > max) return false;
  for (const SeqRange& r : ranges_) {
    uint32_t a = r.first == kStar ? max : r.first;
    uint32_t b = r.last == kStar ? max : r.last;
    if (a > b) std::swap(a, b);
    if (value >= a && value <= b) return true;
  }
  return false;
}

std::vector<SeqRange> SequenceSet::resolve(uint32_t max) const {
  std::vector<SeqRange> out;
  if (max == 0) return out;
  out.reserve(ranges_.size());
  for (const SeqRange& r : ranges_) {
    // RFC 9051 §9: "*" is the largest number in use; a range "559:*" with 559 beyond it still
    // includes the last message, which falls out of resolving then ordering the endpoints.
    uint32_t a = r.first == kStar ? max : r.first;
    uint32_t b = r.last == kStar ? max : r.last;
    if (a > b) std::swap(a, b);
    if (a > max) continue;
    out.push_back({a, std::min(b, max)});
  }
  std::sort(out.begin(), out.end(), [](const SeqRange& x, const SeqRange& y) { return x.first < y.first; });
  std::vector<SeqRange> merged;
  for (const SeqRange& r : out) {
    if (!merged.empty() && static_cast<uint64_t>(r.first) <= static_cast<uint64_t>(merged.back().last) + 1)
      merged.back().last = std::max(merged.back().last, r.last);
    else
      merged.push_back(r);
  }
  return merged;
}

uint64_t SequenceSet::count(uint32_t max) const {
  uint64_t n = 0;
  for (const SeqRange& r : resolve(max)) n += static_cast<uint64_t>(r.last) - r.first + 1;
  return n;
}

std::string SequenceSet::to_string() const {
  if (saved_) return "$";
  std::string out;
  auto num = [&](uint32_t v) {
    if (v == kStar)
      out += '*';
    else
      out += std::to_string(v);
  };
  for (size_t i = 0; i < ranges_.size(); ++i) {
    if (i) out += ',';
    num(ranges_[i].first);
    if (ranges_[i].last != ranges_[i].first) {
      out += ':';
      num(ranges_[i].last);
    }
  }
  return out;
}

}  // namespace tern::imapd
