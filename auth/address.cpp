// Canonical forms of domains and addresses (see the notes in auth/auth.h).
#include <string>

#include "auth/auth.h"
#include "common/strings.h"

namespace tern::auth {

std::optional<std::string> canonical_domain(std::string_view domain) {
  // RFC 1035 §2.3.4 / RFC 5321 §4.5.3.1.2: at most 255 octets; labels 1-63 LDH characters.
  if (domain.empty() || domain.size() > 253) return std::nullopt;
  std::string out = ascii_lower(domain);
  for (std::string_view label : split(out, '.')) {
    if (label.empty() || label.size() > 63) return std::nullopt;
    if (label.front() == '-' || label.back() == '-') return std::nullopt;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return std::nullopt;
  }
  return out;
}

std::optional<std::string> canonical_address(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  std::string_view local = address.substr(0, at);
  // RFC 5321 §4.5.3.1.1: the local part is at most 64 octets.
  if (local.size() > 64) return std::nullopt;
  for (char ch : local) {
    auto c = static_cast<unsigned char>(ch);
    // Dot-atom text only (RFC 5322 §3.2.3 atext plus '.'), or UTF-8 (RFC 6531): no quoted
    // local parts, so the canonical form needs no quoting rules.
    if (c < 0x21 || c == 0x7f) return std::nullopt;
    if (std::string_view("\"(),:;<>@[\\]").find(ch) != std::string_view::npos) return std::nullopt;
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
    return std::nullopt;
  auto domain = canonical_domain(address.substr(at + 1));
  if (!domain) return std::nullopt;
  return ascii_lower(local) + "@" + *domain;
}

}  // namespace tern::auth
