// Issue 17 in the session: unauthorised pipelining (RFC 2920 §3.1), the early-talker and
// busy refusals, the message-rate hook at MAIL and the policy answers to RCPT.
#include "tests/unit/smtpd/harness.h"

using namespace tern::smtpd;
using namespace tern::smtpd::testing;

namespace {

SessionSettings strict() {
  SessionSettings s = default_settings();
  s.reject_unauth_pipelining = true;
  return s;
}

}  // namespace

TEST(SessionScreen, EhloThenMailInOneWriteIsRefused) {
  Harness h(strict());
  // RFC 2920 §3.1: EHLO ends a group; the client had not seen PIPELINING yet.
  EXPECT_EQ(h.feed("EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n"), "554 5.5.1");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.session.state(), State::closed);
}

TEST(SessionScreen, HeloSessionMayNotPipeline) {
  Harness h(strict());
  EXPECT_EQ(h.send("HELO c.example"), "250");
  // After HELO, PIPELINING was never offered: MAIL with RCPT behind it is a violation.
  EXPECT_EQ(h.feed("MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.test>\r\n"), "554 5.5.1");
  EXPECT_TRUE(h.closed);
}

TEST(SessionScreen, CommandsBeforeAnyHeloMayNotPipeline) {
  Harness h(strict());
  EXPECT_EQ(h.feed("NOOP\r\nNOOP\r\n"), "554 5.5.1");
}

TEST(SessionScreen, DataWithTheBodyBehindIsRefused) {
  Harness h(strict());
  h.send("EHLO c.example");
  // MAIL and RCPT may be pipelined after EHLO, DATA must end the group (RFC 2920 §3.1).
  EXPECT_EQ(h.feed("MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: x\r\n"),
            "250 2.1.0|250 2.1.5|554 5.5.1");
  EXPECT_TRUE(h.delivered.empty());
}

TEST(SessionScreen, PipeliningAfterEhloIsFine) {
  Harness h(strict());
  h.send("EHLO c.example");
  EXPECT_EQ(h.feed("MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"),
            "250 2.1.0|250 2.1.5|354");
  EXPECT_EQ(h.feed("Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n"), "250 2.0.0|221 2.0.0");
  EXPECT_EQ(h.delivered.size(), 1u);
}

TEST(SessionScreen, OneCommandAtATimeIsFineEvenTrickled) {
  for (bool trickle : {false, true}) {
    Harness h(strict());
    h.trickle = trickle;
    EXPECT_EQ(h.send("HELO c.example"), "250");
    EXPECT_EQ(h.send("MAIL FROM:<a@b.example>"), "250 2.1.0");
    EXPECT_EQ(h.send("RCPT TO:<bob@example.test>"), "250 2.1.5");
    EXPECT_EQ(h.send("DATA"), "354");
    EXPECT_EQ(h.feed("Subject: x\r\n\r\nhi\r\n.\r\n"), "250 2.0.0");
    EXPECT_FALSE(h.closed);
  }
}

TEST(SessionScreen, OffByDefault) {
  Harness h;
  EXPECT_EQ(h.feed("EHLO c.example\r\nNOOP\r\n").substr(0, 18), "250-mx.example.tes");
  EXPECT_FALSE(h.closed);
}

TEST(SessionScreen, EarlyTalkerAndBusyRefusals) {
  {
    Session s(default_settings(), default_peer());
    Output out = s.early_talker();
    EXPECT_EQ(out.bytes.substr(0, 9), "554 5.5.1");
    EXPECT_TRUE(out.close_after_write);
    EXPECT_TRUE(s.closed());
    EXPECT_TRUE(s.early_talker().bytes.empty());  // once
  }
  Session s(default_settings(), default_peer());
  Output out = s.refuse_busy();
  EXPECT_EQ(out.bytes.substr(0, 9), "421 4.7.0");
  EXPECT_TRUE(out.close_after_write);
}

TEST(SessionScreen, MessageRateHookAtMail) {
  SessionSettings s = default_settings();
  int allowed = 1, asked = 0;
  s.may_start_message = [&] { return ++asked <= allowed; };
  Harness h(s);
  h.send("EHLO c.example");
  EXPECT_EQ(h.send("MAIL FROM:<a@b.example>"), "250 2.1.0");
  h.send("RSET");
  EXPECT_EQ(h.send("MAIL FROM:<a@b.example>"), "451 4.7.1");
  EXPECT_EQ(asked, 2);
}

TEST(SessionScreen, PolicyAnswersToRcpt) {
  Harness h;
  h.auto_complete = false;
  h.send("EHLO c.example");
  h.send("MAIL FROM:<a@b.example>");
  h.send("RCPT TO:<bob@example.test>");
  ASSERT_EQ(h.held.size(), 1u);
  RecipientResult grey;
  grey.status = RecipientResult::policy_deferred;
  grey.text = "Greylisted, please try again in 300 seconds";
  size_t mark = h.written.size();
  h.absorb(h.session.complete(ActionResult{h.held[0].id, grey}));
  h.held.clear();
  EXPECT_EQ(h.raw_since(mark), "451 4.7.1 Greylisted, please try again in 300 seconds\r\n");
  h.send("RCPT TO:<bob@example.test>");
  RecipientResult listed;
  listed.status = RecipientResult::policy_refused;
  listed.text = "Client address 192.0.2.7 listed by bl.example";
  mark = h.written.size();
  h.absorb(h.session.complete(ActionResult{h.held[0].id, listed}));
  EXPECT_EQ(h.raw_since(mark), "550 5.7.1 Client address 192.0.2.7 listed by bl.example\r\n");
  EXPECT_EQ(h.send("DATA"), "554 5.5.1");  // no recipient was accepted
}
