// POP3 unique-id formats (see pop3d/uidl_format.h).
#include "pop3d/uidl_format.h"

#include <algorithm>
#include <cstdio>

namespace tern::pop3d {

Result<UidlFormat> UidlFormat::parse(std::string_view text) {
  UidlFormat f;
  bool has_uid = false;
  size_t longest = 0;  // the longest id this format can make
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '%') {
      // RFC 1939 §7: the unique-id is made of characters 0x21 to 0x7E.
      if (c < 0x21 || c > 0x7e) return make_error(Errc::syntax, "characters 0x21-0x7E only (RFC 1939 §7)");
      if (f.parts_.empty() || f.parts_.back().var) f.parts_.push_back({});
      f.parts_.back().text += c;
      ++longest;
      continue;
    }
    if (++i >= text.size()) return make_error(Errc::syntax, "a lone % at the end");
    if (text[i] == '%') {
      if (f.parts_.empty() || f.parts_.back().var) f.parts_.push_back({});
      f.parts_.back().text += '%';
      ++longest;
      continue;
    }
    Part p;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && p.width < 100)
      p.width = p.width * 10 + (text[i++] - '0');
    if (i < text.size() && (text[i] == 'X' || text[i] == 'x')) {
      p.base = 'x';
      ++i;
    }
    if (i >= text.size() || (text[i] != 'u' && text[i] != 'v'))
      return make_error(Errc::syntax, "unknown variable at \"" + std::string(text.substr(text.rfind('%', i))) +
                                          "\" (known: %u the UID, %v the UIDVALIDITY)");
    p.var = text[i];
    has_uid |= p.var == 'u';
    // A 32-bit number: 10 decimal digits, 8 hex digits, or the width if wider.
    longest += std::max<size_t>(static_cast<size_t>(p.width), p.base == 'd' ? 10 : 8);
    f.parts_.push_back(p);
  }
  if (!has_uid) return make_error(Errc::syntax, "must contain %u: each message needs its own unique-id");
  if (longest > 70) return make_error(Errc::syntax, "the unique-id could exceed 70 characters (RFC 1939 §7)");
  return f;
}

std::string UidlFormat::format(uint32_t uidvalidity, uint32_t uid) const {
  std::string out;
  for (const auto& p : parts_) {
    if (!p.var) {
      out += p.text;
      continue;
    }
    // Dovecot's X modifier writes lower-case hex (its real POP3 server shows "6b157ee8"
    // for %Xv; test_dovecot_migration compares against it).
    const char* spec = p.base == 'd' ? "%0*u" : "%0*x";
    char buf[128];
    std::snprintf(buf, sizeof buf, spec, p.width, static_cast<unsigned>(p.var == 'u' ? uid : uidvalidity));
    out += buf;
  }
  return out;
}

}  // namespace tern::pop3d
