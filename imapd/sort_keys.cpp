// SORT / THREAD keys (RFC 5256 §2.1 base subject, §2.2 sent date, §3 addresses; RFC 5957
// display names) from the cached ENVELOPE; see sort.h.
#include <algorithm>
#include <cctype>

#include "common/strings.h"
#include "imapd/sort.h"
#include "mime/mime.h"

namespace tern::imapd {

namespace {

// ---- ENVELOPE reader: NIL, quoted strings, {n} literals and lists -------------------------

struct Node {
  bool list = false;
  bool nil = false;
  std::string text;
  std::vector<Node> items;
};

class EnvReader {
 public:
  explicit EnvReader(std::string_view s) : s_(s) {}
  bool node(Node& out, int depth) {
    skip_sp();
    if (pos_ >= s_.size() || depth > 6) return false;
    char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      out.list = true;
      while (true) {
        skip_sp();
        if (pos_ >= s_.size()) return false;
        if (s_[pos_] == ')') {
          ++pos_;
          return true;
        }
        out.items.emplace_back();
        if (!node(out.items.back(), depth + 1)) return false;
      }
    }
    if (c == '"') {
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
        out.text += s_[pos_++];
      }
      if (pos_ >= s_.size()) return false;
      ++pos_;
      return true;
    }
    if (c == '{') {
      size_t close = s_.find('}', pos_);
      if (close == std::string_view::npos) return false;
      size_t n = 0;
      for (size_t i = pos_ + 1; i < close; ++i) {
        if (s_[i] < '0' || s_[i] > '9' || n > s_.size()) return false;
        n = n * 10 + static_cast<size_t>(s_[i] - '0');
      }
      size_t data = close + 3;  // "}\r\n"
      if (data > s_.size() || s_.size() - data < n) return false;
      out.text = std::string(s_.substr(data, n));
      pos_ = data + n;
      return true;
    }
    if (s_.substr(pos_, 3) == "NIL") {
      pos_ += 3;
      out.nil = true;
      return true;
    }
    return false;
  }

 private:
  void skip_sp() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  std::string_view s_;
  size_t pos_ = 0;
};

std::optional<std::string> nstring(const Node& n) {
  if (n.list || n.nil) return std::nullopt;
  return n.text;
}

std::vector<EnvelopeKeys::Addr> addresses(const Node& n) {
  std::vector<EnvelopeKeys::Addr> out;
  if (!n.list) return out;
  for (const Node& a : n.items) {
    if (!a.list || a.items.size() != 4) continue;
    out.push_back({nstring(a.items[0]), nstring(a.items[2]), nstring(a.items[3])});
  }
  return out;
}

// i;ascii-casemap (RFC 4790 §9.2): a-z compare as A-Z.
std::string casemap(std::string_view s) { return ascii_upper(s); }

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// ---- RFC 5256 §2.1 base subject ------------------------------------------------------------

// subj-blob = "[" *BLOBCHAR "]" *WSP at `pos`; returns the end, or npos.
size_t blob_end(std::string_view s, size_t pos) {
  if (pos >= s.size() || s[pos] != '[') return std::string_view::npos;
  size_t i = pos + 1;
  while (i < s.size() && s[i] != ']' && s[i] != '[') ++i;
  if (i >= s.size() || s[i] != ']') return std::string_view::npos;
  ++i;
  while (i < s.size() && is_wsp(s[i])) ++i;
  return i;
}

// subj-leader = (*subj-blob subj-refwd) / WSP; subj-refwd = ("re" / ("fw" ["d"])) *WSP
// [subj-blob] ":". Returns the leader's length, 0 when none; *refwd when it was a subj-refwd.
size_t leader_len(std::string_view s, bool* refwd) {
  *refwd = false;
  if (!s.empty() && is_wsp(s[0])) return 1;
  size_t pos = 0;
  for (size_t e; (e = blob_end(s, pos)) != std::string_view::npos;) pos = e;
  for (std::string_view word : {"re", "fwd", "fw"}) {
    if (!istarts_with(s.substr(pos), word)) continue;
    size_t i = pos + word.size();
    while (i < s.size() && is_wsp(s[i])) ++i;
    if (size_t e = blob_end(s, i); e != std::string_view::npos) i = e;
    if (i < s.size() && s[i] == ':') {
      *refwd = true;
      return i + 1;
    }
  }
  return 0;
}

bool has_non_wsp(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return !is_wsp(c); });
}

// ---- dates ----------------------------------------------------------------------------------

int month_number(std::string_view m) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i)
    if (iequals(m, kMonths[i])) return i + 1;
  return 0;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s.substr(0, 9)) v = v * 10 + (c - '0');
  return v;
}

// RFC 5322 §4.3 obsolete zones; military zones are "-0000" (unknown), as the RFC says.
std::optional<int> zone_minutes(std::string_view z) {
  if (z.size() == 5 && (z[0] == '+' || z[0] == '-') && all_digits(z.substr(1))) {
    int m = to_int(z.substr(1, 2)) * 60 + to_int(z.substr(3, 2));
    return z[0] == '-' ? -m : m;
  }
  static constexpr std::pair<const char*, int> kZones[] = {
      {"UT", 0},          {"GMT", 0},         {"Z", 0},           {"EST", -5 * 60}, {"EDT", -4 * 60},
      {"CST", -6 * 60},   {"CDT", -5 * 60},   {"MST", -7 * 60},   {"MDT", -6 * 60}, {"PST", -8 * 60},
      {"PDT", -7 * 60}};
  for (const auto& [name, off] : kZones)
    if (iequals(z, name)) return off;
  if (z.size() == 1 && std::isalpha(static_cast<unsigned char>(z[0]))) return 0;
  return std::nullopt;
}

}  // namespace

std::optional<EnvelopeKeys> parse_envelope(std::string_view imap) {
  Node root;
  EnvReader r(imap);
  if (!r.node(root, 0) || !root.list || root.items.size() < 10) return std::nullopt;
  const auto& it = root.items;
  EnvelopeKeys k;
  k.date = nstring(it[0]);
  k.subject = nstring(it[1]);
  k.from = addresses(it[2]);
  k.to = addresses(it[5]);
  k.cc = addresses(it[6]);
  k.in_reply_to = nstring(it[8]);
  k.message_id = nstring(it[9]);
  return k;
}

std::string base_subject(std::string_view raw, bool* reply_or_forward) {
  // (1) RFC 2047 words decoded to UTF-8, tabs and folding to spaces, runs of spaces to one.
  std::string decoded = mime::decode_header_value(raw);
  std::string s;
  for (char c : decoded) {
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
    if (c == ' ' && !s.empty() && s.back() == ' ') continue;
    s += c;
  }
  bool rf = false;
  while (true) {
    // (2) subj-trailer = "(fwd)" / WSP, removed repeatedly from the end.
    while (!s.empty()) {
      if (is_wsp(s.back())) {
        s.pop_back();
      } else if (s.size() >= 5 && iequals(std::string_view(s).substr(s.size() - 5), "(fwd)")) {
        s.resize(s.size() - 5);
        rf = true;
      } else {
        break;
      }
    }
    // (3)-(5) leaders and blobs, until neither applies.
    for (bool changed = true; changed;) {
      changed = false;
      bool refwd = false;
      if (size_t n = leader_len(s, &refwd); n > 0) {
        s.erase(0, n);
        rf = rf || refwd;
        changed = true;
      }
      // (4) a leading subj-blob goes when something non-blank remains after it.
      if (size_t e = blob_end(s, 0); e != std::string_view::npos && has_non_wsp(std::string_view(s).substr(e))) {
        s.erase(0, e);
        changed = true;
      }
    }
    // (6) subj-fwd = "[fwd:" subject "]": unwrap and start again at (2).
    if (s.size() >= 6 && istarts_with(s, "[fwd:") && s.back() == ']') {
      s = s.substr(5, s.size() - 6);
      rf = true;
      continue;
    }
    break;
  }
  if (reply_or_forward) *reply_or_forward = rf;
  return s;
}

std::optional<int64_t> parse_rfc5322_date(std::string_view value) {
  // Comments (CFWS) dropped, then tokens split at spaces and commas.
  std::string v;
  int depth = 0;
  for (char c : value) {
    if (c == '(') ++depth;
    else if (c == ')' && depth > 0) --depth;
    else if (depth == 0) v += (c == ',' || c == '\t' || c == '\r' || c == '\n') ? ' ' : c;
  }
  std::vector<std::string_view> t;
  std::string_view rest(v);
  while (!rest.empty()) {
    size_t b = rest.find_first_not_of(' ');
    if (b == std::string_view::npos) break;
    rest.remove_prefix(b);
    size_t e = rest.find(' ');
    t.push_back(rest.substr(0, e));
    rest.remove_prefix(e == std::string_view::npos ? rest.size() : e);
  }
  size_t i = 0;
  if (i < t.size() && !all_digits(t[i])) ++i;  // day-name
  if (t.size() < i + 4) return std::nullopt;
  if (!all_digits(t[i]) || t[i].size() > 2) return std::nullopt;
  DateTime dt;
  dt.date.day = to_int(t[i]);
  dt.date.month = month_number(t[i + 1]);
  if (!all_digits(t[i + 2]) || t[i + 2].size() > 4) return std::nullopt;
  dt.date.year = to_int(t[i + 2]);
  // RFC 5322 §4.3: two-digit years below 50 are 20xx, others (and three digits) 19xx.
  if (t[i + 2].size() == 2) dt.date.year += dt.date.year < 50 ? 2000 : 1900;
  else if (t[i + 2].size() == 3) dt.date.year += 1900;
  if (dt.date.month == 0 || dt.date.day < 1 || dt.date.day > 31) return std::nullopt;
  std::string_view hms = t[i + 3];
  std::vector<std::string_view> parts;
  for (size_t p = 0;;) {
    size_t c = hms.find(':', p);
    parts.push_back(hms.substr(p, c == std::string_view::npos ? std::string_view::npos : c - p));
    if (c == std::string_view::npos) break;
    p = c + 1;
  }
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  for (auto p : parts)
    if (!all_digits(p) || p.size() > 2) return std::nullopt;
  dt.hour = to_int(parts[0]);
  dt.minute = to_int(parts[1]);
  dt.second = parts.size() == 3 ? to_int(parts[2]) : 0;
  if (dt.hour > 23 || dt.minute > 59 || dt.second > 60) return std::nullopt;
  if (i + 4 < t.size()) {
    auto z = zone_minutes(t[i + 4]);
    if (!z) return std::nullopt;
    dt.zone_minutes = *z;
  }
  return dt.to_unix();
}

MessageKeys make_keys(uint32_t seq, uint32_t uid, uint64_t size, int64_t internal_date,
                      const EnvelopeKeys& env, const std::optional<std::string>& references_field) {
  MessageKeys k;
  k.seq = seq;
  k.uid = uid;
  k.size = size;
  k.internal_date = internal_date;
  // RFC 5256 §2.2: the sent date, else the internal date.
  k.sent_date = internal_date;
  if (env.date)
    if (auto d = parse_rfc5322_date(*env.date)) k.sent_date = *d;
  k.subject = casemap(base_subject(env.subject.value_or(""), &k.reply_or_forward));
  // RFC 5256 §3: addr-mailbox of the first address (groups' markers skipped).
  auto first = [](const std::vector<EnvelopeKeys::Addr>& v) -> const EnvelopeKeys::Addr* {
    for (const auto& a : v)
      if (a.host) return &a;
    return nullptr;
  };
  auto mailbox = [&](const std::vector<EnvelopeKeys::Addr>& v) {
    const auto* a = first(v);
    return a && a->mailbox ? casemap(*a->mailbox) : std::string();
  };
  // RFC 5957 §3: the decoded display name, else the addr-spec.
  auto display = [&](const std::vector<EnvelopeKeys::Addr>& v) {
    const auto* a = first(v);
    if (!a) return std::string();
    if (a->name) {
      std::string n = mime::decode_header_value(*a->name);
      if (has_non_wsp(n)) return casemap(n);
    }
    return casemap(a->mailbox.value_or("") + "@" + a->host.value_or(""));
  };
  k.from = mailbox(env.from);
  k.to = mailbox(env.to);
  k.cc = mailbox(env.cc);
  k.display_from = display(env.from);
  k.display_to = display(env.to);
  if (env.message_id) {
    auto ids = message_ids(*env.message_id);
    if (!ids.empty()) k.message_id = ids.front();
  }
  // RFC 5256 §4 REFERENCES (1): References, else the first msg-id of In-Reply-To.
  if (references_field) k.references = message_ids(*references_field);
  if (k.references.empty() && env.in_reply_to) {
    auto ids = message_ids(*env.in_reply_to);
    if (!ids.empty()) k.references.push_back(ids.front());
  }
  return k;
}

}  // namespace tern::imapd
