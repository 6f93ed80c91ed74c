// Command grammar: a table of good and bad commands, each checked whole and trickled one
// byte at a time (the results must be identical).
#include <gtest/gtest.h>

#include "parser_harness.h"

namespace tern::imapd {
namespace {

using test::run;

struct Vector {
  const char* input;     // one command line, CRLF added by the test
  const char* expected;  // rendered event ("CMD ..." or "ERR ...")
};

const Vector kGood[] = {
    // simple commands, case-insensitive names, tags with odd characters
    {"a1 CAPABILITY", "CMD a1 CAPABILITY"},
    {"a1 noop", "CMD a1 NOOP"},
    {"x.y]z LOGOUT", "CMD x.y]z LOGOUT"},
    {"a STARTTLS", "CMD a STARTTLS"},
    {"a NAMESPACE", "CMD a NAMESPACE"},
    {"a IDLE", "CMD a IDLE"},
    {"a CHECK", "CMD a CHECK"},
    {"a CLOSE", "CMD a CLOSE"},
    {"a UNSELECT", "CMD a UNSELECT"},
    {"a EXPUNGE", "CMD a EXPUNGE"},
    {"a UID EXPUNGE 3:5,7", "CMD a UID EXPUNGE set=3:5,7"},
    {"a XFOO bar baz", "CMD a UNKNOWN name=\"XFOO\""},
    // ID
    {"a ID NIL", "CMD a ID NIL"},
    {"a ID ()", "CMD a ID ()"},
    {"a ID (\"name\" \"sodr\" \"version\" NIL)", "CMD a ID (\"name\"=\"sodr\",\"version\"=NIL)"},
    // AUTHENTICATE / LOGIN
    {"a AUTHENTICATE plain", "CMD a AUTHENTICATE mech=PLAIN"},
    {"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==", "CMD a AUTHENTICATE mech=PLAIN ir=\"AGFsaWNlAHNlY3JldA==\""},
    {"a AUTHENTICATE PLAIN =", "CMD a AUTHENTICATE mech=PLAIN ir=\"=\""},
    {"a LOGIN alice \"p a\\\"ss\"", "CMD a LOGIN user=\"alice\" pass=\"p a\\\"ss\""},
    {"a LOGIN {5+}\r\nalice {3+}\r\nx y", "CMD a LOGIN user=\"alice\" pass=\"x y\""},
    {"a ENABLE CONDSTORE utf8=accept", "CMD a ENABLE caps=[CONDSTORE,UTF8=ACCEPT]"},
    // SELECT / EXAMINE
    {"a SELECT inbox", "CMD a SELECT mbox=\"INBOX\""},
    {"a EXAMINE \"Sent Items\"", "CMD a EXAMINE mbox=\"Sent Items\""},
    {"a SELECT INBOX (CONDSTORE)", "CMD a SELECT mbox=\"INBOX\" condstore"},
    {"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
     "CMD a SELECT mbox=\"INBOX\" qresync=67890007,20050715194045000,known=41,43:211,214:541"},
    {"a SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
     "15000,22500,27000,29970,29973,29976:29979)))",
     "CMD a SELECT mbox=\"INBOX\" qresync=67890007,90060115194045000,known=1:29997,"
     "match=(5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29979)"},
    {"a SELECT INBOX (QRESYNC (1 2 (1:3 4:6)))", "CMD a SELECT mbox=\"INBOX\" qresync=1,2,match=(1:3 4:6)"},
    // mailbox commands
    {"a CREATE Archive/2024", "CMD a CREATE mbox=\"Archive/2024\""},
    // RFC 6154 §3 CREATE-SPECIAL-USE.
    {"a CREATE Junk2 (USE (\\Junk))", "CMD a CREATE mbox=\"Junk2\" use=(\\Junk)"},
    {"a CREATE x (USE (\\Sent \\Archive))", "CMD a CREATE mbox=\"x\" use=(\\Sent \\Archive)"},
    {"a CREATE x (USE ())", "CMD a CREATE mbox=\"x\""},
    {"a DELETE \"\"", "CMD a DELETE mbox=\"\""},
    {"a RENAME foo bar", "CMD a RENAME from=\"foo\" to=\"bar\""},
    {"a SUBSCRIBE &U,BTFw-", "CMD a SUBSCRIBE mbox=\"&U,BTFw-\""},
    {"a UNSUBSCRIBE {3+}\r\nfoo", "CMD a UNSUBSCRIBE mbox=\"foo\""},
    // LIST / LSUB
    {"a LIST \"\" *", "CMD a LIST ref=\"\" pats=[\"*\"]"},
    {"a LIST ~/Mail/ %", "CMD a LIST ref=\"~/Mail/\" pats=[\"%\"]"},
    {"a LIST \"\" foo/%/b*r]", "CMD a LIST ref=\"\" pats=[\"foo/%/b*r]\"]"},
    {"a LSUB \"\" *", "CMD a LSUB ref=\"\" pats=[\"*\"]"},
    {"a LIST (SUBSCRIBED) \"\" \"*\"", "CMD a LIST ref=\"\" pats=[\"*\"] sel=[SUBSCRIBED] ext"},
    {"a LIST (REMOTE SUBSCRIBED RECURSIVEMATCH) \"\" %",
     "CMD a LIST ref=\"\" pats=[\"%\"] sel=[SUBSCRIBED,REMOTE,RECURSIVEMATCH] ext"},
    {"a LIST () \"\" (INBOX Drafts \"Sent Mail\")", "CMD a LIST ref=\"\" pats=[\"INBOX\",\"Drafts\",\"Sent Mail\"] ext"},
    {"a LIST \"\" % RETURN (CHILDREN SUBSCRIBED)", "CMD a LIST ref=\"\" pats=[\"%\"] ret=[SUBSCRIBED,CHILDREN] ext"},
    {"a LIST (SPECIAL-USE) \"\" * RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))",
     "CMD a LIST ref=\"\" pats=[\"*\"] sel=[SPECIAL-USE] ret=[SPECIAL-USE,STATUS(MESSAGES UNSEEN)] ext"},
    {"a LIST \"\" % RETURN ()", "CMD a LIST ref=\"\" pats=[\"%\"] ext"},
    // STATUS
    {"a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ)",
     "CMD a STATUS mbox=\"INBOX\" items=(MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ)"},
    // APPEND
    {"a APPEND INBOX {5+}\r\nhello", "CMD a APPEND mbox=\"INBOX\" {flags=() data=\"hello\"}"},
    {"a APPEND Drafts (\\seen \\Draft $Label1) \" 7-Feb-1994 21:52:25 -0800\" {2+}\r\nhi",
     "CMD a APPEND mbox=\"Drafts\" {flags=(\\Seen \\Draft $Label1) date=1994-02-07T21:52:25-0800 data=\"hi\"}"},
    {"a APPEND INBOX () \"17-Jul-1996 02:44:25 +0130\" {0+}\r\n",
     "CMD a APPEND mbox=\"INBOX\" {flags=() date=1996-07-17T02:44:25+0130 data=\"\"}"},
    {"a APPEND INBOX (\\Seen) {1+}\r\nx {1+}\r\ny",
     "CMD a APPEND mbox=\"INBOX\" {flags=(\\Seen) data=\"x\"} {flags=() data=\"y\"}"},
    // COPY / MOVE
    {"a COPY 2:4 MEETING", "CMD a COPY set=2:4 mbox=\"MEETING\""},
    {"a UID MOVE 42:* \"Trash\"", "CMD a UID MOVE set=42:* mbox=\"Trash\""},
    {"a MOVE $ Archive", "CMD a MOVE set=$ mbox=\"Archive\""},
    // FETCH
    {"a FETCH 1 ALL", "CMD a FETCH set=1 items=[FLAGS,INTERNALDATE,RFC822.SIZE,ENVELOPE]"},
    {"a FETCH 1 fast", "CMD a FETCH set=1 items=[FLAGS,INTERNALDATE,RFC822.SIZE]"},
    {"a FETCH 1 FULL", "CMD a FETCH set=1 items=[FLAGS,INTERNALDATE,RFC822.SIZE,ENVELOPE,BODY]"},
    {"a FETCH 2:4 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE UID MODSEQ)",
     "CMD a FETCH set=2:4 items=[FLAGS,INTERNALDATE,RFC822.SIZE,ENVELOPE,BODY,BODYSTRUCTURE,UID,MODSEQ]"},
    {"a FETCH * (RFC822 RFC822.HEADER RFC822.TEXT)", "CMD a FETCH set=* items=[RFC822,RFC822.HEADER,RFC822.TEXT]"},
    {"a FETCH 1 BODY[]", "CMD a FETCH set=1 items=[BODY[]]"},
    {"a FETCH 1 body.peek[header]", "CMD a FETCH set=1 items=[BODY.PEEK[HEADER]]"},
    {"a FETCH 1 (BODY[TEXT]<0.2048>)", "CMD a FETCH set=1 items=[BODY[TEXT]<0.2048>]"},
    {"a FETCH 1 BODY.PEEK[HEADER.FIELDS (From To \"Subject\")]",
     "CMD a FETCH set=1 items=[BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT)]]"},
    {"a FETCH 1 BODY[HEADER.FIELDS.NOT (Received)]", "CMD a FETCH set=1 items=[BODY[HEADER.FIELDS.NOT (RECEIVED)]]"},
    {"a FETCH 1 (BODY[1] BODY[1.2.3] BODY[2.MIME] BODY[3.HEADER] BODY[3.TEXT] BODY[4.1.HEADER.FIELDS (X)])",
     "CMD a FETCH set=1 items=[BODY[1],BODY[1.2.3],BODY[2.MIME],BODY[3.HEADER],BODY[3.TEXT],"
     "BODY[4.1.HEADER.FIELDS (X)]]"},
    {"a FETCH 1 (BINARY[] BINARY.PEEK[1.2]<10.20> BINARY.SIZE[3])",
     "CMD a FETCH set=1 items=[BINARY[],BINARY.PEEK[1.2]<10.20>,BINARY.SIZE[3]]"},
    // RFC 8970 §6 PREVIEW [SP "(" preview-mod *(SP preview-mod) ")"].
    {"a FETCH 1 (UID PREVIEW)", "CMD a FETCH set=1 items=[UID,PREVIEW]"},
    {"a FETCH 1 (PREVIEW (LAZY) UID)", "CMD a FETCH set=1 items=[PREVIEW (LAZY),UID]"},
    {"a FETCH 1 preview (lazy)", "CMD a FETCH set=1 items=[PREVIEW (LAZY)]"},
    {"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)", "CMD a UID FETCH set=1:* items=[FLAGS] changedsince=12345"},
    {"a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
     "CMD a UID FETCH set=300:500 items=[FLAGS] changedsince=12345 vanished"},
    // STORE
    {"a STORE 2:4 +FLAGS (\\Deleted)", "CMD a STORE set=2:4 +FLAGS (\\Deleted)"},
    {"a STORE 1 -FLAGS.SILENT \\seen $Junk", "CMD a STORE set=1 -FLAGS.SILENT (\\Seen $Junk)"},
    {"a STORE 1 FLAGS ()", "CMD a STORE set=1 FLAGS ()"},
    {"a UID STORE 5 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)",
     "CMD a UID STORE set=5 unchangedsince=320162338 +FLAGS.SILENT (\\Deleted)"},
    {"a STORE 1 (UNCHANGEDSINCE 0) FLAGS \\Answered", "CMD a STORE set=1 unchangedsince=0 FLAGS (\\Answered)"},
    // SEARCH
    {"a SEARCH ALL", "CMD a SEARCH (ALL)"},
    {"a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
     "CMD a SEARCH (FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\")"},
    {"a UID SEARCH CHARSET utf-8 TEXT {6+}\r\nXXXXXX", "CMD a UID SEARCH charset=UTF-8 (TEXT \"XXXXXX\")"},
    {"a SEARCH OR (SEEN FLAGGED) NOT (UID 1:5 LARGER 100) 2,4:*",
     "CMD a SEARCH (OR (SEEN FLAGGED) NOT (UID 1:5 LARGER 100) 2,4:*)"},
    {"a SEARCH RETURN (MIN MAX COUNT) UNDELETED", "CMD a SEARCH return=(MIN MAX COUNT) (UNDELETED)"},
    {"a SEARCH RETURN () ALL", "CMD a SEARCH return=(ALL) (ALL)"},
    {"a UID SEARCH RETURN (SAVE) SEEN", "CMD a UID SEARCH return=(SAVE) (SEEN)"},
    {"a SEARCH $ UID $", "CMD a SEARCH ($ UID $)"},
    {"a SEARCH HEADER Message-ID \"<x@y>\" SUBJECT \"\" BODY foo",
     "CMD a SEARCH (HEADER \"Message-ID\" \"<x@y>\" SUBJECT \"\" BODY \"foo\")"},
    {"a SEARCH ANSWERED DELETED DRAFT UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN RECENT NEW OLD",
     "CMD a SEARCH (ANSWERED DELETED DRAFT UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN RECENT NEW OLD)"},
    {"a SEARCH KEYWORD $Forwarded UNKEYWORD Junk BCC a CC b TO c",
     "CMD a SEARCH (KEYWORD $Forwarded UNKEYWORD Junk BCC \"a\" CC \"b\" TO \"c\")"},
    {"a SEARCH BEFORE \"1-Jan-2000\" ON 31-dec-1999 SENTBEFORE 2-Mar-2001 SENTON 3-Apr-2002 SENTSINCE 4-May-2003",
     "CMD a SEARCH (BEFORE 1-Jan-2000 ON 31-Dec-1999 SENTBEFORE 2-Mar-2001 SENTON 3-Apr-2002 SENTSINCE 4-May-2003)"},
    {"a SEARCH SMALLER 10 OLDER 3600 YOUNGER 60", "CMD a SEARCH (SMALLER 10 OLDER 3600 YOUNGER 60)"},
    {"a SEARCH MODSEQ 620162338", "CMD a SEARCH (MODSEQ 620162338)"},
    {"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338",
     "CMD a SEARCH (MODSEQ \"/flags/\\\\draft\" all 620162338)"},
    {"a SEARCH OR OR SEEN DRAFT NOT NOT ALL", "CMD a SEARCH (OR OR SEEN DRAFT NOT NOT ALL)"},
};

const Vector kBad[] = {
    {"+tag NOOP", "ERR syntax - Missing or invalid tag"},
    {"(a NOOP", "ERR syntax - Missing or invalid tag"},
    {"a", "ERR syntax a Missing command"},
    {"a NOOP extra", "ERR syntax a unexpected text after command"},
    {"a NOOP ", "ERR syntax a unexpected text after command"},
    {"a  NOOP", "ERR syntax a Missing command"},
    {"a UID NOOP", "ERR syntax a Unknown UID command"},
    {"a LOGIN alice", "ERR syntax a expected SP"},
    {"a LOGIN \"al\\ice\" x", "ERR syntax a bad escape in quoted string"},
    {"a LOGIN \"alice x", "ERR syntax a unterminated quoted string"},
    {"a LOGIN \"\xff\xfe\" x", "ERR syntax a quoted string is not valid UTF-8"},
    {"a SELECT", "ERR syntax a expected SP"},
    {"a SELECT INBOX (FOO)", "ERR syntax a unknown select parameter"},
    {"a SELECT INBOX (QRESYNC (0 5))", "ERR syntax a expected non-zero number"},
    {"a SELECT INBOX (QRESYNC (1 0))", "ERR syntax a mod-sequence must be non-zero"},
    {"a SELECT INBOX (QRESYNC (1 5 1:*))", "ERR syntax a * not allowed in known-uids"},
    {"a ID (\"a\")", "ERR syntax a expected SP"},
    {"a AUTHENTICATE PLAIN abc", "ERR syntax a bad base64 initial response"},
    {"a ENABLE", "ERR syntax a expected SP"},
    {"a CREATE foo (FOO (\\Drafts))", "ERR syntax a unknown CREATE parameter"},
    {"a FETCH 1 (PREVIEW (FUZZY))", "ERR syntax a unknown PREVIEW modifier"},
    {"a CREATE foo (USE (Drafts))", "ERR syntax a bad special-use attribute"},
    {"a CREATE foo (USE (\\Drafts)", "ERR syntax a expected SP"},
    {"a LIST \"\"", "ERR syntax a expected SP"},
    {"a LIST (FOO) \"\" *", "ERR syntax a unknown LIST selection option"},
    {"a LIST (RECURSIVEMATCH) \"\" *", "ERR syntax a RECURSIVEMATCH requires another selection option"},
    {"a LIST \"\" * RETURN (FOO)", "ERR syntax a unknown LIST return option"},
    {"a LIST \"\" * FOO", "ERR syntax a expected RETURN"},
    {"a STATUS INBOX ()", "ERR syntax a expected atom"},
    {"a STATUS INBOX (MESSAGES BOGUS)", "ERR syntax a unknown status item"},
    {"a APPEND INBOX", "ERR syntax a expected SP"},
    {"a APPEND INBOX (\\Seen)", "ERR syntax a expected SP"},
    {"a APPEND INBOX \"bad date\" {1+}\r\nx", "ERR syntax a bad date-time"},
    {"a APPEND INBOX \"32-Jan-2020 00:00:00 +0000\" {1+}\r\nx", "ERR syntax a bad date-time"},
    {"a APPEND INBOX (\\Recent) {1+}\r\nx", "ERR syntax a \\Recent cannot be stored"},
    {"a APPEND INBOX hello", "ERR syntax a expected message literal"},
    {"a LOGIN ~{1+}\r\nx y", "ERR syntax a expected SP"},
    {"a FETCH 1", "ERR syntax a expected SP"},
    {"a FETCH 0 FLAGS", "ERR syntax a bad sequence set"},
    {"a FETCH 01 FLAGS", "ERR syntax a bad sequence set"},
    {"a FETCH 4294967296 FLAGS", "ERR syntax a bad sequence set"},
    {"a FETCH 1:2: FLAGS", "ERR syntax a bad sequence set"},
    {"a FETCH 1, FLAGS", "ERR syntax a bad sequence set"},
    {"a FETCH 1 (ALL)", "ERR syntax a unknown fetch item"},
    {"a FETCH 1 ()", "ERR syntax a expected fetch item"},
    {"a FETCH 1 BODY[MIME]", "ERR syntax a bad section"},
    {"a FETCH 1 BODY[0]", "ERR syntax a expected non-zero number"},
    {"a FETCH 1 BODY[1.]", "ERR syntax a bad section"},
    {"a FETCH 1 BODY[HEADER.FIELDS ()]", "ERR syntax a expected atom"},
    {"a FETCH 1 BODY[TEXT]<5.0>", "ERR syntax a partial length must be non-zero"},
    {"a FETCH 1 BODY[TEXT]<5>", "ERR syntax a bad partial"},
    {"a FETCH 1 BODY.PEEK", "ERR syntax a expected ["},
    {"a FETCH 1 BINARY[1.TEXT]", "ERR syntax a BINARY takes only part numbers"},
    {"a FETCH 1 BINARY.SIZE[1]<0.1>", "ERR syntax a unexpected text after command"},
    {"a FETCH 1 FLAGS (VANISHED)", "ERR syntax a VANISHED requires UID FETCH with CHANGEDSINCE"},
    {"a UID FETCH 1 FLAGS (VANISHED)", "ERR syntax a VANISHED requires UID FETCH with CHANGEDSINCE"},
    {"a FETCH 1 FLAGS (CHANGEDSINCE 0)", "ERR syntax a mod-sequence must be non-zero"},
    {"a STORE 1 FLAGZ (\\Seen)", "ERR syntax a expected FLAGS, +FLAGS or -FLAGS"},
    {"a STORE 1 +FLAGS (\\Recent)", "ERR syntax a \\Recent cannot be stored"},
    {"a STORE 1 +FLAGS", "ERR syntax a expected SP"},
    {"a STORE 1 (FOO 1) FLAGS x", "ERR syntax a unknown store modifier"},
    {"a COPY 1", "ERR syntax a expected SP"},
    {"a SEARCH", "ERR syntax a expected SP"},
    {"a SEARCH FOO", "ERR syntax a unknown search key"},
    {"a SEARCH OR SEEN", "ERR syntax a expected SP"},
    {"a SEARCH (SEEN", "ERR syntax a expected SP"},
    {"a SEARCH ()", "ERR syntax a unknown search key"},
    {"a SEARCH SINCE 1-Foo-2000", "ERR syntax a bad date"},
    {"a SEARCH SINCE 32-Jan-2000", "ERR syntax a bad date"},
    {"a SEARCH LARGER x", "ERR syntax a expected number"},
    {"a SEARCH LARGER 99999999999999999999", "ERR syntax a number too large"},
    {"a SEARCH OLDER 0", "ERR syntax a bad interval"},
    {"a SEARCH RETURN (FOO) ALL", "ERR syntax a unknown search return option"},
    {"a SEARCH MODSEQ \"/x\" all 5", "ERR syntax a bad MODSEQ entry name"},
    {"a SEARCH MODSEQ \"/flags/\\\\Seen\" mine 5", "ERR syntax a bad MODSEQ entry type"},
    {"a SEARCH ALL)", "ERR syntax a unexpected text after command"},
};

class GoodCommands : public ::testing::TestWithParam<Vector> {};
class BadCommands : public ::testing::TestWithParam<Vector> {};

TEST_P(GoodCommands, WholeAndByteByByte) {
  std::string input = std::string(GetParam().input) + "\r\n";
  auto whole = run(input);
  ASSERT_EQ(whole.size(), 1u) << input;
  EXPECT_EQ(whole[0], GetParam().expected);
  EXPECT_EQ(run(input, 1), whole);
  EXPECT_EQ(run(input, 3), whole);
}

TEST_P(BadCommands, WholeAndByteByByte) {
  std::string input = std::string(GetParam().input) + "\r\n";
  auto whole = run(input);
  ASSERT_EQ(whole.size(), 1u) << input;
  EXPECT_EQ(whole[0], GetParam().expected);
  EXPECT_EQ(run(input, 1), whole);
  // After a bad command the parser is in sync: the next command parses.
  auto then = run(input + "b NOOP\r\n", 1);
  ASSERT_EQ(then.size(), 2u);
  EXPECT_EQ(then[1], "CMD b NOOP");
}

INSTANTIATE_TEST_SUITE_P(Table, GoodCommands, ::testing::ValuesIn(kGood));
INSTANTIATE_TEST_SUITE_P(Table, BadCommands, ::testing::ValuesIn(kBad));

TEST(Parser, Literal8WithNulKeepsBytes) {
  std::string input("a APPEND INBOX ~{3+}\r\na\0b\r\n", 27);
  auto whole = run(input);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0], "CMD a APPEND mbox=\"INBOX\" {flags=() lit8 data=\"a\\x00b\"}");
  EXPECT_EQ(run(input, 1), whole);
}

TEST(Parser, PipelinedCommandsAndEmptyLines) {
  std::string input = "a NOOP\r\n\r\nb CAPABILITY\nc LOGOUT\r\n";
  std::vector<std::string> expect = {"CMD a NOOP", "CMD b CAPABILITY", "CMD c LOGOUT"};
  EXPECT_EQ(run(input), expect);
  EXPECT_EQ(run(input, 1), expect);
}

TEST(Parser, TypedAccessToArgs) {
  CommandParser p;
  p.feed("t1 UID FETCH 1:* (UID BODY.PEEK[1.2]<0.10>)\r\n");
  ParseEvent ev = p.next();
  ASSERT_EQ(ev.kind, ParseEvent::Kind::command);
  const Command& c = ev.command;
  EXPECT_EQ(c.tag, "t1");
  EXPECT_EQ(c.name, CommandName::fetch);
  EXPECT_TRUE(c.uid);
  const FetchArgs& f = c.as<FetchArgs>();
  EXPECT_TRUE(f.set.contains(7, 7));
  EXPECT_FALSE(f.set.contains(8, 7));
  ASSERT_EQ(f.items.size(), 2u);
  EXPECT_EQ(f.items[0].kind, FetchItem::Kind::uid);
  EXPECT_EQ(f.items[1].kind, FetchItem::Kind::body_section);
  EXPECT_TRUE(f.items[1].peek);
  EXPECT_FALSE(f.items[1].sets_seen());
  EXPECT_EQ(f.items[1].section.part, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(f.items[1].response_name(), "BODY[1.2]<0>");
  ASSERT_TRUE(f.items[1].partial);
  EXPECT_EQ(f.items[1].partial->length, 10u);
}

TEST(Parser, FetchSeenSemantics) {
  auto cmd = parse_command("a FETCH 1 (RFC822 RFC822.HEADER RFC822.TEXT BODY[] BINARY[1] BINARY.PEEK[1] FLAGS)");
  ASSERT_TRUE(cmd) << cmd.error().message;
  std::vector<bool> seen;
  for (const auto& i : cmd->as<FetchArgs>().items) seen.push_back(i.sets_seen());
  EXPECT_EQ(seen, (std::vector<bool>{true, false, true, true, true, false, false}));
  EXPECT_EQ(cmd->as<FetchArgs>().items[1].response_name(), "RFC822.HEADER");
}

TEST(Parser, SearchTreeShape) {
  auto cmd = parse_command("a SEARCH OR SEEN (DRAFT NOT 1:3) HEADER X-Y z");
  ASSERT_TRUE(cmd) << cmd.error().message;
  const SearchKey& top = cmd->as<SearchArgs>().key;
  ASSERT_EQ(top.kind, SearchKey::Kind::and_);
  ASSERT_EQ(top.children.size(), 2u);
  const SearchKey& orr = top.children[0];
  ASSERT_EQ(orr.kind, SearchKey::Kind::or_);
  ASSERT_EQ(orr.children.size(), 2u);
  EXPECT_EQ(orr.children[0].kind, SearchKey::Kind::seen);
  ASSERT_EQ(orr.children[1].kind, SearchKey::Kind::and_);
  const SearchKey& nott = orr.children[1].children[1];
  ASSERT_EQ(nott.kind, SearchKey::Kind::not_);
  EXPECT_EQ(nott.children[0].kind, SearchKey::Kind::sequence_set);
  EXPECT_TRUE(nott.children[0].set.contains(2, 10));
  EXPECT_EQ(top.children[1].header_name, "X-Y");
  EXPECT_EQ(top.children[1].text, "z");
}

TEST(Parser, SearchDepthIsBounded) {
  std::string deep = "a SEARCH ";
  for (int i = 0; i < 40; ++i) deep += "NOT ";
  deep += "ALL";
  auto r = parse_command(deep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "search expression too deeply nested");
  std::string ok = "a SEARCH ";
  for (int i = 0; i < kMaxSearchDepth - 1; ++i) ok += "NOT ";
  ok += "ALL";
  EXPECT_TRUE(parse_command(ok));
  std::string parens = "a SEARCH " + std::string(100, '(') + "ALL" + std::string(100, ')');
  EXPECT_FALSE(parse_command(parens));
}

TEST(Parser, AppendDateConvertsToUnixTime) {
  auto cmd = parse_command("a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" {1}\r\nx");
  ASSERT_TRUE(cmd) << cmd.error().message;
  const auto& m = cmd->as<AppendArgs>().messages.at(0);
  ASSERT_TRUE(m.internal_date);
  EXPECT_EQ(m.internal_date->to_unix(), 837596665);  // 1996-07-17T09:44:25Z
}

TEST(Parser, IdRejectsMoreThanThirtyPairs) {
  std::string cmd = "a ID (";
  for (int i = 0; i < 31; ++i) cmd += (i ? " " : "") + std::string("\"k\" \"v\"");
  cmd += ")";
  auto r = parse_command(cmd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "too many ID fields");
}

TEST(Parser, DebugStringRedactsSecrets) {
  auto cmd = parse_command("a LOGIN alice secret");
  ASSERT_TRUE(cmd);
  EXPECT_EQ(to_debug_string(*cmd), "a LOGIN user=\"alice\" pass=***");
}

TEST(Parser, RawLinesForIdleAndAuthenticate) {
  CommandParser p;
  p.feed("a IDLE\r\nDONE\r\n\r\nb NOOP\r\n");
  ParseEvent ev = p.next();
  ASSERT_EQ(ev.kind, ParseEvent::Kind::command);
  EXPECT_EQ(ev.command.name, CommandName::idle);
  ev = p.next_line();
  ASSERT_EQ(ev.kind, ParseEvent::Kind::line);
  EXPECT_TRUE(is_idle_done(ev.line));
  ev = p.next_line();  // an empty SASL response is an empty line
  ASSERT_EQ(ev.kind, ParseEvent::Kind::line);
  EXPECT_EQ(ev.line, "");
  ev = p.next();
  ASSERT_EQ(ev.kind, ParseEvent::Kind::command);
  EXPECT_EQ(ev.command.tag, "b");
  EXPECT_EQ(p.next().kind, ParseEvent::Kind::need_more);
  EXPECT_TRUE(is_idle_done("done"));
  EXPECT_FALSE(is_idle_done("DONE "));
}

TEST(Parser, RawLineTooLong) {
  ParserSettings s;
  s.max_line_length = 10;
  CommandParser p(s);
  p.feed(std::string(50, 'A') + "\r\nDONE\r\n");
  ParseEvent ev = p.next_line();
  ASSERT_EQ(ev.kind, ParseEvent::Kind::error);
  EXPECT_EQ(ev.error.kind, ErrorKind::line_too_long);
  ev = p.next_line();
  ASSERT_EQ(ev.kind, ParseEvent::Kind::line);
  EXPECT_EQ(ev.line, "DONE");
}

}  // namespace
}  // namespace tern::imapd
