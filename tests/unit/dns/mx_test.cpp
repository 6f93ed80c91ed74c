// Pure tests: DNS answer parsing, MX ordering (RFC 5321 §5.1), null MX (RFC 7505), FakeResolver.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "dns/dns.h"

using namespace tern::dns;

namespace {

// Builds a DNS response to an MX query for `qname` with the given MX answers.
struct Answer {
  std::string bytes;
  void u16(uint16_t v) { bytes += char(v >> 8); bytes += char(v & 0xff); }
  void u32(uint32_t v) { u16(uint16_t(v >> 16)); u16(uint16_t(v)); }
  void name(const std::string& n) {
    size_t start = 0;
    while (start < n.size()) {
      size_t dot = n.find('.', start);
      if (dot == std::string::npos) dot = n.size();
      bytes += char(dot - start);
      bytes += n.substr(start, dot - start);
      start = dot + 1;
    }
    bytes += '\0';
  }
};

std::string mx_answer(const std::string& qname, const std::vector<MxRecord>& rrs, uint16_t rcode = 0) {
  Answer a;
  a.u16(0x1234);          // id
  a.u16(0x8180 | rcode);  // response, RD, RA
  a.u16(1);               // qdcount
  a.u16(uint16_t(rrs.size()));
  a.u16(0);
  a.u16(0);
  a.name(qname);
  a.u16(15);  // MX
  a.u16(1);   // IN
  for (const auto& rr : rrs) {
    a.bytes += "\xc0\x0c";  // pointer to the question name
    a.u16(15);
    a.u16(1);
    a.u32(300);
    Answer rdata;
    rdata.u16(rr.preference);
    rdata.name(rr.exchange);
    a.u16(uint16_t(rdata.bytes.size()));
    a.bytes += rdata.bytes;
  }
  return a.bytes;
}

// A deterministic "random" source: always picks index `k` modulo the bound.
RandomSource fixed(uint32_t k) {
  return [k](uint32_t bound) { return k % bound; };
}

}  // namespace

TEST(ParseMxAnswer, GoodVectors) {
  auto p = parse_mx_answer(mx_answer("example.test", {{10, "MX1.Example.test"}, {20, "mx2.example.test"}}));
  ASSERT_EQ(p.status, DnsStatus::ok);
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.records[0], (MxRecord{10, "mx1.example.test"}));  // lower-cased
  EXPECT_EQ(p.records[1], (MxRecord{20, "mx2.example.test"}));

  // NOERROR with no answers: ok and empty (implicit MX is decided by order_mx).
  p = parse_mx_answer(mx_answer("example.test", {}));
  EXPECT_EQ(p.status, DnsStatus::ok);
  EXPECT_TRUE(p.records.empty());

  // The null MX: exchange is the root.
  p = parse_mx_answer(mx_answer("example.test", {{0, ""}}));
  ASSERT_EQ(p.status, DnsStatus::ok);
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records[0].exchange, "");
}

TEST(ParseMxAnswer, BadVectorsAndEveryTruncation) {
  EXPECT_EQ(parse_mx_answer("").status, DnsStatus::temporary);
  EXPECT_EQ(parse_mx_answer(std::string(12, '\0')).status, DnsStatus::temporary);
  EXPECT_EQ(parse_mx_answer("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").status,
            DnsStatus::temporary);
  // Every strict prefix of a good answer is malformed, and none may crash or read past the end.
  std::string good = mx_answer("example.test", {{10, "mx1.example.test"}, {20, "mx2.example.test"}});
  for (size_t n = 0; n < good.size(); ++n) {
    auto p = parse_mx_answer(std::string_view(good.data(), n));
    EXPECT_NE(p.records.size(), 2u) << "prefix " << n;
  }
}

TEST(OrderMx, SortsByPreference) {
  auto r = order_mx({{30, "c.test"}, {10, "a.test"}, {20, "b.test"}}, "d.test", fixed(0));
  ASSERT_EQ(r.status, DnsStatus::ok);
  EXPECT_FALSE(r.implicit);
  ASSERT_EQ(r.hosts.size(), 3u);
  EXPECT_EQ(r.hosts[0].exchange, "a.test");
  EXPECT_EQ(r.hosts[1].exchange, "b.test");
  EXPECT_EQ(r.hosts[2].exchange, "c.test");
}

TEST(OrderMx, EqualPreferencesShuffledWithInjectedRandom) {
  std::vector<MxRecord> in = {{5, "first.test"}, {10, "x.test"}, {10, "y.test"}, {10, "z.test"}, {20, "last.test"}};
  std::set<std::string> seen_second;
  for (uint32_t k = 0; k < 6; ++k) {
    auto r = order_mx(in, "d.test", fixed(k));
    ASSERT_EQ(r.hosts.size(), 5u);
    EXPECT_EQ(r.hosts.front().exchange, "first.test");  // shuffling never crosses preferences
    EXPECT_EQ(r.hosts.back().exchange, "last.test");
    std::set<std::string> mid = {r.hosts[1].exchange, r.hosts[2].exchange, r.hosts[3].exchange};
    EXPECT_EQ(mid, (std::set<std::string>{"x.test", "y.test", "z.test"}));
    seen_second.insert(r.hosts[1].exchange);
  }
  EXPECT_GT(seen_second.size(), 1u) << "the random source must influence the order";
  // Same random source, same order: deterministic for tests.
  EXPECT_EQ(order_mx(in, "d.test", fixed(1)).hosts, order_mx(in, "d.test", fixed(1)).hosts);
}

TEST(OrderMx, NoRecordsMeansImplicitMx) {
  auto r = order_mx({}, "Example.TEST.", fixed(0));
  ASSERT_EQ(r.status, DnsStatus::ok);
  EXPECT_TRUE(r.implicit);
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0], (MxRecord{0, "example.test"}));
}

TEST(OrderMx, NullMx) {
  EXPECT_EQ(order_mx({{0, "."}}, "d.test", fixed(0)).status, DnsStatus::null_mx);
  EXPECT_EQ(order_mx({{0, ""}}, "d.test", fixed(0)).status, DnsStatus::null_mx);
  // Mixed with real hosts: the root entry is dropped, the rest used.
  auto r = order_mx({{0, "."}, {10, "mx.d.test"}}, "d.test", fixed(0));
  ASSERT_EQ(r.status, DnsStatus::ok);
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].exchange, "mx.d.test");
}

TEST(FakeResolver, AnswersFromTable) {
  FakeResolver fake(fixed(0));
  fake.set_mx("example.test", {{20, "b.example.test"}, {10, "a.example.test"}});
  fake.set_mx("nomail.test", {{0, "."}});
  fake.set_addresses("a.example.test", {"192.0.2.1"}, {"2001:db8::1"});
  fake.set_addresses("bare.test", {"192.0.2.9"});
  fake.set_failure("broken.test", DnsStatus::temporary);

  MxResult mx;
  fake.lookup_mx("example.test", [&](MxResult r) { mx = std::move(r); });
  ASSERT_EQ(mx.status, DnsStatus::ok);
  EXPECT_EQ(mx.hosts[0].exchange, "a.example.test");

  fake.lookup_mx("nomail.test", [&](MxResult r) { mx = std::move(r); });
  EXPECT_EQ(mx.status, DnsStatus::null_mx);

  fake.lookup_mx("bare.test", [&](MxResult r) { mx = std::move(r); });
  ASSERT_EQ(mx.status, DnsStatus::ok);
  EXPECT_TRUE(mx.implicit);

  fake.lookup_mx("nowhere.test", [&](MxResult r) { mx = std::move(r); });
  EXPECT_EQ(mx.status, DnsStatus::not_found);

  fake.lookup_mx("broken.test", [&](MxResult r) { mx = std::move(r); });
  EXPECT_EQ(mx.status, DnsStatus::temporary);

  AddressResult addr;
  fake.lookup_addresses("A.Example.Test.", [&](AddressResult r) { addr = std::move(r); });
  ASSERT_EQ(addr.status, DnsStatus::ok);
  EXPECT_EQ(addr.ipv4, std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(addr.ipv6, std::vector<std::string>{"2001:db8::1"});
  fake.lookup_addresses("none.test", [&](AddressResult r) { addr = std::move(r); });
  EXPECT_EQ(addr.status, DnsStatus::not_found);
  EXPECT_EQ(fake.lookups(), 7);
}
