// authn/ip.h: the client IP address as the checks need it (parse, CIDR match, reverse names).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tern::authn {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // v4 uses the first 4

  // Textual IPv4 or IPv6 (an IPv4-mapped IPv6 address "::ffff:a.b.c.d" becomes IPv4:
  // RFC 7208 §5 treats the client as the IPv4 host it is).
  static std::optional<IpAddress> parse(std::string_view text);
  // "192.0.2.0/24", "2001:db8::/32" or a bare address (a full-length prefix).
  static std::optional<std::pair<IpAddress, int>> parse_prefix(std::string_view text);
  std::string str() const;
  // True when the first `prefix` bits equal those of `network` (same family only).
  bool in(const IpAddress& network, int prefix) const;
  // "4.3.2.1.in-addr.arpa" / nibbles ".ip6.arpa" (RFC 1035 §3.5, RFC 3596 §2.5).
  std::string reverse_name() const;
  // RFC 7208 §7.3 %{i}: dotted quad, or 32 dot-separated nibbles for IPv6.
  std::string spf_dotted() const;
  bool operator==(const IpAddress&) const = default;
};

}  // namespace tern::authn
