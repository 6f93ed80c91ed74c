// Reading an MTA-STS policy as a sending server would (see publish/publish.h).
#include "common/strings.h"
#include "publish/publish.h"

namespace tern::publish {

// RFC 8461 §3.2: "key: value" lines ending in CRLF (LF accepted, as senders do); unknown keys
// are ignored; version, mode and max_age are required, mx at least once unless mode is none.
Result<MtaStsPolicy> parse_mta_sts_policy(std::string_view text) {
  MtaStsPolicy p;
  bool have_age = false;
  for (auto raw : split(text, '\n')) {
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return make_error(Errc::syntax, "policy line without ':': " + std::string(line));
    std::string key = ascii_lower(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    if (key == "version") {
      p.version = value;
    } else if (key == "mode") {
      p.mode = value;
    } else if (key == "mx") {
      p.mx.push_back(ascii_lower(value));
    } else if (key == "max_age") {
      auto n = parse_u64(value);
      // §3.2: max_age is a plain integer of at most 10 digits, up to 31557600.
      if (!n || value.size() > 10 || *n > 31557600) return make_error(Errc::syntax, "bad max_age: " + value);
      p.max_age = static_cast<int64_t>(*n);
      have_age = true;
    }
  }
  if (p.version != "STSv1") return make_error(Errc::syntax, "version is not STSv1");
  if (p.mode != "enforce" && p.mode != "testing" && p.mode != "none")
    return make_error(Errc::syntax, "mode is not enforce, testing or none");
  if (!have_age) return make_error(Errc::syntax, "no max_age");
  if (p.mx.empty() && p.mode != "none") return make_error(Errc::syntax, "no mx line");
  return p;
}

// RFC 8461 §4.1: an mx pattern is a host name, or "*." and a suffix that stands for exactly
// one more (leftmost) label.
bool mta_sts_mx_matches(std::string_view pattern, std::string_view host) {
  std::string pat = ascii_lower(pattern), h = ascii_lower(host);
  if (!pat.starts_with("*.")) return pat == h;
  std::string_view suffix = std::string_view(pat).substr(1);  // ".example.net"
  if (h.size() <= suffix.size() || !h.ends_with(suffix)) return false;
  std::string_view label = std::string_view(h).substr(0, h.size() - suffix.size());
  return label.find('.') == std::string_view::npos;
}

// RFC 8461 §3.1: "v=STSv1; id=<1-32 alphanumerics>;" with optional further fields.
std::optional<std::string> mta_sts_record_id(std::string_view txt) {
  std::optional<std::string> id;
  bool first = true;
  for (auto field : split(txt, ';')) {
    field = trim(field);
    if (field.empty()) continue;
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view k = trim(field.substr(0, eq)), v = trim(field.substr(eq + 1));
    if (first) {
      if (k != "v" || v != "STSv1") return std::nullopt;
      first = false;
      continue;
    }
    if (k != "id") continue;
    if (v.empty() || v.size() > 32) return std::nullopt;
    for (char c : v)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return std::nullopt;
    id = std::string(v);
  }
  return id;
}

}  // namespace tern::publish
