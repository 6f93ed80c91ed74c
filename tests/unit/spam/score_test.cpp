// The score, the verdict and the X-Spam-* fields (render, parse back, strip).
#include <gtest/gtest.h>

#include "spam/spam.h"

namespace tern::spam {
namespace {

TEST(SpamScore, VerdictThresholds) {
  Thresholds t{5.0, 15.0};
  EXPECT_EQ(decide(4.9, t), Verdict::inbox);
  EXPECT_EQ(decide(5.0, t), Verdict::junk);
  EXPECT_EQ(decide(15.0, t), Verdict::reject);
  EXPECT_EQ(decide(-3, t), Verdict::inbox);
  Score s;
  s.add({"A", 1.5, ""});
  s.add(std::vector<Contribution>{{"B", -0.5, ""}, {"C", 2.0, "x"}});
  EXPECT_DOUBLE_EQ(s.total, 3.0);
  EXPECT_EQ(s.contributions.size(), 3u);
}

TEST(SpamScore, HeadersRoundTrip) {
  Score s;
  s.add({"MISSING_DATE", 1.5, "no Date field"});
  s.add({"DMARC_FAIL", 3.0, "dmarc=fail \"quoted\" \\ and\r\nbreak"});
  s.add({"SPF_PASS", -0.5, ""});
  Thresholds t{4.0, 10.0};
  std::string h = render_headers(s, t, decide(s.total, t));
  EXPECT_NE(h.find("X-Spam-Score: 4.0\r\n"), std::string::npos);
  EXPECT_NE(h.find("X-Spam-Status: Yes, score=4.0 junk=4.0 reject=10.0 verdict=junk\r\n\ttests=DMARC_FAIL:3.0,MISSING_DATE:1.5,SPF_PASS:-0.5\r\n"),
            std::string::npos) << h;
  // Every line of the header is a header line: no bare CR or LF from the detail.
  for (size_t p = h.find('\n'); p != std::string::npos; p = h.find('\n', p + 1)) ASSERT_EQ(h[p - 1], '\r');

  auto e = parse_headers(h + "Subject: x\r\n\r\nbody X-Spam-Status: No\r\n");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->status, "Yes");
  EXPECT_EQ(e->verdict, "junk");
  EXPECT_DOUBLE_EQ(e->total, 4.0);
  EXPECT_DOUBLE_EQ(e->thresholds.junk, 4.0);
  EXPECT_DOUBLE_EQ(e->thresholds.reject, 10.0);
  ASSERT_EQ(e->contributions.size(), 3u);
  EXPECT_EQ(e->contributions[0].rule, "DMARC_FAIL");
  EXPECT_EQ(e->contributions[0].detail, "dmarc=fail \"quoted\" \\ andbreak");
  EXPECT_EQ(e->contributions[2].rule, "SPF_PASS");
  EXPECT_DOUBLE_EQ(e->contributions[2].score, -0.5);
  std::string text = format_explanation(*e);
  EXPECT_NE(text.find("DMARC_FAIL"), std::string::npos);
  EXPECT_NE(text.find("score 4.0"), std::string::npos);
}

TEST(SpamScore, DetailsStayShortAsciiHeaderText) {
  Score s;
  s.add({"LONG", 1.0, std::string(5000, 'a')});
  s.add({"UTF8", 1.0, "r\xc3\xa9sum\xc3\xa9.exe"});
  std::string h = render_headers(s, Thresholds{}, Verdict::inbox);
  for (unsigned char c : h) ASSERT_LT(c, 0x80);
  for (size_t start = 0, eol; (eol = h.find("\r\n", start)) != std::string::npos; start = eol + 2)
    EXPECT_LT(eol - start, 998u);
  auto e = parse_headers(h + "\r\n");
  ASSERT_TRUE(e);
  ASSERT_EQ(e->contributions.size(), 2u);
  EXPECT_EQ(e->contributions[0].detail.size(), 200u);
  EXPECT_EQ(e->contributions[1].detail, "r??sum??.exe");
}

TEST(SpamScore, NoContributions) {
  std::string h = render_headers(Score{}, Thresholds{}, Verdict::inbox);
  EXPECT_NE(h.find("X-Spam-Status: No, score=0.0"), std::string::npos);
  EXPECT_NE(h.find("tests=none"), std::string::npos);
  EXPECT_EQ(h.find("X-Spam-Report"), std::string::npos);
  auto e = parse_headers(h + "\r\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, "No");
  EXPECT_TRUE(e->contributions.empty());
  EXPECT_FALSE(parse_headers("Subject: x\r\n\r\nX-Spam-Status: Yes\r\n"));
}

TEST(SpamScore, StripRemovesForgedFieldsInTheHeaderOnly) {
  std::string m = "Received: x\r\nX-Spam-Status: No, score=-100\r\n\ttests=none\r\n"
                  "Subject: s\r\nx-spam-score: -100\r\nX-Spam-Flag: kept\r\n\r\n"
                  "X-Spam-Status: in the body stays\r\n";
  EXPECT_EQ(strip_headers(m), "Received: x\r\nSubject: s\r\nX-Spam-Flag: kept\r\n\r\n"
                              "X-Spam-Status: in the body stays\r\n");
  EXPECT_EQ(strip_headers("Subject: s\r\n\r\nb"), "Subject: s\r\n\r\nb");
}

}  // namespace
}  // namespace tern::spam
