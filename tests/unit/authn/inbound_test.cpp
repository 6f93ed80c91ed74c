// InboundAuth: the whole flow a connection goes through, over a deferred fake resolver so
// the ordering (SPF asked at MAIL FROM, keys at the end of the header block) is visible.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "authn/authn.h"

using namespace tern::authn;

namespace {

std::string data_file(const std::string& name) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/tests/unit/authn/data/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

PublicSuffixList psl() { return *PublicSuffixList::load_default(); }

InboundSettings named(std::string id, bool check_helo = false) {
  InboundSettings s;
  s.authserv_id = std::move(id);
  s.check_helo = check_helo;
  return s;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(InboundAuth, FullFlowWithDeferredDns) {
  FakeResolver r(data_file("dkim.zone"));
  ASSERT_TRUE(r.load(R"(
sender.example TXT v=spf1 ip4:192.0.2.0/24 -all
_dmarc.sender.example TXT v=DMARC1; p=reject
10.2.0.192.in-addr.arpa PTR out.sender.example
out.sender.example A 192.0.2.10
)").ok());
  r.set_deferred(true);
  InboundAuth auth(r, psl(), named("mx.tern.example"), [] { return int64_t{1800000000}; }, [] { return 0u; });
  auth.connected(*IpAddress::parse("192.0.2.10"), "mx.tern.example");
  auth.mail_from("out.sender.example", "bounce@sender.example");
  // iprev's PTR and SPF's TXT are both in flight before any DATA.
  ASSERT_EQ(r.asked().size(), 2u);
  EXPECT_EQ(r.asked()[1], (Question{"sender.example", RrType::txt}));
  std::string msg = data_file("dkimpy-ed25519.eml");
  size_t header_end = msg.find("\r\n\r\n") + 4;
  auth.data(std::string_view(msg).substr(0, header_end));
  EXPECT_EQ(r.asked().back(), (Question{"ed._domainkey.sender.example", RrType::txt}));
  auth.data(std::string_view(msg).substr(header_end));
  std::optional<AuthOutcome> out;
  auth.end_of_data([&](AuthOutcome o) { out = std::move(o); });
  EXPECT_FALSE(out.has_value());  // answers still queued
  r.run_pending();
  ASSERT_TRUE(out.has_value());
  const auto& v = out->verdicts;
  EXPECT_EQ(v.iprev->result, IprevResult::pass);
  EXPECT_EQ(v.spf->result, SpfResult::pass);
  ASSERT_EQ(v.dkim.size(), 1u);
  EXPECT_EQ(v.dkim[0].result, DkimResult::pass);
  EXPECT_EQ(v.dmarc->result, DmarcResult::pass);
  EXPECT_TRUE(contains(out->header, "Authentication-Results: mx.tern.example;\r\n"));
  EXPECT_TRUE(contains(out->header, "iprev=pass"));
  EXPECT_TRUE(contains(out->header, "spf=pass"));
  EXPECT_TRUE(contains(out->header, "dkim=pass"));
  EXPECT_TRUE(contains(out->header, "dmarc=pass"));
}

TEST(InboundAuth, ForgedFromGetsRejectDisposition) {
  FakeResolver r(R"(
bank.example TXT v=spf1 ip4:198.51.100.1 -all
_dmarc.bank.example TXT v=DMARC1; p=reject
evil.example TXT v=spf1 +all
)");
  InboundAuth auth(r, psl(), named("mx.tern.example", true), [] { return int64_t{1800000000}; }, [] { return 0u; });
  auth.connected(*IpAddress::parse("203.0.113.9"), "mx.tern.example");
  auth.mail_from("evil.example", "x@evil.example");
  auth.data("From: CEO <ceo@bank.example>\r\nSubject: wire money\r\n\r\nnow\r\n");
  std::optional<AuthOutcome> out;
  auth.end_of_data([&](AuthOutcome o) { out = std::move(o); });
  ASSERT_TRUE(out.has_value());
  const auto& v = out->verdicts;
  EXPECT_EQ(v.iprev->result, IprevResult::permerror);
  EXPECT_EQ(v.spf->result, SpfResult::pass);  // passes for evil.example, which is not aligned
  EXPECT_EQ(v.spf_helo->result, SpfResult::pass);
  EXPECT_TRUE(v.dkim.empty());
  EXPECT_EQ(v.dmarc->result, DmarcResult::fail);
  EXPECT_EQ(v.dmarc->disposition, DmarcPolicy::reject);
  EXPECT_EQ(v.dmarc->record_domain, "bank.example");
  EXPECT_TRUE(contains(out->header, "dkim=none"));
  EXPECT_TRUE(contains(out->header, "dmarc=fail"));
  EXPECT_TRUE(contains(out->header, "smtp.helo=evil.example"));
}

TEST(InboundAuth, SecondTransactionDropsTheFirst) {
  FakeResolver r("a.example TXT v=spf1 -all\nb.example TXT v=spf1 +all");
  r.set_deferred(true);
  InboundAuth auth(r, psl(), named("mx"), [] { return int64_t{0}; }, [] { return 0u; });
  auth.connected(*IpAddress::parse("192.0.2.1"), "mx");
  auth.mail_from("h.example", "x@a.example");
  auth.mail_from("h.example", "x@b.example");  // RSET + new MAIL
  auth.data("From: x@b.example\r\n\r\nhi\r\n");
  int calls = 0;
  std::optional<AuthOutcome> out;
  auth.end_of_data([&](AuthOutcome o) {
    ++calls;
    out = std::move(o);
  });
  r.run_pending();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(out->verdicts.spf->result, SpfResult::pass);
  EXPECT_EQ(out->verdicts.spf->domain, "b.example");
}

TEST(InboundAuth, DestroyedWhileLookupsPendingIsSafe) {
  FakeResolver r("a.example TXT v=spf1 -all");
  r.set_deferred(true);
  {
    InboundAuth auth(r, psl(), named("mx"), [] { return int64_t{0}; }, [] { return 0u; });
    auth.connected(*IpAddress::parse("192.0.2.1"), "mx");
    auth.mail_from("h.example", "x@a.example");
    auth.data("From: x@a.example\r\n\r\nhi\r\n");
    auth.end_of_data([](AuthOutcome) { ADD_FAILURE() << "called after destruction"; });
  }
  r.run_pending();  // answers arrive for a connection that is gone
}

TEST(InboundAuth, GiveUpEndsWithTemperrorNeverAHang) {
  FakeResolver r(data_file("dkim.zone"));
  ASSERT_TRUE(r.load("sender.example TXT v=spf1 -all\n_dmarc.sender.example TXT v=DMARC1; p=reject").ok());
  r.set_deferred(true);  // nothing is ever answered unless run_pending() is called
  InboundAuth auth(r, psl(), named("mx"), [] { return int64_t{1800000000}; }, [] { return 0u; });
  auth.connected(*IpAddress::parse("192.0.2.1"), "mx");
  auth.mail_from("h.example", "x@sender.example");
  auth.data(data_file("dkimpy-rsa-relaxed.eml"));
  std::optional<AuthOutcome> out;
  auth.end_of_data([&](AuthOutcome o) { out = std::move(o); });
  EXPECT_FALSE(out.has_value());
  auth.give_up();
  ASSERT_TRUE(out.has_value());
  const auto& v = out->verdicts;
  EXPECT_EQ(v.iprev->result, IprevResult::temperror);
  EXPECT_EQ(v.spf->result, SpfResult::temperror);
  ASSERT_EQ(v.dkim.size(), 1u);
  EXPECT_EQ(v.dkim[0].result, DkimResult::temperror);
  EXPECT_EQ(v.dmarc->result, DmarcResult::temperror);
  EXPECT_TRUE(contains(out->header, "spf=temperror"));
  // Late answers change nothing and call nothing.
  r.run_pending();
  auth.give_up();
}

TEST(InboundAuth, GiveUpBeforeEndOfDataFinishesAtEnd) {
  FakeResolver r("sender.example TXT v=spf1 +all");
  r.set_deferred(true);
  InboundAuth auth(r, psl(), named("mx"), [] { return int64_t{0}; }, [] { return 0u; });
  auth.connected(*IpAddress::parse("192.0.2.1"), "mx");
  auth.mail_from("h.example", "x@sender.example");
  auth.give_up();
  size_t asked = r.asked().size();
  auth.data("DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s; h=from; bh=YWJj; b=ZGVm\r\n"
            "From: x@sender.example\r\n\r\nbody\r\n");
  std::optional<AuthOutcome> out;
  auth.end_of_data([&](AuthOutcome o) { out = std::move(o); });
  EXPECT_EQ(r.asked().size(), asked);  // no key or DMARC lookup after the deadline
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->verdicts.dmarc->result, DmarcResult::temperror);
  EXPECT_EQ(out->verdicts.dkim[0].result, DkimResult::temperror);
  EXPECT_EQ(out->verdicts.spf->result, SpfResult::temperror);
}

TEST(Abandon, SpfCheckEndsAsTemperror) {
  SpfRequest req;
  req.ip = *IpAddress::parse("192.0.2.1");
  req.mail_from = "a@e.example";
  req.helo = "h.example";
  SpfCheck c(req, SpfIdentity::mailfrom);
  EXPECT_FALSE(c.done());
  abandon(c);
  EXPECT_TRUE(c.done());
  EXPECT_EQ(c.verdict().result, SpfResult::temperror);
}

// DKIM hashing through InboundSettings::offload: one job at a time, bytes that arrive while a
// job runs go into the next, keys are asked only once a job saw the header block end, the
// verdicts come only after every job ran, and nothing comes back to a dead connection.
TEST(InboundAuth, DkimHashingIsOffloadedOneJobAtATime) {
  FakeResolver r(data_file("dkim.zone"));
  ASSERT_TRUE(r.load("sender.example TXT v=spf1 ip4:192.0.2.0/24 -all\n").ok());
  struct Job {
    std::function<void()> work, then;
  };
  auto jobs = std::make_shared<std::vector<Job>>();
  int ran = 0;
  auto run_one = [&] {
    ASSERT_FALSE(jobs->empty());
    Job j = std::move(jobs->front());
    jobs->erase(jobs->begin());
    j.work();
    ++ran;
    j.then();
  };
  InboundSettings s = named("mx");
  s.offload = [jobs](std::function<void()> work, std::function<void()> then) {
    jobs->push_back({std::move(work), std::move(then)});
  };
  std::string msg = data_file("dkimpy-ed25519.eml");
  size_t header_end = msg.find("\r\n\r\n") + 4;
  {
    InboundAuth auth(r, psl(), s, [] { return int64_t{1800000000}; }, [] { return 0u; });
    auth.connected(*IpAddress::parse("192.0.2.10"), "mx");
    auth.mail_from("out.sender.example", "bounce@sender.example");
    const size_t asked = r.asked().size();
    auth.data(std::string_view(msg).substr(0, 10));
    ASSERT_EQ(jobs->size(), 1u);
    auth.data(std::string_view(msg).substr(10, header_end - 10));
    auth.data(std::string_view(msg).substr(header_end, 5));
    EXPECT_EQ(jobs->size(), 1u);  // coalesced behind the running job
    run_one();                   // the first 10 bytes: no header block yet
    EXPECT_EQ(r.asked().size(), asked);
    ASSERT_EQ(jobs->size(), 1u);  // the rest, queued meanwhile, in one job
    run_one();
    EXPECT_EQ(r.asked().back(), (Question{"ed._domainkey.sender.example", RrType::txt}));
    auth.data(std::string_view(msg).substr(header_end + 5));
    std::optional<AuthOutcome> out;
    auth.end_of_data([&](AuthOutcome o) { out = std::move(o); });
    while (!jobs->empty()) {
      EXPECT_FALSE(out.has_value());  // not before every byte is hashed
      run_one();
    }
    ASSERT_TRUE(out.has_value());
    ASSERT_EQ(out->verdicts.dkim.size(), 1u);
    EXPECT_EQ(out->verdicts.dkim[0].result, DkimResult::pass);
    EXPECT_EQ(ran, 4);  // 10 bytes, the rest of the header and 5, the body, end of message

    // The last bytes and the end of the message in one job.
    auth.mail_from("out.sender.example", "bounce@sender.example");
    std::optional<AuthOutcome> again;
    auth.end_of_data(msg, [&](AuthOutcome o) { again = std::move(o); });
    ASSERT_EQ(jobs->size(), 1u);
    run_one();
    EXPECT_TRUE(jobs->empty());
    ASSERT_TRUE(again.has_value());
    ASSERT_EQ(again->verdicts.dkim.size(), 1u);
    EXPECT_EQ(again->verdicts.dkim[0].result, DkimResult::pass);

    // A job still running when the connection closes: its continuation finds nobody.
    auth.mail_from("out.sender.example", "bounce@sender.example");
    auth.data(msg);
    auth.end_of_data([&](AuthOutcome) { ADD_FAILURE() << "a closed connection got verdicts"; });
  }
  while (!jobs->empty()) run_one();
}

// offload_min_bytes: a small job (most messages, whole) is hashed inline; a chunk at or over
// the bound still goes to the pool, and what arrives while it runs waits for it.
TEST(InboundAuth, SmallHashingJobsRunInline) {
  FakeResolver r(data_file("dkim.zone"));
  ASSERT_TRUE(r.load("sender.example TXT v=spf1 ip4:192.0.2.0/24 -all\n").ok());
  auto jobs = std::make_shared<std::vector<std::pair<std::function<void()>, std::function<void()>>>>();
  InboundSettings s = named("mx");
  s.offload = [jobs](std::function<void()> work, std::function<void()> then) {
    jobs->emplace_back(std::move(work), std::move(then));
  };
  s.offload_min_bytes = 200;
  std::string msg = data_file("dkimpy-ed25519.eml");
  size_t header_end = msg.find("\r\n\r\n") + 4;
  ASSERT_GT(header_end, 200u);
  InboundAuth auth(r, psl(), s, [] { return int64_t{1800000000}; }, [] { return 0u; });
  auth.connected(*IpAddress::parse("192.0.2.10"), "mx");
  auth.mail_from("out.sender.example", "bounce@sender.example");
  auth.data(std::string_view(msg).substr(0, 100));  // small: inline
  EXPECT_TRUE(jobs->empty());
  auth.data(std::string_view(msg).substr(100, header_end - 100));  // big: offloaded
  ASSERT_EQ(jobs->size(), 1u);
  auth.data(std::string_view(msg).substr(header_end, 10));  // waits behind the running job
  EXPECT_EQ(jobs->size(), 1u);
  auto [work, then] = std::move(jobs->front());
  jobs->clear();
  work();
  then();  // the 10 queued bytes are small: hashed inline from the continuation
  EXPECT_TRUE(jobs->empty());
  EXPECT_EQ(r.asked().back(), (Question{"ed._domainkey.sender.example", RrType::txt}));
  std::optional<AuthOutcome> out;
  auth.end_of_data(std::string_view(msg).substr(header_end + 10), [&](AuthOutcome o) { out = std::move(o); });
  EXPECT_TRUE(jobs->empty());
  ASSERT_TRUE(out.has_value());  // the rest and the end of the message, inline
  ASSERT_EQ(out->verdicts.dkim.size(), 1u);
  EXPECT_EQ(out->verdicts.dkim[0].result, DkimResult::pass) << out->verdicts.dkim[0].reason;
}

TEST(InboundAuth, MailFromSpfVerdictAndItsWaiters) {
  FakeResolver r("sender.example TXT v=spf1 ip4:192.0.2.0/24 -all\n");
  r.set_deferred(true);
  InboundAuth auth(r, psl(), {"mx.tern.example"}, [] { return int64_t{1800000000}; }, [] { return 0u; });
  auth.connected(*IpAddress::parse("192.0.2.10"), "mx.tern.example");
  int woken = 0;
  auth.when_mail_from_spf([&] { ++woken; });  // no transaction: at once
  EXPECT_EQ(woken, 1);
  auth.mail_from("out.sender.example", "bounce@sender.example");
  EXPECT_FALSE(auth.mail_from_spf().has_value());
  auth.when_mail_from_spf([&] { ++woken; });
  EXPECT_EQ(woken, 1);
  r.run_pending();
  EXPECT_EQ(woken, 2);
  ASSERT_TRUE(auth.mail_from_spf().has_value());
  EXPECT_EQ(auth.mail_from_spf()->result, SpfResult::pass);
  EXPECT_EQ(auth.mail_from_spf()->domain, "sender.example");
  // A deadline wakes a waiter with temperror.
  auth.mail_from("out.sender.example", "x@slow.example");
  auth.when_mail_from_spf([&] { ++woken; });
  auth.give_up();
  EXPECT_EQ(woken, 3);
  EXPECT_EQ(auth.mail_from_spf()->result, SpfResult::temperror);
}
