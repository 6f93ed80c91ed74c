// SEARCH evaluation over literal messages: every key true and false, composition, dates,
// decoded headers and bodies, sequence sets, UIDs, '*' and the saved result "$".
#include <gtest/gtest.h>

#include "imapd/imapd.h"
#include "imapd/search.h"

namespace tern::imapd {
namespace {

// Parses "t SEARCH <criteria>" with the real command parser (literals accepted).
SearchKey parse_key(const std::string& criteria) {
  CommandParser p;
  p.feed("t SEARCH " + criteria + "\r\n");
  while (true) {
    ParseEvent ev = p.next();
    if (ev.kind == ParseEvent::Kind::literal_request) {
      p.accept_literal();
      continue;
    }
    EXPECT_EQ(ev.kind, ParseEvent::Kind::command) << criteria;
    if (ev.kind != ParseEvent::Kind::command) return {};
    return ev.command.as<SearchArgs>().key;
  }
}

// A UTF-8 string as a literal (the parser keeps 8-bit bytes out of quoted strings).
std::string lit(std::string_view s) { return "{" + std::to_string(s.size()) + "}\r\n" + std::string(s); }

const std::string kMsg =
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\n"
    "To: Bob <bob@example.org>, team: carol@example.net;\r\n"
    "Cc: dave@example.com\r\n"
    "Bcc: eve@example.com\r\n"
    "Subject: =?UTF-8?B?UsOpdW5pb24gZGUgQsOkcg==?=\r\n"
    "Date: Tue, 1 Feb 2022 23:30:00 -0800\r\n"
    "X-Priority: 1\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "R3LDvMOfZSBhdXMgTcOcTkNIRU4NClRoZSBzZWNyZXQgd29yZCBpcyB4eWxvcGhvbmUuDQo=\r\n"
    "--b\r\n"
    "Content-Type: text/html; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<p>Caf=E9 cr=E8me</p>\r\n"
    "--b--\r\n";

constexpr int64_t kInternal = 1643787000;  // 2022-02-02 07:30:00 UTC

store::MessageInfo info_for(const std::string& bytes) {
  store::MessageInfo i;
  i.uid = 10;
  i.flags.system = store::kSeen | store::kAnswered;
  i.flags.keywords = {"Work"};
  i.modseq = 500;
  i.size = bytes.size();
  i.internal_date = kInternal;
  return i;
}

class SearchTest : public ::testing::Test {
 protected:
  SearchTest() {
    ctx.max_seq = 5;
    ctx.max_uid = 20;
    ctx.now = kInternal + 100;
  }
  // Evaluates on a fresh view (sequence number 3) and counts loads of the bytes.
  bool match(const std::string& criteria, const std::string& bytes = kMsg) {
    MessageView v(3, info_for(bytes), [this, bytes]() -> Result<std::string> {
      ++loads;
      return bytes;
    });
    auto r = search_matches(parse_key(criteria), v, ctx);
    EXPECT_TRUE(r.ok()) << criteria;
    return r.ok() && *r;
  }
  void expect(const std::vector<std::string>& yes, const std::vector<std::string>& no) {
    for (const auto& c : yes) EXPECT_TRUE(match(c)) << c;
    for (const auto& c : no) EXPECT_FALSE(match(c)) << c;
  }
  SearchContext ctx;
  int loads = 0;
};

TEST_F(SearchTest, FlagKeysWithoutLoadingTheMessage) {
  expect({"ALL", "ANSWERED", "SEEN", "UNDELETED", "UNDRAFT", "UNFLAGGED", "KEYWORD Work", "KEYWORD work",
          "UNKEYWORD Other", "OLD"},
         {"NOT ALL", "UNANSWERED", "UNSEEN", "DELETED", "DRAFT", "FLAGGED", "KEYWORD Other", "UNKEYWORD WORK",
          "RECENT", "NEW"});
  EXPECT_EQ(loads, 0);
}

TEST_F(SearchTest, SizeModseqAndAge) {
  std::string n = std::to_string(kMsg.size());
  std::string below = std::to_string(kMsg.size() - 1), above = std::to_string(kMsg.size() + 1);
  expect({"LARGER " + below, "SMALLER " + above, "MODSEQ 500", "MODSEQ 1", "MODSEQ \"/flags/\\\\Seen\" all 400",
          "OLDER 50", "YOUNGER 100", "YOUNGER 1000"},
         {"LARGER " + n, "SMALLER " + n, "MODSEQ 501", "OLDER 100", "OLDER 1000", "YOUNGER 99"});
  EXPECT_EQ(loads, 0);
}

TEST_F(SearchTest, InternalDateKeysIgnoreTime) {
  expect({"BEFORE 3-Feb-2022", "ON 2-Feb-2022", "SINCE 2-Feb-2022", "SINCE 1-Jan-2000", "BEFORE 1-Mar-2022"},
         {"BEFORE 2-Feb-2022", "ON 1-Feb-2022", "ON 3-Feb-2022", "SINCE 3-Feb-2022", "ON 2-Feb-2021"});
  EXPECT_EQ(loads, 0);
}

TEST_F(SearchTest, SentDateKeysUseTheDateHeaderDay) {
  // Date: Tue, 1 Feb 2022 23:30:00 -0800 is 2 Feb in UTC, but the zone is ignored.
  expect({"SENTON 1-Feb-2022", "SENTBEFORE 2-Feb-2022", "SENTSINCE 1-Feb-2022", "SENTSINCE 31-Jan-2022"},
         {"SENTON 2-Feb-2022", "SENTBEFORE 1-Feb-2022", "SENTSINCE 2-Feb-2022"});
  // Obsolete forms: no day name, 2-digit year (RFC 5322 §4.3).
  std::string old = "Date: 7 Feb 94 10:00 GMT\r\n\r\nx";
  EXPECT_TRUE(match("SENTON 7-Feb-1994", old));
  EXPECT_FALSE(match("SENTON 7-Feb-2094", old));
  // No usable Date: the internal date stands in (2 Feb 2022).
  for (std::string m : {std::string("Subject: x\r\n\r\nx"), std::string("Date: garbage\r\n\r\nx")}) {
    EXPECT_TRUE(match("SENTON 2-Feb-2022", m)) << m;
    EXPECT_FALSE(match("SENTBEFORE 2-Feb-2022", m)) << m;
  }
}

TEST_F(SearchTest, AddressHeadersMatchDecodedText) {
  expect({"FROM andre@example", "FROM " + lit("Andr\xC3\xA9"), "FROM " + lit("ANDR\xC3\x89"), "FROM EXAMPLE.COM",
          "TO bob", "TO team", "TO carol@example.net", "CC dave", "BCC eve@"},
         {"FROM =?ISO", "FROM zed", "TO dave", "TO andre", "CC bob", "BCC bob", "CC eve"});
}

TEST_F(SearchTest, SubjectAndHeaderKeys) {
  expect({"SUBJECT " + lit("r\xC3\xA9union"), "SUBJECT " + lit("R\xC3\x89UNION DE B\xC3\x84R"), "SUBJECT union",
          "SUBJECT \"\"", "HEADER X-Priority 1", "HEADER x-priority \"\"", "HEADER SUBJECT " + lit("b\xC3\xA4r"),
          "HEADER Content-Type alternative"},
         {"SUBJECT UTF-8", "SUBJECT UsOp", "SUBJECT reunion", "HEADER X-Priority 2", "HEADER X-Missing \"\"",
          "HEADER X-Missing x"});
}

TEST_F(SearchTest, BodyAndTextMatchDecodedContent) {
  expect({"BODY xylophone", "BODY \"SECRET WORD\"", "BODY " + lit("m\xC3\xBCnchen"), "BODY " + lit("gr\xC3\xBCsse"),
          "BODY " + lit("GR\xC3\x9CSSE"), "BODY " + lit("cr\xC3\xA8me"), "BODY " + lit("CAF\xC3\x89"),
          "TEXT xylophone", "TEXT X-Priority", "TEXT " + lit("andr\xC3\xA9"), "TEXT " + lit("r\xC3\xA9union")},
         {"BODY grusse" /* no accent stripping */, "BODY R3LDvMOf", "BODY Caf=E9", "BODY X-Priority", "BODY andre", "TEXT nomatch", "TEXT R3LDvMOf"});
}

TEST_F(SearchTest, CharsetOfTheSearchString) {
  SearchKey k;
  k.kind = SearchKey::Kind::subject;
  k.text = "r\xE9union";  // ISO-8859-1
  ctx.charset = "ISO-8859-1";
  auto v = MessageView::from_bytes(3, info_for(kMsg), kMsg);
  auto r = search_matches(k, v, ctx);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  k.text = "r\xE9unioX";
  auto v2 = MessageView::from_bytes(3, info_for(kMsg), kMsg);
  EXPECT_FALSE(*search_matches(k, v2, ctx));
}

TEST_F(SearchTest, SequenceSetsAndStar) {
  expect({"3", "1:3", "2:4", "5:2", "1,3", "3:*", "*:3", "UID 10", "UID 1:10", "UID 10:*", "UID 5,10,15"},
         {"1:2", "4:*", "*", "1,2,4", "UID 11", "UID 1:9", "UID *", "UID 11:*", "UID 25:*"});
  ctx.max_seq = 3;
  ctx.max_uid = 10;
  // "4:*" is "3:4" once '*' is 3 (RFC 9051 §9: the range covers both ends in either order).
  expect({"*", "UID *", "UID 25:*", "3:100", "4:*"}, {"4:5", "UID 11:12"});
  EXPECT_EQ(loads, 0);
}

TEST_F(SearchTest, SavedResult) {
  EXPECT_FALSE(match("$")) << "no saved result: nothing matches";
  std::vector<uint32_t> saved = {2, 10, 15};
  ctx.saved_uids = &saved;
  expect({"$", "UID $", "$ SEEN", "OR $ DELETED"}, {"NOT $", "$ UNSEEN"});
  std::vector<uint32_t> other = {2, 15};
  ctx.saved_uids = &other;
  expect({"NOT $"}, {"$", "UID $"});
}

TEST_F(SearchTest, BooleanComposition) {
  expect({"OR SEEN DELETED", "OR DELETED SEEN", "NOT DELETED", "(SEEN ANSWERED)", "SEEN ANSWERED",
          "OR (NOT SEEN) (OR FLAGGED FROM andre)", "NOT (SEEN DELETED)", "NOT NOT SEEN",
          "(OR DELETED (KEYWORD work)) 1:3 UID 10"},
         {"OR DELETED DRAFT", "NOT SEEN", "(SEEN DELETED)", "SEEN FROM zed", "OR (NOT SEEN) FROM zed",
          "NOT (OR SEEN DELETED)", "SEEN 4"});
}

TEST_F(SearchTest, NeedsBytes) {
  for (const char* k : {"FROM a", "TO a", "CC a", "BCC a", "SUBJECT a", "BODY a", "TEXT a", "HEADER a b",
                        "SENTON 1-Feb-2022", "SENTBEFORE 1-Feb-2022", "SENTSINCE 1-Feb-2022",
                        "OR SEEN BODY x", "NOT (SEEN FROM x)"})
    EXPECT_TRUE(search_needs_bytes(parse_key(k))) << k;
  for (const char* k : {"ALL", "SEEN", "1:*", "UID 4", "$", "LARGER 4", "ON 1-Feb-2022", "MODSEQ 4",
                        "OR SEEN (NOT KEYWORD x)", "OLDER 5", "NEW"})
    EXPECT_FALSE(search_needs_bytes(parse_key(k))) << k;
}

TEST_F(SearchTest, ShortCircuitAvoidsLoading) {
  EXPECT_FALSE(match("DELETED BODY xylophone"));
  EXPECT_EQ(loads, 0);
  EXPECT_TRUE(match("OR SEEN BODY xylophone"));
  EXPECT_EQ(loads, 0);
  EXPECT_TRUE(match("SEEN BODY xylophone FROM andre"));
  EXPECT_EQ(loads, 1);
}

TEST(SearchErrors, LoadFailureIsAnError) {
  MessageView v(1, store::MessageInfo{}, []() -> Result<std::string> {
    return make_error(Errc::internal, "gone");
  });
  SearchContext ctx;
  auto r = search_matches(parse_key("BODY x"), v, ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "gone");
  auto flags_only = search_matches(parse_key("UNSEEN"), v, ctx);
  ASSERT_TRUE(flags_only.ok());
  EXPECT_TRUE(*flags_only);
}

TEST(SearchFold, CaseFoldingExtent) {
  EXPECT_EQ(fold_for_search("HeLLo 123"), "hello 123");
  EXPECT_EQ(fold_for_search("\xC3\x80\xC3\x89\xC3\x96\xC3\x97\xC3\x9E"), "\xC3\xA0\xC3\xA9\xC3\xB6\xC3\x97\xC3\xBE");
  EXPECT_EQ(fold_for_search("Stra\xC3\x9F" "e"), "strasse");
  EXPECT_EQ(fold_for_search("\xC5\x81\xC3\xB3\x64\xC5\xBA"), "\xC5\x82\xC3\xB3\x64\xC5\xBA");  // Łódź
  EXPECT_EQ(fold_for_search("\xC5\xB9\xC5\xBD"), "\xC5\xBA\xC5\xBE");                          // ŹŽ
  EXPECT_EQ(fold_for_search("\xC4\xB0"), "i");                                                  // İ
  EXPECT_EQ(fold_for_search("\xC5\xB8"), "\xC3\xBF");                                           // Ÿ
  EXPECT_EQ(fold_for_search("\xCE\xA3\xCE\x9F\xCE\xA6\xCE\x99\xCE\x91"), "\xCF\x83\xCE\xBF\xCF\x86\xCE\xB9\xCE\xB1");
  EXPECT_EQ(fold_for_search("\xCF\x82"), "\xCF\x83");  // final sigma
  EXPECT_EQ(fold_for_search("\xD0\x9C\xD0\x9E\xD0\xA1\xD0\x9A\xD0\x92\xD0\x90 \xD0\x81"),
            "\xD0\xBC\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0 \xD1\x91");
  EXPECT_EQ(fold_for_search("\xE6\x97\xA5\xE6\x9C\xAC"), "\xE6\x97\xA5\xE6\x9C\xAC");  // unchanged
  // Invalid UTF-8 passes through byte for byte, never read past the end.
  EXPECT_EQ(fold_for_search("A\xFF\xC3"), "a\xFF\xC3");
  EXPECT_EQ(fold_for_search("\xE2\x82"), "\xE2\x82");
}

TEST(SearchDate, UtcCalendarDate) {
  EXPECT_EQ(utc_calendar_date(0), (Date{1970, 1, 1}));
  EXPECT_EQ(utc_calendar_date(kInternal), (Date{2022, 2, 2}));
  EXPECT_EQ(utc_calendar_date(951782400), (Date{2000, 2, 29}));
  EXPECT_EQ(utc_calendar_date(-1), (Date{1969, 12, 31}));
}

TEST(SearchEdge, MalformedMessagesNeverFail) {
  SearchKey all_strings = parse_key(
      "OR FROM a OR TO a OR CC a OR BCC a OR SUBJECT a OR BODY a OR TEXT a OR HEADER X a SENTON 1-Jan-2000");
  for (std::string raw : {std::string(), std::string("\r\n"), std::string("From: =?utf-8?b?====?=\r\n\r\n"),
                          std::string("Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Transfer-"
                                      "Encoding: base64\r\n\r\n!!!\r\n"),
                          std::string("Date: 99 Foo 99999\r\nFrom:\r\n\r\n\xFF\xFE")}) {
    auto v = MessageView::from_bytes(1, store::MessageInfo{}, raw);
    auto r = search_matches(all_strings, v, SearchContext{});
    EXPECT_TRUE(r.ok()) << raw;
  }
}

}  // namespace
}  // namespace tern::imapd
