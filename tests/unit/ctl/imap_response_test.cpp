// ctl/imap_response.h: framing and parsing of another server's IMAP responses, whole and
// trickled byte by byte, good and hostile.
#include "ctl/imap_response.h"

#include <gtest/gtest.h>

using namespace tern;
using namespace tern::ctl::imap;

namespace {

const std::string kFetch =
    "* 3 FETCH (UID 17 FLAGS (\\Seen $Label1 \\Recent) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
    "BODY[] {11}\r\nHi\r\nthere\r\n)\r\n";

// The framer must find the same boundary however the bytes arrive.
size_t frame_trickled(const std::string& all) {
  for (size_t n = 0; n <= all.size(); ++n) {
    auto r = frame_response(std::string_view(all).substr(0, n));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return 0;
    if (*r > 0) return *r;
  }
  return 0;
}

}  // namespace

TEST(ImapResponse, FramesLinesAndLiterals) {
  EXPECT_EQ(frame_trickled("* OK ready\r\nrest"), 12u);
  EXPECT_EQ(frame_trickled(kFetch + "* 4 FETCH"), kFetch.size());
  // A literal whose bytes hold CRLF and "{5}" is not cut there.
  std::string tricky = "* 1 FETCH (BODY[] {9}\r\nab\r\n{5}\r\n)\r\n";
  EXPECT_EQ(frame_trickled(tricky), tricky.size());
  std::string plus = "* LIST () \"/\" {3+}\r\nabc\r\n";
  EXPECT_EQ(frame_trickled(plus), plus.size());
}

TEST(ImapResponse, FramerRefusesHugeLinesAndLiterals) {
  std::string long_line(kMaxLine + 10, 'a');
  EXPECT_FALSE(frame_response(long_line).ok());
  EXPECT_FALSE(frame_response("* 1 FETCH (BODY[] {99999999999999}\r\n").ok());
  EXPECT_FALSE(frame_response("* 1 FETCH (BODY[] {9999999999}\r\n").ok());
}

TEST(ImapResponse, ParsesAFetch) {
  auto v = parse_values(kFetch);
  ASSERT_TRUE(v.ok()) << v.error().message;
  auto f = parse_fetch(*v);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->seq, 3u);
  EXPECT_EQ(f->uid, 17u);
  ASSERT_TRUE(f->flags.has_value());
  EXPECT_EQ(*f->flags, (std::vector<std::string>{"\\Seen", "$Label1", "\\Recent"}));
  EXPECT_EQ(f->body, "Hi\r\nthere\r\n");
  ASSERT_TRUE(f->internaldate.has_value());
  // RFC 9051 §9 date-time: 1996-07-17 02:44:25 -0700 = 09:44:25 UTC.
  EXPECT_EQ(parse_internaldate(*f->internaldate), 837596665);
}

TEST(ImapResponse, ParsesListAndResponseCodes) {
  auto v = parse_values("* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent \\\"Items\\\"\"\r\n");
  ASSERT_TRUE(v.ok());
  auto l = parse_list(*v);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->attributes, (std::vector<std::string>{"\\HasNoChildren", "\\Sent"}));
  EXPECT_EQ(l->delimiter, "/");
  EXPECT_EQ(l->name, "Sent \"Items\"");
  auto nil = parse_values("* LIST (\\Noselect) NIL {5}\r\nA&-B.\r\n");
  ASSERT_TRUE(nil.ok());
  auto n = parse_list(*nil);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->delimiter, "");
  EXPECT_EQ(n->name, "A&-B.");
  EXPECT_EQ(response_code_number("* OK [UIDVALIDITY 3857529045] UIDs valid", "UIDVALIDITY"), 3857529045u);
  EXPECT_EQ(response_code_number("* OK [uidvalidity 7] x", "UIDVALIDITY"), 7u);
  EXPECT_EQ(response_code_number("* OK [UIDVALIDITY 99999999999] x", "UIDVALIDITY"), std::nullopt);
  EXPECT_EQ(response_code_number("* OK [UIDNEXT 4] x", "UIDVALIDITY"), std::nullopt);
}

TEST(ImapResponse, HostileInputIsAnErrorNotACrash) {
  const char* bad[] = {
      "* 1 FETCH (UID 1 BODY[] {50}\r\nshort)\r\n",
      "* 1 FETCH (UID 1",
      "* 1 FETCH ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((x",
      "* 1 FETCH (\"unterminated)\r\n",
      "* 1 FETCH (BODY[ {3}\r\nabc)\r\n",
      ")",
      "* 1 FETCH (BODY[] {3}abc)\r\n",
  };
  for (const char* s : bad) EXPECT_FALSE(parse_values(s).ok()) << s;
  // Well-formed values that are not a usable FETCH.
  const char* odd[] = {
      "* 1 FETCH (UID)\r\n",
      "* 1 FETCH (UID x)\r\n",
      "* 1 FETCH (UID 99999999999)\r\n",
      "* x FETCH (UID 1)\r\n",
      "* 1 FETCH UID 1\r\n",
      "* 1 FETCH (RFC822.SIZE -1)\r\n",
      "* 1 FETCH (BODY[] (a b))\r\n",
      "* 1 FETCH (INTERNALDATE NIL)\r\n",
  };
  for (const char* s : odd) {
    auto v = parse_values(s);
    ASSERT_TRUE(v.ok()) << s;
    EXPECT_FALSE(parse_fetch(*v).has_value()) << s;
  }
  // Every prefix of a good response either parses or is an error: never a crash.
  for (size_t n = 0; n < kFetch.size(); ++n) {
    auto v = parse_values(std::string_view(kFetch).substr(0, n));
    if (v.ok()) (void)parse_fetch(*v);
  }
}

TEST(ImapResponse, Dates) {
  EXPECT_EQ(parse_internaldate(" 1-Jan-2020 00:00:00 +0000"), 1577836800);
  EXPECT_EQ(parse_internaldate("01-Jan-2020 00:00:00 +0100"), 1577833200);
  EXPECT_EQ(parse_internaldate("1-Jan-2020 00:00:00 +0000"), 1577836800);
  EXPECT_FALSE(parse_internaldate("01-Foo-2020 00:00:00 +0000").has_value());
  EXPECT_FALSE(parse_internaldate("01-Jan-2020 25:00:00 +0000").has_value());
  EXPECT_FALSE(parse_internaldate("01-Jan-2020 00:00:00 0000").has_value());
  EXPECT_FALSE(parse_internaldate("").has_value());
}

TEST(ImapResponse, Quoting) {
  EXPECT_EQ(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_FALSE(quote("caf\xc3\xa9").has_value());
  EXPECT_FALSE(quote("a\r\nb").has_value());
}
