// dns: the DNS lookups outbound relay needs (MX, A, AAAA), behind a small interface, and the
// record-level lookups of sender authentication (authn/) behind another (dns/records.h).
//
// What it owns:
//   - `Resolver`, the abstract asynchronous interface relay/ talks to;
//   - `RecordResolver` (dns/records.h): TXT/A/AAAA/MX/PTR RRsets with ok / nxdomain / nodata /
//     temperror and TTLs, the interface authn/ talks to;
//   - `CaresResolver`, the real one for both: c-ares driven from a libuv loop (socket-state
//     callbacks start/stop a uv_poll_t per c-ares socket, one uv_timer_t follows ares_timeout());
//   - `CachingResolver`: a bounded TTL cache in front of any RecordResolver (positive and
//     negative answers per RFC 2308, LRU past max_entries) that also joins identical lookups
//     in flight into one upstream query;
//   - `FakeResolver` (test-only, named as such): answers from a table, no network;
//   - pure helpers: `parse_mx_answer` (raw DNS answer bytes -> MX records, fuzzed),
//     `parse_record_answer` (raw answer -> one RRset as a dns::Answer, fuzzed) and
//     `order_mx` (null MX detection, implicit MX, preference sort with shuffled ties).
//
// Result taxonomy (RFC 5321 §5.1, RFC 7505): every lookup ends in exactly one DnsStatus:
//   ok         -> records found (for MX: possibly the implicit MX, the domain itself);
//   not_found  -> NXDOMAIN, or no usable records: a permanent failure for the recipient;
//   null_mx    -> the domain says it accepts no mail (RFC 7505): permanent, distinct reason;
//   temporary  -> SERVFAIL, timeout, refused, malformed answer: try again later.
//
// Threading contract: a CaresResolver belongs to one uv loop and must be created, used and
// destroyed on that loop's thread. Callbacks are always invoked on the loop thread, and never
// from inside the lookup_* call that started the lookup (immediate errors are deferred to the
// next loop iteration). Destroying the resolver cancels outstanding lookups WITHOUT invoking
// their callbacks; the caller must let the loop run afterwards (uv_run) so that the libuv
// handles it closed are released.
//
// FakeResolver invokes callbacks synchronously from lookup_* (tests want that); relay code must
// not rely on either behaviour beyond "the callback is called exactly once".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/result.h"
#include "dns/records.h"

struct uv_loop_s;

namespace tern::dns {

enum class DnsStatus { ok, not_found, null_mx, temporary };
const char* to_string(DnsStatus status);

struct MxRecord {
  uint16_t preference = 0;
  std::string exchange;  // lower-case, no trailing dot ("" only for the RFC 7505 null MX)
  bool operator==(const MxRecord&) const = default;
};

struct MxResult {
  DnsStatus status = DnsStatus::temporary;
  std::vector<MxRecord> hosts;  // ordered: try hosts[0] first
  bool implicit = false;        // true when hosts is the domain itself (no MX records)
  std::string detail;           // human-readable reason for failures, for logs and DSNs
};

struct AddressResult {
  DnsStatus status = DnsStatus::temporary;
  std::vector<std::string> ipv4;  // textual addresses, in answer order
  std::vector<std::string> ipv6;
  std::string detail;
};

using MxCallback = std::function<void(MxResult)>;
using AddressCallback = std::function<void(AddressResult)>;

// Uniform random integer in [0, bound); bound >= 1. Injected so ordering is testable.
using RandomSource = std::function<uint32_t(uint32_t bound)>;
RandomSource default_random_source();  // libsodium randombytes_uniform

class Resolver {
 public:
  virtual ~Resolver() = default;
  // MX lookup for a mail domain, already ordered (see order_mx). The callback is called once.
  virtual void lookup_mx(const std::string& domain, MxCallback cb) = 0;
  // A and AAAA lookups for a host; ok when at least one address was found.
  virtual void lookup_addresses(const std::string& host, AddressCallback cb) = 0;
};

// ---- Pure helpers -------------------------------------------------------------------------

// Parsed content of one raw DNS answer to an MX query. `status` is ok with records (possibly
// empty: no MX records, NODATA) or temporary when the answer is malformed. The rcode is not
// examined here: the caller already knows NXDOMAIN/SERVFAIL from the transport.
struct ParsedMx {
  DnsStatus status = DnsStatus::temporary;
  std::vector<MxRecord> records;  // in answer order
  std::string detail;
};
ParsedMx parse_mx_answer(std::string_view answer);

// Turns the MX records of `domain` into an ordered MxResult:
//   - no records -> implicit MX: the domain itself, preference 0 (RFC 5321 §5.1);
//   - a single record with exchange "." (or "") -> null MX (RFC 7505 §3);
//   - null MX among other records -> the "." record is ignored (RFC 7505 §3 forbids mixing);
//   - sorted by preference, equal preferences shuffled with `random` (RFC 5321 §5.1).
MxResult order_mx(std::vector<MxRecord> records, std::string_view domain,
                  const RandomSource& random);

// Raw answer bytes to a query of `type` -> Answer: rcode 3 is nxdomain, NOERROR without records
// of that type is nodata, other rcodes and malformed bytes are temperror. TTL: the smallest of
// the RRset, or for negative answers min(SOA TTL, SOA MINIMUM) from the authority section
// (RFC 2308 §5), 0 when there is no SOA.
Answer parse_record_answer(std::string_view raw, RrType type);

// Lower-cases and strips one trailing dot; empty stays empty.
std::string normalize_name(std::string_view name);

// ---- c-ares resolver ----------------------------------------------------------------------

struct CaresOptions {
  std::vector<Endpoint> servers;  // empty: /etc/resolv.conf
  int timeout_ms = 5000;          // per try, per server
  int tries = 3;
  RandomSource random;            // empty: default_random_source()
};

class CaresResolver final : public Resolver, public RecordResolver {
 public:
  static Result<std::unique_ptr<CaresResolver>> create(uv_loop_s* loop, CaresOptions options);
  ~CaresResolver() override;
  CaresResolver(const CaresResolver&) = delete;
  CaresResolver& operator=(const CaresResolver&) = delete;

  void lookup_mx(const std::string& domain, MxCallback cb) override;
  void lookup_addresses(const std::string& host, AddressCallback cb) override;
  // RecordResolver: one RRset; the callback always runs later on the loop (never inside).
  void lookup(const Question& question, AnswerCallback cb) override;

  struct Impl;  // private; public only so the c-ares trampolines in dns_cares.cpp can see it

 private:
  explicit CaresResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- Cache --------------------------------------------------------------------------------

struct CacheOptions {
  size_t max_entries = 10000;         // LRU past this (each entry is one small RRset)
  uint32_t max_ttl = 86400;           // positive answers: min(TTL, this)
  // RFC 2308 §5: negative answers are cached for min(SOA TTL, SOA MINIMUM); capped here
  // (RFC 2308 §5 suggests one to three hours at most).
  uint32_t max_negative_ttl = 3600;
  uint32_t default_negative_ttl = 60; // a negative answer without SOA
  std::function<uint64_t()> now_ms;   // monotonic milliseconds (uv_now in ternd)
};

// A TTL cache in front of `upstream`, on one thread (the loop). Hits answer synchronously
// with the remaining TTL; temperror is never cached. Identical questions asked while one is
// in flight wait for that one answer. Destroying the cache drops waiting callbacks.
class CachingResolver final : public RecordResolver {
 public:
  CachingResolver(RecordResolver& upstream, CacheOptions options);
  ~CachingResolver() override;
  void lookup(const Question& question, AnswerCallback cb) override;

  struct Stats {
    uint64_t hits = 0, misses = 0, joined = 0, evictions = 0;
  };
  Stats stats() const;
  size_t size() const;

  struct State;  // private

 private:
  std::shared_ptr<State> state_;
};

// ---- Test-only fake -----------------------------------------------------------------------

// FakeResolver: a table-fed resolver for tests of relay logic. MX answers go through order_mx
// exactly like the real resolver, so sorting, shuffling, implicit and null MX behave the same.
class FakeResolver final : public Resolver {
 public:
  explicit FakeResolver(RandomSource random = {});

  void set_mx(const std::string& domain, std::vector<MxRecord> records);
  void set_addresses(const std::string& host, std::vector<std::string> ipv4,
                     std::vector<std::string> ipv6 = {});
  // Make every lookup of `name` end with this status (not_found = NXDOMAIN, temporary = SERVFAIL).
  void set_failure(const std::string& name, DnsStatus status);

  void lookup_mx(const std::string& domain, MxCallback cb) override;
  void lookup_addresses(const std::string& host, AddressCallback cb) override;

  int lookups() const { return lookups_; }

 private:
  RandomSource random_;
  std::map<std::string, std::vector<MxRecord>> mx_;
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> addrs_;
  std::map<std::string, DnsStatus> failures_;
  int lookups_ = 0;
};

}  // namespace tern::dns
