#include "authn/tag_list.h"

#include <set>

namespace tern::authn {

namespace {

bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim_fws(std::string_view s) {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::vector<Tag>> parse_tag_list(std::string_view text) {
  std::vector<Tag> tags;
  std::set<std::string> seen;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t semi = text.find(';', pos);
    std::string_view spec = text.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    bool last = semi == std::string_view::npos;
    pos = last ? text.size() + 1 : semi + 1;
    // RFC 6376 §3.2: tag-list = tag-spec *( ";" tag-spec ) [ ";" ]: only the very end may
    // be empty (a trailing ";").
    if (trim_fws(spec).empty()) {
      if (last && !tags.empty()) break;
      if (last && tags.empty() && trim_fws(text).empty()) break;
      return make_error(Errc::syntax, "empty tag");
    }
    size_t eq = spec.find('=');
    if (eq == std::string_view::npos) return make_error(Errc::syntax, "tag without '='");
    std::string_view name = trim_fws(spec.substr(0, eq));
    // tag-name = ALPHA *ALNUMPUNC
    if (name.empty() || !is_alpha(name[0])) return make_error(Errc::syntax, "bad tag name");
    for (char c : name) {
      if (!is_alpha(c) && !is_digit(c) && c != '_') return make_error(Errc::syntax, "bad tag name");
    }
    std::string_view value = trim_fws(spec.substr(eq + 1));
    for (char c : value) {
      // VALCHAR = %x21-3A / %x3C-7E, plus FWS between tvals.
      auto u = static_cast<unsigned char>(c);
      if (!is_fws(c) && (u < 0x21 || u > 0x7e)) return make_error(Errc::syntax, "bad character in tag value");
    }
    if (!seen.insert(std::string(name)).second) {
      // RFC 6376 §3.2: tags with duplicate names MUST NOT occur (the whole list is invalid).
      return make_error(Errc::syntax, "duplicate tag " + std::string(name));
    }
    tags.push_back({std::string(name), std::string(value)});
    if (last) break;
  }
  return tags;
}

std::string strip_fws(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (!is_fws(c)) out += c;
  }
  return out;
}

}  // namespace tern::authn
