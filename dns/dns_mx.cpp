// Pure MX helpers: answer parsing (c-ares parser, fuzzed) and RFC 5321 §5.1 ordering.
#include <ares.h>
#include <sodium.h>

#include <algorithm>
#include <climits>

#include "common/strings.h"
#include "dns/dns.h"

namespace tern::dns {

const char* to_string(DnsStatus status) {
  switch (status) {
    case DnsStatus::ok: return "ok";
    case DnsStatus::not_found: return "not_found";
    case DnsStatus::null_mx: return "null_mx";
    case DnsStatus::temporary: return "temporary";
  }
  return "unknown";
}

RandomSource default_random_source() {
  return [](uint32_t bound) -> uint32_t { return bound <= 1 ? 0 : randombytes_uniform(bound); };
}

std::string normalize_name(std::string_view name) {
  std::string out = ascii_lower(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

ParsedMx parse_mx_answer(std::string_view answer) {
  ParsedMx parsed;
  if (answer.size() > static_cast<size_t>(INT_MAX)) {
    parsed.detail = "DNS answer too large";
    return parsed;
  }
  ares_mx_reply* head = nullptr;
  int rc = ares_parse_mx_reply(reinterpret_cast<const unsigned char*>(answer.data()),
                               static_cast<int>(answer.size()), &head);
  if (rc == ARES_ENODATA) {
    // NOERROR without MX records (e.g. only a CNAME, or nothing): the implicit-MX case.
    parsed.status = DnsStatus::ok;
    return parsed;
  }
  if (rc != ARES_SUCCESS) {
    parsed.detail = std::string("malformed MX answer: ") + ares_strerror(rc);
    return parsed;
  }
  for (ares_mx_reply* r = head; r != nullptr; r = r->next) {
    parsed.records.push_back(MxRecord{r->priority, normalize_name(r->host ? r->host : "")});
  }
  ares_free_data(head);
  parsed.status = DnsStatus::ok;
  return parsed;
}

MxResult order_mx(std::vector<MxRecord> records, std::string_view domain,
                  const RandomSource& random) {
  MxResult result;
  for (auto& r : records) r.exchange = normalize_name(r.exchange);
  // RFC 7505 §3: a domain that accepts no mail publishes a single MX with preference 0 and
  // exchange "." (the root); such a domain MUST NOT be delivered to.
  if (records.size() == 1 && records[0].exchange.empty()) {
    result.status = DnsStatus::null_mx;
    result.detail = "domain " + std::string(domain) + " does not accept mail (null MX)";
    return result;
  }
  // RFC 7505 §3: null MX mixed with other records is a misconfiguration; the "." record can
  // never be connected to, so it is dropped and the others are used.
  std::erase_if(records, [](const MxRecord& r) { return r.exchange.empty(); });
  if (records.empty()) {
    // RFC 5321 §5.1: no MX records -> the domain itself is the implicit MX, preference 0.
    result.status = DnsStatus::ok;
    result.implicit = true;
    result.hosts.push_back(MxRecord{0, normalize_name(domain)});
    return result;
  }
  std::stable_sort(records.begin(), records.end(),
                   [](const MxRecord& a, const MxRecord& b) { return a.preference < b.preference; });
  // RFC 5321 §5.1: hosts of equal preference are tried in random order (load spreading).
  RandomSource rng = random ? random : default_random_source();
  for (size_t begin = 0; begin < records.size();) {
    size_t end = begin;
    while (end < records.size() && records[end].preference == records[begin].preference) ++end;
    // Fisher-Yates over [begin, end).
    for (size_t i = end - 1; i > begin; --i) {
      size_t j = begin + rng(static_cast<uint32_t>(i - begin + 1));
      std::swap(records[i], records[j]);
    }
    begin = end;
  }
  result.status = DnsStatus::ok;
  result.hosts = std::move(records);
  return result;
}

// ---- FakeResolver -------------------------------------------------------------------------

FakeResolver::FakeResolver(RandomSource random) : random_(std::move(random)) {}

void FakeResolver::set_mx(const std::string& domain, std::vector<MxRecord> records) {
  mx_[normalize_name(domain)] = std::move(records);
}

void FakeResolver::set_addresses(const std::string& host, std::vector<std::string> ipv4,
                                 std::vector<std::string> ipv6) {
  addrs_[normalize_name(host)] = {std::move(ipv4), std::move(ipv6)};
}

void FakeResolver::set_failure(const std::string& name, DnsStatus status) {
  failures_[normalize_name(name)] = status;
}

void FakeResolver::lookup_mx(const std::string& domain, MxCallback cb) {
  ++lookups_;
  std::string name = normalize_name(domain);
  if (auto f = failures_.find(name); f != failures_.end()) {
    MxResult r;
    r.status = f->second;
    r.detail = "fake failure for " + name;
    cb(std::move(r));
    return;
  }
  auto it = mx_.find(name);
  if (it == mx_.end() && addrs_.find(name) == addrs_.end()) {
    MxResult r;
    r.status = DnsStatus::not_found;
    r.detail = "NXDOMAIN " + name;
    cb(std::move(r));
    return;
  }
  cb(order_mx(it == mx_.end() ? std::vector<MxRecord>{} : it->second, name, random_));
}

void FakeResolver::lookup_addresses(const std::string& host, AddressCallback cb) {
  ++lookups_;
  std::string name = normalize_name(host);
  AddressResult r;
  if (auto f = failures_.find(name); f != failures_.end()) {
    r.status = f->second;
    r.detail = "fake failure for " + name;
  } else if (auto it = addrs_.find(name); it != addrs_.end()) {
    r.ipv4 = it->second.first;
    r.ipv6 = it->second.second;
    r.status = (r.ipv4.empty() && r.ipv6.empty()) ? DnsStatus::not_found : DnsStatus::ok;
    if (r.status != DnsStatus::ok) r.detail = "no A/AAAA records for " + name;
  } else {
    r.status = DnsStatus::not_found;
    r.detail = "NXDOMAIN " + name;
  }
  cb(std::move(r));
}

}  // namespace tern::dns
