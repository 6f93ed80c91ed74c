// parse_record_answer on hand-built answers, and CachingResolver over a scripted upstream.
#include <gtest/gtest.h>

#include <deque>

#include "dns/dns.h"

using namespace tern::dns;

namespace {

// Builds a DNS message: header, one question, then the given records.
struct Msg {
  std::string bytes;
  void u16(unsigned v) {
    bytes += static_cast<char>((v >> 8) & 0xff);
    bytes += static_cast<char>(v & 0xff);
  }
  void u32(uint32_t v) {
    u16(v >> 16);
    u16(v & 0xffff);
  }
  void name(const std::string& n) {
    size_t start = 0;
    while (start < n.size()) {
      size_t dot = n.find('.', start);
      if (dot == std::string::npos) dot = n.size();
      bytes += static_cast<char>(dot - start);
      bytes += n.substr(start, dot - start);
      start = dot + 1;
    }
    bytes += '\0';
  }
  void rr(const std::string& owner, unsigned type, uint32_t ttl, const std::string& rdata) {
    name(owner);
    u16(type);
    u16(1);
    u32(ttl);
    u16(static_cast<unsigned>(rdata.size()));
    bytes += rdata;
  }
};

Msg header(unsigned rcode, unsigned an, unsigned ns, const std::string& qname, unsigned qtype) {
  Msg m;
  m.u16(0x1234);
  m.u16(0x8180 | rcode);
  m.u16(1);
  m.u16(an);
  m.u16(ns);
  m.u16(0);
  m.name(qname);
  m.u16(qtype);
  m.u16(1);
  return m;
}

std::string soa_rdata(uint32_t minimum) {
  Msg r;
  r.name("ns.example");
  r.name("host.example");
  for (uint32_t v : {1u, 2u, 3u, 4u}) r.u32(v);
  r.u32(minimum);
  return r.bytes;
}

}  // namespace

TEST(ParseRecordAnswer, TxtJoinsStringsAndTakesMinTtl) {
  Msg m = header(0, 2, 0, "e.example", 16);
  m.rr("e.example", 16, 300, std::string("\x07v=spf1 \x04-all", 13));
  m.rr("e.example", 16, 100, std::string("\x02hi", 3));
  Answer a = parse_record_answer(m.bytes, RrType::txt);
  ASSERT_EQ(a.rcode, Rcode::ok) << a.detail;
  EXPECT_EQ(a.records, (std::vector<std::string>{"v=spf1 -all", "hi"}));
  EXPECT_EQ(a.ttl, 100u);
}

TEST(ParseRecordAnswer, SrvRecordsAndTheRootTarget) {
  // RFC 2782: priority, weight, port, target; RFC 6186 §3.4: target "." = not offered.
  Msg m = header(0, 2, 0, "_imaps._tcp.e.example", 33);
  Msg rd1;
  rd1.u16(0);
  rd1.u16(1);
  rd1.u16(993);
  rd1.name("MX.e.example");
  m.rr("_imaps._tcp.e.example", 33, 60, rd1.bytes);
  m.rr("_imaps._tcp.e.example", 33, 60, std::string("\x00\x05\x00\x00\x00\x00\x00", 7));
  Answer a = parse_record_answer(m.bytes, RrType::srv);
  ASSERT_EQ(a.rcode, Rcode::ok) << a.detail;
  ASSERT_EQ(a.srv.size(), 2u);
  EXPECT_EQ(a.srv[0], (SrvAnswer{0, 1, 993, "mx.e.example"}));
  EXPECT_EQ(a.srv[1], (SrvAnswer{5, 0, 0, ""}));

  Msg bad = header(0, 1, 0, "_imaps._tcp.e.example", 33);
  bad.rr("_imaps._tcp.e.example", 33, 60, std::string("\x00\x01\x00", 3));  // cut inside the fixed part
  EXPECT_EQ(parse_record_answer(bad.bytes, RrType::srv).rcode, Rcode::temperror);
}

TEST(ParseRecordAnswer, CompressionCnameAndNegative) {
  // An MX whose exchange is a compression pointer to the question name (offset 12).
  Msg m = header(0, 2, 0, "e.example", 15);
  m.rr("e.example", 5, 60, "");  // a CNAME-typed record of another type is skipped
  std::string rd = std::string("\x00\x0a", 2) + "\x04mail" + std::string("\xc0\x0c", 2);
  m.rr("e.example", 15, 60, rd);
  Answer a = parse_record_answer(m.bytes, RrType::mx);
  ASSERT_EQ(a.rcode, Rcode::ok) << a.detail;
  ASSERT_EQ(a.mx.size(), 1u);
  EXPECT_EQ(a.mx[0], (MxAnswer{10, "mail.e.example"}));

  Msg nx = header(3, 0, 1, "x.example", 16);
  nx.rr("example", 6, 900, soa_rdata(300));
  Answer n = parse_record_answer(nx.bytes, RrType::txt);
  EXPECT_EQ(n.rcode, Rcode::nxdomain);
  EXPECT_EQ(n.ttl, 300u);  // RFC 2308 §5: min(SOA TTL, MINIMUM)
  Msg nd = header(0, 0, 1, "x.example", 16);
  nd.rr("example", 6, 30, soa_rdata(300));
  Answer d = parse_record_answer(nd.bytes, RrType::txt);
  EXPECT_EQ(d.rcode, Rcode::nodata);
  EXPECT_EQ(d.ttl, 30u);
}

TEST(ParseRecordAnswer, MalformedIsTemperror) {
  EXPECT_EQ(parse_record_answer("", RrType::a).rcode, Rcode::temperror);
  EXPECT_EQ(parse_record_answer(header(2, 0, 0, "e.example", 1).bytes, RrType::a).rcode, Rcode::temperror);
  Msg loop = header(0, 1, 0, "e.example", 12);
  loop.bytes += std::string("\xc0\x0c", 2);  // owner: pointer back to the question (fine)
  loop.u16(12);
  loop.u16(1);
  loop.u32(60);
  loop.u16(2);
  loop.bytes += std::string("\xc0\xff", 2);  // PTR pointing forward: refused
  EXPECT_EQ(parse_record_answer(loop.bytes, RrType::ptr).rcode, Rcode::temperror);
  Msg trunc = header(0, 1, 0, "e.example", 16);
  trunc.rr("e.example", 16, 60, std::string("\x09short", 6));  // string longer than rdata
  EXPECT_EQ(parse_record_answer(trunc.bytes, RrType::txt).rcode, Rcode::temperror);
  Msg cut = header(0, 1, 0, "e.example", 1);
  EXPECT_EQ(parse_record_answer(cut.bytes, RrType::a).rcode, Rcode::temperror);  // no record
}

namespace {

// Upstream that queues lookups until answered by the test.
struct Scripted final : RecordResolver {
  std::deque<std::pair<Question, AnswerCallback>> pending;
  int asked = 0;
  void lookup(const Question& q, AnswerCallback cb) override {
    ++asked;
    pending.emplace_back(q, std::move(cb));
  }
  void reply(Rcode rcode, uint32_t ttl, std::vector<std::string> records = {}) {
    auto [q, cb] = std::move(pending.front());
    pending.pop_front();
    Answer a;
    a.rcode = rcode;
    a.ttl = ttl;
    a.records = std::move(records);
    cb(a);
  }
};

}  // namespace

TEST(CachingResolver, JoinsCachesExpiresAndBounds) {
  Scripted up;
  uint64_t now = 1000;
  CacheOptions opts;
  opts.max_entries = 2;
  opts.now_ms = [&] { return now; };
  CachingResolver cache(up, opts);
  std::vector<Answer> got;
  auto keep = [&](Answer a) { got.push_back(std::move(a)); };
  cache.lookup({"a.example", RrType::txt}, keep);
  cache.lookup({"A.Example.", RrType::txt}, keep);  // same question, normalised: joined
  EXPECT_EQ(up.asked, 1);
  up.reply(Rcode::ok, 10, {"x"});
  ASSERT_EQ(got.size(), 2u);
  cache.lookup({"a.example", RrType::txt}, keep);
  EXPECT_EQ(up.asked, 1);  // hit
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].records, std::vector<std::string>{"x"});
  now += 4000;
  cache.lookup({"a.example", RrType::txt}, keep);
  EXPECT_EQ(got[3].ttl, 6u);  // the TTL left
  now += 6000;
  cache.lookup({"a.example", RrType::txt}, keep);
  EXPECT_EQ(up.asked, 2);  // expired
  up.reply(Rcode::nxdomain, 0);  // negative without SOA: the default negative TTL
  EXPECT_EQ(cache.size(), 1u);
  // temperror is never cached.
  cache.lookup({"t.example", RrType::a}, keep);
  up.reply(Rcode::temperror, 0);
  cache.lookup({"t.example", RrType::a}, keep);
  EXPECT_EQ(up.asked, 4);
  up.reply(Rcode::ok, 60, {"192.0.2.1"});
  // Bounded: a third entry evicts the least recently used one.
  cache.lookup({"c.example", RrType::a}, keep);
  up.reply(Rcode::nodata, 30);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  int before = up.asked;
  cache.lookup({"a.example", RrType::txt}, keep);  // a.example was the oldest: gone
  EXPECT_EQ(up.asked, before + 1);
  up.reply(Rcode::ok, 60, {"y"});
}

TEST(CachingResolver, DestroyedBeforeUpstreamAnswers) {
  Scripted up;
  bool called = false;
  {
    CachingResolver cache(up, CacheOptions{});
    cache.lookup({"a.example", RrType::txt}, [&](Answer) { called = true; });
  }
  up.reply(Rcode::ok, 10, {"x"});
  EXPECT_FALSE(called);
}
