// dns/records.h: the record-level lookup interface that sender authentication (authn/) needs:
// TXT, A, AAAA, MX, PTR and SRV questions, each ending in one of four result codes with a TTL.
//
// Header-only on purpose: authn/ uses only this interface (it never links c-ares), and a
// c-ares implementation in dns/ (with the shared TTL cache, see dns.h) can implement it
// without a dependency cycle. The types are plain values; an implementation calls the
// callback exactly once, either synchronously from lookup() (fakes) or later on its loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tern::dns {

enum class RrType : uint16_t { a = 1, ptr = 12, mx = 15, txt = 16, aaaa = 28, srv = 33 };

inline const char* to_string(RrType t) {
  switch (t) {
    case RrType::a: return "A";
    case RrType::ptr: return "PTR";
    case RrType::mx: return "MX";
    case RrType::txt: return "TXT";
    case RrType::aaaa: return "AAAA";
    case RrType::srv: return "SRV";
  }
  return "?";
}

// RFC 2308 §1: NXDOMAIN (the name does not exist) and NODATA (the name exists, with no
// record of this type) are both negative answers that a cache may keep; every other failure
// (SERVFAIL, REFUSED, timeout, malformed answer) is temperror and is never cached for long.
enum class Rcode { ok, nxdomain, nodata, temperror };

inline const char* to_string(Rcode r) {
  switch (r) {
    case Rcode::ok: return "ok";
    case Rcode::nxdomain: return "nxdomain";
    case Rcode::nodata: return "nodata";
    case Rcode::temperror: return "temperror";
  }
  return "?";
}

struct Question {
  std::string name;  // lower-case, no trailing dot
  RrType type = RrType::a;
  bool operator==(const Question&) const = default;
  auto operator<=>(const Question&) const = default;
};

struct MxAnswer {
  uint16_t preference = 0;
  std::string exchange;  // lower-case, no trailing dot
  bool operator==(const MxAnswer&) const = default;
};

// RFC 2782: where a service runs. Target "" is the root ("."): the service is not offered.
struct SrvAnswer {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string target;  // lower-case, no trailing dot
  bool operator==(const SrvAnswer&) const = default;
};

struct Answer {
  Rcode rcode = Rcode::temperror;
  // ok only: A/AAAA -> textual addresses; PTR -> names (lower-case, no trailing dot);
  // TXT -> one string per record, its character-strings concatenated without separators
  // (RFC 7208 §3.3, RFC 6376 §3.6.2.2, RFC 7489 §6.6.3 all read TXT records that way).
  std::vector<std::string> records;
  std::vector<MxAnswer> mx;  // MX only, in answer order
  std::vector<SrvAnswer> srv;  // SRV only, in answer order
  // Seconds this answer may be reused: the smallest TTL of the RRset, or for negative
  // answers min(SOA TTL, SOA MINIMUM) (RFC 2308 §5). 0 for temperror.
  uint32_t ttl = 0;
  std::string detail;  // human-readable reason for failures (logs only)
};

using AnswerCallback = std::function<void(Answer)>;

class RecordResolver {
 public:
  virtual ~RecordResolver() = default;
  // Looks up one RRset. The callback is called exactly once (see the header note above).
  virtual void lookup(const Question& question, AnswerCallback cb) = 0;
};

}  // namespace tern::dns
