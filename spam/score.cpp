// The score, the verdict and the X-Spam-* header fields (see spam/spam.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/strings.h"
#include "spam/spam.h"

namespace tern::spam {

namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", std::round(v * 10) / 10 + 0.0);  // + 0.0: no "-0.0"
  return buf;
}

bool is_spam_field(std::string_view name) {
  return iequals(name, "X-Spam-Score") || iequals(name, "X-Spam-Status") ||
         iequals(name, "X-Spam-Report");
}

// The header block's fields as (name, whole field bytes including folds and CRLF). Stops at
// the empty line (or the end).
struct RawField {
  std::string_view name, value;  // value: after the colon, folds kept, final CRLF dropped
  size_t start = 0, end = 0;
};

std::vector<RawField> raw_fields(std::string_view m) {
  std::vector<RawField> out;
  size_t pos = 0;
  while (pos < m.size()) {
    if (m.substr(pos, 2) == "\r\n" || m[pos] == '\n') break;  // the end of the header block
    size_t end = pos;
    while (true) {
      size_t eol = m.find('\n', end);
      if (eol == std::string_view::npos) {
        end = m.size();
        break;
      }
      end = eol + 1;
      if (end >= m.size() || (m[end] != ' ' && m[end] != '\t')) break;
    }
    std::string_view field = m.substr(pos, end - pos);
    size_t colon = field.find(':');
    RawField f;
    f.start = pos;
    f.end = end;
    if (colon != std::string_view::npos) {
      f.name = field.substr(0, colon);
      std::string_view v = field.substr(colon + 1);
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
      f.value = v;
    }
    out.push_back(f);
    pos = end;
  }
  return out;
}

std::string unfold(std::string_view v) {
  std::string out;
  for (char c : v)
    if (c != '\r' && c != '\n') out += c == '\t' ? ' ' : c;
  return std::string(trim(out));
}

// RFC 5322 §2.1.1: a line stays far below 998 characters, so a detail is cut at this.
constexpr size_t kMaxDetail = 200;

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text.substr(0, kMaxDetail)) {
    if (c < 0x20 || c == 0x7f) continue;  // no line breaks or controls in a header
    if (c == '"' || c == '\\') out += '\\';
    // 8-bit bytes would need SMTPUTF8 (RFC 6532) from every later hop: ASCII only.
    out += c < 0x80 ? static_cast<char>(c) : '?';
  }
  out += '"';
  return out;
}

}  // namespace

std::optional<double> parse_threshold(const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= -1000 && v <= 1000000)) return std::nullopt;
  return v;
}

Thresholds with_overrides(Thresholds t, const std::map<std::string, std::string>& settings) {
  if (auto it = settings.find(kUserJunkThreshold); it != settings.end())
    if (auto v = parse_threshold(it->second)) t.junk = *v;
  if (auto it = settings.find(kUserRejectThreshold); it != settings.end())
    if (auto v = parse_threshold(it->second)) t.reject = *v;
  return t;
}

void Score::add(Contribution c) {
  total += c.score;
  contributions.push_back(std::move(c));
}

void Score::add(const std::vector<Contribution>& cs) {
  for (const auto& c : cs) add(c);
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::inbox: return "inbox";
    case Verdict::junk: return "junk";
    case Verdict::reject: return "reject";
  }
  return "inbox";
}

Verdict decide(double total, const Thresholds& t) {
  if (total >= t.reject) return Verdict::reject;
  if (total >= t.junk) return Verdict::junk;
  return Verdict::inbox;
}

std::string render_headers(const Score& score, const Thresholds& t, Verdict v) {
  const bool spam = v != Verdict::inbox;
  std::string out = "X-Spam-Score: " + number(score.total) + "\r\n";
  out += "X-Spam-Status: " + std::string(spam ? "Yes" : "No") + ", score=" + number(score.total) +
         " junk=" + number(t.junk) + " reject=" + number(t.reject) + " verdict=" + to_string(v);
  // The largest contributions first: what a reader of the header wants to see.
  auto sorted = score.contributions;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return std::fabs(a.score) > std::fabs(b.score);
  });
  out += "\r\n\ttests=";
  if (sorted.empty()) out += "none";
  for (size_t i = 0; i < sorted.size(); ++i)
    out += (i ? "," : "") + sorted[i].rule + ":" + number(sorted[i].score);
  out += "\r\n";
  if (!sorted.empty()) {
    out += "X-Spam-Report:";
    for (size_t i = 0; i < sorted.size(); ++i)
      out += std::string(i ? "\r\n\t" : " ") + sorted[i].rule + " " + number(sorted[i].score) +
             " " + quoted(sorted[i].detail);
    out += "\r\n";
  }
  return out;
}

Result<Explanation> parse_headers(std::string_view message) {
  std::optional<std::string> status, report;
  for (const auto& f : raw_fields(message)) {
    if (!status && iequals(f.name, "X-Spam-Status")) status = unfold(f.value);
    if (!report && iequals(f.name, "X-Spam-Report")) report = std::string(f.value);
  }
  if (!status) return make_error(Errc::not_found, "no X-Spam-Status field in this message");
  Explanation e;
  std::string_view s = *status;
  size_t comma = s.find(',');
  e.status = std::string(trim(s.substr(0, comma)));
  std::string tests;
  for (std::string_view word : split(comma == std::string_view::npos ? "" : s.substr(comma + 1), ' ')) {
    size_t eq = word.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(word.substr(0, eq)), value(word.substr(eq + 1));
    if (key == "score") e.total = std::strtod(value.c_str(), nullptr);
    else if (key == "junk") e.thresholds.junk = std::strtod(value.c_str(), nullptr);
    else if (key == "reject") e.thresholds.reject = std::strtod(value.c_str(), nullptr);
    else if (key == "verdict") e.verdict = value;
    else if (key == "tests") tests = value;
  }
  if (report) {
    // One contribution a line: RULE SCORE "detail".
    std::string text(*report);
    for (std::string_view line : split(text, '\n')) {
      std::string_view l = trim(line);
      size_t sp1 = l.find(' ');
      if (sp1 == std::string_view::npos) continue;
      size_t sp2 = l.find(' ', sp1 + 1);
      Contribution c;
      c.rule = std::string(l.substr(0, sp1));
      c.score = std::strtod(std::string(l.substr(sp1 + 1, sp2 - sp1 - 1)).c_str(), nullptr);
      if (sp2 != std::string_view::npos) {
        std::string_view q = trim(l.substr(sp2 + 1));
        if (q.size() >= 2 && q.front() == '"') q = q.substr(1, q.size() - 2);
        for (size_t i = 0; i < q.size(); ++i) {
          if (q[i] == '\\' && i + 1 < q.size()) ++i;
          c.detail += q[i];
        }
      }
      e.contributions.push_back(std::move(c));
    }
  } else if (tests != "none") {
    for (std::string_view t : split(tests, ',')) {
      size_t colon = t.rfind(':');
      if (colon == std::string_view::npos) continue;
      e.contributions.push_back({std::string(t.substr(0, colon)),
                                 std::strtod(std::string(t.substr(colon + 1)).c_str(), nullptr), ""});
    }
  }
  return e;
}

std::string format_explanation(const Explanation& e) {
  std::string out = "spam: " + e.status + ", score " + number(e.total) + " (junk at " +
                    number(e.thresholds.junk) + ", reject at " + number(e.thresholds.reject) +
                    ")" + (e.verdict.empty() ? "" : ", verdict " + e.verdict) + "\n";
  if (e.contributions.empty()) out += "  no rule matched\n";
  for (const auto& c : e.contributions) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%7s  ", number(c.score).c_str());
    out += "  " + std::string(buf) + c.rule + (c.detail.empty() ? "" : "  " + c.detail) + "\n";
  }
  return out;
}

std::string strip_headers(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  size_t copied = 0;
  for (const auto& f : raw_fields(message)) {
    if (!is_spam_field(f.name)) continue;
    out.append(message.substr(copied, f.start - copied));
    copied = f.end;
  }
  if (copied == 0) return std::string(message);
  out.append(message.substr(copied));
  return out;
}

}  // namespace tern::spam
