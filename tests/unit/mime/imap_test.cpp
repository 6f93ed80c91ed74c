#include <gtest/gtest.h>

#include "mime/mime.h"
#include "test_util.h"

using namespace tern::mime;
using mime_test::crlf;

namespace {

TEST(MimeImap, Strings) {
  EXPECT_EQ(imap_string("abc"), "\"abc\"");
  EXPECT_EQ(imap_string(""), "\"\"");
  EXPECT_EQ(imap_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(imap_string("caf\xC3\xA9"), "{5}\r\ncaf\xC3\xA9");
  EXPECT_EQ(imap_string("a\r\nb"), "{4}\r\na\r\nb");
  EXPECT_EQ(imap_string(std::string("a\0b", 3)), "\"ab\"");
  EXPECT_EQ(imap_nstring(std::nullopt), "NIL");
}

TEST(MimeImap, AddressLists) {
  struct V {
    const char* in;
    std::vector<Address> out;
  };
  auto A = [](std::optional<std::string> n, std::optional<std::string> adl, std::optional<std::string> mb,
              std::optional<std::string> h) { return Address{n, adl, mb, h}; };
  std::vector<V> vectors = {
      {"a@b.test", {A({}, {}, "a", "b.test")}},
      {"\"Doe, John\" <john@x.test>", {A("Doe, John", {}, "john", "x.test")}},
      {"John Q. Public <jqp@x.test>, b@c", {A("John Q. Public", {}, "jqp", "x.test"), A({}, {}, "b", "c")}},
      {"=?utf-8?Q?J=C3=B6rg?= <j@x>", {A("=?utf-8?Q?J=C3=B6rg?=", {}, "j", "x")}},
      {"j@x (Jo Smith)", {A("Jo Smith", {}, "j", "x")}},
      {"<@r1.test,@r2.test:u@h.test>", {A({}, "@r1.test,@r2.test", "u", "h.test")}},
      {"team: a@b, C <c@d>;, z@y",
       {A({}, {}, "team", {}), A({}, {}, "a", "b"), A("C", {}, "c", "d"), A({}, {}, {}, {}),
        A({}, {}, "z", "y")}},
      {"undisclosed-recipients:;", {A({}, {}, "undisclosed-recipients", {}), A({}, {}, {}, {})}},
      {"\"odd local\"@x.test", {A({}, {}, "\"odd local\"", "x.test")}},
      {"user@[192.0.2.1]", {A({}, {}, "user", "[192.0.2.1]")}},
      {"nodomain", {A({}, {}, "nodomain", "")}},
      {"<>, ,,", {}},
      {"", {}},
      {"a@b <junk", {A({}, {}, "a", "b"), A({}, {}, "junk", "")}},  // unclosed angle: best effort
      {"unclosed: a@b", {A({}, {}, "unclosed", {}), A({}, {}, "a", "b"), A({}, {}, {}, {})}},
  };
  for (const auto& v : vectors) {
    auto got = parse_address_list(v.in);
    ASSERT_EQ(got.size(), v.out.size()) << v.in;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].name, v.out[i].name) << v.in << " #" << i;
      EXPECT_EQ(got[i].adl, v.out[i].adl) << v.in << " #" << i;
      EXPECT_EQ(got[i].mailbox, v.out[i].mailbox) << v.in << " #" << i;
      EXPECT_EQ(got[i].host, v.out[i].host) << v.in << " #" << i;
    }
  }
}

TEST(MimeImap, EnvelopeDefaultsAndNil) {
  auto m = Message::parse(crlf(
      "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\n"
      "From: Fred Foobar <foobar@Blurdybloop.example>\n"
      "Subject: afternoon meeting\n"
      "To: mooch@owatagu.siam.edu.example\n"
      "Message-Id: <B27397-0100000@Blurdybloop.example>\n"
      "\nbody\n"));
  EXPECT_EQ(m.envelope_imap(),
            "(\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"afternoon meeting\" "
            "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
            "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
            "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
            "((NIL NIL \"mooch\" \"owatagu.siam.edu.example\")) NIL NIL NIL "
            "\"<B27397-0100000@Blurdybloop.example>\")");
  auto e = Message::parse("\r\n");
  EXPECT_EQ(e.envelope_imap(), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST(MimeImap, EnvelopeSenderReplyToAndEightBit) {
  auto m = Message::parse(crlf(
      "From: a@x\nSender: s@x\nReply-To: r@x\nCc: c@x\nBcc: b@x\nIn-Reply-To: <p@x>\n"
      "Subject: caf\xC3\xA9 \"q\"\n\n"));
  EXPECT_EQ(m.envelope_imap(),
            "(NIL {9}\r\ncaf\xC3\xA9 \"q\" ((NIL NIL \"a\" \"x\")) ((NIL NIL \"s\" \"x\")) "
            "((NIL NIL \"r\" \"x\")) NIL ((NIL NIL \"c\" \"x\")) ((NIL NIL \"b\" \"x\")) "
            "\"<p@x>\" NIL)");
}

TEST(MimeImap, BodyStructureSimpleText) {
  // RFC 3501 §7.4.2 style: default type carries charset us-ascii.
  auto m = Message::parse(crlf("Subject: x\n\nHello\nWorld\n"));
  EXPECT_EQ(m.bodystructure_imap(),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 14 2 NIL NIL NIL NIL)");
  EXPECT_EQ(m.body_imap(), "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 14 2)");
  // Explicit Content-Type without parameters: no invented charset.
  auto p = Message::parse(crlf("Content-Type: text/plain\n\nx"));
  EXPECT_EQ(p.body_imap(), "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)");
}

TEST(MimeImap, BodyStructureMultipartWithExtensions) {
  auto m = Message::parse(crlf(
      "Content-Type: multipart/mixed; boundary=\"b\"\n"
      "Content-Language: en\n\n"
      "--b\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\nhi\n"
      "--b\nContent-Type: application/pdf; name=\"r.pdf\"\nContent-Transfer-Encoding: base64\n"
      "Content-Disposition: attachment; filename=\"r.pdf\"\nContent-ID: <c1>\nContent-Description: report\n"
      "Content-MD5: abc=\nContent-Location: r.pdf\n\nAAAA\nBBBB\n"
      "--b--\n"));
  EXPECT_EQ(m.bodystructure_imap(),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL \"QUOTED-PRINTABLE\" 2 1 NIL NIL NIL NIL)"
            "(\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") \"<c1>\" \"report\" \"BASE64\" 10 \"abc=\" "
            "(\"ATTACHMENT\" (\"FILENAME\" \"r.pdf\")) NIL \"r.pdf\") "
            "\"MIXED\" (\"BOUNDARY\" \"b\") NIL (\"en\") NIL)");
  EXPECT_EQ(m.body_imap(),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL \"QUOTED-PRINTABLE\" 2 1)"
            "(\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") \"<c1>\" \"report\" \"BASE64\" 10) \"MIXED\")");
}

TEST(MimeImap, BodyStructureMessageRfc822) {
  auto m = Message::parse(crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: message/rfc822\n\nFrom: a@x\nSubject: fwd\n\ninner\n"
      "--b--\n"));
  // Embedded message: 11 + 14 + 2 + 5 = 32 octets, 4 lines (last unterminated before the
  // delimiter's CRLF).
  EXPECT_EQ(m.body_imap(),
            "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 32 "
            "(NIL \"fwd\" ((NIL NIL \"a\" \"x\")) ((NIL NIL \"a\" \"x\")) ((NIL NIL \"a\" \"x\")) "
            "NIL NIL NIL NIL NIL) "
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 1) 4) \"MIXED\")");
}

TEST(MimeImap, Rfc2231ValueIsDecodedInBodyStructure) {
  auto m = Message::parse(crlf("Content-Type: text/plain; name*=utf-8''%C3%A9.txt\n\nx"));
  EXPECT_EQ(m.body_imap(), "(\"TEXT\" \"PLAIN\" (\"NAME\" {6}\r\n\xC3\xA9.txt) NIL NIL \"7BIT\" 1 1)");
}

TEST(MimeImap, MetadataRoundTrip) {
  std::string raw = crlf("Subject: caf\xC3\xA9\nFrom: a@b\n\nx\n");
  CachedMetadata md = compute_metadata(raw);
  auto m = Message::parse(raw);
  EXPECT_EQ(md.envelope, m.envelope_imap());
  EXPECT_EQ(md.bodystructure, m.bodystructure_imap());
  EXPECT_EQ(md.body, m.body_imap());
  std::string blob = serialize(md);
  auto back = deserialize_metadata(blob);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->envelope, md.envelope);
  EXPECT_EQ(back->bodystructure, md.bodystructure);
  EXPECT_EQ(back->body, md.body);
  for (std::string bad : {std::string(), std::string("TMM1 1 1 1\nab"), std::string("XXX1 0 0 0\n"),
                          blob.substr(0, blob.size() - 1), blob + "x",
                          std::string("TMM1 99999999999999999999 0 0\n")}) {
    EXPECT_FALSE(deserialize_metadata(bad).ok()) << bad;
  }
}

}  // namespace
