// reports/: rows from verdicts, aggregation, rua= destinations and the RFC 7489 §7.1
// decision, the Appendix C XML, gzip, the §7.2.1.1 file name and subject, the message.
#include "reports/reports.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <regex>

#include "common/codec.h"

using namespace tern;
using namespace tern::reports;

namespace {

const authn::PublicSuffixList& psl() {
  static authn::PublicSuffixList list = [] {
    auto l = authn::PublicSuffixList::load_default();
    EXPECT_TRUE(l.ok());
    return *l;
  }();
  return list;
}

authn::AuthVerdicts verdicts(authn::DmarcResult result, const std::string& rua = "mailto:d@rep.example") {
  authn::AuthVerdicts v;
  authn::DmarcVerdict d;
  d.result = result;
  d.from_domain = "News.Example.COM";
  d.record_domain = "example.com";
  d.policy_tag = "sp";
  d.policy = authn::DmarcPolicy::quarantine;
  d.disposition = result == authn::DmarcResult::fail ? authn::DmarcPolicy::quarantine : authn::DmarcPolicy::none;
  d.dkim_aligned = result == authn::DmarcResult::pass;
  authn::DmarcRecord rec;
  rec.p = authn::DmarcPolicy::reject;
  rec.sp = authn::DmarcPolicy::quarantine;
  rec.adkim = authn::DmarcAlignment::strict;
  rec.pct = 50;
  rec.fo = "1";
  if (!rua.empty()) rec.rua = {rua};
  d.record = rec;
  v.dmarc = d;
  authn::DkimVerdict k;
  k.result = authn::DkimResult::pass;
  k.domain = "example.com";
  k.selector = "s1";
  v.dkim.push_back(k);
  authn::SpfVerdict s;
  s.result = authn::SpfResult::softfail;
  s.domain = "bounce.example.net";
  v.spf = s;
  return v;
}

MessageFacts facts() {
  MessageFacts f;
  f.client_ip = "192.0.2.7";
  f.mail_from = "bounces@Bounce.Example.NET";
  f.rcpt = "bob@our.test";
  return f;
}

// A small well-formedness check: every tag closed in order, text free of raw '<' and '&'
// outside entities, exactly one root element.
bool well_formed(const std::string& xml, std::string* why) {
  std::vector<std::string> stack;
  size_t i = xml.find("?>");
  if (xml.rfind("<?xml ", 0) != 0 || i == std::string::npos) return *why = "no XML declaration", false;
  i += 2;
  int roots = 0;
  while (i < xml.size()) {
    if (xml[i] == '<') {
      size_t close = xml.find('>', i);
      if (close == std::string::npos) return *why = "unclosed tag", false;
      std::string tag = xml.substr(i + 1, close - i - 1);
      if (tag.empty() || tag.find_first_of("<&\"") != std::string::npos) return *why = "bad tag " + tag, false;
      if (tag[0] == '/') {
        if (stack.empty() || stack.back() != tag.substr(1)) return *why = "mismatched </" + tag + ">", false;
        stack.pop_back();
      } else {
        if (stack.empty()) ++roots;
        stack.push_back(tag);
      }
      i = close + 1;
    } else if (xml[i] == '&') {
      static const std::regex entity("^&(lt|gt|amp|quot|apos);");
      if (!std::regex_search(xml.substr(i, 8), entity)) return *why = "raw &", false;
      i = xml.find(';', i) + 1;
    } else {
      if (stack.empty() && !std::isspace(static_cast<unsigned char>(xml[i]))) return *why = "text outside the root", false;
      ++i;
    }
  }
  if (!stack.empty()) return *why = "unclosed <" + stack.back() + ">", false;
  if (roots != 1) return *why = "not one root", false;
  return true;
}

std::string gunzip(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

}  // namespace

// ---- rows ----------------------------------------------------------------------------------

TEST(ReportRow, FailingMessageGetsTheAppliedDispositionAndItsAuthResults) {
  auto o = observe(verdicts(authn::DmarcResult::fail), facts());
  ASSERT_TRUE(o);
  EXPECT_EQ(o->policy.domain, "example.com");
  EXPECT_EQ(o->policy.p, "reject");
  EXPECT_EQ(o->policy.sp, "quarantine");
  EXPECT_EQ(o->policy.np, "");
  EXPECT_EQ(o->policy.adkim, "s");
  EXPECT_EQ(o->policy.aspf, "r");
  EXPECT_EQ(o->policy.pct, 50);
  EXPECT_EQ(o->policy.fo, "1");
  EXPECT_EQ(o->policy.rua, std::vector<std::string>{"mailto:d@rep.example"});
  const Row& r = o->row;
  EXPECT_EQ(r.source_ip, "192.0.2.7");
  EXPECT_EQ(r.disposition, "quarantine");
  EXPECT_EQ(r.reason, "");
  EXPECT_EQ(r.dkim, "fail");
  EXPECT_EQ(r.spf, "fail");
  EXPECT_EQ(r.header_from, "news.example.com");
  EXPECT_EQ(r.envelope_from, "bounce.example.net");
  EXPECT_EQ(r.envelope_to, "our.test");
  ASSERT_EQ(r.dkim_results.size(), 1u);
  EXPECT_EQ(r.dkim_results[0], (DkimAuth{"example.com", "s1", "pass"}));
  ASSERT_EQ(r.spf_results.size(), 1u);
  EXPECT_EQ(r.spf_results[0], (SpfAuth{"bounce.example.net", "mfrom", "softfail"}));
}

TEST(ReportRow, PassIsNoneAndOverridesAreNamed) {
  auto pass = observe(verdicts(authn::DmarcResult::pass), facts());
  ASSERT_TRUE(pass);
  EXPECT_EQ(pass->row.disposition, "none");
  EXPECT_EQ(pass->row.dkim, "pass");
  // RFC 7489 §7.2.1: not applied because of local policy (record mode, an allow list).
  auto f = facts();
  f.allow_listed = true;
  auto allowed = observe(verdicts(authn::DmarcResult::fail), f);
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->row.disposition, "none");
  EXPECT_EQ(allowed->row.reason, "local_policy");
  f = facts();
  f.enforced = false;
  EXPECT_EQ(observe(verdicts(authn::DmarcResult::fail), f)->row.reason, "local_policy");
  auto v = verdicts(authn::DmarcResult::fail);
  v.dmarc->sampled_out = true;
  v.dmarc->disposition = authn::DmarcPolicy::none;
  auto sampled = observe(v, facts());
  EXPECT_EQ(sampled->row.disposition, "none");
  EXPECT_EQ(sampled->row.reason, "sampled_out");
  // The null reverse-path: SPF checked HELO.
  v = verdicts(authn::DmarcResult::pass);
  v.spf->identity = authn::SpfIdentity::helo;
  f = facts();
  f.mail_from = "";
  auto null = observe(v, f);
  EXPECT_EQ(null->row.envelope_from, "");
  EXPECT_EQ(null->row.spf_results[0].scope, "helo");
}

TEST(ReportRow, NothingRecordedWithoutRuaOrEvaluation) {
  EXPECT_FALSE(observe(verdicts(authn::DmarcResult::fail, ""), facts()));
  EXPECT_FALSE(observe(verdicts(authn::DmarcResult::temperror), facts()));
  EXPECT_FALSE(observe(verdicts(authn::DmarcResult::none), facts()));
  EXPECT_FALSE(observe(authn::AuthVerdicts{}, facts()));
  auto v = verdicts(authn::DmarcResult::fail);
  v.dmarc->record.reset();
  EXPECT_FALSE(observe(v, facts()));
}

TEST(ReportRow, AuthResultsSurviveTheDbEncoding) {
  Row r = observe(verdicts(authn::DmarcResult::fail), facts())->row;
  r.dkim_results.push_back({"evil\texample", "s\n2", "fail"});
  Row back;
  decode_auth(encode_auth(r), back);
  ASSERT_EQ(back.dkim_results.size(), 2u);
  EXPECT_EQ(back.dkim_results[1], (DkimAuth{"evil example", "s 2", "fail"}));
  EXPECT_EQ(back.spf_results, r.spf_results);
}

TEST(ReportAggregator, IdenticalRowsAreCountedOnce) {
  Aggregator a;
  auto fail = *observe(verdicts(authn::DmarcResult::fail), facts());
  auto pass = *observe(verdicts(authn::DmarcResult::pass), facts());
  a.add(fail);
  a.add(pass);
  a.add(fail);
  auto other_ip = fail;
  other_ip.row.source_ip = "192.0.2.8";
  a.add(other_ip, 5);
  EXPECT_EQ(a.size(), 3u);
  auto rows = a.take();
  EXPECT_TRUE(a.empty());
  ASSERT_EQ(rows.size(), 3u);
  int64_t total = 0;
  for (const auto& e : rows) {
    total += e.count;
    if (e.row == fail.row) EXPECT_EQ(e.count, 2);
    if (e.row == other_ip.row) EXPECT_EQ(e.count, 5);
    if (e.row == pass.row) EXPECT_EQ(e.count, 1);
    EXPECT_EQ(e.policy, fail.policy);
  }
  EXPECT_EQ(total, 8);
}

// ---- destinations and RFC 7489 §7.1 -------------------------------------------------------

TEST(ReportDestination, MailtoUrisWithSizeLimits) {
  auto d = parse_mailto("mailto:dmarc@Reports.Example!10m");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->address, "dmarc@reports.example");
  EXPECT_EQ(d->max_size, 10u << 20);
  EXPECT_EQ(parse_mailto("MAILTO:a@b.example!512")->max_size, 512u);
  EXPECT_EQ(parse_mailto("mailto:a@b.example!2k")->max_size, 2048u);
  EXPECT_EQ(parse_mailto("mailto:a@b.example!1g")->max_size, 1ull << 30);
  EXPECT_EQ(parse_mailto("mailto:a%2Bx@b.example")->address, "a+x@b.example");
  EXPECT_EQ(parse_mailto("mailto:a@b.example?subject=hi")->address, "a@b.example");
  EXPECT_EQ(parse_mailto("mailto:a@b.example")->max_size, 0u);
  for (const char* bad : {"https://b.example/report", "mailto:", "mailto:nobody", "mailto:a@b.example!",
                          "mailto:a@b.example!10x", "mailto:a@b.example,c@d.example", "mailto:a%zz@b.example",
                          "mailto:a@localhost", "mailto:<a@b.example>", "mailto:a@b.example!99999999999999"})
    EXPECT_FALSE(parse_mailto(bad)) << bad;
}

TEST(ReportDestination, ExternalDestinationsNeedTheReportRecord) {
  PublishedPolicy p;
  p.domain = "mail.example.com";
  p.rua = {"mailto:dmarc@example.com", "mailto:agg@reports.example.net!1m", "https://x.example/",
           "mailto:DMARC@example.com", "mailto:x@sub.example.com", "mailto:y@co.uk.example.org",
           "mailto:z@fourth.example"};
  auto d = destinations(p, psl());
  // At most kMaxDestinations usable mailto:, each address once.
  ASSERT_EQ(d.size(), kMaxDestinations);
  EXPECT_EQ(d[0], (Destination{"dmarc@example.com", 0, ""}));  // same organizational domain
  EXPECT_EQ(d[1], (Destination{"agg@reports.example.net", 1u << 20,
                               "mail.example.com._report._dmarc.reports.example.net"}));
  EXPECT_EQ(d[2], (Destination{"x@sub.example.com", 0, ""}));
  // A public suffix is not a shared organizational domain: co.uk's registrants are strangers.
  PublishedPolicy uk;
  uk.domain = "shop.co.uk";
  uk.rua = {"mailto:r@other.co.uk", "mailto:r@reports.shop.co.uk"};
  auto du = destinations(uk, psl());
  ASSERT_EQ(du.size(), 2u);
  EXPECT_EQ(du[0].verify_name, "shop.co.uk._report._dmarc.other.co.uk");
  EXPECT_EQ(du[1].verify_name, "");
}

TEST(ReportDestination, AuthorisationRecord) {
  EXPECT_TRUE(authorises({"v=DMARC1"}));
  EXPECT_TRUE(authorises({"some other text", "v=DMARC1; rua=mailto:elsewhere@x.example"}));
  EXPECT_FALSE(authorises({}));
  EXPECT_FALSE(authorises({"v=spf1 -all"}));
  EXPECT_FALSE(authorises({"v=dmarc1"}));  // RFC 7489 §6.4: the version tag is case-sensitive
}

// ---- the report ----------------------------------------------------------------------------

TEST(ReportXml, AppendixCStructureAndEscaping) {
  ReportMeta meta{"Org & <Co>", "noreply-dmarc@our.test", "1.2@our.test", 86400, 2 * 86400 - 1};
  auto o = *observe(verdicts(authn::DmarcResult::fail), facts());
  o.policy.np = "reject";
  CountedRow r{o.row, 3};
  r.row.header_from = "a\"b'c.example";
  r.row.dkim_results[0].selector = "s\x01<1>";
  CountedRow pass{observe(verdicts(authn::DmarcResult::pass), facts())->row, 1};
  pass.row.reason = "local_policy";
  std::string xml = feedback_xml(meta, o.policy, {r, pass});
  std::string why;
  EXPECT_TRUE(well_formed(xml, &why)) << why << "\n" << xml;
  auto squeeze = [](std::string s) { return std::regex_replace(s, std::regex(">\\s+<"), "><"); };
  std::string flat = squeeze(xml);
  EXPECT_NE(flat.find("<feedback><version>1.0</version><report_metadata><org_name>Org &amp; &lt;Co&gt;"
                      "</org_name><email>noreply-dmarc@our.test</email><report_id>1.2@our.test</report_id>"
                      "<date_range><begin>86400</begin><end>172799</end></date_range></report_metadata>"),
            std::string::npos) << xml;
  EXPECT_NE(flat.find("<policy_published><domain>example.com</domain><adkim>s</adkim><aspf>r</aspf>"
                      "<p>reject</p><sp>quarantine</sp><np>reject</np><pct>50</pct><fo>1</fo>"
                      "</policy_published>"),
            std::string::npos) << xml;
  EXPECT_NE(flat.find("<record><row><source_ip>192.0.2.7</source_ip><count>3</count><policy_evaluated>"
                      "<disposition>quarantine</disposition><dkim>fail</dkim><spf>fail</spf>"
                      "</policy_evaluated></row><identifiers><envelope_to>our.test</envelope_to>"
                      "<envelope_from>bounce.example.net</envelope_from>"
                      "<header_from>a&quot;b&apos;c.example</header_from></identifiers><auth_results>"
                      "<dkim><domain>example.com</domain><selector>s&lt;1&gt;</selector><result>pass</result>"
                      "</dkim><spf><domain>bounce.example.net</domain><scope>mfrom</scope>"
                      "<result>softfail</result></spf></auth_results></record>"),
            std::string::npos) << xml;
  EXPECT_NE(flat.find("<reason><type>local_policy</type></reason>"), std::string::npos);
  // sp= absent: p= (RFC 7489 §6.3); np absent: no element.
  PublishedPolicy plain;
  plain.domain = "x.example";
  plain.p = "quarantine";
  std::string x2 = squeeze(feedback_xml(meta, plain, {}));
  EXPECT_NE(x2.find("<p>quarantine</p><sp>quarantine</sp><pct>100</pct>"), std::string::npos) << x2;
  EXPECT_TRUE(well_formed(x2, &why)) << why;
}

TEST(ReportXml, GzipRoundTrip) {
  std::string xml = feedback_xml({"o", "e@x.example", "1@x.example", 0, 1}, PublishedPolicy{}, {});
  auto gz = gzip(xml);
  ASSERT_TRUE(gz);
  ASSERT_GE(gz->size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>((*gz)[0]), 0x1f);  // RFC 1952 §2.3.1 ID1 ID2
  EXPECT_EQ(static_cast<unsigned char>((*gz)[1]), 0x8b);
  EXPECT_EQ(gunzip(*gz), xml);
}

TEST(ReportMessage, FilenameSubjectAndAttachment) {
  // RFC 7489 §7.2.1.1.
  EXPECT_EQ(report_filename("our.test", "example.com", 1700006400, 1700092799),
            "our.test!example.com!1700006400!1700092799.xml.gz");
  EXPECT_EQ(report_subject("example.com", "our.test", "1700006400.7@our.test"),
            "Report Domain: example.com Submitter: our.test Report-ID: <1700006400.7@our.test>");
  ReportMessage m;
  m.from = "noreply-dmarc@our.test";
  m.to = "d@rep.example";
  m.receiver = "our.test";
  m.policy_domain = "example.com";
  m.meta = {"our.test", m.from, "86400.1@our.test", 86400, 172799};
  m.gzipped = *gzip(std::string(5000, 'x') + "end");
  m.now = 172800;
  m.boundary = "=_b";
  m.message_id = "<id@mx.our.test>";
  std::string msg = compose_report(m);
  EXPECT_EQ(msg.find("From: <noreply-dmarc@our.test>\r\nTo: <d@rep.example>\r\n"
                     "Subject: Report Domain: example.com Submitter: our.test Report-ID: <86400.1@our.test>\r\n"), 0u);
  EXPECT_NE(msg.find("Content-Type: multipart/mixed; boundary=\"=_b\"\r\n"), std::string::npos);
  const std::string file = "our.test!example.com!86400!172799.xml.gz";
  EXPECT_NE(msg.find("Content-Type: application/gzip; name=\"" + file + "\"\r\n"), std::string::npos);
  EXPECT_NE(msg.find("Content-Disposition: attachment; filename=\"" + file + "\"\r\n"), std::string::npos);
  // The attachment decodes back to the gzip bytes; no line is longer than 76 + CRLF.
  size_t start = msg.find("\r\n\r\n", msg.find("Content-Disposition:")) + 4;
  size_t end = msg.find("--=_b--");
  std::string b64 = msg.substr(start, end - start);
  for (size_t pos = 0, eol; (eol = b64.find("\r\n", pos)) != std::string::npos; pos = eol + 2)
    EXPECT_LE(eol - pos, 76u);
  auto bytes = base64_decode_mime(b64);
  EXPECT_EQ(bytes, m.gzipped);
  EXPECT_EQ(gunzip(bytes), std::string(5000, 'x') + "end");
}
