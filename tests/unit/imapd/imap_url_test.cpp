// IMAP URLs (RFC 5092) as CATENATE uses them (RFC 4469 §3), with the RFCs' own examples.
#include "imapd/imap_url.h"

#include <gtest/gtest.h>

#include "parser_harness.h"

namespace tern::imapd {
namespace {

TEST(ImapUrl, Rfc4469_5_ExampleUrls) {
  auto u = parse_imap_url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->mailbox, "Drafts");
  EXPECT_EQ(u->uidvalidity, 385759045u);
  EXPECT_EQ(u->uid, 20u);
  EXPECT_EQ(u->section, "HEADER");
  EXPECT_FALSE(u->user);
  u = parse_imap_url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->section, "1.MIME");
  u = parse_imap_url("/Drafts;UIDVALIDITY=385759045/;UID=30");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 30u);
  EXPECT_EQ(u->section, "");
  u = parse_imap_url("/INBOX;UIDVALIDITY=785799047/;UID=113330/;section=1.5.9");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->section, "1.5.9");
}

TEST(ImapUrl, Rfc5092_AbsoluteFormsAndEncoding) {
  // RFC 5092 §7 examples: a user, a percent-encoded mailbox, PARTIAL.
  auto u = parse_imap_url("imap://michael@example.org:143/users.*;UIDVALIDITY=1/;UID=5/;SECTION=1.2");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->user, "michael");
  EXPECT_EQ(u->mailbox, "users.*");
  EXPECT_EQ(u->section, "1.2");
  u = parse_imap_url("imap://psicorp.example.org/~peter/%E6%97%A5%E6%9C%AC%E8%AA%9E/;UID=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->mailbox, "~peter/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");
  u = parse_imap_url("imap://bob;AUTH=*@h/inbox/;UID=7/;SECTION=HEADER.FIELDS%20(TO%20FROM)/;PARTIAL=10.20");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->user, "bob");
  EXPECT_EQ(u->mailbox, "INBOX");
  EXPECT_EQ(u->section, "HEADER.FIELDS (TO FROM)");
  ASSERT_TRUE(u->partial);
  EXPECT_EQ(u->partial->offset, 10u);
  EXPECT_EQ(u->partial->length, 20u);
  u = parse_imap_url("/a%2Fb/;UID=1/;PARTIAL=0");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->mailbox, "a/b");
  EXPECT_EQ(u->partial->length, 0u);
}

TEST(ImapUrl, Rfc4469_3_RefusedUrls) {
  for (const char* bad :
       {"", "Drafts/;UID=1", ";UID=20", "/Drafts", "/Drafts;UIDVALIDITY=0/;UID=1", "/Drafts/;UID=0",
        "/Drafts/;UID=x", "/Drafts?SUBJECT%20x", "imap://h", "/Drafts;FOO=1/;UID=1", "/Drafts/;UID=1/;SECTION=",
        "/Drafts/;UID=1/;FOO=2", "/Drafts/;UID=1;EXPIRE=2030-01-01T00:00:00Z;URLAUTH=anonymous",
        "/Drafts/;UID=1/;PARTIAL=1.0", "/Drafts/;UID=99999999999", "/%ZZ/;UID=1", "/Drafts/;UID=1/;UID=2"}) {
    EXPECT_FALSE(parse_imap_url(bad).ok()) << bad;
  }
}

TEST(CatenateParser, Rfc4469_5_Grammar) {
  auto out = test::run(
      "a APPEND Drafts (\\Seen) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" TEXT {4}\r\n"
      "ab\r\n URL /x/;UID=1 TEXT ~{2}\r\n" + std::string("\0z", 2) + ")\r\n");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], "LIT 4 a APPEND");
  EXPECT_EQ(out[1], "LIT 2 lit8 a APPEND");
  EXPECT_EQ(out[2],
            "CMD a APPEND mbox=\"Drafts\" {flags=(\\Seen) url=\"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" "
            "text=\"ab\\x0D\\x0A\" url=\"/x/;UID=1\" text8=\"\\x00z\"}");
  // MULTIAPPEND: a plain message then a CATENATE one.
  out = test::run("a APPEND Drafts {1+}\r\nx CATENATE (TEXT {1+}\r\ny)\r\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "CMD a APPEND mbox=\"Drafts\" {flags=() data=\"x\"} {flags=() text=\"y\"}");
  // Errors: an empty list, an unknown part, a URL without a value.
  EXPECT_EQ(test::run("a APPEND Drafts CATENATE ()\r\n")[0], "ERR syntax a expected TEXT or URL");
  EXPECT_EQ(test::run("a APPEND Drafts CATENATE (FOO x)\r\n")[0], "ERR syntax a expected TEXT or URL");
  EXPECT_EQ(test::run("a APPEND Drafts CATENATE (URL)\r\n")[0], "ERR syntax a expected SP");
}

}  // namespace
}  // namespace tern::imapd
