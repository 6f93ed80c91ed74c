// Command-line parser: a table of good and bad vectors.
#include <gtest/gtest.h>

#include "smtpd/command.h"

namespace tern::smtpd {
namespace {

struct Good {
  const char* line;
  Verb verb;
  const char* path;      // MAIL/RCPT path, or HELO/AUTH argument
  const char* domain;    // parsed domain for MAIL/RCPT ("" when n/a)
};

TEST(CommandParser, GoodVectors) {
  const Good vectors[] = {
      {"HELO client.example", Verb::helo, "client.example", ""},
      {"helo client.example", Verb::helo, "client.example", ""},
      {"EHLO [192.0.2.1]", Verb::ehlo, "[192.0.2.1]", ""},
      {"EHLO [IPv6:2001:db8::1]", Verb::ehlo, "[IPv6:2001:db8::1]", ""},
      {"EHLO my_host", Verb::ehlo, "my_host", ""},
      {"MAIL FROM:<a@example.com>", Verb::mail, "a@example.com", "example.com"},
      {"mail from:<a@EXAMPLE.com>", Verb::mail, "a@EXAMPLE.com", "example.com"},
      {"MAIL FROM: <a@example.com>", Verb::mail, "a@example.com", "example.com"},
      {"MAIL FROM:<>", Verb::mail, "", ""},
      {"MAIL FROM:<@relay.example,@r2.example:a@example.com>", Verb::mail, "a@example.com",
       "example.com"},
      {"MAIL FROM:<\"john doe\"@example.com>", Verb::mail, "\"john doe\"@example.com",
       "example.com"},
      {"MAIL FROM:<\"a>b\"@example.com> SIZE=10", Verb::mail, "\"a>b\"@example.com", "example.com"},
      {"MAIL FROM:<a@[192.0.2.1]>", Verb::mail, "a@[192.0.2.1]", "[192.0.2.1]"},
      {"MAIL FROM:<a.b+tag@example.com> SIZE=1000 BODY=8BITMIME", Verb::mail,
       "a.b+tag@example.com", "example.com"},
      {"RCPT TO:<b@example.com>", Verb::rcpt, "b@example.com", "example.com"},
      {"RCPT TO:<Postmaster>", Verb::rcpt, "Postmaster", ""},
      {"RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com", Verb::rcpt,
       "b@example.com", "example.com"},
      {"RCPT TO:<b@example.com> NOTIFY=NEVER", Verb::rcpt, "b@example.com", "example.com"},
      {"DATA", Verb::data, "", ""},
      {"data ", Verb::data, "", ""},
      {"RSET", Verb::rset, "", ""},
      {"NOOP anything at all", Verb::noop, "anything at all", ""},
      {"QUIT", Verb::quit, "", ""},
      {"VRFY bob", Verb::vrfy, "bob", ""},
      {"HELP", Verb::help, "", ""},
      {"STARTTLS", Verb::starttls, "", ""},
      {"AUTH PLAIN", Verb::auth, "PLAIN", ""},
      {"auth login dXNlcg==", Verb::auth, "LOGIN", ""},
      {"BDAT 100", Verb::bdat, "", ""},
      {"BDAT 0 LAST", Verb::bdat, "", ""},
      {"FOO bar", Verb::unknown, "", ""},
      {"", Verb::unknown, "", ""},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.line);
    auto r = parse_command(v.line);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->verb, v.verb);
    if (v.verb == Verb::mail || v.verb == Verb::rcpt) {
      EXPECT_EQ(r->path, v.path);
      EXPECT_EQ(r->address.domain, v.domain);
    } else {
      EXPECT_EQ(r->argument, v.path);
    }
  }
}

TEST(CommandParser, MailParameters) {
  auto r = parse_command("MAIL FROM:<a@b.example> SIZE=123 BODY=8BITMIME SMTPUTF8 RET=HDRS "
                         "ENVID=QQ+2B1 AUTH=<>");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r->mail.size, 123u);
  EXPECT_EQ(r->mail.body, BodyType::eight_bit_mime);
  EXPECT_TRUE(r->mail.smtputf8);
  EXPECT_EQ(r->mail.ret, DsnRet::hdrs);
  EXPECT_EQ(r->mail.envid, "QQ+2B1");
  EXPECT_TRUE(r->mail.auth_given);

  auto big = parse_command("MAIL FROM:<a@b.example> SIZE=99999999999999999999999");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(*big->mail.size, UINT64_MAX);

  auto rc = parse_command("RCPT TO:<c@d.example> NOTIFY=failure,delay ORCPT=rfc822;c+40d");
  ASSERT_TRUE(rc.ok()) << rc.error().message;
  EXPECT_EQ(rc->rcpt.notify, kNotifyFailure | kNotifyDelay);
  EXPECT_EQ(rc->rcpt.orcpt, "rfc822;c+40d");

  auto bd = parse_command("BDAT 4096 last");
  ASSERT_TRUE(bd.ok());
  EXPECT_EQ(bd->bdat_size, 4096u);
  EXPECT_TRUE(bd->bdat_last);

  auto au = parse_command("AUTH PLAIN =");
  ASSERT_TRUE(au.ok());
  EXPECT_EQ(au->initial_response, "=");
}

TEST(CommandParser, Utf8PathIsFlagged) {
  auto r = parse_command("MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc.example> SMTPUTF8");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->path_is_utf8);
  auto a = parse_command("MAIL FROM:<jorg@example.com>");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->path_is_utf8);
}

struct Bad {
  const char* line;
  Errc code;
};

TEST(CommandParser, BadVectors) {
  const Bad vectors[] = {
      {"HELO", Errc::syntax},
      {"EHLO ", Errc::syntax},
      {"EHLO bad(host)", Errc::syntax},
      {"EHLO a b", Errc::syntax},
      {"MAIL", Errc::syntax},
      {"MAIL TO:<a@b.example>", Errc::syntax},
      {"MAIL FROM:a@b.example", Errc::syntax},
      {"MAIL FROM:<a@b.example", Errc::syntax},
      {"MAIL FROM:<a@b.example>SIZE=1", Errc::syntax},
      {"MAIL FROM:<ab.example>", Errc::syntax},
      {"MAIL FROM:<a@>", Errc::syntax},
      {"MAIL FROM:<@b.example>", Errc::syntax},
      {"MAIL FROM:<a..b@b.example>", Errc::syntax},
      {"MAIL FROM:<.a@b.example>", Errc::syntax},
      {"MAIL FROM:<a b@b.example>", Errc::syntax},
      {"MAIL FROM:<a@b..example>", Errc::syntax},
      {"MAIL FROM:<a@-b.example>", Errc::syntax},
      {"MAIL FROM:<a@b_c.example>", Errc::syntax},
      {"MAIL FROM:<a@[1.2.3.4>", Errc::syntax},
      {"MAIL FROM:<\"a\rb\"@b.example>", Errc::syntax},
      {"MAIL FROM:<postmaster>", Errc::syntax},
      {"MAIL FROM:<a@b.example> SIZE=", Errc::syntax},
      {"MAIL FROM:<a@b.example> SIZE=12x", Errc::syntax},
      {"MAIL FROM:<a@b.example> SIZE", Errc::syntax},
      {"MAIL FROM:<a@b.example> BODY=BINARYMIME", Errc::syntax},
      {"MAIL FROM:<a@b.example> SMTPUTF8=yes", Errc::syntax},
      {"MAIL FROM:<a@b.example> RET=ALL", Errc::syntax},
      {"MAIL FROM:<a@b.example> ENVID=a+zz", Errc::syntax},
      {"MAIL FROM:<a@b.example> SIZE=1 SIZE=2", Errc::syntax},
      {"MAIL FROM:<a@b.example> -X=1", Errc::syntax},
      {"MAIL FROM:<a@b.example> XFOO=1", Errc::not_found},
      {"MAIL FROM:<a@b.example> NOTIFY=NEVER", Errc::not_found},
      {"RCPT TO:<>", Errc::syntax},
      {"RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", Errc::syntax},
      {"RCPT TO:<a@b.example> NOTIFY=SOMETIMES", Errc::syntax},
      {"RCPT TO:<a@b.example> NOTIFY=", Errc::syntax},
      {"RCPT TO:<a@b.example> ORCPT=rfc822", Errc::syntax},
      {"RCPT TO:<a@b.example> ORCPT=;a@b", Errc::syntax},
      {"RCPT TO:<a@b.example> ORCPT=rfc822;a+4", Errc::syntax},
      {"RCPT TO:<a@b.example> SIZE=10", Errc::not_found},
      {"DATA now", Errc::syntax},
      {"RSET x", Errc::syntax},
      {"QUIT please", Errc::syntax},
      {"STARTTLS x", Errc::syntax},
      {"VRFY", Errc::syntax},
      {"BDAT", Errc::syntax},
      {"BDAT x", Errc::syntax},
      {"BDAT -1", Errc::syntax},
      {"BDAT 10 FIRST", Errc::syntax},
      {"BDAT 10 LAST extra", Errc::syntax},
      {"BDAT 99999999999999999999999", Errc::syntax},
      {"AUTH", Errc::syntax},
      {"AUTH PL@IN", Errc::syntax},
      {"AUTH PLAIN a b", Errc::syntax},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.line);
    auto r = parse_command(v.line);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, v.code);
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(CommandParser, PathLengthLimits) {
  std::string local(65, 'a');
  EXPECT_FALSE(parse_command("MAIL FROM:<" + local + "@b.example>").ok());
  EXPECT_TRUE(parse_command("MAIL FROM:<" + local.substr(1) + "@b.example>").ok());
  std::string label(64, 'x');
  EXPECT_FALSE(parse_command("MAIL FROM:<a@" + label + ".example>").ok());
  std::string longdomain;
  for (int i = 0; i < 5; ++i) longdomain += std::string(60, 'd') + ".";
  EXPECT_FALSE(parse_command("MAIL FROM:<a@" + longdomain + "example>").ok());
}

TEST(CommandParser, VerbLookup) {
  EXPECT_EQ(parse_verb("ehlo x"), Verb::ehlo);
  EXPECT_EQ(parse_verb("StartTLS"), Verb::starttls);
  EXPECT_EQ(parse_verb("MAILFROM:<a@b>"), Verb::unknown);
  EXPECT_EQ(parse_verb(""), Verb::unknown);
}

}  // namespace
}  // namespace tern::smtpd
