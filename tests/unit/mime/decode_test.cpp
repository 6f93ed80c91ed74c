#include <gtest/gtest.h>

#include "mime/mime.h"
#include "test_util.h"

using namespace tern::mime;
using mime_test::crlf;

namespace {

TEST(MimeDecode, Base64Tolerant) {
  struct V {
    const char* in;
    std::string out;
  } vectors[] = {
      {"aGVsbG8=", "hello"},
      {"aGVs\r\nbG8=\r\n", "hello"},
      {"aG Vs*bG8", "hello"},  // RFC 2045 §6.8: non-alphabet characters ignored, no padding
      {"", ""},
      {"====", ""},
      {"YQ==YWI=", "aab"},  // padding ends a quantum; decoding continues
      {"!!!", ""},
      {"Y", ""},  // a lone sextet carries no byte
  };
  for (const auto& v : vectors) EXPECT_EQ(decode_base64(v.in), v.out) << v.in;
}

TEST(MimeDecode, QuotedPrintable) {
  struct V {
    std::string in, out;
  } vectors[] = {
      {"caf=C3=A9", "caf\xC3\xA9"},
      {"soft=\r\nbreak\r\n", "softbreak\r\n"},
      {"soft=  \r\nbreak", "softbreak"},   // white space after a soft break "=" is padding
      {"trail   \r\nx", "trail\r\nx"},     // RFC 2045 §6.7 (3)
      {"a=3d=3D=\n", "a=="},                 // lower-case hex tolerated, bare LF
      {"bad=ZZ =4", "bad=ZZ =4"},          // malformed escapes kept literally
      {"end=", "end"},
      {"=", ""},
  };
  for (const auto& v : vectors) EXPECT_EQ(decode_quoted_printable(v.in), v.out) << v.in;
}

TEST(MimeDecode, Charsets) {
  EXPECT_EQ(to_utf8("caf\xE9", "ISO-8859-1"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("\xA4", "iso-8859-15"), "\xE2\x82\xAC");
  EXPECT_EQ(to_utf8("\xA4", "latin1"), "\xC2\xA4");
  EXPECT_EQ(to_utf8("\x80\x93", "windows-1252"), "\xE2\x82\xAC\xE2\x80\x9C");
  EXPECT_EQ(to_utf8("\x81", "cp1252"), "\xEF\xBF\xBD");
  EXPECT_EQ(to_utf8("ok\xC3\xA9", "utf-8"), "ok\xC3\xA9");
  EXPECT_EQ(to_utf8("bad\xC3", "utf-8"), "bad\xEF\xBF\xBD");
  EXPECT_EQ(to_utf8("\xED\xA0\x80", "utf-8"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(to_utf8("plain", "us-ascii"), "plain");
  EXPECT_EQ(to_utf8("\xC3\xA9", "x-unknown"), "\xC3\xA9");  // valid UTF-8 kept
  EXPECT_EQ(to_utf8("\xE9", "x-unknown"), "\xC3\xA9");      // otherwise read as cp1252
}

TEST(MimeDecode, Rfc2047) {
  struct V {
    const char* raw;
    std::string out;
  } vectors[] = {
      {"=?UTF-8?B?Y2Fmw6k=?=", "caf\xC3\xA9"},
      {"=?iso-8859-1?q?caf=E9_noir?=", "caf\xC3\xA9 noir"},
      // RFC 2047 §8: white space between adjacent encoded words is dropped.
      {"(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"=?ISO-8859-1?Q?a?=\r\n   =?ISO-8859-1?Q?b?=", "ab"},
      {"=?ISO-8859-1?Q?a?= b", "a b"},
      {"a =?ISO-8859-1?Q?b?=", "a b"},
      // A UTF-8 character split across two B words is joined before conversion.
      {"=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=", "\xC3\xA9\xC3\xA9"},
      {"=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "\xE2\x82\xAC"},
      {"=?utf-8*en?Q?hi?=", "hi"},  // RFC 2231 §5 language tag
      {"=?windows-1252?Q?=80?=", "\xE2\x82\xAC"},
      {"=?bogus?X?abc?=", "=?bogus?X?abc?="},  // unknown encoding left alone
      {"=?utf-8?Q?unterminated", "=?utf-8?Q?unterminated"},
      {"=?=?=?=?", "=?=?=?=?"},
      {"plain text", "plain text"},
  };
  for (const auto& v : vectors) EXPECT_EQ(decode_header_value(v.raw), v.out) << v.raw;
}

TEST(MimeDecode, Rfc2231Parameters) {
  auto m = Message::parse(crlf(
      "Content-Type: application/octet-stream;\n"
      " name*0=\"long file \";\n"
      " name*1=\"name.txt\";\n"
      " title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A;\n"
      " other*0*=UTF-8''%E2%82%AC%20;\n"
      " other*1=\"plain%20\";\n"
      " other*2*=%C3%A9;\n"
      " gap*0=a; gap*2=c;\n"
      " both=plain; both*=utf-8''%C3%A9\n"
      "Content-Disposition: attachment; filename*=iso-8859-1'fr'caf%E9.txt\n\nx"));
  const Part& r = m.root();
  EXPECT_EQ(r.param("name"), "long file name.txt");
  ASSERT_EQ(r.params.size(), 5u);
  EXPECT_EQ(r.params[1].name, "title");
  EXPECT_EQ(r.params[1].value, "This is ***fun***");
  EXPECT_EQ(r.params[1].charset, "us-ascii");
  EXPECT_EQ(r.params[1].language, "en-us");
  EXPECT_EQ(r.param("other"), "\xE2\x82\xAC plain%20\xC3\xA9");
  EXPECT_EQ(r.param("gap"), "a");  // joined up to the first missing section
  EXPECT_EQ(r.param("both"), "\xC3\xA9");  // the RFC 2231 form wins
  ASSERT_TRUE(r.disposition);
  EXPECT_EQ(r.disposition->params[0].name, "filename");
  EXPECT_EQ(r.disposition->params[0].value, "caf\xC3\xA9.txt");
  EXPECT_EQ(r.disposition->params[0].language, "fr");
}

TEST(MimeDecode, DecodeBodyAndSearchText) {
  auto m = Message::parse(crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9=\n au lait\n"
      "--b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\nPGI+w6k8L2I+\n"
      "--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0K\n"
      "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n"
      "--b--\n"));
  const Part& r = m.root();
  ASSERT_EQ(r.children.size(), 4u);
  auto qp = decode_body(m, r.children[0]);
  ASSERT_TRUE(qp.ok());
  EXPECT_EQ(*qp, "caf\xE9 au lait");
  EXPECT_EQ(*decode_body(m, r.children[1]), "<b>\xC3\xA9</b>");
  EXPECT_EQ(*decode_body(m, r.children[2]), "\x89PNG\r\n");
  auto unknown = decode_body(m, r.children[3]);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "UNKNOWN-CTE");
  EXPECT_EQ(text_for_search(m, r), "caf\xC3\xA9 au lait\n" + html_to_text("<b>\xC3\xA9</b>"));
  EXPECT_EQ(text_for_search(m, r).find("<b>"), std::string::npos);  // markup is not text
  EXPECT_EQ(text_for_search(m, r.children[2]), "");
}

// RFC 3516 §6 / RFC 9051 §4.3: the NUL-free form IMAP's BODY[...] sends.
TEST(MimeDecode, WithoutNulReencodesBinaryParts) {
  EXPECT_FALSE(without_nul("Subject: a\r\n\r\nplain\r\n").has_value());
  const std::string nul("\0", 1);
  // A multipart whose binary part holds NUL: that part only becomes base64.
  std::string msg = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                    "ab" + nul + "cd\r\n--b\r\n\r\nkeep" + nul + "\r\n--b--\r\n";
  auto out = without_nul(msg);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out,
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            "YWIAY2Q=\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\na2VlcAA=\r\n--b--\r\n");
  Message m = Message::parse(*out);
  auto d = decode_body(m, m.root().children[0]);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "ab" + nul + "cd");
  // Lines of 76 characters; a NUL with no lossless form (in a header) becomes U+FFFD.
  std::string big(100, 'x');
  big[50] = '\0';
  out = without_nul("X-Bad: a" + nul + "b\r\n\r\n" + big);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->find('\0'), std::string::npos);
  EXPECT_TRUE(out->starts_with("X-Bad: a\xEF\xBF\xBD" "b\r\nContent-Transfer-Encoding: base64\r\n\r\n")) << *out;
  size_t body = out->find("\r\n\r\n") + 4;
  EXPECT_EQ(out->find("\r\n", body), body + 76) << *out;
}

// RFC 8970 §3.1 PREVIEW text.
TEST(MimeDecode, PreviewText) {
  Message plain = Message::parse("Subject: x\r\n\r\n  Hello\r\n\r\n\tworld  \r\n");
  EXPECT_EQ(preview_text(plain), "Hello world");
  // HTML only: markup, style and entities go; an attachment's text is not the preview.
  Message html = Message::parse(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached\r\n--b\r\n"
      "Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
      "<html><head><style>p{color:red}</style></head><body><p>Caf\xE9&nbsp;&amp;<br>tea</p><!-- x --></body></html>\r\n"
      "--b--\r\n");
  EXPECT_EQ(preview_text(html), "Caf\xC3\xA9 & tea");
  // At most max_chars characters, counted as code points.
  Message lng = Message::parse("Content-Type: text/plain; charset=utf-8\r\n\r\n" + std::string(300, 'a') + "\r\n");
  EXPECT_EQ(preview_text(lng).size(), 256u);
  Message accents = Message::parse("Content-Type: text/plain; charset=utf-8\r\n\r\n\xC3\xA9\xC3\xA9\xC3\xA9 b\r\n");
  EXPECT_EQ(preview_text(accents, 2), "\xC3\xA9\xC3\xA9");
  EXPECT_EQ(preview_text(accents, 4), "\xC3\xA9\xC3\xA9\xC3\xA9");  // never a trailing space
  EXPECT_EQ(preview_text(accents, 5), "\xC3\xA9\xC3\xA9\xC3\xA9 b");
  EXPECT_EQ(preview_text(Message::parse("Content-Type: image/png\r\n\r\nxx")), "");
}

}  // namespace

namespace tern::mime {
namespace {
// Issue 18: SEARCH and the full-text index see HTML's text, entities decoded.
TEST(MimeDecode, HtmlEntitiesDecoded) {
  EXPECT_EQ(html_to_text("caf&eacute; &#233;&#xE9;&#XC9; na&iuml;ve"), "caf\xC3\xA9 \xC3\xA9\xC3\xA9\xC3\x89 na&iuml;ve");
  EXPECT_EQ(html_to_text("&#0; &#x110000; &#xD800;"), "\xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD");
  EXPECT_EQ(html_to_text("a &# b &#x; &#12a; &euro"), "a &# b &#x; &#12a; &euro");
  EXPECT_EQ(html_to_text("&ldquo;Hi&rdquo; &mdash; ok&hellip;"), "\xE2\x80\x9CHi\xE2\x80\x9D \xE2\x80\x94 ok\xE2\x80\xA6");
}

TEST(MimeDecode, SearchDocumentIsFoldedHeaderAndBody) {
  std::string header, body;
  search_document("Subject: =?utf-8?q?GR=C3=9CSSE?=\r\nContent-Type: text/html\r\n\r\n<p>Stra&szlig;E</p>\r\n",
                  header, body);
  EXPECT_NE(header.find("subject: gr\xC3\xBCsse\n"), std::string::npos) << header;
  EXPECT_NE(body.find("strasse"), std::string::npos) << body;
  EXPECT_EQ(body.find("<p>"), std::string::npos);
}
}  // namespace
}  // namespace tern::mime
