// SPF: RFC 7208 Appendix A examples, §7.4 macro examples, and cases transcribed as data from
// the public SPF test suite's themes (limits, void lookups, redirect, include loops, syntax).
#include <gtest/gtest.h>

#include "authn/spf.h"

using namespace tern::authn;

namespace {

// RFC 7208 Appendix A zone (the CNAME www is left out; nothing below uses it).
const char* kAppendixA = R"(
example.com            MX 10 mail-a.example.com
example.com            MX 20 mail-b.example.com
example.com            A  192.0.2.10
example.com            A  192.0.2.11
amy.example.com        A  192.0.2.65
bob.example.com        A  192.0.2.66
mail-a.example.com     A  192.0.2.129
mail-b.example.com     A  192.0.2.130
example.org            MX 10 mail-c.example.org
mail-c.example.org     A  192.0.2.140
10.2.0.192.in-addr.arpa  PTR example.com
11.2.0.192.in-addr.arpa  PTR example.com
65.2.0.192.in-addr.arpa  PTR amy.example.com
66.2.0.192.in-addr.arpa  PTR bob.example.com
129.2.0.192.in-addr.arpa PTR mail-a.example.com
130.2.0.192.in-addr.arpa PTR mail-b.example.com
140.2.0.192.in-addr.arpa PTR mail-c.example.org
)";

SpfVerdict run(FakeResolver& r, const std::string& ip, const std::string& mail_from,
               const std::string& helo = "mx.client.example", SpfIdentity id = SpfIdentity::mailfrom,
               bool deferred = false) {
  SpfRequest req;
  req.ip = *IpAddress::parse(ip);
  req.mail_from = mail_from;
  req.helo = helo;
  req.receiver = "mx.tern.example";
  req.now = 1700000000;
  auto check = std::make_shared<SpfCheck>(req, id);
  bool done = false;
  r.set_deferred(deferred);
  drive(r, check, [&] { done = true; });
  if (deferred) r.run_pending();
  EXPECT_TRUE(done);
  return check->verdict();
}

SpfResult appendix(const std::string& record, const std::string& ip) {
  FakeResolver r(kAppendixA);
  r.add("example.com", RrType::txt, record);
  return run(r, ip, "user@example.com").result;
}

}  // namespace

// RFC 7208 Appendix A.1: simple examples, each with the hosts it allows.
TEST(SpfAppendixA, SimpleExamples) {
  struct Case {
    const char* record;
    std::vector<const char*> allowed, refused;
  };
  std::vector<Case> cases = {
      {"v=spf1 +all", {"192.0.2.1", "198.51.100.7", "192.0.2.140"}, {}},
      {"v=spf1 a -all", {"192.0.2.10", "192.0.2.11"}, {"192.0.2.65", "192.0.2.129"}},
      {"v=spf1 a:example.org -all", {}, {"192.0.2.10", "192.0.2.140"}},
      {"v=spf1 mx -all", {"192.0.2.129", "192.0.2.130"}, {"192.0.2.10", "192.0.2.140"}},
      {"v=spf1 mx:example.org -all", {"192.0.2.140"}, {"192.0.2.129"}},
      {"v=spf1 mx mx:example.org -all", {"192.0.2.129", "192.0.2.130", "192.0.2.140"}, {"192.0.2.10"}},
      {"v=spf1 mx/30 mx:example.org/30 -all", {"192.0.2.131", "192.0.2.128", "192.0.2.143"}, {"192.0.2.132", "192.0.2.10"}},
      {"v=spf1 ptr -all", {"192.0.2.10", "192.0.2.11", "192.0.2.65", "192.0.2.66", "192.0.2.129", "192.0.2.130"}, {"192.0.2.140"}},
      {"v=spf1 ip4:192.0.2.128/28 -all", {"192.0.2.128", "192.0.2.143", "192.0.2.140"}, {"192.0.2.65", "192.0.2.144"}},
  };
  for (const auto& c : cases) {
    for (const char* ip : c.allowed) EXPECT_EQ(appendix(c.record, ip), SpfResult::pass) << c.record << " " << ip;
    for (const char* ip : c.refused) EXPECT_EQ(appendix(c.record, ip), SpfResult::fail) << c.record << " " << ip;
  }
}

// RFC 7208 Appendix A.2: a domain delegating to another with redirect, and an include.
TEST(SpfAppendixA, MultipleDomains) {
  FakeResolver r(kAppendixA);
  r.add("la.example.org", RrType::txt, "v=spf1 redirect=_spf.example.org");
  r.add("ny.example.org", RrType::txt, "v=spf1 redirect=_spf.example.org");
  r.add("_spf.example.org", RrType::txt, "v=spf1 mx:example.org -all");
  r.add("example.net", RrType::txt, "v=spf1 include:example.org -all");
  r.add("example.org", RrType::txt, "v=spf1 mx -all");
  EXPECT_EQ(run(r, "192.0.2.140", "a@la.example.org").result, SpfResult::pass);
  EXPECT_EQ(run(r, "192.0.2.140", "a@ny.example.org").result, SpfResult::pass);
  EXPECT_EQ(run(r, "192.0.2.10", "a@ny.example.org").result, SpfResult::fail);
  EXPECT_EQ(run(r, "192.0.2.140", "a@example.net").result, SpfResult::pass);
  auto v = run(r, "192.0.2.10", "a@example.net");
  EXPECT_EQ(v.result, SpfResult::fail);
  EXPECT_EQ(v.mechanism, "-all");
}

// RFC 7208 Appendix A.3: DNSBL-style exists.
TEST(SpfAppendixA, DnsblStyle) {
  FakeResolver r(kAppendixA);
  r.add("example.com", RrType::txt, "v=spf1 mx -all exists:%{ir}.%{l1r+-}._spf.%{d}");
  r.add("1.2.0.192.joe._spf.example.com", RrType::a, "127.0.0.2");
  // The mx host passes; -all comes before exists, so everything else fails.
  EXPECT_EQ(run(r, "192.0.2.129", "joe@example.com").result, SpfResult::pass);
  EXPECT_EQ(run(r, "192.0.2.1", "joe@example.com").result, SpfResult::fail);
  r.add("example.org", RrType::txt, "v=spf1 exists:%{ir}.%{l1r+-}._spf.example.com -all");
  EXPECT_EQ(run(r, "192.0.2.1", "joe@example.org").result, SpfResult::pass);
  // l1r+- keeps the part before the first + or -: "joe-bloggs" is looked up as "joe".
  EXPECT_EQ(run(r, "192.0.2.1", "joe-bloggs@example.org").result, SpfResult::pass);
  EXPECT_EQ(run(r, "192.0.2.1", "bob@example.org").result, SpfResult::fail);
}

// RFC 7208 §7.4 macro examples.
TEST(SpfMacros, Rfc7208Examples) {
  SpfMacroContext ctx;
  ctx.sender = "strong-bad@email.example.com";
  ctx.local = "strong-bad";
  ctx.sender_domain = "email.example.com";
  ctx.domain = "email.example.com";
  ctx.ip = *IpAddress::parse("192.0.2.3");
  ctx.validated = "mx.example.org";
  struct V {
    const char* in;
    const char* out;
  };
  std::vector<V> v4 = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
      {"%{p}", "mx.example.org"},
      {"%%%_%-", "% %20"},
  };
  for (const auto& c : v4) {
    auto r = expand_spf_macros(c.in, ctx, false);
    ASSERT_TRUE(r.ok()) << c.in;
    EXPECT_EQ(*r, c.out) << c.in;
  }
  ctx.ip = *IpAddress::parse("2001:db8::cb01");
  auto r6 = expand_spf_macros("%{ir}.%{v}._spf.%{d2}", ctx, false);
  ASSERT_TRUE(r6.ok());
  EXPECT_EQ(*r6, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
  // Upper-case letters URL-escape (§7.3); c, r, t only in explanations (§7.2).
  ctx.local = "jo e";
  EXPECT_EQ(*expand_spf_macros("%{L}", ctx, true), "jo%20e");
  EXPECT_EQ(*expand_spf_macros("%{c} %{t}", ctx, true), "2001:db8::cb01 0");
  EXPECT_FALSE(expand_spf_macros("%{c}", ctx, false).ok());
  EXPECT_FALSE(expand_spf_macros("%{x}", ctx, false).ok());
  EXPECT_FALSE(expand_spf_macros("%{d0}", ctx, false).ok());
  EXPECT_FALSE(expand_spf_macros("%{d", ctx, false).ok());
  EXPECT_FALSE(expand_spf_macros("50%", ctx, false).ok());
}

TEST(SpfRecordSyntax, GoodAndBad) {
  std::vector<const char*> good = {
      "v=spf1", "v=spf1 ", "V=SPF1 -ALL", "v=spf1  a  mx  -all", "v=spf1 a/24 mx//64 a:x.example/24//64",
      "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ?all", "v=spf1 moo.cow-far_out=man:dog/cat ~all",
      "v=spf1 exists:%{i}.x.example include:%{d2}", "v=spf1 redirect=_spf.example.com",
      "v=spf1 exp=explain.%{d} -all", "v=spf1 a:foo.example. -all", "v=spf1 ip4:0.0.0.0/0",
      "v=spf1 a:%{d}", "v=spf1 ptr:example.com ptr",
  };
  for (auto g : good) EXPECT_TRUE(parse_spf_record(g).ok()) << g;
  std::vector<const char*> bad = {
      "v=spf10", "spf1", "v=spf1 foo", "v=spf1 all:x", "v=spf1 include", "v=spf1 include:",
      "v=spf1 ip4:1.2.3.4/33", "v=spf1 ip4:1.2.3.4/032", "v=spf1 ip4:1.2.3", "v=spf1 ip4:2001:db8::1",
      "v=spf1 ip6:192.0.2.1", "v=spf1 ip6:::1/129", "v=spf1 a:museum", "v=spf1 a:foo.1", "v=spf1 a/33",
      "v=spf1 redirect=a.example redirect=b.example", "v=spf1 exp=a.example exp=b.example",
      "v=spf1 exists:%{x}.example", "v=spf1 a:%{c}.example", "v=spf1 -all\tmx", "v=spf1 moo=%{",
      "v=spf1 ip4:01.2.3.4", "v=spf1 exists", "v=spf1 =all", "v=spf1 a:foo-.example.-",
      "v=spf1 a:", "v=spf1 a:1.2.3.4", "v=spf1 -all.", "v=spf1 exp= -all", "v=spf1 redirect=",
      "v=spf1 include:foo.example/24", "v=spf1 mx:foo.example/24/24", "v=spf1 ip4:1.2.3.4/",
  };
  for (auto b : bad) EXPECT_FALSE(parse_spf_record(b).ok()) << b;
  auto rec = parse_spf_record("v=spf1 -a:x.example/24//64 ~mx exp=e.%{d} -all");
  ASSERT_TRUE(rec.ok());
  ASSERT_EQ(rec->mechanisms.size(), 3u);
  EXPECT_EQ(rec->mechanisms[0].qualifier, SpfQualifier::fail);
  EXPECT_EQ(rec->mechanisms[0].domain_spec, "x.example");
  EXPECT_EQ(rec->mechanisms[0].cidr4, 24);
  EXPECT_EQ(rec->mechanisms[0].cidr6, 64);
  EXPECT_EQ(rec->mechanisms[1].kind, SpfMechanismKind::mx);
  EXPECT_EQ(*rec->exp, "e.%{d}");
}

// Cases in the spirit of the public SPF test suite (rfc7208-tests.yml), one zone each.
struct SuiteCase {
  const char* name;
  const char* zone;
  const char* ip;
  const char* mail_from;
  const char* helo;
  SpfResult expected;
  const char* explanation = nullptr;
};

class SpfSuite : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(SpfSuite, Evaluates) {
  const auto& c = GetParam();
  for (bool deferred : {false, true}) {
    FakeResolver r(c.zone);
    auto v = run(r, c.ip, c.mail_from, c.helo, SpfIdentity::mailfrom, deferred);
    EXPECT_EQ(v.result, c.expected) << c.name << " (" << v.problem << ")" << (deferred ? " deferred" : "");
    if (c.explanation) {
      EXPECT_EQ(v.explanation, c.explanation) << c.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SpfSuite, ::testing::Values(
  SuiteCase{"no_record", "e.example A 1.2.3.4", "1.2.3.4", "a@e.example", "h.example", SpfResult::none},
  SuiteCase{"nxdomain", "", "1.2.3.4", "a@nx.example", "h.example", SpfResult::none},
  SuiteCase{"single_label_domain", "", "1.2.3.4", "a@localhost", "h.example", SpfResult::none},
  SuiteCase{"empty_label", "", "1.2.3.4", "a@foo..example", "h.example", SpfResult::none},
  SuiteCase{"not_spf1", "e.example TXT v=spf10 -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::none},
  SuiteCase{"empty_record", "e.example TXT v=spf1", "1.2.3.4", "a@e.example", "h.example", SpfResult::neutral},
  SuiteCase{"two_records", "e.example TXT v=spf1 +all\ne.example TXT v=spf1 -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"other_txt_ignored", "e.example TXT hello\ne.example TXT v=spf1 -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail},
  SuiteCase{"txt_temperror", "e.example TEMPERROR TXT", "1.2.3.4", "a@e.example", "h.example", SpfResult::temperror},
  SuiteCase{"unknown_mechanism", "e.example TXT v=spf1 foo -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"syntax_after_match", "e.example TXT v=spf1 +all ip4:1.2.3.4/99", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"unknown_modifier", "e.example TXT v=spf1 moo=cow -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail},
  SuiteCase{"softfail", "e.example TXT v=spf1 ~all", "1.2.3.4", "a@e.example", "h.example", SpfResult::softfail},
  SuiteCase{"neutral_q", "e.example TXT v=spf1 ?all", "1.2.3.4", "a@e.example", "h.example", SpfResult::neutral},
  SuiteCase{"ip4_match", "e.example TXT v=spf1 ip4:1.2.3.0/24 -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"ip4_for_v6_client", "e.example TXT v=spf1 ip4:0.0.0.0/0 -all", "2001:db8::1", "a@e.example", "h.example", SpfResult::fail},
  SuiteCase{"ip6_match", "e.example TXT v=spf1 ip6:2001:db8::/32 -all", "2001:db8::1", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"mapped_v4_client", "e.example TXT v=spf1 ip4:1.2.3.4 -all", "::ffff:1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"a_aaaa_for_v6", "e.example TXT v=spf1 a -all\ne.example AAAA 2001:db8::5\ne.example A 1.2.3.4", "2001:db8::5", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"a_cidr6", "e.example TXT v=spf1 a//64 -all\ne.example AAAA 2001:db8::5", "2001:db8::99", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"a_temperror", "e.example TXT v=spf1 a:t.example -all\nt.example TEMPERROR", "1.2.3.4", "a@e.example", "h.example", SpfResult::temperror},
  SuiteCase{"mx_implicit_none", "e.example TXT v=spf1 mx -all\ne.example A 1.2.3.4", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail},
  SuiteCase{"mx_eleven", R"(e.example TXT v=spf1 mx -all
e.example MX 1 m1.example
e.example MX 2 m2.example
e.example MX 3 m3.example
e.example MX 4 m4.example
e.example MX 5 m5.example
e.example MX 6 m6.example
e.example MX 7 m7.example
e.example MX 8 m8.example
e.example MX 9 m9.example
e.example MX 10 m10.example
e.example MX 11 m11.example
m1.example A 1.2.3.4)", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"mx_host_temperror", "e.example TXT v=spf1 mx -all\ne.example MX 10 m.example\nm.example TEMPERROR", "1.2.3.4", "a@e.example", "h.example", SpfResult::temperror},
  SuiteCase{"ptr_no_ptr", "e.example TXT v=spf1 ptr -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail},
  SuiteCase{"ptr_not_validated", "e.example TXT v=spf1 ptr -all\n4.3.2.1.in-addr.arpa PTR h.e.example\nh.e.example A 1.2.3.5", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail},
  SuiteCase{"ptr_validated", "e.example TXT v=spf1 ptr -all\n4.3.2.1.in-addr.arpa PTR h.e.example\nh.e.example A 1.2.3.4", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"ptr_dns_error_no_match", "e.example TXT v=spf1 ptr ?all\n4.3.2.1.in-addr.arpa TEMPERROR", "1.2.3.4", "a@e.example", "h.example", SpfResult::neutral},
  SuiteCase{"exists_match", "e.example TXT v=spf1 exists:%{i}.bl.example -all\n1.2.3.4.bl.example A 127.0.0.2", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"exists_uses_A_for_v6", "e.example TXT v=spf1 exists:x.example -all\nx.example A 127.0.0.2", "2001:db8::1", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"include_pass", "e.example TXT v=spf1 include:i.example -all\ni.example TXT v=spf1 ip4:1.2.3.4", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"include_fail_is_nomatch", "e.example TXT v=spf1 include:i.example ?all\ni.example TXT v=spf1 -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::neutral},
  SuiteCase{"include_none", "e.example TXT v=spf1 include:i.example -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"include_temperror", "e.example TXT v=spf1 include:i.example -all\ni.example TEMPERROR", "1.2.3.4", "a@e.example", "h.example", SpfResult::temperror},
  SuiteCase{"include_permerror", "e.example TXT v=spf1 include:i.example -all\ni.example TXT v=spf1 bogus", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"include_loop", "e.example TXT v=spf1 include:e.example -all", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"redirect_loop", "e.example TXT v=spf1 redirect=e.example", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"redirect_none", "e.example TXT v=spf1 redirect=r.example", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"redirect_after_all_ignored", "e.example TXT v=spf1 -all redirect=r.example\nr.example TXT v=spf1 +all", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail},
  SuiteCase{"redirect_before_all_ignored", "e.example TXT v=spf1 redirect=r.example ?all\nr.example TXT v=spf1 +all", "1.2.3.4", "a@e.example", "h.example", SpfResult::neutral},
  SuiteCase{"redirect_used", "e.example TXT v=spf1 ip4:9.9.9.9 redirect=r.example\nr.example TXT v=spf1 ~all", "1.2.3.4", "a@e.example", "h.example", SpfResult::softfail},
  SuiteCase{"ten_lookups_ok", R"(e.example TXT v=spf1 a:a1.example a:a2.example a:a3.example a:a4.example a:a5.example a:a6.example a:a7.example a:a8.example a:a9.example include:i.example -all
i.example TXT v=spf1 +all
a1.example A 9.9.9.9
a2.example A 9.9.9.9
a3.example A 9.9.9.9
a4.example A 9.9.9.9
a5.example A 9.9.9.9
a6.example A 9.9.9.9
a7.example A 9.9.9.9
a8.example A 9.9.9.9
a9.example A 9.9.9.9)", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"eleven_lookups", R"(e.example TXT v=spf1 a:a1.example a:a2.example a:a3.example a:a4.example a:a5.example a:a6.example a:a7.example a:a8.example a:a9.example a:a10.example include:i.example -all
i.example TXT v=spf1 +all
a1.example A 9.9.9.9
a2.example A 9.9.9.9
a3.example A 9.9.9.9
a4.example A 9.9.9.9
a5.example A 9.9.9.9
a6.example A 9.9.9.9
a7.example A 9.9.9.9
a8.example A 9.9.9.9
a9.example A 9.9.9.9
a10.example A 9.9.9.9)", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"lookups_count_through_include", R"(e.example TXT v=spf1 include:i1.example -all
i1.example TXT v=spf1 include:i2.example
i2.example TXT v=spf1 include:i3.example
i3.example TXT v=spf1 include:i4.example
i4.example TXT v=spf1 include:i5.example
i5.example TXT v=spf1 include:i6.example
i6.example TXT v=spf1 include:i7.example
i7.example TXT v=spf1 include:i8.example
i8.example TXT v=spf1 include:i9.example
i9.example TXT v=spf1 include:i10.example
i10.example TXT v=spf1 include:i11.example
i11.example TXT v=spf1 +all)", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"ip_terms_do_not_count", "e.example TXT v=spf1 ip4:9.9.9.1 ip4:9.9.9.2 ip4:9.9.9.3 ip4:9.9.9.4 ip4:9.9.9.5 ip4:9.9.9.6 ip4:9.9.9.7 ip4:9.9.9.8 ip4:9.9.9.9 ip4:9.9.9.10 ip4:9.9.9.11 all", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"two_void_lookups_ok", "e.example TXT v=spf1 a:v1.example a:v2.example +all", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"three_void_lookups", "e.example TXT v=spf1 a:v1.example a:v2.example exists:v3.example +all", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"nodata_is_void", "e.example TXT v=spf1 mx:d1.example a:d2.example mx:d3.example +all\nd1.example TXT x\nd2.example TXT x\nd3.example TXT x", "1.2.3.4", "a@e.example", "h.example", SpfResult::permerror},
  SuiteCase{"exp_explanation", "e.example TXT v=spf1 -all exp=why.%{d}\nwhy.e.example TXT \"%{i} is not one of %{d}'s \" \"servers\"", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail, "1.2.3.4 is not one of e.example's servers"},
  SuiteCase{"exp_bad_text_ignored", "e.example TXT v=spf1 -all exp=why.e.example\nwhy.e.example TXT %{z}", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail, ""},
  SuiteCase{"exp_of_include_unused", "e.example TXT v=spf1 include:i.example -all\ni.example TXT v=spf1 -all exp=why.i.example\nwhy.i.example TXT no", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail, ""},
  SuiteCase{"exp_via_redirect", "e.example TXT v=spf1 redirect=r.example exp=x.e.example\nr.example TXT v=spf1 -all exp=why.r.example\nwhy.r.example TXT from r\nx.e.example TXT from e", "1.2.3.4", "a@e.example", "h.example", SpfResult::fail, "from r"},
  SuiteCase{"macro_local_part", "e.example TXT v=spf1 exists:%{l}.u.example -all\njoe.u.example A 127.0.0.2", "1.2.3.4", "joe@e.example", "h.example", SpfResult::pass},
  SuiteCase{"macro_empty_local_is_postmaster", "e.example TXT v=spf1 exists:%{l}.u.example -all\npostmaster.u.example A 127.0.0.2", "1.2.3.4", "@e.example", "h.example", SpfResult::pass},
  SuiteCase{"macro_p_validated", "e.example TXT v=spf1 exists:%{p}.ok.example -all\n4.3.2.1.in-addr.arpa PTR mail.e.example\nmail.e.example A 1.2.3.4\nmail.e.example.ok.example A 127.0.0.2", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"macro_p_unknown", "e.example TXT v=spf1 exists:%{p}.ok.example -all\nunknown.ok.example A 127.0.0.2", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"macro_h", "e.example TXT v=spf1 a:%{h} -all\nh.example A 1.2.3.4", "1.2.3.4", "a@e.example", "h.example", SpfResult::pass},
  SuiteCase{"null_sender_uses_helo", "h.example TXT v=spf1 ip4:1.2.3.4 -all", "1.2.3.4", "", "h.example", SpfResult::pass},
  SuiteCase{"null_sender_helo_literal", "", "1.2.3.4", "", "[1.2.3.4]", SpfResult::none},
  SuiteCase{"address_literal_domain", "", "1.2.3.4", "a@[1.2.3.4]", "h.example", SpfResult::none},
  SuiteCase{"case_insensitive_terms", "e.example TXT V=SPF1 IP4:1.2.3.4 -ALL", "1.2.3.4", "a@E.EXAMPLE", "h.example", SpfResult::pass}
), [](const ::testing::TestParamInfo<SuiteCase>& info) { return std::string(info.param.name); });

TEST(SpfHelo, HeloIdentity) {
  FakeResolver r("mx.client.example TXT v=spf1 a -all\nmx.client.example A 192.0.2.7");
  auto v = run(r, "192.0.2.7", "someone@other.example", "mx.client.example", SpfIdentity::helo);
  EXPECT_EQ(v.result, SpfResult::pass);
  EXPECT_EQ(v.identity, SpfIdentity::helo);
  EXPECT_EQ(v.sender, "postmaster@mx.client.example");
  EXPECT_EQ(run(r, "192.0.2.8", "", "mx.client.example", SpfIdentity::helo).result, SpfResult::fail);
}

TEST(SpfLimits, NoMoreThanTenDnsMechanismsAreAsked) {
  std::string zone = "e.example TXT v=spf1";
  for (int i = 0; i < 15; ++i) zone += " a:h" + std::to_string(i) + ".example";
  zone += " -all\n";
  for (int i = 0; i < 15; ++i) zone += "h" + std::to_string(i) + ".example A 9.9.9.9\n";
  FakeResolver r(zone);
  auto v = run(r, "1.2.3.4", "a@e.example");
  EXPECT_EQ(v.result, SpfResult::permerror);
  EXPECT_EQ(r.count(RrType::a), 10u);  // the 11th term fails before its query is sent
}
