// What a domain publishes (records_for) and checking what the world sees (check_domain),
// over authn's FakeResolver: a good zone, then the ways a self-hoster's zone goes wrong.
#include <gtest/gtest.h>

#include <algorithm>

#include "authn/resolver.h"
#include "publish/publish.h"

using namespace tern;
using namespace tern::publish;

namespace {

const char* kKey = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

ServerFacts facts() {
  ServerFacts f;
  f.domain = "example.org";
  f.hostname = "mail.example.org";
  f.addresses = {"192.0.2.10"};
  f.dkim = {{"tern", kKey}};
  f.services = {{"submissions", 465}, {"imaps", 993}};
  f.now = 1800000000;
  return f;
}

const char* kGoodZone = R"(
example.org MX 10 mail.example.org
example.org TXT v=spf1 ip4:192.0.2.10 -all
mail.example.org A 192.0.2.10
10.2.0.192.in-addr.arpa PTR mail.example.org
tern._domainkey.example.org TXT v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
_dmarc.example.org TXT v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org
_smtp._tls.example.org TXT v=TLSRPTv1; rua=mailto:postmaster@example.org
_submissions._tcp.example.org SRV 0 1 465 mail.example.org
_imaps._tcp.example.org SRV 0 1 993 mail.example.org
_pop3._tcp.example.org SRV 0 0 0 .
)";

std::vector<Finding> check(const std::string& zone, ServerFacts f = facts(),
                           std::vector<DnsblZone> lists = {}, PolicyFetcher* fetcher = nullptr) {
  authn::FakeResolver r(zone);
  return check_domain(std::move(f), lists, r, fetcher);
}

// Serves one policy body (or an error) and records what was asked.
struct FakeFetcher final : PolicyFetcher {
  Result<std::string> answer = std::string();
  std::string host, address;
  Result<std::string> fetch(const std::string& h, const std::string& a) override {
    host = h;
    address = a;
    return answer;
  }
};

int count(const std::vector<Finding>& v, Severity s) {
  return static_cast<int>(std::count_if(v.begin(), v.end(), [s](const Finding& x) { return x.severity == s; }));
}

// The finding whose text contains `part`, or a failure naming every finding.
Finding find(const std::vector<Finding>& v, const std::string& part) {
  std::string all;
  for (const auto& x : v) {
    if (x.text.find(part) != std::string::npos) return x;
    all += std::string(to_string(x.severity)) + " " + x.text + "\n";
  }
  ADD_FAILURE() << "no finding mentions \"" << part << "\" in:\n" << all;
  return {};
}

}  // namespace

TEST(PublishRecords, EverythingTheDomainNeeds) {
  auto recs = records_for(facts());
  std::vector<std::string> lines;
  for (const auto& r : recs) lines.push_back(zone_line(r));
  auto has = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  EXPECT_TRUE(has("example.org. 3600 IN MX 10 mail.example.org."));
  EXPECT_TRUE(has("example.org. 3600 IN TXT \"v=spf1 ip4:192.0.2.10 -all\""));
  EXPECT_TRUE(has(std::string("tern._domainkey.example.org. 3600 IN TXT \"") + kKey + "\""));
  EXPECT_TRUE(has("_dmarc.example.org. 3600 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org\""));
  EXPECT_TRUE(has("_smtp._tls.example.org. 3600 IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.org\""));
  // RFC 6186: offered services point here, the others say "not offered" with target ".".
  EXPECT_TRUE(has("_submissions._tcp.example.org. 3600 IN SRV 0 1 465 mail.example.org."));
  EXPECT_TRUE(has("_imaps._tcp.example.org. 3600 IN SRV 0 1 993 mail.example.org."));
  EXPECT_TRUE(has("_pop3._tcp.example.org. 3600 IN SRV 0 0 0 ."));
  EXPECT_TRUE(has("mail.example.org. 3600 IN A 192.0.2.10"));
  EXPECT_TRUE(has("10.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.org."));
}

TEST(PublishRecords, MtaStsAndAutoconfigOnlyWhenServed) {
  auto names = [](const ServerFacts& f) {
    std::vector<std::string> lines;
    for (const auto& r : records_for(f))
      if (r.name.find("mta-sts") != std::string::npos || r.name.find("auto") != std::string::npos)
        lines.push_back(zone_line(r));
    return lines;
  };
  EXPECT_TRUE(names(facts()).empty());  // no HTTP listener: nothing would answer there
  ServerFacts f = facts();
  f.web = true;
  f.mta_sts.mode = "enforce";
  std::string id = mta_sts_id(f.hostname, f.mta_sts);
  EXPECT_EQ(names(f), (std::vector<std::string>{
                          "mta-sts.example.org. 3600 IN CNAME mail.example.org.",
                          "_mta-sts.example.org. 3600 IN TXT \"v=STSv1; id=" + id + "\"",
                          "autoconfig.example.org. 3600 IN CNAME mail.example.org.",
                          "autodiscover.example.org. 3600 IN CNAME mail.example.org."}));
  // RFC 8461 §3.1: 1-32 alphanumerics, changing with the policy and only then.
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(id, mta_sts_id("mail.example.org", f.mta_sts));
  MtaStsConfig other = f.mta_sts;
  other.mode = "testing";
  EXPECT_NE(id, mta_sts_id("mail.example.org", other));
  other = f.mta_sts;
  other.mx = {"mx2.example.org"};
  EXPECT_NE(id, mta_sts_id("mail.example.org", other));
  EXPECT_NE(id, mta_sts_id("mx.example.org", f.mta_sts));
}

TEST(PublishRecords, WithoutAddressesSpfUsesMxAndLongTxtIsSplit) {
  ServerFacts f = facts();
  f.addresses.clear();
  f.dkim = {{"big", "v=DKIM1; k=rsa; p=" + std::string(400, 'A')}};
  auto recs = records_for(f);
  auto spf = std::find_if(recs.begin(), recs.end(), [](const Record& r) { return r.value.find("v=spf1") != std::string::npos; });
  ASSERT_NE(spf, recs.end());
  EXPECT_EQ(spf->value, "\"v=spf1 mx -all\"");
  auto dkim = std::find_if(recs.begin(), recs.end(), [](const Record& r) { return r.name == "big._domainkey.example.org"; });
  ASSERT_NE(dkim, recs.end());
  // RFC 1035 §3.3.14: 255 octets per character-string.
  EXPECT_EQ(dkim->value, "\"v=DKIM1; k=rsa; p=" + std::string(255 - 18, 'A') + "\" \"" + std::string(400 - 237, 'A') + "\"");
  EXPECT_EQ(std::count_if(recs.begin(), recs.end(), [](const Record& r) { return r.type == "PTR" || r.type == "A"; }), 0);
}

TEST(PublishCheck, AGoodZoneHasNoProblems) {
  auto v = check(kGoodZone);
  EXPECT_EQ(count(v, Severity::fail), 0);
  EXPECT_EQ(count(v, Severity::warn), 0);
  EXPECT_EQ(find(v, "SPF of example.org passes").severity, Severity::ok);
  EXPECT_EQ(find(v, "reverse DNS of 192.0.2.10").severity, Severity::ok);
  EXPECT_EQ(find(v, "DKIM key tern._domainkey.example.org matches").severity, Severity::ok);
}

TEST(PublishCheck, AddressesComeFromTheHostNameWhenNotGiven) {
  ServerFacts f = facts();
  f.addresses.clear();
  auto v = check(kGoodZone, f);
  EXPECT_EQ(count(v, Severity::fail), 0);
  EXPECT_EQ(find(v, "has the address 192.0.2.10").severity, Severity::ok);
  EXPECT_EQ(find(v, "SPF of example.org passes for 192.0.2.10").severity, Severity::ok);
}

TEST(PublishCheck, BrokenZonesAreNamedInPlainWords) {
  const char* zone = R"(
example.org MX 10 mx.elsewhere.example
example.org TXT v=spf1 ip4:198.51.100.7 ~all
mail.example.org A 192.0.2.99
10.2.0.192.in-addr.arpa PTR host-10.isp.example
host-10.isp.example A 192.0.2.10
tern._domainkey.example.org TXT v=DKIM1; k=ed25519; p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
_dmarc.example.org TXT v=DMARC1; p=none
)";
  auto v = check(zone);
  EXPECT_EQ(find(v, "MX of example.org points to mx.elsewhere.example, not to this server").severity, Severity::fail);
  EXPECT_EQ(find(v, "mail.example.org does not resolve to 192.0.2.10").severity, Severity::fail);
  Finding spf = find(v, "SPF of example.org gives softfail for 192.0.2.10");
  EXPECT_EQ(spf.severity, Severity::fail);
  EXPECT_NE(spf.text.find("add ip4:192.0.2.10"), std::string::npos) << spf.text;
  EXPECT_EQ(find(v, "reverse DNS of 192.0.2.10 is host-10.isp.example, not mail.example.org").severity, Severity::warn);
  EXPECT_EQ(find(v, "holds another key than data_dir").severity, Severity::fail);
  EXPECT_EQ(find(v, "p=none").severity, Severity::warn);
  EXPECT_EQ(find(v, "no TLS-RPT record").severity, Severity::warn);
}

TEST(PublishCheck, MissingRecordsAndBlocklistsAndDnsFailures) {
  const char* zone = R"(
mail.example.org A 192.0.2.10
10.2.0.192.zen.test A 127.0.0.2
10.2.0.192.allow.test A 127.0.0.2
_dmarc.example.org TEMPERROR
)";
  std::vector<DnsblZone> lists = {{"zen.test", 5, {}}, {"allow.test", -5, {}}, {"clean.test", 3, {}}};
  auto v = check(zone, facts(), lists);
  EXPECT_EQ(find(v, "example.org has no MX record").severity, Severity::fail);
  EXPECT_EQ(find(v, "publishes no SPF record").severity, Severity::fail);
  EXPECT_EQ(find(v, "DKIM record tern._domainkey.example.org is missing").severity, Severity::fail);
  EXPECT_EQ(find(v, "reverse DNS of 192.0.2.10 does not lead back").severity, Severity::fail);
  EXPECT_EQ(find(v, "192.0.2.10 is listed on zen.test (127.0.0.2)").severity, Severity::fail);
  EXPECT_EQ(find(v, "could not look up _dmarc.example.org").severity, Severity::warn);
  for (const auto& x : v) EXPECT_EQ(x.text.find("allow.test"), std::string::npos) << x.text;  // an allowlist is no problem

  ServerFacts none = facts();
  none.dkim.clear();
  EXPECT_EQ(find(check(kGoodZone, none), "no DKIM key for example.org").severity, Severity::warn);
}

TEST(PublishCheck, ClientSrvRecordsPointHereOrSayNotOffered) {
  const char* zone = R"(
example.org MX 10 mail.example.org
mail.example.org A 192.0.2.10
_submissions._tcp.example.org SRV 0 1 587 mail.example.org
_imaps._tcp.example.org SRV 0 0 0 .
_pop3s._tcp.example.org SRV 0 1 995 old.example.net
)";
  auto v = check(zone);
  EXPECT_EQ(find(v, "_submissions._tcp.example.org points to mail.example.org:587, not to this server (mail.example.org:465)").severity,
            Severity::fail);
  EXPECT_EQ(find(v, "_imaps._tcp.example.org says imaps is not offered, but this server offers it on port 993").severity,
            Severity::fail);
  EXPECT_EQ(find(v, "_pop3s._tcp.example.org points to old.example.net:995, but this server does not offer pop3s").severity,
            Severity::warn);
  auto good = check(kGoodZone);
  EXPECT_EQ(find(good, "_imaps._tcp.example.org points to mail.example.org:993").severity, Severity::ok);
  auto none = check("mail.example.org A 192.0.2.10\n");
  Finding missing = find(none, "no SRV record _imaps._tcp.example.org");
  EXPECT_EQ(missing.severity, Severity::warn);
  EXPECT_NE(missing.text.find("publish _imaps._tcp.example.org. SRV 0 1 993 mail.example.org."), std::string::npos) << missing.text;
}

TEST(PublishMtaSts, PolicyParsingFollowsRfc8461) {
  // RFC 8461 §3.2's example policy.
  auto p = parse_mta_sts_policy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
                                "mx: backupmx.example.com\r\nmax_age: 604800\r\n");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->mode, "enforce");
  EXPECT_EQ(p->mx, (std::vector<std::string>{"mail.example.com", "*.example.net", "backupmx.example.com"}));
  EXPECT_EQ(p->max_age, 604800);
  EXPECT_TRUE(parse_mta_sts_policy("version: STSv1\nmode: none\nmax_age: 0\nextension: x\n"));  // LF, unknown key
  EXPECT_FALSE(parse_mta_sts_policy("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n"));
  EXPECT_FALSE(parse_mta_sts_policy("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n"));
  EXPECT_FALSE(parse_mta_sts_policy("version: STSv1\nmode: enforce\nmax_age: 1\n"));            // no mx
  EXPECT_FALSE(parse_mta_sts_policy("version: STSv1\nmode: enforce\nmx: a\nmax_age: 31557601\n"));  // §3.2 cap
  EXPECT_FALSE(parse_mta_sts_policy("<html>not found</html>"));

  // §4.1: a wildcard stands for exactly one leftmost label.
  EXPECT_TRUE(mta_sts_mx_matches("*.example.net", "mx1.example.net"));
  EXPECT_FALSE(mta_sts_mx_matches("*.example.net", "a.b.example.net"));
  EXPECT_FALSE(mta_sts_mx_matches("*.example.net", "example.net"));
  EXPECT_TRUE(mta_sts_mx_matches("Mail.Example.com", "mail.example.com"));

  // §3.1: the TXT record.
  EXPECT_EQ(mta_sts_record_id("v=STSv1; id=20160831085700Z;"), "20160831085700Z");
  EXPECT_EQ(mta_sts_record_id("v=STSv1;id=abc; ext=1"), "abc");
  EXPECT_FALSE(mta_sts_record_id("v=STSv1; id=has-dash"));
  EXPECT_FALSE(mta_sts_record_id("id=abc; v=STSv1"));  // v= must come first
  EXPECT_FALSE(mta_sts_record_id(std::string("v=STSv1; id=") + std::string(33, 'a')));
}

TEST(PublishCheck, WebNamesAndTheMtaStsPolicyAsSendersSeeThem) {
  ServerFacts f = facts();
  f.web = true;
  f.mta_sts.mode = "enforce";
  const std::string id = mta_sts_id(f.hostname, f.mta_sts);
  const std::string zone = std::string(kGoodZone) + "autoconfig.example.org A 192.0.2.10\n" +
                           "mta-sts.example.org A 192.0.2.10\n" + "_mta-sts.example.org TXT v=STSv1; id=" + id + "\n";
  FakeFetcher fetcher;
  fetcher.answer = std::string("version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmax_age: 604800\r\n");
  auto v = check(zone, f, {}, &fetcher);
  EXPECT_EQ(find(v, "autoconfig.example.org reaches this server").severity, Severity::ok);
  Finding ad = find(v, "autodiscover.example.org does not exist");
  EXPECT_EQ(ad.severity, Severity::warn);
  EXPECT_NE(ad.text.find("publish autodiscover.example.org. CNAME mail.example.org."), std::string::npos) << ad.text;
  EXPECT_EQ(find(v, "has the served policy's id").severity, Severity::ok);
  EXPECT_EQ(find(v, "MTA-STS policy at https://mta-sts.example.org/.well-known/mta-sts.txt is mode enforce and names this server").severity,
            Severity::ok);
  EXPECT_EQ(fetcher.host, "mta-sts.example.org");
  EXPECT_EQ(fetcher.address, "192.0.2.10");  // the address our resolver found, not the system's
  EXPECT_EQ(count(v, Severity::fail), 0);

  // A policy that forgets this server, in enforce mode: senders refuse to deliver.
  fetcher.answer = std::string("version: STSv1\nmode: enforce\nmx: old.example.net\nmax_age: 86400\n");
  EXPECT_EQ(find(check(zone, f, {}, &fetcher), "lists mx old.example.net, not this server").severity, Severity::fail);
  // The fetch fails (a certificate that does not name the host, say).
  fetcher.answer = make_error(Errc::temporary, "SSL: no alternative certificate subject name matches");
  EXPECT_EQ(find(check(zone, f, {}, &fetcher), "could not fetch https://mta-sts.example.org").severity, Severity::fail);

  // A stale id, two records, no policy host.
  const std::string stale = std::string(kGoodZone) + "mta-sts.example.org A 192.0.2.10\n_mta-sts.example.org TXT v=STSv1; id=old1\n";
  fetcher.answer = std::string("version: STSv1\nmode: enforce\nmx: mail.example.org\nmax_age: 604800\n");
  EXPECT_EQ(find(check(stale, f, {}, &fetcher), "has id=old1, not the served policy's id " + id).severity, Severity::warn);
  const std::string two = std::string(kGoodZone) + "_mta-sts.example.org TXT v=STSv1; id=a\n_mta-sts.example.org TXT v=STSv1; id=b\n";
  EXPECT_EQ(find(check(two, f, {}, &fetcher), "has 2 MTA-STS records").severity, Severity::fail);
  const std::string nohost = std::string(kGoodZone) + "_mta-sts.example.org TXT v=STSv1; id=" + id + "\n";
  EXPECT_EQ(find(check(nohost, f, {}, &fetcher), "mta-sts.example.org does not exist: senders cannot fetch").severity, Severity::fail);
  EXPECT_EQ(find(check(kGoodZone, f, {}, &fetcher), "no MTA-STS record at _mta-sts.example.org").severity, Severity::warn);
}
