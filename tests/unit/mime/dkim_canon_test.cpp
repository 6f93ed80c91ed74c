// DKIM canonicalisation (RFC 6376 §3.4): simple and relaxed, whole and streamed.
#include <gtest/gtest.h>

#include "mime/mime.h"

using tern::mime::DkimBodyCanonicalizer;
using tern::mime::DkimCanon;
using tern::mime::dkim_canon_body;
using tern::mime::dkim_canon_header;

TEST(DkimCanon, Rfc6376Section345Example) {
  // RFC 6376 §3.4.5: the example header and body under both algorithms.
  EXPECT_EQ(dkim_canon_header("A: X", DkimCanon::relaxed), "a:X");
  EXPECT_EQ(dkim_canon_header("B : Y\t\r\n\tZ  ", DkimCanon::relaxed), "b:Y Z");
  EXPECT_EQ(dkim_canon_header("B : Y\t\r\n\tZ  ", DkimCanon::simple), "B : Y\t\r\n\tZ  ");
  const char* body = " C \r\nD \t E\r\n\r\n\r\n";
  EXPECT_EQ(dkim_canon_body(body, DkimCanon::relaxed), " C\r\nD E\r\n");
  EXPECT_EQ(dkim_canon_body(body, DkimCanon::simple), " C \r\nD \t E\r\n");
}

TEST(DkimCanon, EmptyBodies) {
  // RFC 6376 §3.4.3: simple turns an empty body into CRLF; relaxed leaves it empty (§3.4.4).
  EXPECT_EQ(dkim_canon_body("", DkimCanon::simple), "\r\n");
  EXPECT_EQ(dkim_canon_body("\r\n\r\n", DkimCanon::simple), "\r\n");
  EXPECT_EQ(dkim_canon_body("", DkimCanon::relaxed), "");
  EXPECT_EQ(dkim_canon_body("  \r\n", DkimCanon::relaxed), "");
  EXPECT_EQ(dkim_canon_body("  \r\n", DkimCanon::simple), "  \r\n");
  EXPECT_EQ(dkim_canon_body("x", DkimCanon::simple), "x\r\n");
  EXPECT_EQ(dkim_canon_header("Subject: a\n b", DkimCanon::simple), "Subject: a\r\n b");
}

TEST(DkimCanon, StreamingEqualsWholeAtEverySplit) {
  const std::string body = "line one  \r\n\r\n\t tab\r\nlast\r\n\r\n \r\n";
  for (auto canon : {DkimCanon::simple, DkimCanon::relaxed}) {
    std::string whole = dkim_canon_body(body, canon);
    for (size_t a = 0; a <= body.size(); ++a) {
      for (size_t b = a; b <= body.size(); b += 3) {
        DkimBodyCanonicalizer c(canon);
        std::string out;
        c.feed(std::string_view(body).substr(0, a), out);
        c.feed(std::string_view(body).substr(a, b - a), out);
        c.feed(std::string_view(body).substr(b), out);
        c.finish(out);
        ASSERT_EQ(out, whole) << a << "," << b;
      }
    }
  }
}
