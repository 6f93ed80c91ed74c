#include <gtest/gtest.h>

#include "imapd/imapd.h"

namespace tern::imapd {
namespace {

std::string str(std::string_view s, bool utf8 = false) {
  std::string out;
  write_string(out, s, WriterOptions{utf8});
  return out;
}

std::string astr(std::string_view s, bool utf8 = false) {
  std::string out;
  write_astring(out, s, WriterOptions{utf8});
  return out;
}

TEST(ResponseWriter, QuotesWhenSafeElseLiteral) {
  EXPECT_EQ(str("hello"), "\"hello\"");
  EXPECT_EQ(str(""), "\"\"");
  EXPECT_EQ(str("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(str("line1\r\nline2"), "{12}\r\nline1\r\nline2");
  EXPECT_EQ(str(std::string("a\0b", 3)), std::string("{3}\r\na\0b", 8));
  // 8-bit: literal for rev1 clients, quoted UTF-8 once UTF-8 is accepted (valid UTF-8 only).
  EXPECT_EQ(str("caf\xc3\xa9"), "{5}\r\ncaf\xc3\xa9");
  EXPECT_EQ(str("caf\xc3\xa9", true), "\"caf\xc3\xa9\"");
  EXPECT_EQ(str("\xff", true), "{1}\r\n\xff");
}

TEST(ResponseWriter, AstringAndNstring) {
  EXPECT_EQ(astr("INBOX"), "INBOX");
  EXPECT_EQ(astr("a]b"), "a]b");
  EXPECT_EQ(astr("NIL"), "\"NIL\"");
  EXPECT_EQ(astr(""), "\"\"");
  EXPECT_EQ(astr("Sent Items"), "\"Sent Items\"");
  EXPECT_EQ(astr("a%b"), "\"a%b\"");
  std::string out;
  write_nstring(out, std::nullopt, {});
  out += ' ';
  write_nstring(out, std::string("x"), {});
  EXPECT_EQ(out, "NIL \"x\"");
}

TEST(ResponseWriter, MailboxNames) {
  std::string name = "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";
  std::string rev1, utf8;
  write_mailbox(rev1, name, WriterOptions{false});
  write_mailbox(utf8, name, WriterOptions{true});
  EXPECT_EQ(rev1, "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(utf8, "\"" + name + "\"");
  std::string amp;
  write_mailbox(amp, "A & B", WriterOptions{false});
  EXPECT_EQ(amp, "\"A &- B\"");
}

TEST(ResponseWriter, StatusLines) {
  EXPECT_EQ(tagged("a1", Condition::ok, "SELECT completed", ResponseCode{code::ReadWrite, ""}),
            "a1 OK [READ-WRITE] SELECT completed\r\n");
  EXPECT_EQ(tagged("a2", Condition::no, "Mailbox does not exist", ResponseCode{code::TryCreate, ""}),
            "a2 NO [TRYCREATE] Mailbox does not exist\r\n");
  EXPECT_EQ(untagged_status(Condition::ok, "Predicted next UID", ResponseCode{code::UidNext, "4392"}),
            "* OK [UIDNEXT 4392] Predicted next UID\r\n");
  EXPECT_EQ(tagged("a3", Condition::bad, "bad\r\ninjected"), "a3 BAD bad  injected\r\n");
  EXPECT_EQ(untagged("5 EXISTS"), "* 5 EXISTS\r\n");
  EXPECT_EQ(continuation(), "+ Ready\r\n");
}

TEST(ResponseWriter, Builder) {
  ResponseBuilder b;
  std::string line = b.raw("LIST ").flags({"\\HasNoChildren", "\\Sent"}).sp().string("/").sp().mailbox("Sent Items").line();
  EXPECT_EQ(line, "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n");
  EXPECT_TRUE(b.str().empty());
  std::string f = ResponseBuilder().number(12).raw(" FETCH (BODY[] ").literal("ab\r\n").raw(" FLAGS ").flags({}).close().line();
  EXPECT_EQ(f, "* 12 FETCH (BODY[] {4}\r\nab\r\n FLAGS ())\r\n");
}

TEST(ResponseWriter, WrittenStringsParseBack) {
  // Whatever the writer emits as an astring, the command parser reads back the same bytes.
  const char* samples[] = {"plain", "two words", "q\"uote", "back\\slash", "cr\rlf\n", "NIL", "", "]x", "%*"};
  for (const char* s : samples) {
    std::string cmd = "a LOGIN ";
    write_astring(cmd, s, {});
    cmd += " x";
    auto parsed = parse_command(cmd);
    ASSERT_TRUE(parsed) << cmd << ": " << parsed.error().message;
    EXPECT_EQ(parsed->as<LoginArgs>().user, s);
  }
}

}  // namespace
}  // namespace tern::imapd
