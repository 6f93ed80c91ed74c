// parse_record_answer: raw DNS answer bytes (RFC 1035 §4.1) -> dns::Answer for one RRset.
// Pure, bounded and fuzzed: name compression pointers may only point backwards and at most
// 32 of them are followed per name; every length is checked against the buffer.
#include <arpa/inet.h>

#include <algorithm>

#include "dns/dns.h"

namespace tern::dns {

namespace {

constexpr uint16_t kClassIn = 1;
constexpr uint16_t kTypeSoa = 6;
constexpr uint32_t kMaxTtl = 0x7fffffff;  // RFC 2181 §8: TTLs are 31-bit

struct Reader {
  std::string_view buf;
  size_t pos = 0;
  bool ok = true;

  uint16_t u16() {
    if (pos + 2 > buf.size()) { ok = false; return 0; }
    uint16_t v = static_cast<uint16_t>((static_cast<uint8_t>(buf[pos]) << 8) | static_cast<uint8_t>(buf[pos + 1]));
    pos += 2;
    return v;
  }
  uint32_t u32() {
    uint32_t hi = u16();
    return (hi << 16) | u16();
  }
};

// RFC 1035 §4.1.4: a name of labels, possibly ending in a pointer to an earlier name.
bool read_name(std::string_view buf, size_t& pos, std::string& out) {
  out.clear();
  size_t p = pos;
  bool jumped = false;
  int jumps = 0;
  while (true) {
    if (p >= buf.size()) return false;
    auto len = static_cast<uint8_t>(buf[p]);
    if ((len & 0xc0) == 0xc0) {
      if (p + 1 >= buf.size() || ++jumps > 32) return false;
      size_t target = (static_cast<size_t>(len & 0x3f) << 8) | static_cast<uint8_t>(buf[p + 1]);
      if (target >= p) return false;  // only backwards: no loops
      if (!jumped) pos = p + 2;
      jumped = true;
      p = target;
      continue;
    }
    if (len & 0xc0) return false;  // extended label types are not used in answers
    if (len == 0) {
      if (!jumped) pos = p + 1;
      return true;
    }
    if (p + 1 + len > buf.size() || out.size() + len + 1 > 255) return false;
    if (!out.empty()) out += '.';
    out.append(buf.substr(p + 1, len));
    p += 1 + len;
  }
}

std::string lower(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

Answer parse_record_answer(std::string_view raw, RrType type) {
  Answer a;
  Reader r{raw};
  r.u16();  // id
  uint16_t flags = r.u16();
  uint16_t qd = r.u16(), an = r.u16(), ns = r.u16();
  r.u16();  // additional
  if (!r.ok) {
    a.detail = "truncated DNS header";
    return a;
  }
  unsigned rcode = flags & 0xf;
  if (rcode != 0 && rcode != 3) {
    a.detail = "DNS rcode " + std::to_string(rcode);
    return a;  // temperror: SERVFAIL, REFUSED, ...
  }
  std::string name;
  for (unsigned i = 0; i < qd; ++i) {
    if (!read_name(raw, r.pos, name)) {
      a.detail = "malformed question";
      return a;
    }
    r.u16();
    r.u16();
  }
  uint32_t ttl = kMaxTtl;
  bool any = false;
  std::optional<uint32_t> negative_ttl;
  for (unsigned i = 0; i < static_cast<unsigned>(an) + ns && r.ok; ++i) {
    bool answer_section = i < an;
    if (!read_name(raw, r.pos, name)) {
      a.detail = "malformed owner name";
      return a;
    }
    uint16_t rtype = r.u16(), rclass = r.u16();
    uint32_t rttl = std::min(r.u32(), kMaxTtl);
    uint16_t rdlen = r.u16();
    if (!r.ok || r.pos + rdlen > raw.size()) {
      a.detail = "truncated record";
      return a;
    }
    size_t rd = r.pos;
    r.pos += rdlen;
    if (rclass != kClassIn) continue;
    if (!answer_section) {
      // RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM).
      if (rtype == kTypeSoa && rdlen >= 20) {
        Reader m{raw, rd + rdlen - 4};
        negative_ttl = std::min(rttl, std::min(m.u32(), kMaxTtl));
      }
      continue;
    }
    if (rtype != static_cast<uint16_t>(type)) continue;  // CNAMEs of the chain, others
    std::string_view data = raw.substr(rd, rdlen);
    char text[INET6_ADDRSTRLEN] = {};
    switch (type) {
      case RrType::a:
        if (rdlen != 4 || !inet_ntop(AF_INET, data.data(), text, sizeof text)) continue;
        a.records.emplace_back(text);
        break;
      case RrType::aaaa:
        if (rdlen != 16 || !inet_ntop(AF_INET6, data.data(), text, sizeof text)) continue;
        a.records.emplace_back(text);
        break;
      case RrType::txt: {
        // RFC 1035 §3.3.14: one or more <character-string>s, joined without separators.
        std::string joined;
        size_t p = 0;
        bool good = true;
        while (p < data.size()) {
          size_t len = static_cast<uint8_t>(data[p]);
          if (p + 1 + len > data.size()) { good = false; break; }
          joined.append(data.substr(p + 1, len));
          p += 1 + len;
        }
        if (!good) {
          a.detail = "malformed TXT record";
          return a;
        }
        a.records.push_back(std::move(joined));
        break;
      }
      case RrType::mx: {
        Reader m{raw, rd};
        uint16_t pref = m.u16();
        size_t npos = m.pos;
        if (!m.ok || !read_name(raw, npos, name) || npos > rd + rdlen) {
          a.detail = "malformed MX record";
          return a;
        }
        a.mx.push_back({pref, lower(name)});
        break;
      }
      case RrType::srv: {
        // RFC 2782: priority, weight, port, then the target name (never compressed there,
        // but read_name accepts either).
        Reader m{raw, rd};
        uint16_t priority = m.u16(), weight = m.u16(), port = m.u16();
        size_t npos = m.pos;
        if (!m.ok || m.pos > rd + rdlen || !read_name(raw, npos, name) || npos > rd + rdlen) {
          a.detail = "malformed SRV record";
          return a;
        }
        a.srv.push_back({priority, weight, port, lower(name)});
        break;
      }
      case RrType::ptr: {
        size_t npos = rd;
        if (!read_name(raw, npos, name) || npos > rd + rdlen) {
          a.detail = "malformed PTR record";
          return a;
        }
        a.records.push_back(lower(name));
        break;
      }
    }
    any = true;
    ttl = std::min(ttl, rttl);
  }
  if (!r.ok) {
    a.detail = "truncated answer";
    return a;
  }
  if (rcode == 3) {
    a.rcode = Rcode::nxdomain;
    a.ttl = negative_ttl.value_or(0);
    return a;
  }
  if (!any) {
    a.rcode = Rcode::nodata;
    a.ttl = negative_ttl.value_or(0);
    return a;
  }
  a.rcode = Rcode::ok;
  a.ttl = ttl;
  return a;
}

}  // namespace tern::dns
