// The built-in rules of spam/: header sanity, attachments, GTUBE, auth verdicts, domains.
#include <gtest/gtest.h>

#include <algorithm>

#include "authn/resolver.h"
#include "spam/internal.h"
#include "spam/spam.h"

namespace tern::spam {
namespace {

constexpr int64_t kNow = 1796000000;  // 2026-11-30

std::vector<std::string> rules_of(const std::vector<Contribution>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(c.rule);
  return out;
}

bool has(const std::vector<Contribution>& cs, const std::string& rule) {
  auto r = rules_of(cs);
  return std::find(r.begin(), r.end(), rule) != r.end();
}

std::string clean_message(const std::string& extra_headers = "", const std::string& body = "hello\r\n") {
  return "From: Alice <alice@example.com>\r\n"
         "To: bob@example.org\r\n"
         "Date: Mon, 30 Nov 2026 08:00:00 +0000\r\n"
         "Message-ID: <1@example.com>\r\n"
         "Subject: hi\r\n" + extra_headers + "\r\n" + body;
}

TEST(SpamDate, ParsesRfc5322AndObsoleteForms) {
  EXPECT_EQ(parse_date("Mon, 30 Nov 2026 08:00:00 +0000"), 1796025600);
  EXPECT_EQ(parse_date("30 Nov 2026 09:00:00 +0100"), 1796025600);
  EXPECT_EQ(parse_date("Mon, 30 Nov 26 08:00 GMT"), 1796025600);
  EXPECT_EQ(parse_date("Mon, 30 Nov 2026 03:00:00 EST (comment)"), 1796025600);
  EXPECT_FALSE(parse_date("yesterday"));
  EXPECT_FALSE(parse_date("Mon, 30 Foo 2026 08:00:00 +0000"));
}

TEST(SpamHeaders, CleanMessageScoresNothing) {
  EXPECT_TRUE(header_rules(clean_message(), kNow).empty());
}

TEST(SpamHeaders, MissingAndFutureDateAndMissingMessageId) {
  std::string m = "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n";
  auto cs = header_rules(m, kNow);
  EXPECT_TRUE(has(cs, "MISSING_DATE"));
  EXPECT_TRUE(has(cs, "MISSING_MESSAGE_ID"));
  std::string future = "From: a@example.com\r\nDate: Mon, 1 Jan 2035 00:00:00 +0000\r\n"
                       "Message-ID: <x@y>\r\n\r\nbody\r\n";
  EXPECT_EQ(rules_of(header_rules(future, kNow)), std::vector<std::string>{"DATE_IN_FUTURE"});
  std::string bad = "From: a@example.com\r\nDate: soon\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n";
  EXPECT_EQ(rules_of(header_rules(bad, kNow)), std::vector<std::string>{"BAD_DATE"});
}

TEST(SpamHeaders, FromReplyToMismatch) {
  auto cs = header_rules(clean_message("Reply-To: collect@elsewhere.example\r\n"), kNow);
  ASSERT_EQ(rules_of(cs), std::vector<std::string>{"FROM_REPLYTO_DIFFER"});
  EXPECT_NE(cs[0].detail.find("elsewhere.example"), std::string::npos);
  EXPECT_TRUE(header_rules(clean_message("Reply-To: other@EXAMPLE.com\r\n"), kNow).empty());
}

TEST(SpamHeaders, DisplayNameHidingAnotherAddress) {
  std::string plain = "From: \"support@bank.example\" <x@phish.example>\r\n"
                      "Date: Mon, 30 Nov 2026 08:00:00 +0000\r\nMessage-ID: <1@a>\r\n\r\nb\r\n";
  EXPECT_EQ(rules_of(header_rules(plain, kNow)), std::vector<std::string>{"FROM_NAME_ADDR"});
  // "support@bank.example" as an RFC 2047 B word.
  std::string encoded = "From: =?utf-8?B?c3VwcG9ydEBiYW5rLmV4YW1wbGU=?= <x@phish.example>\r\n"
                        "Date: Mon, 30 Nov 2026 08:00:00 +0000\r\nMessage-ID: <1@a>\r\n\r\nb\r\n";
  auto cs = header_rules(encoded, kNow);
  ASSERT_EQ(rules_of(cs), std::vector<std::string>{"FROM_NAME_ENCODED_ADDR"});
  EXPECT_GT(cs[0].score, 3.0);
  // The same domain in the name is just a habit of some clients.
  std::string same = "From: \"x@phish.example\" <x@phish.example>\r\n"
                     "Date: Mon, 30 Nov 2026 08:00:00 +0000\r\nMessage-ID: <1@a>\r\n\r\nb\r\n";
  EXPECT_TRUE(header_rules(same, kNow).empty());
}

TEST(SpamHeaders, MissingFrom) {
  auto cs = header_rules("Date: Mon, 30 Nov 2026 08:00:00 +0000\r\nMessage-ID: <1@a>\r\n\r\nb\r\n", kNow);
  EXPECT_EQ(rules_of(cs), std::vector<std::string>{"MISSING_FROM"});
}

TEST(SpamAttachments, RiskyFileNames) {
  EXPECT_EQ(risky_filename("setup.exe"), "EXECUTABLE");
  EXPECT_EQ(risky_filename("run.JS"), "EXECUTABLE");
  EXPECT_EQ(risky_filename("x.scr."), "EXECUTABLE");
  EXPECT_EQ(risky_filename("invoice.pdf.exe"), "DOUBLE_EXT");
  EXPECT_EQ(risky_filename("budget.xlsm"), "MACRO_DOC");
  EXPECT_EQ(risky_filename("report.pdf"), "");
  EXPECT_EQ(risky_filename("noext"), "");
  EXPECT_EQ(risky_filename("=?utf-8?Q?rechnung.pdf.exe?="), "DOUBLE_EXT");
}

std::string with_attachment(const std::string& part_headers) {
  return clean_message("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n",
                       "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
                       "--b\r\n" + part_headers + "\r\nAAAA\r\n--b--\r\n");
}

TEST(SpamAttachments, FoundInDispositionAndContentTypeAndRfc2231) {
  auto a = attachment_rules(with_attachment(
      "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.exe\"\r\n"));
  EXPECT_EQ(rules_of(a), std::vector<std::string>{"ATTACH_EXECUTABLE"});
  auto b = attachment_rules(with_attachment("Content-Type: application/octet-stream; name=\"doc.docm\"\r\n"));
  EXPECT_EQ(rules_of(b), std::vector<std::string>{"ATTACH_MACRO_DOC"});
  // RFC 2231 continuations and percent-encoding: "invoice.pdf.exe".
  auto c = attachment_rules(with_attachment(
      "Content-Type: application/octet-stream\r\n"
      "Content-Disposition: attachment; filename*0*=utf-8''invoice%2Epdf; filename*1=\".exe\"\r\n"));
  ASSERT_EQ(rules_of(c), std::vector<std::string>{"ATTACH_DOUBLE_EXT"});
  EXPECT_EQ(c[0].detail, "invoice.pdf.exe");
  EXPECT_TRUE(attachment_rules(with_attachment(
                  "Content-Type: application/pdf; name=\"a.pdf\"\r\n")).empty());
}

TEST(SpamGtube, PlainAndBase64) {
  const std::string gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
  auto plain = message_rules(clean_message("", gtube + "\r\n"), kNow);
  ASSERT_TRUE(has(plain, "GTUBE"));
  EXPECT_GE(plain.back().score, kGtubeScore);
  // base64 of the string, in a text part.
  std::string b64 =
      "WEpTKkM0SkRCUUFETjEuTlNCTjMqMklETkVOKkdUVUJFLVNUQU5EQVJELUFOVEktVUJFLVRFU1QtRU1BSUwqQy4zNFg=";
  auto enc = message_rules(clean_message("MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n",
                                         b64 + "\r\n"), kNow);
  EXPECT_TRUE(has(enc, "GTUBE"));
  EXPECT_FALSE(has(message_rules(clean_message(), kNow), "GTUBE"));
}

TEST(SpamAuth, VerdictsScore) {
  EXPECT_TRUE(has(auth_rules({"fail", {}, "fail"}), "DMARC_FAIL"));
  EXPECT_TRUE(has(auth_rules({"fail", {}, ""}), "SPF_FAIL"));
  EXPECT_TRUE(has(auth_rules({"softfail", {}, ""}), "SPF_SOFTFAIL"));
  EXPECT_TRUE(has(auth_rules({"", {"fail", "fail"}, ""}), "DKIM_INVALID"));
  auto good = auth_rules({"pass", {"fail", "pass"}, "pass"});
  EXPECT_FALSE(has(good, "DKIM_INVALID"));
  double total = 0;
  for (const auto& c : good) total += c.score;
  EXPECT_LT(total, 0);
  EXPECT_TRUE(auth_rules({"none", {}, "none"}).empty());
}

TEST(SpamUri, BodyDomains) {
  std::string body = "Visit http://WWW.Spam.Example/x?y and https://user@login.bank.example:443/ "
                     "or www.third.example. Not ftp://files.example nor http://192.0.2.1/.\r\n"
                     "<a href=\"https://spam.example/again\">";
  auto d = body_domains(clean_message("", body));
  EXPECT_EQ(d, (std::vector<std::string>{"spam.example", "login.bank.example", "third.example"}));
  EXPECT_EQ(body_domains(clean_message("", body), 1).size(), 1u);
}

TEST(SpamUri, ListedAnswersAndLookup) {
  dns::Answer listed{dns::Rcode::ok, {"127.0.1.2"}, {}, 60, ""};
  dns::Answer refused{dns::Rcode::ok, {"127.255.255.254"}, {}, 60, ""};
  dns::Answer nx{dns::Rcode::nxdomain, {}, {}, 60, ""};
  EXPECT_TRUE(uribl_listed(listed));
  EXPECT_FALSE(uribl_listed(refused));
  EXPECT_FALSE(uribl_listed(nx));

  authn::FakeResolver r("spam.example.dbl.test A 127.0.1.2\n"
                        "other.example.dbl.test A 127.255.255.254\n");
  std::vector<Contribution> got;
  bool called = false;
  lookup_uribl(r, {"spam.example", "other.example", "clean.example"},
               {{"dbl.test", 4.0}, {"empty.test", 2.0}}, [&](std::vector<Contribution> cs) {
                 called = true;
                 got = std::move(cs);
               });
  ASSERT_TRUE(called);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rule, "URIBL_1");
  EXPECT_EQ(got[0].score, 4.0);
  EXPECT_NE(got[0].detail.find("spam.example listed in dbl.test"), std::string::npos);

  // A name that never answers: giving up keeps what was listed meanwhile.
  r.set_deferred(true);
  std::vector<Contribution> partial;
  int calls = 0;
  auto give_up = lookup_uribl(r, {"spam.example", "clean.example"}, {{"dbl.test", 4.0}},
                              [&](std::vector<Contribution> cs) {
                                ++calls;
                                partial = std::move(cs);
                              });
  EXPECT_EQ(calls, 0);
  give_up();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(partial.empty());  // nothing answered yet
  r.run_pending();               // late answers are ignored
  give_up();
  EXPECT_EQ(calls, 1);
  (void)lookup_uribl(r, {"spam.example"}, {{"dbl.test", 4.0}},
                     [&](std::vector<Contribution> cs) { partial = std::move(cs); });
  r.run_pending();
  EXPECT_EQ(partial.size(), 1u);
  r.set_deferred(false);

  bool none_called = false;
  lookup_uribl(r, {}, {{"dbl.test", 4.0}}, [&](std::vector<Contribution> cs) {
    none_called = cs.empty();
  });
  EXPECT_TRUE(none_called);
}

}  // namespace
}  // namespace tern::spam
