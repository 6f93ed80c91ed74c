#include <gtest/gtest.h>

#include "mime/mime.h"
#include "test_util.h"

using namespace tern::mime;
using mime_test::crlf;

namespace {

// RFC 9051 §6.4.5's example layout, reduced:
//   HEADER ([RFC-2822] header of the message)        TEXT (body)
//   1 TEXT/PLAIN
//   2 APPLICATION/OCTET-STREAM
//   3 MESSAGE/RFC822     3.HEADER 3.TEXT
//     3.1 TEXT/PLAIN
//     3.2 APPLICATION/OCTET-STREAM
//   4 MULTIPART/MIXED
//     4.1 IMAGE/GIF      4.1.MIME
//     4.2 MESSAGE/RFC822 4.2.HEADER 4.2.TEXT
//       4.2.1 TEXT/PLAIN
//       4.2.2 MULTIPART/ALTERNATIVE
//         4.2.2.1 TEXT/PLAIN
//         4.2.2.2 TEXT/RICHTEXT
const char* kExample =
    "Subject: top\nContent-Type: multipart/mixed; boundary=t\n\n"
    "--t\nContent-Type: text/plain\n\np1\n"
    "--t\nContent-Type: application/octet-stream\n\np2\n"
    "--t\nContent-Type: message/rfc822\n\nSubject: three\nContent-Type: multipart/mixed; boundary=m3\n\n"
    "--m3\n\np3.1\n--m3\nContent-Type: application/octet-stream\n\np3.2\n--m3--\n"
    "--t\nContent-Type: multipart/mixed; boundary=f\n\n"
    "--f\nContent-Type: image/gif\n\np4.1\n"
    "--f\nContent-Type: message/rfc822\nX-Mime: yes\n\nSubject: four\nContent-Type: multipart/mixed; boundary=g\n\n"
    "--g\n\np4.2.1\n"
    "--g\nContent-Type: multipart/alternative; boundary=h\n\n--h\n\np4.2.2.1\n--h\nContent-Type: text/richtext\n\np4.2.2.2\n--h--\n"
    "--g--\n"
    "--f--\n"
    "--t--\n";

TEST(MimeSection, FindPartFollowsRfc9051Numbering) {
  auto m = Message::parse(crlf(kExample));
  struct V {
    const char* spec;
    const char* body;  // nullptr: no such part
  } vectors[] = {
      {"1", "p1"},           {"2", "p2"},        {"3.1", "p3.1"},        {"3.2", "p3.2"},
      {"4.1", "p4.1"},       {"4.2.1", "p4.2.1"}, {"4.2.2.1", "p4.2.2.1"}, {"4.2.2.2", "p4.2.2.2"},
      {"5", nullptr},        {"0", nullptr},      {"1.1", nullptr},       {"3.3", nullptr},
      {"4.2.2.3", nullptr},  {"01", nullptr},     {"1..2", nullptr},      {"x", nullptr},
      {"4.1.1", nullptr},
  };
  for (const auto& v : vectors) {
    const Part* p = m.find_part(v.spec);
    if (!v.body) {
      EXPECT_EQ(p, nullptr) << v.spec;
      continue;
    }
    ASSERT_NE(p, nullptr) << v.spec;
    EXPECT_EQ(m.body_bytes(*p), v.body) << v.spec;
  }
  EXPECT_EQ(m.find_part("3")->type, "message");
  EXPECT_EQ(m.find_part("4.2.2")->subtype, "alternative");
}

TEST(MimeSection, SectionSlices) {
  std::string raw = crlf(kExample);
  auto m = Message::parse(raw);
  EXPECT_EQ(*m.section(""), raw);
  EXPECT_EQ(*m.section("HEADER"), crlf("Subject: top\nContent-Type: multipart/mixed; boundary=t\n\n"));
  EXPECT_EQ(m.section("TEXT")->substr(0, 5), "--t\r\n");
  EXPECT_EQ(*m.section("3.HEADER"), crlf("Subject: three\nContent-Type: multipart/mixed; boundary=m3\n\n"));
  EXPECT_EQ(m.section("3.TEXT")->substr(0, 6), "--m3\r\n");
  EXPECT_EQ(*m.section("3"), std::string(*m.section("3.HEADER")) + std::string(*m.section("3.TEXT")));
  EXPECT_EQ(*m.section("4.1.MIME"), crlf("Content-Type: image/gif\n\n"));
  EXPECT_EQ(*m.section("4.2.MIME"), crlf("Content-Type: message/rfc822\nX-Mime: yes\n\n"));
  EXPECT_EQ(*m.section("4.2.header"), crlf("Subject: four\nContent-Type: multipart/mixed; boundary=g\n\n"));
  EXPECT_EQ(*m.section("4.2.2.2"), "p4.2.2.2");
  EXPECT_EQ(*m.section("4.2.2.2.MIME"), crlf("Content-Type: text/richtext\n\n"));
  for (const char* bad : {"1.HEADER", "4.TEXT", "MIME", "9", "1.", "3.FOO", "HEADER.FIELDS (a)", ".1"})
    EXPECT_FALSE(m.section(bad).ok()) << bad;
  EXPECT_EQ(m.section("9").error().code, tern::Errc::not_found);
}

TEST(MimeSection, NonMultipartMessagePartOne) {
  std::string raw = crlf("Subject: s\n\nbody\n");
  auto m = Message::parse(raw);
  EXPECT_EQ(*m.section("1"), "body\r\n");
  EXPECT_EQ(*m.section("TEXT"), "body\r\n");
  EXPECT_FALSE(m.section("2").ok());
  // Embedded non-multipart message: "1.1" is its body.
  auto e = Message::parse(crlf("Content-Type: message/rfc822\n\nSubject: in\n\nx\n"));
  EXPECT_EQ(*e.section("1.1"), "x\r\n");
  EXPECT_EQ(*e.section("1.HEADER"), crlf("Subject: in\n\n"));
  EXPECT_EQ(*e.section("1.TEXT"), "x\r\n");
}

TEST(MimeSection, HeaderFields) {
  auto m = Message::parse(crlf("From: a@x\nSubject: one\n two\nTo: b@x\nsubject: dup\n\nbody\n"));
  auto f = m.header_fields("", {"SUBJECT", "x-none"}, false);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, crlf("Subject: one\n two\nsubject: dup\n\n"));
  auto n = m.header_fields("", {"subject"}, true);
  EXPECT_EQ(*n, crlf("From: a@x\nTo: b@x\n\n"));
  EXPECT_EQ(*m.header_fields("", {"x-none"}, false), "\r\n");
  EXPECT_FALSE(m.header_fields("1", {"a"}, false).ok());
  // A last field without a line end still gets one before the blank line.
  auto t = Message::parse("To: b@x");
  EXPECT_EQ(*t.header_fields("", {"to"}, false), "To: b@x\r\n\r\n");
  auto e = Message::parse(crlf(kExample));
  EXPECT_EQ(*e.header_fields("3", {"subject"}, false), "Subject: three\r\n\r\n");
}

}  // namespace
