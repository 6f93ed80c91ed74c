#include "authn/ip.h"

#include <arpa/inet.h>

#include <cstring>

#include "common/codec.h"

namespace tern::authn {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) return ip;
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.bytes.data(), mapped, 12) == 0) {
      std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
      std::memset(ip.bytes.data() + 4, 0, 12);
      return ip;
    }
    ip.v6 = true;
    return ip;
  }
  return std::nullopt;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<std::pair<IpAddress, int>> IpAddress::parse_prefix(std::string_view text) {
  size_t slash = text.find('/');
  auto ip = parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int bits = ip->v6 ? 128 : 32;
  if (slash != std::string_view::npos) {
    std::string_view n = text.substr(slash + 1);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    bits = std::stoi(std::string(n));
    if (bits > (ip->v6 ? 128 : 32)) return std::nullopt;
  }
  return std::pair{*ip, bits};
}

bool IpAddress::in(const IpAddress& network, int prefix) const {
  if (v6 != network.v6 || prefix < 0 || prefix > (v6 ? 128 : 32)) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(bytes.data(), network.bytes.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (bytes[full] & mask) == (network.bytes[full] & mask);
}

std::string IpAddress::reverse_name() const {
  std::string out;
  if (!v6) {
    for (int i = 3; i >= 0; --i) out += std::to_string(bytes[i]) + ".";
    return out + "in-addr.arpa";
  }
  // RFC 3596 §2.5: one label per nibble, least significant first.
  std::string nibbles = hex_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), 16));
  for (auto it = nibbles.rbegin(); it != nibbles.rend(); ++it) {
    out += *it;
    out += '.';
  }
  return out + "ip6.arpa";
}

std::string IpAddress::spf_dotted() const {
  if (!v6) return str();
  // RFC 7208 §7.3: "i" of an IPv6 address is its nibbles in order, dot-separated.
  std::string out;
  for (char nibble : hex_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), 16))) {
    if (!out.empty()) out += '.';
    out += nibble;
  }
  return out;
}

}  // namespace tern::authn
