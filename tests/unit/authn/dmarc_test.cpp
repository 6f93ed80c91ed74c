// DMARC: record parsing, PSL organizational domains (Debian's list through libpsl),
// alignment, policy discovery and the policy that applies.
#include <gtest/gtest.h>

#include "authn/dmarc.h"

using namespace tern::authn;

namespace {

const PublicSuffixList& psl() {
  static PublicSuffixList list = [] {
    auto l = PublicSuffixList::load_default();
    if (!l) {
      ADD_FAILURE() << l.error().message;
      std::abort();
    }
    return *l;
  }();
  return list;
}

SpfVerdict spf(SpfResult r, const std::string& domain) {
  SpfVerdict v;
  v.result = r;
  v.domain = domain;
  v.sender = "bounce@" + domain;
  return v;
}

DkimVerdict dkim(DkimResult r, const std::string& domain) {
  DkimVerdict v;
  v.result = r;
  v.domain = domain;
  v.selector = "s";
  return v;
}

DmarcVerdict run(FakeResolver& r, DmarcInput in) {
  auto c = std::make_shared<DmarcCheck>(std::move(in), psl());
  bool done = false;
  drive(r, c, [&] { done = true; });
  EXPECT_TRUE(done);
  return c->verdict();
}

}  // namespace

TEST(Psl, OrganizationalDomains) {
  struct V {
    const char* in;
    const char* org;
  };
  std::vector<V> cases = {
      {"example.com", "example.com"},
      {"mail.example.com", "example.com"},
      {"a.b.c.example.com", "example.com"},
      {"Mail.Example.COM.", "example.com"},
      {"example.co.uk", "example.co.uk"},
      {"a.b.example.co.uk", "example.co.uk"},
      {"co.uk", "co.uk"},                 // a public suffix is its own organizational domain
      {"uk", "uk"},
      {"foo.bar.ck", "foo.bar.ck"},       // *.ck: every second-level name is a suffix
      {"a.foo.bar.ck", "foo.bar.ck"},
      {"www.ck", "www.ck"},               // !www.ck: the exception is registrable
      {"a.www.ck", "www.ck"},
      {"city.kawasaki.jp", "city.kawasaki.jp"},  // !city.kawasaki.jp under *.kawasaki.jp
      {"x.y.kawasaki.jp", "x.y.kawasaki.jp"},
      {"user.github.io", "user.github.io"},      // private section
      {"example.unknowntld", "example.unknowntld"},  // default rule "*"
  };
  for (const auto& c : cases) EXPECT_EQ(psl().organizational_domain(c.in), c.org) << c.in;
  EXPECT_FALSE(PublicSuffixList::load("/nonexistent/list.dat").ok());
}

TEST(Psl, Alignment) {
  EXPECT_TRUE(dmarc_aligned("mail.example.com", "example.com", DmarcAlignment::relaxed, psl()));
  EXPECT_FALSE(dmarc_aligned("mail.example.com", "example.com", DmarcAlignment::strict, psl()));
  EXPECT_TRUE(dmarc_aligned("Example.com", "example.com.", DmarcAlignment::strict, psl()));
  EXPECT_FALSE(dmarc_aligned("a.co.uk", "b.co.uk", DmarcAlignment::relaxed, psl()));
  EXPECT_TRUE(dmarc_aligned("x.a.co.uk", "y.a.co.uk", DmarcAlignment::relaxed, psl()));
  EXPECT_FALSE(dmarc_aligned("a.foo.ck", "b.foo.ck", DmarcAlignment::relaxed, psl()));  // wildcard
  EXPECT_FALSE(dmarc_aligned("", "example.com", DmarcAlignment::relaxed, psl()));
}

TEST(DmarcRecord, Parse) {
  auto r = parse_dmarc_record("v=DMARC1; p=reject; sp=quarantine; np=reject; pct=50; adkim=s; aspf=r; "
                              "rua=mailto:agg@example.com, mailto:other@example.net!10m; ruf=mailto:f@example.com; fo=1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->p, DmarcPolicy::reject);
  EXPECT_EQ(*r->sp, DmarcPolicy::quarantine);
  EXPECT_EQ(*r->np, DmarcPolicy::reject);
  EXPECT_EQ(r->pct, 50);
  EXPECT_EQ(r->adkim, DmarcAlignment::strict);
  EXPECT_EQ(r->aspf, DmarcAlignment::relaxed);
  EXPECT_EQ(r->rua, (std::vector<std::string>{"mailto:agg@example.com", "mailto:other@example.net!10m"}));
  EXPECT_EQ(r->ruf.size(), 1u);
  EXPECT_EQ(r->fo, "1");
  auto loose = parse_dmarc_record("v = DMARC1 ;P=Quarantine;;  pct=200; adkim=x; future=1;");
  ASSERT_TRUE(loose.ok());
  EXPECT_EQ(loose->p, DmarcPolicy::quarantine);
  EXPECT_EQ(loose->pct, 100);  // out of range: default
  EXPECT_EQ(loose->adkim, DmarcAlignment::relaxed);
  // RFC 7489 §6.6.3: no valid p= -> p=none if rua= is valid, else no DMARC.
  auto rua_only = parse_dmarc_record("v=DMARC1; p=bogus; rua=mailto:a@example.com");
  ASSERT_TRUE(rua_only.ok());
  EXPECT_EQ(rua_only->p, DmarcPolicy::none);
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1; p=bogus").ok());
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1").ok());
  EXPECT_FALSE(parse_dmarc_record("v=dmarc1; p=reject").ok());  // the version is case-sensitive
  EXPECT_FALSE(parse_dmarc_record("p=reject; v=DMARC1").ok());  // v= must come first
  EXPECT_FALSE(parse_dmarc_record("v=DMARC2; p=reject").ok());
  EXPECT_TRUE(parse_dmarc_record("v=DMARC1;p=none").ok());
  EXPECT_TRUE(parse_dmarc_record("v=DMARC1; p=reject; t=y")->testing);
}

TEST(DmarcCheck, PassOnAlignedDkimOrSpf) {
  FakeResolver r("_dmarc.example.com TXT v=DMARC1; p=reject");
  auto v = run(r, {"example.com", spf(SpfResult::fail, "bounce.other.net"), {dkim(DkimResult::pass, "mail.example.com")}, 0});
  EXPECT_EQ(v.result, DmarcResult::pass);
  EXPECT_TRUE(v.dkim_aligned);
  EXPECT_FALSE(v.spf_aligned);
  EXPECT_EQ(v.dkim_domain, "mail.example.com");
  EXPECT_EQ(v.disposition, DmarcPolicy::none);
  v = run(r, {"example.com", spf(SpfResult::pass, "bounces.example.com"), {}, 0});
  EXPECT_EQ(v.result, DmarcResult::pass);
  EXPECT_TRUE(v.spf_aligned);
}

TEST(DmarcCheck, FailAppliesPolicy) {
  FakeResolver r("_dmarc.example.com TXT v=DMARC1; p=reject; adkim=s; aspf=s");
  // A pass for an unaligned domain, a fail for the right one, and relaxed-only matches.
  auto v = run(r, {"example.com", spf(SpfResult::pass, "mail.example.com"),
                   {dkim(DkimResult::pass, "other.net"), dkim(DkimResult::fail, "example.com"),
                    dkim(DkimResult::pass, "sub.example.com")}, 0});
  EXPECT_EQ(v.result, DmarcResult::fail);
  EXPECT_EQ(v.policy, DmarcPolicy::reject);
  EXPECT_EQ(v.disposition, DmarcPolicy::reject);
  EXPECT_EQ(v.policy_tag, "p");
  EXPECT_EQ(v.record_domain, "example.com");
  EXPECT_NE(v.reason.find("example.com p=reject"), std::string::npos) << v.reason;
}

TEST(DmarcCheck, SubdomainUsesOrganizationalRecordAndSp) {
  FakeResolver r("_dmarc.example.co.uk TXT v=DMARC1; p=reject; sp=quarantine\nnews.example.co.uk A 192.0.2.1");
  auto v = run(r, {"news.example.co.uk", spf(SpfResult::none, "x.example"), {}, 0});
  EXPECT_EQ(v.result, DmarcResult::fail);
  EXPECT_EQ(v.record_domain, "example.co.uk");
  EXPECT_EQ(v.policy_tag, "sp");
  EXPECT_EQ(v.disposition, DmarcPolicy::quarantine);
  // The org domain itself gets p=.
  v = run(r, {"example.co.uk", spf(SpfResult::none, "x.example"), {}, 0});
  EXPECT_EQ(v.policy_tag, "p");
  EXPECT_EQ(v.disposition, DmarcPolicy::reject);
  // Never looks for a record at the public suffix.
  for (const auto& q : r.asked()) EXPECT_NE(q.name, "_dmarc.co.uk");
}

TEST(DmarcCheck, NpForNonExistentSubdomains) {
  FakeResolver r("_dmarc.example.com TXT v=DMARC1; p=none; sp=quarantine; np=reject\nreal.example.com MX 10 mx.example.com");
  auto ghost = run(r, {"ghost.example.com", spf(SpfResult::none, "ghost.example.com"), {}, 0});
  EXPECT_EQ(ghost.policy_tag, "np");
  EXPECT_EQ(ghost.disposition, DmarcPolicy::reject);
  auto real = run(r, {"real.example.com", spf(SpfResult::none, "real.example.com"), {}, 0});
  EXPECT_EQ(real.policy_tag, "sp");
  EXPECT_EQ(real.disposition, DmarcPolicy::quarantine);
  // A passing message never triggers the existence lookups.
  FakeResolver r2("_dmarc.example.com TXT v=DMARC1; p=none; np=reject");
  run(r2, {"ghost.example.com", spf(SpfResult::none, "x.net"), {dkim(DkimResult::pass, "example.com")}, 0});
  EXPECT_EQ(r2.count(RrType::a) + r2.count(RrType::mx), 0u);
}

TEST(DmarcCheck, PctAndTestingDowngrade) {
  FakeResolver r("_dmarc.example.com TXT v=DMARC1; p=reject; pct=30\n_dmarc.example.net TXT v=DMARC1; p=quarantine; t=y");
  auto in = [](const char* d, uint32_t sample) { return DmarcInput{d, spf(SpfResult::fail, d), {}, sample}; };
  EXPECT_EQ(run(r, in("example.com", 29)).disposition, DmarcPolicy::reject);
  auto out = run(r, in("example.com", 30));
  EXPECT_EQ(out.disposition, DmarcPolicy::quarantine);
  EXPECT_TRUE(out.sampled_out);
  EXPECT_EQ(out.policy, DmarcPolicy::reject);
  EXPECT_EQ(run(r, in("example.net", 0)).disposition, DmarcPolicy::none);
}

TEST(DmarcCheck, NoneTemperrorAndPermerror) {
  FakeResolver r(R"(
_dmarc.two.example TXT v=DMARC1; p=reject
_dmarc.two.example TXT v=DMARC1; p=none
_dmarc.other.example TXT some other text
_dmarc.broken.example TEMPERROR
)");
  EXPECT_EQ(run(r, {"nothing.example", {}, {}, 0}).result, DmarcResult::none);
  EXPECT_EQ(run(r, {"two.example", {}, {}, 0}).result, DmarcResult::none);
  EXPECT_EQ(run(r, {"other.example", {}, {}, 0}).result, DmarcResult::none);
  EXPECT_EQ(run(r, {"broken.example", {}, {}, 0}).result, DmarcResult::temperror);
  EXPECT_EQ(run(r, {"sub.broken.example", {}, {}, 0}).result, DmarcResult::temperror);
  EXPECT_EQ(run(r, {"", {}, {}, 0}).result, DmarcResult::permerror);
}

TEST(DmarcFrom, Domains) {
  EXPECT_EQ(from_domains({"Subject: x", "From: Alice <alice@Example.COM>"}), std::vector<std::string>{"example.com"});
  EXPECT_EQ(from_domains({"From: a@x.example, \"B, b\" <b@y.example>, c@x.example"}),
            (std::vector<std::string>{"x.example", "y.example"}));
  EXPECT_EQ(from_domains({"From: a@x.example", "FROM: b@y.example"}).size(), 2u);
  EXPECT_TRUE(from_domains({"From: undisclosed"}).empty());
  EXPECT_TRUE(from_domains({"To: a@x.example"}).empty());
}
