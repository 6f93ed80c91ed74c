// iprev (RFC 8601 §3) and Authentication-Results rendering and stripping (RFC 8601 §2.2, §5).
#include <gtest/gtest.h>

#include "authn/auth_results.h"

using namespace tern::authn;

namespace {

IprevVerdict iprev(FakeResolver& r, const std::string& ip) {
  auto c = std::make_shared<IprevCheck>(*IpAddress::parse(ip));
  bool done = false;
  drive(r, c, [&] { done = true; });
  EXPECT_TRUE(done);
  return c->verdict();
}

}  // namespace

TEST(Iprev, Results) {
  FakeResolver r(R"(
1.2.0.192.in-addr.arpa PTR mail.example.com
mail.example.com A 192.0.2.1
2.2.0.192.in-addr.arpa PTR liar.example.com
liar.example.com A 192.0.2.99
3.2.0.192.in-addr.arpa PTR gone.example.com
4.2.0.192.in-addr.arpa TEMPERROR
5.2.0.192.in-addr.arpa PTR flaky.example.com
flaky.example.com TEMPERROR
6.2.0.192.in-addr.arpa PTR first.example.com
6.2.0.192.in-addr.arpa PTR second.example.com
second.example.com A 192.0.2.6
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR v6.example.com
v6.example.com AAAA 2001:db8::1
)");
  auto pass = iprev(r, "192.0.2.1");
  EXPECT_EQ(pass.result, IprevResult::pass);
  EXPECT_EQ(pass.name, "mail.example.com");
  EXPECT_EQ(iprev(r, "192.0.2.2").result, IprevResult::fail);
  EXPECT_EQ(iprev(r, "192.0.2.3").result, IprevResult::fail);       // forward NXDOMAIN
  EXPECT_EQ(iprev(r, "192.0.2.4").result, IprevResult::temperror);
  EXPECT_EQ(iprev(r, "192.0.2.5").result, IprevResult::temperror);
  EXPECT_EQ(iprev(r, "192.0.2.7").result, IprevResult::permerror);  // no PTR
  auto second = iprev(r, "192.0.2.6");
  EXPECT_EQ(second.result, IprevResult::pass);
  EXPECT_EQ(second.name, "second.example.com");
  EXPECT_EQ(iprev(r, "2001:db8::1").result, IprevResult::pass);
}

TEST(AuthResults, RendersEveryMethod) {
  AuthVerdicts v;
  v.iprev = IprevVerdict{IprevResult::pass, "192.0.2.1", "mail.example.com", ""};
  SpfVerdict spf;
  spf.result = SpfResult::pass;
  spf.domain = "example.com";
  spf.sender = "bounce@example.com";
  spf.mechanism = "ip4:192.0.2.0/24";
  v.spf = spf;
  DkimVerdict d;
  d.result = DkimResult::pass;
  d.domain = "example.com";
  d.selector = "sel";
  d.algorithm = "ed25519-sha256";
  d.identity = "@example.com";
  d.b_prefix = "/gCrinpc";
  DkimVerdict bad = d;
  bad.result = DkimResult::fail;
  bad.reason = "body hash did not verify";
  bad.identity = "joe@sub.example.com";
  v.dkim = {d, bad};
  v.dkim_checked = true;
  DmarcVerdict m;
  m.result = DmarcResult::pass;
  m.from_domain = "example.com";
  m.record = DmarcRecord{};
  m.record->p = DmarcPolicy::reject;
  v.dmarc = m;
  EXPECT_EQ(render_authentication_results("mx.tern.example", v),
            "Authentication-Results: mx.tern.example;\r\n"
            "\tiprev=pass (mail.example.com) policy.iprev=192.0.2.1;\r\n"
            "\tspf=pass (matched ip4:192.0.2.0/24) smtp.mailfrom=bounce@example.com;\r\n"
            "\tdkim=pass header.d=example.com header.s=sel header.a=ed25519-sha256 header.b=\"/gCrinpc\";\r\n"
            "\tdkim=fail (body hash did not verify) header.d=example.com header.i=joe@sub.example.com header.s=sel"
            " header.a=ed25519-sha256 header.b=\"/gCrinpc\";\r\n"
            "\tdmarc=pass (p=reject dis=none) header.from=example.com\r\n");
}

TEST(AuthResults, NoneAndEscaping) {
  EXPECT_EQ(render_authentication_results("mx.tern.example", {}), "Authentication-Results: mx.tern.example; none\r\n");
  AuthVerdicts v;
  v.dkim_checked = true;
  SpfVerdict spf;
  spf.result = SpfResult::permerror;
  spf.domain = "helo.example";
  spf.sender = "postmaster@helo.example";
  spf.problem = "bad (record)\r\n\\";
  v.spf_helo = spf;
  std::string h = render_authentication_results("mx", v);
  EXPECT_EQ(h, "Authentication-Results: mx;\r\n\tspf=permerror (bad \\(record\\)\\\\) smtp.helo=helo.example;\r\n\tdkim=none\r\n");
  // A sender with a local part that is not a token is quoted.
  spf.sender = "a b@example.com";
  v.spf = spf;
  v.spf_helo.reset();
  EXPECT_NE(render_authentication_results("mx", v).find("smtp.mailfrom=\"a b@example.com\""), std::string::npos);
}

TEST(AuthResults, AuthservIdParsing) {
  EXPECT_EQ(*authserv_id_of("Authentication-Results: mx.tern.example; spf=pass"), "mx.tern.example");
  EXPECT_EQ(*authserv_id_of("authentication-results:\r\n (comment (nested)) MX.Tern.Example 1; none"), "MX.Tern.Example");
  EXPECT_EQ(*authserv_id_of("Authentication-Results: \"quoted.example\"; none"), "quoted.example");
  EXPECT_EQ(*authserv_id_of("Authentication-Results: mx.tern.example(c); none"), "mx.tern.example");
  EXPECT_FALSE(authserv_id_of("Subject: mx.tern.example").has_value());
  EXPECT_FALSE(authserv_id_of("Authentication-Results:   ").has_value());
}

TEST(AuthResults, StripsOnlyOursAndOnlyInTheHeader) {
  std::string msg =
      "Received: from x\r\n"
      "Authentication-Results: MX.TERN.EXAMPLE;\r\n"
      "\tspf=pass smtp.mailfrom=forged@example.com\r\n"
      "Authentication-Results: other.example; dkim=pass\r\n"
      "Subject: hi\r\n"
      "authentication-results: (x) mx.tern.example; none\r\n"
      "\r\n"
      "Authentication-Results: mx.tern.example; body text stays\r\n";
  EXPECT_EQ(strip_authentication_results(msg, "mx.tern.example"),
            "Received: from x\r\n"
            "Authentication-Results: other.example; dkim=pass\r\n"
            "Subject: hi\r\n"
            "\r\n"
            "Authentication-Results: mx.tern.example; body text stays\r\n");
  // Not a prefix match: "mx.tern.example.evil" is someone else.
  std::string other = "Authentication-Results: mx.tern.example.evil; none\r\n\r\nb";
  EXPECT_EQ(strip_authentication_results(other, "mx.tern.example"), other);
  // Bare LF and a header-only message.
  EXPECT_EQ(strip_authentication_results("Authentication-Results: mx; none\nX: y\n", "mx"), "X: y\n");
}
