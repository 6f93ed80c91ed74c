// Literal framing: synchronizing, non-synchronizing, literal8, limits, and staying in sync
// after oversized input. Every scenario runs whole and byte by byte.
#include <gtest/gtest.h>

#include "parser_harness.h"

namespace tern::imapd {
namespace {

using test::run;
using Events = std::vector<std::string>;

void expect_both(const std::string& input, const Events& expected, ParserSettings s = {},
                 std::vector<uint64_t> reject = {}) {
  EXPECT_EQ(run(input, 0, s, reject), expected) << "whole: " << input;
  EXPECT_EQ(run(input, 1, s, reject), expected) << "byte by byte: " << input;
}

TEST(Literals, SynchronizingAsksBeforeData) {
  expect_both("a LOGIN {5}\r\nalice {6}\r\nsecret\r\n",
              {"LIT 5 a LOGIN", "LIT 6 a LOGIN", "CMD a LOGIN user=\"alice\" pass=\"secret\""});
}

TEST(Literals, ContinuationWaitsForSessionDecision) {
  CommandParser p;
  p.feed("a APPEND INBOX {3}\r\nabc\r\n");
  ParseEvent ev = p.next();
  ASSERT_EQ(ev.kind, ParseEvent::Kind::literal_request);
  EXPECT_EQ(ev.literal.size, 3u);
  EXPECT_EQ(ev.literal.name, CommandName::append);
  EXPECT_EQ(ev.literal.tag, "a");
  // Until the session decides, the same request is reported and no data is consumed.
  EXPECT_EQ(p.next().kind, ParseEvent::Kind::literal_request);
  p.accept_literal();
  ev = p.next();
  ASSERT_EQ(ev.kind, ParseEvent::Kind::command);
  EXPECT_EQ(ev.command.as<AppendArgs>().messages.at(0).data, "abc");
}

TEST(Literals, RejectedLiteralDropsTheCommand) {
  // The session refused the 7-byte literal (e.g. over quota) and answered NO; the client
  // does not send the literal, the next line is a new command.
  expect_both("a APPEND INBOX {7}\r\nb NOOP\r\n", {"LIT 7 a APPEND", "CMD b NOOP"}, {}, {7});
}

TEST(Literals, NonSynchronizingAndLiteral8) {
  expect_both("a APPEND INBOX {3+}\r\nabc\r\n", {"CMD a APPEND mbox=\"INBOX\" {flags=() data=\"abc\"}"});
  expect_both("a APPEND INBOX ~{3}\r\nabc\r\n",
              {"LIT 3 lit8 a APPEND", "CMD a APPEND mbox=\"INBOX\" {flags=() lit8 data=\"abc\"}"});
  expect_both("a APPEND INBOX ~{3+}\r\na\r\n\r\n", {"CMD a APPEND mbox=\"INBOX\" {flags=() lit8 data=\"a\\x0D\\x0A\"}"});
}

TEST(Literals, LiteralDataIsNotScannedForLinesOrMarkers) {
  // The literal contains CRLF, quotes and something that looks like a literal marker.
  expect_both("a LOGIN {9+}\r\n\"x\r\n{5}\r\n {1+}\r\ny\r\n",
              {"CMD a LOGIN user=\"\\\"x\\x0D\\x0A{5}\\x0D\\x0A\" pass=\"y\""});
}

TEST(Literals, MarkerInsideQuotedStringIsNotALiteral) {
  expect_both("a LOGIN x \"{5}\r\n", {"ERR syntax a unterminated quoted string"});
  expect_both("a LOGIN x \"a\\\"{5}\"\r\n", {"CMD a LOGIN user=\"x\" pass=\"a\\\"{5}\""});
}

TEST(Literals, SyncLiteralOverLimitIsRefusedWithoutContinuation) {
  ParserSettings s;
  s.max_literal_size = 10;
  expect_both("a APPEND INBOX {11}\r\nb NOOP\r\n", {"ERR literal_too_big a Literal too big", "CMD b NOOP"}, s);
  expect_both("a APPEND INBOX {10}\r\n0123456789\r\n", {"LIT 10 a APPEND", "CMD a APPEND mbox=\"INBOX\" {flags=() data=\"0123456789\"}"}, s);
  expect_both("a APPEND INBOX {99999999999999999999999}\r\nb NOOP\r\n",
              {"ERR literal_too_big a Literal too big", "CMD b NOOP"}, s);
}

TEST(Literals, NonSyncLiteralOverLimitIsConsumedThenRefused) {
  // RFC 7888 §4: the data arrives anyway; it is skipped (not stored) and the stream stays in sync.
  ParserSettings s;
  s.max_literal_size = 10;
  std::string big(500, 'x');
  expect_both("a APPEND INBOX {500+}\r\n" + big + " {3+}\r\nabc\r\nb NOOP\r\n",
              {"ERR literal_too_big a Literal too big", "CMD b NOOP"}, s);
  // A synchronizing literal after the refused one ends the command (the client waits for "+").
  expect_both("a APPEND INBOX {500+}\r\n" + big + " {3}\r\nb NOOP\r\n",
              {"ERR literal_too_big a Literal too big", "CMD b NOOP"}, s);
}

TEST(Literals, LiteralMinusLimitsNonSyncLiterals) {
  ParserSettings s;
  s.literal_plus = false;  // LITERAL-: non-synchronizing literals up to 4096 bytes
  std::string ok(4096, 'y');
  std::string big(4097, 'y');
  auto r = run("a APPEND INBOX {4096+}\r\n" + ok + "\r\n", 0, s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], "CMD a APPEND mbox=\"INBOX\" {flags=() len=4096}");
  expect_both("a APPEND INBOX {4097+}\r\n" + big + "\r\nb NOOP\r\n",
              {"ERR literal_too_big a Literal too big", "CMD b NOOP"}, s);
  // Synchronizing literals above 4096 are fine under LITERAL-.
  r = run("a APPEND INBOX {4097}\r\n" + big + "\r\n", 0, s);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1], "CMD a APPEND mbox=\"INBOX\" {flags=() len=4097}");
}

TEST(Literals, CommandSizeLimitCountsAllLiterals) {
  ParserSettings s;
  s.max_literal_size = 100;
  s.max_command_size = 150;
  std::string d(80, 'z');
  expect_both("a APPEND INBOX {80+}\r\n" + d + " {80+}\r\n" + d + "\r\nb NOOP\r\n",
              {"ERR command_too_big a Command too long", "CMD b NOOP"}, s);
}

TEST(Literals, LongLineIsDroppedAndReported) {
  ParserSettings s;
  s.max_line_length = 40;
  std::string longline = "t7 LOGIN " + std::string(100, 'a') + " b\r\nc NOOP\r\n";
  expect_both(longline, {"ERR line_too_long t7 Line too long", "CMD c NOOP"}, s);
  // An overlong line that ends in a non-synchronizing literal: the literal is skipped too.
  std::string with_lit = "t8 LOGIN " + std::string(100, 'a') + " {5+}\r\nab\r\nc {1+}\r\nx\r\nc NOOP\r\n";
  expect_both(with_lit, {"ERR line_too_long t8 Line too long", "CMD c NOOP"}, s);
  // ... and one ending in a synchronizing literal ends there (no "+" is ever sent).
  std::string with_sync = "t9 LOGIN " + std::string(100, 'a') + " {5}\r\nc NOOP\r\n";
  expect_both(with_sync, {"ERR line_too_long t9 Line too long", "CMD c NOOP"}, s);
  // Memory stays bounded while the line streams in.
  CommandParser p(s);
  for (int i = 0; i < 1000; ++i) {
    p.feed(std::string(1000, 'q'));
    ASSERT_EQ(p.next().kind, ParseEvent::Kind::need_more);
    ASSERT_EQ(p.buffered(), 0u);
  }
  p.feed("\r\n");
  ParseEvent ev = p.next();
  ASSERT_EQ(ev.kind, ParseEvent::Kind::error);
  EXPECT_EQ(ev.error.kind, ErrorKind::line_too_long);
  EXPECT_FALSE(ev.error.tag);  // "qqq..." has no SP after a tag: answer "* BAD"
}

TEST(Literals, LineLimitAppliesPerLineNotAcrossLiterals) {
  ParserSettings s;
  s.max_line_length = 30;
  std::string lit(200, 'm');
  auto r = run("a APPEND INBOX {200+}\r\n" + lit + "\r\n", 1, s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], "CMD a APPEND mbox=\"INBOX\" {flags=() len=200}");
}

TEST(Literals, TruncatedCommandIsPartial) {
  auto r = run("a APPEND INBOX {10+}\r\nabc");
  EXPECT_EQ(r, (Events{"PARTIAL"}));
}

// Fuzz regression: a marker with more digits than the parser keeps of a line's tail must be
// judged the same whether the line arrives whole or a byte at a time (here: not a marker, so
// the line is a syntax error and the next command still parses).
TEST(Literals, OverlongMarkerIsJudgedTheSameWholeAndTrickled) {
  const std::string input = "a LOGIN alice {" + std::string(40, '5') + "}\r\nb NOOP\r\n";
  auto whole = run(input);
  auto trickled = run(input, 1);
  EXPECT_EQ(whole, trickled);
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_EQ(whole[1], "CMD b NOOP");
}

}  // namespace
}  // namespace tern::imapd
