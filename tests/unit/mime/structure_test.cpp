#include <gtest/gtest.h>

#include "mime/mime.h"
#include "test_util.h"

using namespace tern::mime;
using mime_test::crlf;

namespace {

std::string_view slice(const Message& m, size_t b, size_t e) { return m.bytes().substr(b, e - b); }

TEST(MimeStructure, SimpleTextMessage) {
  auto m = Message::parse(crlf("Subject: hi\nFrom: a@b.test\n\nline one\nline two\n"));
  const Part& r = m.root();
  EXPECT_EQ(r.header_start, 0u);
  EXPECT_EQ(m.header_bytes(r), crlf("Subject: hi\nFrom: a@b.test\n\n"));
  EXPECT_EQ(m.body_bytes(r), crlf("line one\nline two\n"));
  EXPECT_EQ(r.size(), 20u);
  EXPECT_EQ(r.lines, 2u);
  EXPECT_EQ(r.type, "text");
  EXPECT_EQ(r.subtype, "plain");
  EXPECT_FALSE(r.has_content_type);
  EXPECT_EQ(r.charset(), "us-ascii");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].name, "Subject");
  EXPECT_EQ(r.headers[0].raw_value, " hi");
  EXPECT_EQ(r.headers[0].value, "hi");
  EXPECT_EQ(slice(m, r.headers[1].start, r.headers[1].end), "From: a@b.test\r\n");
}

TEST(MimeStructure, FoldedHeadersAndCaseInsensitiveLookup) {
  auto m = Message::parse(crlf("SUBJECT: a\n  long\n\tsubject\nX-A : b\n\nbody"));
  const HeaderField* h = m.root().header("subject");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->raw_value, crlf(" a\n  long\n\tsubject"));
  EXPECT_EQ(h->value, "a  long\tsubject");
  ASSERT_NE(m.root().header("x-a"), nullptr);  // RFC 5322 §4.5.8: WSP before the colon
  EXPECT_EQ(m.root().header("X-A")->value, "b");
  EXPECT_EQ(m.root().header("x-b"), nullptr);
  EXPECT_EQ(m.root().lines, 1u);  // unterminated last line still counts
}

TEST(MimeStructure, BareLfTolerated) {
  auto m = Message::parse("Content-Type: multipart/mixed; boundary=x\n\n--x\n\nA\n--x\n\nB\n--x--\n");
  const Part& r = m.root();
  ASSERT_EQ(r.children.size(), 2u);
  EXPECT_EQ(m.body_bytes(r.children[0]), "A");
  EXPECT_EQ(m.body_bytes(r.children[1]), "B");
  EXPECT_EQ(r.children[0].lines, 1u);
}

const char* kMultipart =
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "preamble\n"
    "--outer\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "first\n"
    "--outer  \t\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "\n"
    "plain\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>html</p>\n"
    "--inner--\n"
    "inner epilogue\n"
    "--outer--\n"
    "epilogue\n";

TEST(MimeStructure, NestedMultipartByteRanges) {
  auto m = Message::parse(crlf(kMultipart));
  const Part& r = m.root();
  EXPECT_EQ(r.type, "multipart");
  EXPECT_EQ(r.subtype, "mixed");
  EXPECT_EQ(m.body_bytes(r).substr(0, 10), "preamble\r\n");
  EXPECT_EQ(r.end, m.bytes().size());  // epilogue belongs to the multipart body
  ASSERT_EQ(r.children.size(), 2u);
  const Part& a = r.children[0];
  EXPECT_EQ(m.header_bytes(a), crlf("Content-Type: text/plain; charset=utf-8\n\n"));
  EXPECT_EQ(m.body_bytes(a), "first");  // RFC 2046 §5.1.1: CRLF belongs to the delimiter
  EXPECT_EQ(a.charset(), "utf-8");
  const Part& b = r.children[1];  // delimiter with trailing white space still matched
  EXPECT_EQ(b.subtype, "alternative");
  ASSERT_EQ(b.children.size(), 2u);
  EXPECT_EQ(m.header_bytes(b.children[0]), "\r\n");
  EXPECT_EQ(m.body_bytes(b.children[0]), "plain");
  EXPECT_EQ(b.children[0].type, "text");
  EXPECT_EQ(m.body_bytes(b.children[1]), "<p>html</p>");
  EXPECT_EQ(b.children[1].subtype, "html");
  EXPECT_EQ(m.body_bytes(b).substr(m.body_bytes(b).size() - 14), "inner epilogue");
}

TEST(MimeStructure, MissingInnerCloseEndsAtOuterDelimiter) {
  auto m = Message::parse(crlf(
      "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; "
      "boundary=i\n\n--i\n\nx\n--o\n\ny\n--o--\n"));
  const Part& r = m.root();
  ASSERT_EQ(r.children.size(), 2u);
  ASSERT_EQ(r.children[0].children.size(), 1u);
  EXPECT_EQ(m.body_bytes(r.children[0].children[0]), "x");
  EXPECT_EQ(m.body_bytes(r.children[1]), "y");
}

TEST(MimeStructure, MissingFinalBoundaryRunsToEnd) {
  auto m = Message::parse(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n"));
  ASSERT_EQ(m.root().children.size(), 2u);
  EXPECT_EQ(m.body_bytes(m.root().children[1]), "two\r\n");
  EXPECT_EQ(m.root().children[1].end, m.bytes().size());
}

TEST(MimeStructure, BoundaryPrefixIsNotADelimiter) {
  auto m = Message::parse(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bx\n--b text\n--b--\n"));
  ASSERT_EQ(m.root().children.size(), 1u);
  EXPECT_EQ(m.body_bytes(m.root().children[0]), crlf("--bx\n--b text"));
}

TEST(MimeStructure, NoBoundaryOrNoDelimiterGivesOneWholeBodyPart) {
  for (const char* msg : {"Content-Type: multipart/mixed\n\nhello\n",
                          "Content-Type: multipart/mixed; boundary=zz\n\nhello\n"}) {
    auto m = Message::parse(crlf(msg));
    ASSERT_EQ(m.root().children.size(), 1u) << msg;
    EXPECT_EQ(m.body_bytes(m.root().children[0]), "hello\r\n");
    EXPECT_EQ(m.root().children[0].type, "text");
  }
}

TEST(MimeStructure, DigestDefaultsToMessageRfc822) {
  auto m = Message::parse(crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: inner\n\nbody\n--d\nContent-Type: text/plain\n\nt\n--d--\n"));
  const Part& r = m.root();
  ASSERT_EQ(r.children.size(), 2u);
  EXPECT_EQ(r.children[0].type, "message");
  EXPECT_EQ(r.children[0].subtype, "rfc822");
  EXPECT_TRUE(r.children[0].params.empty());
  ASSERT_TRUE(r.children[0].is_message());
  const Part& inner = r.children[0].children[0];
  EXPECT_EQ(inner.header("subject")->value, "inner");
  EXPECT_EQ(m.body_bytes(inner), "body");
  EXPECT_EQ(r.children[1].type, "text");
}

TEST(MimeStructure, EmbeddedMessage) {
  auto m = Message::parse(crlf("Content-Type: message/rfc822\n\nSubject: in\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nA\n--q--\n"));
  const Part& r = m.root();
  ASSERT_TRUE(r.is_message());
  const Part& e = r.children[0];
  EXPECT_EQ(e.header_start, r.body_start);
  EXPECT_EQ(e.end, r.end);
  ASSERT_EQ(e.children.size(), 1u);
  EXPECT_EQ(m.body_bytes(e.children[0]), "A");
}

TEST(MimeStructure, EncodedMessageRfc822StaysLeaf) {
  auto m = Message::parse(crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQp5\n"));
  EXPECT_FALSE(m.root().is_message());
  EXPECT_TRUE(m.root().children.empty());
}

TEST(MimeStructure, HeaderOnlyAndUnterminatedHeader) {
  auto m = Message::parse("Subject: x\r\nFrom: y");
  EXPECT_EQ(m.root().headers.size(), 2u);
  EXPECT_EQ(m.root().header("from")->value, "y");
  EXPECT_EQ(m.root().body_start, m.bytes().size());
  EXPECT_EQ(m.root().size(), 0u);
  EXPECT_EQ(m.root().lines, 0u);
  auto e = Message::parse("");
  EXPECT_EQ(e.root().size(), 0u);
  EXPECT_TRUE(e.root().headers.empty());
}

TEST(MimeStructure, NonHeaderLineStartsBody) {
  auto m = Message::parse(crlf("Subject: x\nthis is not a header\nmore\n"));
  EXPECT_EQ(m.root().headers.size(), 1u);
  EXPECT_EQ(m.body_bytes(m.root()), crlf("this is not a header\nmore\n"));
  // A body part without any header: the part body starts right after the delimiter.
  auto p = Message::parse(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nno header here\n--b--\n"));
  ASSERT_EQ(p.root().children.size(), 1u);
  EXPECT_EQ(p.body_bytes(p.root().children[0]), "no header here");
  // Empty part: delimiter directly after delimiter.
  auto q = Message::parse(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nx\n--b--\n"));
  ASSERT_EQ(q.root().children.size(), 2u);
  EXPECT_EQ(q.root().children[0].size(), 0u);
}

TEST(MimeStructure, ContentFields) {
  auto m = Message::parse(crlf(
      "Content-Type: Application/PDF; name=\"a b.pdf\"; X=\"q\\\"t\" (comment)\n"
      "Content-Transfer-Encoding: BASE64 (why)\n"
      "Content-ID: <id1@x>\n"
      "Content-Description: the doc\n"
      "Content-Disposition: ATTACHMENT; filename=doc.pdf; size=12\n"
      "Content-Language: en, fr (French)\n"
      "Content-Location: http://x.test/a\n"
      "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\nAAAA\n"));
  const Part& r = m.root();
  EXPECT_EQ(r.type, "application");
  EXPECT_EQ(r.subtype, "pdf");
  EXPECT_EQ(r.param("NAME"), "a b.pdf");
  EXPECT_EQ(r.param("x"), "q\"t");
  EXPECT_EQ(r.encoding, "base64");
  EXPECT_EQ(r.id, "<id1@x>");
  EXPECT_EQ(r.description, "the doc");
  ASSERT_TRUE(r.disposition.has_value());
  EXPECT_EQ(r.disposition->type, "attachment");
  ASSERT_EQ(r.disposition->params.size(), 2u);
  EXPECT_EQ(r.disposition->params[0].value, "doc.pdf");
  EXPECT_EQ(r.languages, (std::vector<std::string>{"en", "fr"}));
  EXPECT_EQ(r.location, "http://x.test/a");
  EXPECT_EQ(r.md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
}

TEST(MimeStructure, InvalidContentTypeIsTextPlain) {
  for (const char* ct : {"Content-Type: garbage\n", "Content-Type: text\n", "Content-Type: /x\n", "Content-Type:\n"}) {
    auto m = Message::parse(crlf(std::string(ct) + "\nx"));
    EXPECT_EQ(m.root().type, "text") << ct;
    EXPECT_EQ(m.root().subtype, "plain") << ct;
    EXPECT_EQ(m.root().charset(), "us-ascii");
  }
}

TEST(MimeStructure, TolerantUnquotedBoundary) {
  auto m = Message::parse(crlf("Content-Type: multipart/alternative; boundary=----=_Part_1_2.3\n\n------=_Part_1_2.3\n\nz\n------=_Part_1_2.3--\n"));
  EXPECT_EQ(m.root().param("boundary"), "----=_Part_1_2.3");
  ASSERT_EQ(m.root().children.size(), 1u);
  EXPECT_EQ(m.body_bytes(m.root().children[0]), "z");
}

std::string nested(size_t depth) {
  std::string s;
  for (size_t i = 0; i < depth; ++i)
    s += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) + "\n";
  s += "\nleaf\n";
  return crlf(s);
}

TEST(MimeStructure, AbsurdNestingIsCapped) {
  auto m = Message::parse(nested(5000));
  size_t depth = 0;
  const Part* p = &m.root();
  while (!p->children.empty()) {
    p = &p->children[0];
    ++depth;
  }
  EXPECT_EQ(depth, 100u);
  EXPECT_TRUE(p->opaque);
  std::string bs = m.bodystructure_imap();
  EXPECT_NE(bs.find("\"APPLICATION\" \"OCTET-STREAM\""), std::string::npos);
  // message/rfc822 nesting is capped the same way.
  std::string msgs;
  for (int i = 0; i < 3000; ++i) msgs += "Content-Type: message/rfc822\r\n\r\n";
  auto n = Message::parse(msgs);
  EXPECT_FALSE(n.bodystructure_imap().empty());
}

TEST(MimeStructure, PartBudget) {
  std::string s = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 50; ++i) s += "--b\r\n\r\nx\r\n";
  s += "--b--\r\n";
  Limits lim;
  lim.max_parts = 10;
  auto m = Message::parse(s, lim);
  EXPECT_EQ(m.root().children.size(), 9u);  // the root counts as one part
  EXPECT_EQ(m.root().end, s.size());
}

TEST(MimeStructure, ManyHeadersAndBoundariesStayLinear) {
  std::string s;
  for (int i = 0; i < 200000; ++i) s += "X-H: v\r\n";
  s += "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 200000; ++i) s += "--b\r\n";
  auto m = Message::parse(s);
  EXPECT_EQ(m.root().headers.size(), 200001u);
  EXPECT_EQ(m.root().children.size(), 10000u - 1);
}

// Every prefix of every vector parses, and all offsets stay ordered and inside the input.
void check_ranges(const Part& p, size_t size) {
  EXPECT_LE(p.header_start, p.body_start);
  EXPECT_LE(p.body_start, p.end);
  EXPECT_LE(p.end, size);
  for (const auto& h : p.headers) {
    EXPECT_LE(p.header_start, h.start);
    EXPECT_LE(h.end, p.body_start);
  }
  for (const auto& c : p.children) {
    EXPECT_LE(p.body_start, c.header_start);
    EXPECT_LE(c.end, p.end);
    check_ranges(c, size);
  }
}

TEST(MimeStructure, EveryPrefixParses) {
  for (std::string msg : {crlf(kMultipart), std::string(kMultipart), nested(8),
                          crlf("Content-Type: message/rfc822\n\nSubject: a\n\nb\n")}) {
    for (size_t n = 0; n <= msg.size(); ++n) {
      auto m = Message::parse(msg.substr(0, n));
      check_ranges(m.root(), n);
      (void)m.bodystructure_imap();
      (void)m.envelope_imap();
    }
  }
}

TEST(MimeStructure, NulAndEightBitGarbage) {
  std::string s("Subject: a\0b\xff\r\n\xfe\xff: x\r\n\r\n\0\0\x80", 26);
  auto m = Message::parse(s);
  ASSERT_GE(m.root().headers.size(), 1u);
  EXPECT_EQ(m.root().headers[0].value, std::string("a\0b\xff", 4));
  check_ranges(m.root(), s.size());
  std::string env = m.envelope_imap();
  EXPECT_EQ(env.find('\0'), std::string::npos);
}

}  // namespace

namespace {
TEST(MimeStructure, ManyParametersStayLinear) {
  std::string ct = "Content-Type: text/plain";
  for (int i = 0; i < 30000; ++i) ct += "; p" + std::to_string(i) + "*" + std::to_string(i % 3) + "=v";
  auto m = Message::parse(ct + "\r\n\r\nx");
  EXPECT_EQ(m.root().params.size(), 30000u / 3);  // only sections starting at *0 survive
  EXPECT_EQ(m.root().params[0].value, "v");
}
}  // namespace
