// FETCH rendering over literal messages: every item and section form with the exact bytes a
// client would read (expected strings derived from RFC 9051 §6.4.5 / §7.5.2, RFC 3516).
#include <gtest/gtest.h>

#include "imapd/fetch.h"
#include "imapd/imapd.h"

namespace tern::imapd {
namespace {

// Parses the item list of "t FETCH 1 <items>" with the real command parser.
std::vector<FetchItem> items(const std::string& list) {
  CommandParser p;
  p.feed("t FETCH 1 " + list + "\r\n");
  ParseEvent ev = p.next();
  EXPECT_EQ(ev.kind, ParseEvent::Kind::command) << list;
  if (ev.kind != ParseEvent::Kind::command) return {};
  return ev.command.as<FetchArgs>().items;
}

// A multipart message: QP text, base64 binary with NULs, a forwarded multipart message and a
// part with an unknown transfer encoding.
const std::string kHeader =
    "From: Alice <alice@example.com>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Subject: =?UTF-8?Q?caf=C3=A9?= menu\r\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "Message-ID: <m1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n";
const std::string kInner =
    "From: carol@example.net\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/alternative; boundary=YY\r\n"
    "\r\n"
    "--YY\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "inner plain\r\n"
    "--YY\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>inner html</p>\r\n"
    "--YY--";
const std::string kText =
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Soupe =C3=A0 l'oignon=\r\n"
    " today\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AGFiYwBk\r\n"
    "--XX\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n" +
    kInner +
    "\r\n"
    "--XX\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: x-unknown\r\n"
    "\r\n"
    "zzz\r\n"
    "--XX--\r\n";
const std::string kMsg = kHeader + kText;

store::MessageInfo info_for(const std::string& bytes) {
  store::MessageInfo i;
  i.uid = 42;
  i.flags.system = store::kSeen | store::kFlagged;
  i.flags.keywords = {"$Forwarded"};
  i.modseq = 77;
  i.size = bytes.size();
  i.internal_date = 760686745;  // 1994-02-08 05:52:25 UTC
  return i;
}

std::string lit(std::string_view s) { return "{" + std::to_string(s.size()) + "}\r\n" + std::string(s); }

class FetchTest : public ::testing::Test {
 protected:
  std::string fetch(const std::string& list, FetchContext ctx = {}) {
    MessageView v(7, info_for(kMsg), [this]() -> Result<std::string> {
      ++loads;
      return kMsg;
    });
    auto r = render_fetch(items(list), v, ctx);
    EXPECT_TRUE(r.ok()) << list << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : "";
  }
  int loads = 0;
};

TEST_F(FetchTest, SimpleItems) {
  EXPECT_EQ(fetch("FLAGS"), "* 7 FETCH (FLAGS (\\Seen \\Flagged $Forwarded))\r\n");
  EXPECT_EQ(fetch("UID"), "* 7 FETCH (UID 42)\r\n");
  EXPECT_EQ(fetch("RFC822.SIZE"), "* 7 FETCH (RFC822.SIZE " + std::to_string(kMsg.size()) + ")\r\n");
  // RFC 9051 §9 date-day-fixed: a one-digit day is padded with a space.
  EXPECT_EQ(fetch("INTERNALDATE"), "* 7 FETCH (INTERNALDATE \" 8-Feb-1994 05:52:25 +0000\")\r\n");
  EXPECT_EQ(fetch("MODSEQ"), "* 7 FETCH (MODSEQ (77))\r\n");
  EXPECT_EQ(fetch("(UID FLAGS)"), "* 7 FETCH (UID 42 FLAGS (\\Seen \\Flagged $Forwarded))\r\n");
  EXPECT_EQ(loads, 0) << "no item above needs the message bytes";
}

// RFC 8970 §3.1: the first text/plain part, decoded, white space collapsed; a quoted string
// (literal when 8-bit and UTF-8 is not enabled).
TEST_F(FetchTest, Preview) {
  EXPECT_EQ(fetch("PREVIEW"), "* 7 FETCH (PREVIEW {23}\r\nSoupe \xC3\xA0 l'oignon today)\r\n");
  FetchContext utf8;
  utf8.utf8_accept = true;
  EXPECT_EQ(fetch("(UID PREVIEW (LAZY))", utf8), "* 7 FETCH (UID 42 PREVIEW \"Soupe \xC3\xA0 l'oignon today\")\r\n");
}

TEST(FetchDate, InternalDateFormat) {
  EXPECT_EQ(format_internal_date(0), " 1-Jan-1970 00:00:00 +0000");
  EXPECT_EQ(format_internal_date(951782400), "29-Feb-2000 00:00:00 +0000");
  EXPECT_EQ(format_internal_date(1700000000), "14-Nov-2023 22:13:20 +0000");
  EXPECT_EQ(format_internal_date(-1), "31-Dec-1969 23:59:59 +0000");
}

TEST_F(FetchTest, MacrosKeepOrder) {
  std::string fast = fetch("FAST");
  EXPECT_EQ(fast, "* 7 FETCH (FLAGS (\\Seen \\Flagged $Forwarded) INTERNALDATE \" 8-Feb-1994 05:52:25 +0000\" "
                  "RFC822.SIZE " + std::to_string(kMsg.size()) + ")\r\n");
  std::string full = fetch("FULL");
  EXPECT_NE(full.find("ENVELOPE (\"Mon, 7 Feb 1994"), std::string::npos);
  EXPECT_NE(full.find(" BODY ((\"TEXT\" \"PLAIN\""), std::string::npos);
}

TEST_F(FetchTest, Envelope) {
  EXPECT_EQ(fetch("ENVELOPE"),
            "* 7 FETCH (ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"=?UTF-8?Q?caf=C3=A9?= menu\" "
            "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" \"example.com\")) "
            "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Bob\" NIL \"bob\" \"example.org\")) "
            "NIL NIL NIL \"<m1@example.com>\"))\r\n");
}

TEST(FetchStructure, SimpleMessageBodyAndBodyStructure) {
  std::string raw = "Subject: x\r\n\r\nHello\r\nWorld\r\n";
  auto v = MessageView::from_bytes(1, info_for(raw), raw);
  auto r = render_fetch(items("(BODY BODYSTRUCTURE)"), v, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r,
            "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 14 2) "
            "BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 14 2 NIL NIL NIL NIL))\r\n");
}

TEST_F(FetchTest, BodyStructureOfNestedMessage) {
  std::string bs = fetch("BODYSTRUCTURE");
  // Parts in order, the forwarded message with its own envelope and structure, then the
  // multipart subtype and extension data.
  EXPECT_EQ(bs.rfind("* 7 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL "
                     "\"QUOTED-PRINTABLE\" 30 2 NIL NIL NIL NIL)", 0), 0u) << bs;
  EXPECT_NE(bs.find("(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" " + std::to_string(kInner.size()) +
                    " (NIL \"inner\" ((NIL NIL \"carol\" \"example.net\"))"),
            std::string::npos) << bs;
  EXPECT_NE(bs.find("\"MIXED\" (\"BOUNDARY\" \"XX\") NIL NIL NIL))\r\n"), std::string::npos) << bs;
}

TEST_F(FetchTest, WholeMessageAndPartials) {
  EXPECT_EQ(fetch("BODY.PEEK[]"), "* 7 FETCH (BODY[] " + lit(kMsg) + ")\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[]<0.10>"), "* 7 FETCH (BODY[]<0> {10}\r\nFrom: Alic)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[]<6.5>"), "* 7 FETCH (BODY[]<6> {5}\r\nAlice)\r\n");
  // A length past the end is cut; an origin past the end gives an empty string.
  EXPECT_EQ(fetch("BODY.PEEK[]<" + std::to_string(kMsg.size() - 4) + ".100>"),
            "* 7 FETCH (BODY[]<" + std::to_string(kMsg.size() - 4) + "> {4}\r\n--\r\n)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[]<100000.5>"), "* 7 FETCH (BODY[]<100000> {0}\r\n)\r\n");
  EXPECT_EQ(fetch("RFC822"), "* 7 FETCH (RFC822 " + lit(kMsg) + ")\r\n");
  EXPECT_EQ(loads, 6) << "one load per view";
}

TEST_F(FetchTest, HeaderAndText) {
  EXPECT_EQ(fetch("BODY.PEEK[HEADER]"), "* 7 FETCH (BODY[HEADER] " + lit(kHeader) + ")\r\n");
  EXPECT_EQ(fetch("RFC822.HEADER"), "* 7 FETCH (RFC822.HEADER " + lit(kHeader) + ")\r\n");
  EXPECT_EQ(fetch("BODY[TEXT]"), "* 7 FETCH (BODY[TEXT] " + lit(kText) + ")\r\n");
  EXPECT_EQ(fetch("RFC822.TEXT"), "* 7 FETCH (RFC822.TEXT " + lit(kText) + ")\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[TEXT]<0.8>"), "* 7 FETCH (BODY[TEXT]<0> {8}\r\npreamble)\r\n");
}

TEST_F(FetchTest, HeaderFieldsExactSlices) {
  // Fields in message order (not request order), original bytes, then the blank line; the
  // response names the fields upper-cased (RFC 9051 §7.5.2 allows it).
  EXPECT_EQ(fetch("BODY.PEEK[HEADER.FIELDS (subject from)]"),
            "* 7 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {72}\r\n"
            "From: Alice <alice@example.com>\r\n"
            "Subject: =?UTF-8?Q?caf=C3=A9?= menu\r\n"
            "\r\n)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[HEADER.FIELDS (X-Absent)]"),
            "* 7 FETCH (BODY[HEADER.FIELDS (X-ABSENT)] {2}\r\n\r\n)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[HEADER.FIELDS.NOT (From To Subject Date Message-ID)]"),
            "* 7 FETCH (BODY[HEADER.FIELDS.NOT (FROM TO SUBJECT DATE MESSAGE-ID)] {67}\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
            "\r\n)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[HEADER.FIELDS (To)]<4.8>"),
            "* 7 FETCH (BODY[HEADER.FIELDS (TO)]<4> {8}\r\nBob <bob)\r\n");
}

TEST_F(FetchTest, PartsAndMimeHeaders) {
  EXPECT_EQ(fetch("BODY.PEEK[1]"), "* 7 FETCH (BODY[1] {30}\r\nSoupe =C3=A0 l'oignon=\r\n today)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[1.MIME]"),
            "* 7 FETCH (BODY[1.MIME] {88}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[2]"), "* 7 FETCH (BODY[2] {8}\r\nAGFiYwBk)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[4]"), "* 7 FETCH (BODY[4] {3}\r\nzzz)\r\n");
  // A section the message does not have is NIL.
  EXPECT_EQ(fetch("BODY.PEEK[5]"), "* 7 FETCH (BODY[5] NIL)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[1.2]"), "* 7 FETCH (BODY[1.2] NIL)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[1.HEADER]"), "* 7 FETCH (BODY[1.HEADER] NIL)\r\n");
}

TEST_F(FetchTest, NestedMessageParts) {
  EXPECT_EQ(fetch("BODY.PEEK[3]"), "* 7 FETCH (BODY[3] " + lit(kInner) + ")\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[3.MIME]"), "* 7 FETCH (BODY[3.MIME] {32}\r\nContent-Type: message/rfc822\r\n\r\n)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[3.HEADER]"),
            "* 7 FETCH (BODY[3.HEADER] {93}\r\nFrom: carol@example.net\r\nSubject: inner\r\n"
            "Content-Type: multipart/alternative; boundary=YY\r\n\r\n)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[3.HEADER.FIELDS (SUBJECT)]"),
            "* 7 FETCH (BODY[3.HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: inner\r\n\r\n)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[3.TEXT]"),
            "* 7 FETCH (BODY[3.TEXT] " + lit(kInner.substr(kInner.find("--YY"))) + ")\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[3.1]"), "* 7 FETCH (BODY[3.1] {11}\r\ninner plain)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[3.2]"), "* 7 FETCH (BODY[3.2] {17}\r\n<p>inner html</p>)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[3.2.MIME]"), "* 7 FETCH (BODY[3.2.MIME] {27}\r\nContent-Type: text/html\r\n\r\n)\r\n");
  EXPECT_EQ(fetch("BODY.PEEK[3.3]"), "* 7 FETCH (BODY[3.3] NIL)\r\n");
}

TEST_F(FetchTest, BinaryDecodes) {
  // Quoted-printable: "=C3=A0" is U+00E0, the soft line break joins the lines.
  EXPECT_EQ(fetch("BINARY.PEEK[1]"), "* 7 FETCH (BINARY[1] {23}\r\nSoupe \xC3\xA0 l'oignon today)\r\n");
  EXPECT_EQ(fetch("BINARY.SIZE[1]"), "* 7 FETCH (BINARY.SIZE[1] 23)\r\n");
  // Base64 holding NUL bytes: literal8 (RFC 3516 §4.3).
  static constexpr char kLit8[] = "* 7 FETCH (BINARY[2] ~{6}\r\n\0abc\0d)\r\n";
  EXPECT_EQ(fetch("BINARY.PEEK[2]"), std::string(kLit8, sizeof kLit8 - 1));
  EXPECT_EQ(fetch("BINARY.SIZE[2]"), "* 7 FETCH (BINARY.SIZE[2] 6)\r\n");
  // A partial without NUL goes as a plain literal.
  EXPECT_EQ(fetch("BINARY.PEEK[2]<1.3>"), "* 7 FETCH (BINARY[2]<1> {3}\r\nabc)\r\n");
  EXPECT_EQ(fetch("BINARY[3.1]"), "* 7 FETCH (BINARY[3.1] {11}\r\ninner plain)\r\n");
  EXPECT_EQ(fetch("BINARY.PEEK[]"), "* 7 FETCH (BINARY[] " + lit(kMsg) + ")\r\n");
  EXPECT_EQ(fetch("BINARY.SIZE[]"), "* 7 FETCH (BINARY.SIZE[] " + std::to_string(kMsg.size()) + ")\r\n");
  EXPECT_EQ(fetch("BINARY.PEEK[9]"), "* 7 FETCH (BINARY[9] NIL)\r\n");
  EXPECT_EQ(fetch("BINARY.SIZE[9]"), "* 7 FETCH (BINARY.SIZE[9] NIL)\r\n");
}

TEST_F(FetchTest, BinaryUnknownEncodingIsAnError) {
  for (const char* item : {"BINARY.PEEK[4]", "BINARY.SIZE[4]", "(UID BINARY[4])"}) {
    auto v = MessageView::from_bytes(7, info_for(kMsg), kMsg);
    auto r = render_fetch(items(item), v, {});
    ASSERT_FALSE(r.ok()) << item;
    EXPECT_TRUE(is_unknown_cte(r.error())) << item;
  }
  // BODY[4] of the same part is served raw.
  EXPECT_EQ(fetch("BODY.PEEK[4]"), "* 7 FETCH (BODY[4] {3}\r\nzzz)\r\n");
}

TEST_F(FetchTest, ContextAddsItemsOnce) {
  FetchContext uid;
  uid.uid_command = true;
  EXPECT_EQ(fetch("FLAGS", uid), "* 7 FETCH (UID 42 FLAGS (\\Seen \\Flagged $Forwarded))\r\n");
  EXPECT_EQ(fetch("(FLAGS UID)", uid), "* 7 FETCH (FLAGS (\\Seen \\Flagged $Forwarded) UID 42)\r\n");
  FetchContext seen;
  seen.include_flags = true;
  EXPECT_EQ(fetch("BODY[1]", seen),
            "* 7 FETCH (BODY[1] {30}\r\nSoupe =C3=A0 l'oignon=\r\n today FLAGS (\\Seen \\Flagged $Forwarded))\r\n");
  EXPECT_EQ(fetch("(FLAGS UID)", seen), "* 7 FETCH (FLAGS (\\Seen \\Flagged $Forwarded) UID 42)\r\n");
  FetchContext cs;
  cs.condstore = true;
  cs.uid_command = true;
  EXPECT_EQ(fetch("RFC822.SIZE", cs),
            "* 7 FETCH (UID 42 RFC822.SIZE " + std::to_string(kMsg.size()) + " MODSEQ (77))\r\n");
  EXPECT_EQ(fetch("(MODSEQ UID)", cs), "* 7 FETCH (MODSEQ (77) UID 42)\r\n");
  // The same item asked twice is written once.
  EXPECT_EQ(fetch("(UID UID)"), "* 7 FETCH (UID 42)\r\n");
}

TEST(FetchFlags, SetFlagsIsReflected) {
  std::string raw = "Subject: x\r\n\r\nbody\r\n";
  store::MessageInfo info;
  info.uid = 3;
  auto v = MessageView::from_bytes(2, info, raw);
  auto r1 = render_fetch(items("FLAGS"), v, {});
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(*r1, "* 2 FETCH (FLAGS ())\r\n");
  store::Flags f;
  f.system = store::kSeen | store::kAnswered | store::kDeleted | store::kDraft;
  v.set_flags(f, 9);
  FetchContext ctx;
  ctx.include_flags = true;
  ctx.condstore = true;
  auto r2 = render_fetch(items("BODY[TEXT]"), v, ctx);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, "* 2 FETCH (BODY[TEXT] {6}\r\nbody\r\n FLAGS (\\Seen \\Answered \\Deleted \\Draft) MODSEQ (9))\r\n");
}

TEST(FetchPredicates, NeedsBytesAndSetsSeen) {
  EXPECT_FALSE(fetch_needs_bytes(items("(FLAGS UID RFC822.SIZE INTERNALDATE MODSEQ ENVELOPE BODYSTRUCTURE BODY)")));
  for (const char* i : {"BODY[]", "BODY.PEEK[HEADER]", "RFC822", "RFC822.HEADER", "RFC822.TEXT", "BINARY[1]",
                        "BINARY.SIZE[1]", "(UID BODY.PEEK[1.MIME])"})
    EXPECT_TRUE(fetch_needs_bytes(items(i))) << i;
  store::MessageInfo cached;
  cached.cached_metadata = mime::serialize(mime::compute_metadata("Subject: a\r\n\r\nb"));
  store::MessageInfo uncached;
  EXPECT_FALSE(fetch_needs_bytes(items("(UID ENVELOPE)"), cached));
  EXPECT_TRUE(fetch_needs_bytes(items("(UID ENVELOPE)"), uncached));
  EXPECT_FALSE(fetch_needs_bytes(items("(UID FLAGS)"), uncached));

  for (const char* i : {"BODY[]", "BODY[TEXT]<0.5>", "BINARY[1]", "RFC822", "RFC822.TEXT", "(UID BODY[1])"})
    EXPECT_TRUE(fetch_sets_seen(items(i))) << i;
  for (const char* i : {"BODY.PEEK[]", "BINARY.PEEK[1]", "BINARY.SIZE[1]", "RFC822.HEADER", "BODY", "ALL"})
    EXPECT_FALSE(fetch_sets_seen(items(i))) << i;
}

TEST(FetchMetadata, CachedAndComputedAreEqual) {
  // Computed: no cache, the view parses and offers the blob for caching.
  auto computed = MessageView::from_bytes(7, info_for(kMsg), kMsg);
  auto a = render_fetch(items("(ENVELOPE BODY BODYSTRUCTURE)"), computed, {});
  ASSERT_TRUE(a.ok());
  auto blob = computed.computed_metadata_blob();
  ASSERT_TRUE(blob.has_value());
  EXPECT_EQ(*blob, mime::serialize(mime::compute_metadata(kMsg)));

  // Cached: the loader must not run at all.
  store::MessageInfo info = info_for(kMsg);
  info.cached_metadata = *blob;
  int loads = 0;
  MessageView cached(7, info, [&]() -> Result<std::string> {
    ++loads;
    return make_error(Errc::internal, "must not load");
  });
  auto b = render_fetch(items("(ENVELOPE BODY BODYSTRUCTURE)"), cached, {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(loads, 0);
  EXPECT_FALSE(cached.computed_metadata_blob().has_value());

  // A corrupt cache falls back to computing.
  info.cached_metadata = "garbage";
  auto bad = MessageView::from_bytes(7, info, kMsg);
  auto c = render_fetch(items("(ENVELOPE BODY BODYSTRUCTURE)"), bad, {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*a, *c);
  EXPECT_TRUE(bad.computed_metadata_blob().has_value());
}

TEST(FetchErrors, LoaderFailureIsReportedOnceAndLoadedOnce) {
  int loads = 0;
  MessageView v(1, store::MessageInfo{}, [&]() -> Result<std::string> {
    ++loads;
    return make_error(Errc::internal, "disk on fire");
  });
  auto r = render_fetch(items("(UID BODY.PEEK[] ENVELOPE)"), v, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "disk on fire");
  EXPECT_FALSE(v.bytes().ok());
  EXPECT_EQ(loads, 1);
}

TEST(FetchInto, AppendsToOutputAndLeavesItUntouchedOnError) {
  const auto list = items("(UID BODY.PEEK[] BODY.PEEK[TEXT]<2.3>)");
  MessageView ok(3, info_for(kMsg), []() -> Result<std::string> { return kMsg; });
  std::string out = "* 9 EXISTS\r\n";
  ASSERT_TRUE(render_fetch_into(out, list, response_names(list), ok, {}).ok());
  EXPECT_EQ(out, "* 9 EXISTS\r\n* 3 FETCH (UID 42 BODY[] " + lit(kMsg) + " BODY[TEXT]<2> " +
                     lit(kText.substr(2, 3)) + ")\r\n");
  // The same as render_fetch's whole line.
  MessageView again(3, info_for(kMsg), []() -> Result<std::string> { return kMsg; });
  auto whole = render_fetch(list, again, {});
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(out.substr(std::string("* 9 EXISTS\r\n").size()), *whole);
  // A failed load appends nothing (the UID already rendered is taken back).
  MessageView bad(4, info_for(kMsg), []() -> Result<std::string> { return make_error(Errc::internal, "gone"); });
  std::string before = out;
  EXPECT_FALSE(render_fetch_into(out, list, response_names(list), bad, {}).ok());
  EXPECT_EQ(out, before);
}

TEST(FetchView, LoadsAndParsesOnce) {
  int loads = 0;
  MessageView v(1, info_for(kMsg), [&]() -> Result<std::string> {
    ++loads;
    return kMsg;
  });
  auto r = render_fetch(items("(BODY.PEEK[1] BINARY.PEEK[2] BODYSTRUCTURE BODY[HEADER] RFC822.SIZE)"), v, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(loads, 1);
  auto b = v.bytes();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, kMsg);  // still available after the parse took the bytes
  auto p1 = v.parsed();
  auto p2 = v.parsed();
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(*p1, *p2);
}

TEST(FetchEdge, EmptyAndMalformedMessages) {
  for (std::string raw : {std::string(), std::string("no header end"), std::string("\r\n"),
                          std::string("Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nunterminated")}) {
    auto v = MessageView::from_bytes(1, info_for(raw), raw);
    auto r = render_fetch(items("(ENVELOPE BODYSTRUCTURE BODY[] BODY[HEADER] BODY[TEXT] BODY[1] BODY[1.MIME] "
                                "BINARY[1] BINARY.SIZE[1] BODY[2.3.HEADER.FIELDS (A)])"),
                          v, {});
    ASSERT_TRUE(r.ok()) << raw;
    EXPECT_EQ(r->rfind("* 1 FETCH (ENVELOPE (", 0), 0u);
    EXPECT_EQ(r->substr(r->size() - 3), ")\r\n");
  }
}

}  // namespace
}  // namespace tern::imapd
