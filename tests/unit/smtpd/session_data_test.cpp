// DATA / BDAT transcripts: unstuffing, smuggling with both policies, limits, Received:,
// delivery results, dedup, and whole-vs-trickled equivalence.
#include <gtest/gtest.h>

#include "common/codec.h"
#include "harness.h"

namespace tern::smtpd::testing {
namespace {

// EHLO + MAIL + RCPT alice; returns the harness ready for DATA/BDAT.
Harness ready(SessionSettings s = default_settings(), PeerInfo p = default_peer()) {
  Harness h(s, p);
  h.send("EHLO client.example");
  h.send("MAIL FROM:<sender@remote.example>");
  h.send("RCPT TO:<alice@example.test>");
  return h;
}

// The stored message without our Received: header (which is the first header field).
std::string body_of(const Deliver& d) {
  size_t pos = 0;
  while (true) {
    size_t end = d.message.find("\r\n", pos);
    if (end == std::string::npos) return "";
    pos = end + 2;
    if (pos >= d.message.size() || d.message[pos] != '\t') return d.message.substr(pos);
  }
}

TEST(Data, DeliversUnstuffedMessage) {
  Harness h = ready();
  EXPECT_EQ(h.send("DATA"), "354");
  EXPECT_EQ(h.session.state(), State::data);
  EXPECT_EQ(h.feed("Subject: t\r\n\r\n..leading dot\r\n.\r\n"), "250 2.0.0");
  size_t q = h.written.rfind("250 ");
  EXPECT_EQ(h.written.substr(q), "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(body_of(h.delivered[0]), "Subject: t\r\n\r\n.leading dot\r\n");
  const Envelope& e = h.delivered[0].envelope;
  EXPECT_EQ(e.sender, "sender@remote.example");
  EXPECT_EQ(e.local_users(), std::vector<std::string>{"alice@example.test"});
  EXPECT_EQ(e.client_ip, "192.0.2.7");
  EXPECT_EQ(e.helo, "client.example");
  EXPECT_EQ(e.queue_id, "Q1");
  EXPECT_EQ(h.session.state(), State::ready);
  // A new transaction may follow on the same connection.
  EXPECT_EQ(h.send("MAIL FROM:<>"), "250 2.1.0");
}

TEST(Data, ReceivedHeader) {
  Harness h = ready();
  h.send("DATA");
  h.feed("x\r\n.\r\n");
  ASSERT_EQ(h.delivered.size(), 1u);
  std::string expected =
      "Received: from client.example (unknown [192.0.2.7])\r\n"
      "\tby mx.example.test (Tern) with ESMTP id Q1\r\n"
      "\tfor <alice@example.test>; " + rfc5322_date(kNow) + "\r\nx\r\n";
  EXPECT_EQ(h.delivered[0].message, expected);
}

TEST(Data, ReceivedHeaderTlsAuthIpv6) {
  auto s = default_settings(ListenerKind::submission);
  PeerInfo p = default_peer(true);
  p.ip = "2001:db8::5";
  p.reverse_name = "laptop.example";
  Harness h(s, p);
  h.send("EHLO laptop");
  h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret"));
  h.send("MAIL FROM:<alice@example.test>");
  h.send("RCPT TO:<bob@example.test>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  h.feed("x\r\n.\r\n");
  ASSERT_EQ(h.delivered.size(), 1u);
  std::string expected =
      "Received: from laptop (laptop.example [IPv6:2001:db8::5])\r\n"
      "\tby mx.example.test (Tern) with ESMTPSA id Q1\r\n"
      "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384); " + rfc5322_date(kNow) + "\r\n";
  EXPECT_EQ(h.delivered[0].message.substr(0, expected.size()), expected);
  EXPECT_EQ(h.delivered[0].message.find("alice"), std::string::npos);  // no user, no Bcc leak
}

TEST(Data, ReceivedHeaderHeloIsSmtp) {
  Harness h;
  h.send("HELO old.example");
  h.send("MAIL FROM:<a@remote.example>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  h.feed(".\r\n");
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_NE(h.delivered[0].message.find("with SMTP id Q1"), std::string::npos);
}

TEST(Data, DeliveryFailures) {
  Harness h = ready();
  h.deliver_status = DeliverResult::temporary;
  h.send("DATA");
  EXPECT_EQ(h.feed("x\r\n.\r\n"), "451 4.3.0");
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "503 5.5.1");  // transaction over
  h.send("MAIL FROM:<a@remote.example>");
  h.send("RCPT TO:<alice@example.test>");
  h.deliver_status = DeliverResult::permanent;
  h.send("DATA");
  EXPECT_EQ(h.feed("x\r\n.\r\n"), "554 5.0.0");
  for (const auto& l : h.log) EXPECT_EQ(h.written.find("fake failure"), std::string::npos) << l;
}

TEST(Data, BodySoFarStreamsTheUnstuffedBody) {
  Harness h = ready();
  EXPECT_EQ(h.session.body_so_far(), "");
  h.send("DATA");
  h.feed("Subject: s\r\n\r\n..dot\r\nhal");
  EXPECT_EQ(h.session.body_so_far(), "Subject: s\r\n\r\n.dot\r\nhal");
  h.feed("f\r\n.\r\n");
  EXPECT_EQ(h.session.body_so_far(), "");
  // The Deliver action's message is our Received: field, then exactly those bytes.
  ASSERT_EQ(h.delivered.size(), 1u);
  const std::string& m = h.delivered[0].message;
  EXPECT_EQ(m.substr(m.find("\r\nSubject: s") + 2), "Subject: s\r\n\r\n.dot\r\nhalf\r\n");
}

TEST(Data, PolicyRejectionShowsItsText) {
  Harness h = ready();
  h.deliver_status = DeliverResult::policy_rejected;
  h.send("DATA");
  EXPECT_EQ(h.feed("x\r\n.\r\n"), "550 5.7.1");
  // The glue's text (here the fake's) is the reply text, unlike other failures'.
  EXPECT_NE(h.written.find("550 5.7.1 fake failure\r\n"), std::string::npos) << h.written;
  EXPECT_TRUE(h.delivered.size() == 1);
}

TEST(Data, PolicyDeferralIs451WithItsText) {
  Harness h = ready();
  h.deliver_status = DeliverResult::policy_deferred;
  h.send("DATA");
  EXPECT_EQ(h.feed("x\r\n.\r\n"), "451 4.4.3");
  EXPECT_NE(h.written.find("451 4.4.3 fake failure\r\n"), std::string::npos) << h.written;
}

TEST(Data, ContentStageAnswersCarryTheirText) {
  Harness h = ready();
  h.deliver_status = DeliverResult::virus_rejected;
  h.send("DATA");
  EXPECT_EQ(h.feed("x\r\n.\r\n"), "554 5.7.1");
  EXPECT_NE(h.written.find("554 5.7.1 fake failure\r\n"), std::string::npos) << h.written;
  Harness d = ready();
  d.deliver_status = DeliverResult::scan_deferred;
  d.send("DATA");
  EXPECT_EQ(d.feed("x\r\n.\r\n"), "451 4.7.1");
  EXPECT_NE(d.written.find("451 4.7.1 fake failure\r\n"), std::string::npos) << d.written;
}

TEST(Data, RecipientLookupCarriesMailFromAndHelo) {
  Harness h = ready();
  ASSERT_FALSE(h.resolved.empty());
  EXPECT_EQ(h.resolved.back().reverse_path, "sender@remote.example");
  EXPECT_EQ(h.resolved.back().helo, "client.example");
}

TEST(Data, DuplicateRecipientsDeduplicated) {
  Harness h;
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example> RET=HDRS ENVID=abc");
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test> NOTIFY=SUCCESS ORCPT=rfc822;alice@example.test"),
            "250 2.1.5");
  EXPECT_EQ(h.send("RCPT TO:<ALICE@example.test>"), "250 2.1.5");
  EXPECT_EQ(h.send("RCPT TO:<team@example.test> NOTIFY=NEVER"), "250 2.1.5");
  h.send("DATA");
  h.feed("x\r\n.\r\n");
  ASSERT_EQ(h.delivered.size(), 1u);
  const Envelope& e = h.delivered[0].envelope;
  EXPECT_EQ(e.local_users(),
            (std::vector<std::string>{"alice@example.test", "bob@example.test"}));
  ASSERT_EQ(e.recipients.size(), 2u);
  EXPECT_EQ(e.recipients[0].notify, kNotifySuccess);
  EXPECT_EQ(e.recipients[0].orcpt, "rfc822;alice@example.test");
  EXPECT_EQ(e.recipients[1].users, std::vector<std::string>{"bob@example.test"});
  EXPECT_EQ(e.recipients[1].notify, kNotifyNever);
  EXPECT_EQ(e.ret, DsnRet::hdrs);
  EXPECT_EQ(e.envid, "abc");
  // Received names no recipient when there are several.
  EXPECT_EQ(h.delivered[0].message.find("for <"), std::string::npos);
}

TEST(Data, BodyAndUtf8Flags) {
  Harness h;
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example> BODY=8BITMIME SMTPUTF8");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  h.feed("\xc3\xa9\r\n.\r\n");
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_TRUE(h.delivered[0].envelope.body_8bitmime);
  EXPECT_TRUE(h.delivered[0].envelope.smtputf8);
}

struct Smuggle {
  const char* name;
  const char* payload;  // sent after "DATA"; every one contains a fake end plus a real one
};

const Smuggle kSmuggles[] = {
    {"LF.LF", "a\n.\nMAIL FROM:<x@y.example>\r\n.\r\n"},
    {"LF.CRLF", "a\n.\r\nMAIL FROM:<x@y.example>\r\n.\r\n"},
    {"CR.CR", "a\r.\rMAIL FROM:<x@y.example>\r\n.\r\n"},
    {"CRLF.LF", "a\r\n.\nMAIL FROM:<x@y.example>\r\n.\r\n"},
    {"CRLF.CR", "a\r\n.\rMAIL FROM:<x@y.example>\r\n.\r\n"},
    {"CR.CRLF", "a\r.\r\nMAIL FROM:<x@y.example>\r\n.\r\n"},
    {"LF.CR", "a\n.\rMAIL FROM:<x@y.example>\r\n.\r\n"},
};

TEST(Data, SmugglingRejectPolicy) {
  for (const auto& v : kSmuggles) {
    for (bool trickle : {false, true}) {
      SCOPED_TRACE(std::string(v.name) + (trickle ? " trickled" : ""));
      Harness h = ready();
      h.trickle = trickle;
      h.send("DATA");
      // One reply only: the smuggled MAIL is never executed as a command.
      EXPECT_EQ(h.feed(v.payload), "550 5.6.0");
      EXPECT_TRUE(h.delivered.empty());
      EXPECT_EQ(h.session.state(), State::ready);
    }
  }
}

TEST(Data, SmugglingNormalizePolicy) {
  auto s = default_settings();
  s.bare_newline = BareNewlinePolicy::normalize;
  for (const auto& v : kSmuggles) {
    for (bool trickle : {false, true}) {
      SCOPED_TRACE(std::string(v.name) + (trickle ? " trickled" : ""));
      Harness h = ready(s);
      h.trickle = trickle;
      h.send("DATA");
      EXPECT_EQ(h.feed(v.payload), "250 2.0.0");
      ASSERT_EQ(h.delivered.size(), 1u);
      std::string body = body_of(h.delivered[0]);
      // Stored with CRLF only; the would-be command is message text.
      EXPECT_NE(body.find("MAIL FROM:<x@y.example>\r\n"), std::string::npos);
      for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\n') {
          EXPECT_TRUE(i > 0 && body[i - 1] == '\r');
        }
        if (body[i] == '\r') {
          EXPECT_TRUE(i + 1 < body.size() && body[i + 1] == '\n');
        }
      }
    }
  }
}

TEST(Data, LineTooLong) {
  auto s = default_settings();
  s.max_line_length = 100;
  Harness h = ready(s);
  h.send("DATA");
  EXPECT_EQ(h.feed(std::string(99, 'x') + "\r\nok\r\n.\r\nNOOP\r\n"), "500 5.5.6|250 2.0.0");
  EXPECT_TRUE(h.delivered.empty());
}

TEST(Data, ActualSizeOverLimit) {
  Harness h = ready();  // limit 10000
  h.send("DATA");
  std::string line(98, 'x');
  std::string data;
  for (int i = 0; i < 110; ++i) data += line + "\r\n";
  EXPECT_EQ(h.feed(data), "");
  EXPECT_EQ(h.feed(".\r\n"), "552 5.3.4");
  EXPECT_TRUE(h.delivered.empty());
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "503 5.5.1");  // transaction failed
}

TEST(Data, SizeExactlyAtLimitAccepted) {
  auto s = default_settings();
  s.max_message_size = 12;
  Harness h = ready(s);
  h.send("DATA");
  EXPECT_EQ(h.feed("0123456789\r\n.\r\n"), "250 2.0.0");
}

TEST(Bdat, SeveralChunksThenLast) {
  Harness h = ready();
  EXPECT_EQ(h.feed("BDAT 5\r\nab\r\nc"), "250 2.0.0");
  EXPECT_EQ(h.feed("BDAT 3\r\n.\r\n"), "250 2.0.0");  // no dot handling in BDAT
  EXPECT_EQ(h.feed("BDAT 2 LAST\r\nz\n"), "250 2.0.0");
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(body_of(h.delivered[0]), "ab\r\nc.\r\nz\n");
  size_t q = h.written.rfind("250 ");
  EXPECT_EQ(h.written.substr(q), "250 2.0.0 Ok: queued as Q1\r\n");
  EXPECT_NE(h.written.find("250 2.0.0 5 octets received\r\n"), std::string::npos);
}

TEST(Bdat, ZeroLast) {
  Harness h = ready();
  EXPECT_EQ(h.feed("BDAT 4\r\nabcd"), "250 2.0.0");
  EXPECT_EQ(h.send("BDAT 0 LAST"), "250 2.0.0");
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(body_of(h.delivered[0]), "abcd");
}

TEST(Bdat, MixingWithDataRefused) {
  Harness h = ready();
  h.feed("BDAT 3\r\nabc");
  EXPECT_EQ(h.send("DATA"), "503 5.5.1");
  EXPECT_EQ(h.send("BDAT 0 LAST"), "250 2.0.0");
  EXPECT_EQ(h.delivered.size(), 1u);
}

TEST(Bdat, WithoutTransactionStillConsumesChunk) {
  Harness h;
  h.send("EHLO client.example");
  // The chunk bytes look like commands; they must not run.
  EXPECT_EQ(h.feed("BDAT 12\r\nRSET\r\nQUIT\r\n"), "503 5.5.1");
  EXPECT_FALSE(h.closed);
  h.send("MAIL FROM:<a@remote.example>");
  EXPECT_EQ(h.feed("BDAT 6 LAST\r\nQUIT\r\n"), "554 5.5.1");  // no recipients
  EXPECT_FALSE(h.closed);
}

TEST(Bdat, SizeLimitAcrossChunks) {
  auto s = default_settings();
  s.max_message_size = 10;
  Harness h = ready(s);
  EXPECT_EQ(h.feed("BDAT 6\r\n123456"), "250 2.0.0");
  EXPECT_EQ(h.feed("BDAT 6\r\n7890ab"), "552 5.3.4");
  // The client should stop; if it pipelined more, those chunks find no transaction.
  EXPECT_EQ(h.feed("BDAT 1 LAST\r\nc"), "503 5.5.1");
  EXPECT_TRUE(h.delivered.empty());
}

TEST(Bdat, HugeChunkIsStreamedNotBuffered) {
  Harness h = ready();
  EXPECT_EQ(h.feed("BDAT 100000 LAST\r\n"), "");
  for (int i = 0; i < 99; ++i) EXPECT_EQ(h.feed(std::string(1000, 'x')), "");
  EXPECT_EQ(h.session.state(), State::bdat);
  EXPECT_EQ(h.feed(std::string(1000, 'x') + "NOOP\r\n"), "552 5.3.4|250 2.0.0");
  EXPECT_EQ(h.session.state(), State::ready);
  EXPECT_TRUE(h.delivered.empty());
}

TEST(Bdat, PipelinedChunksBehindPendingRecipient) {
  Harness h;
  h.auto_complete = false;
  h.send("EHLO client.example");
  h.feed("MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\nBDAT 3 LAST\r\nxyz");
  EXPECT_EQ(h.complete_next(), "250 2.1.5");  // then the BDAT asks for delivery
  EXPECT_EQ(h.complete_next(), "250 2.0.0");
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(body_of(h.delivered[0]), "xyz");
}

// The same conversation fed whole and one byte at a time gives identical bytes and actions.
TEST(Trickle, TranscriptsIdentical) {
  const std::string scripts[] = {
      "EHLO c.example\r\nMAIL FROM:<a@remote.example> SIZE=100\r\nRCPT TO:<alice@example.test>\r\n"
      "RCPT TO:<nobody@example.test>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
      "EHLO c.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\n"
      "BDAT 4\r\nab\r\nBDAT 0 LAST\r\nNOOP\r\n",
      "EHLO c.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
      "a\n.\nb\r\n.\r\nRSET\r\n",
      "HELO x\r\nBOGUS\r\nMAIL FROM:<>\r\nMAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nVRFY x\r\n"
      "HELP\r\nNOOP\r\n" + std::string(1500, 'L') + "\r\nRSET x\r\nQUIT\r\n",
      "EHLO c.example\r\nSTARTTLS\r\nMAIL FROM:<a@remote.example>\r\n",
      "EHLO c.example\r\nAUTH LOGIN\r\n" + base64_encode("alice@example.test") + "\r\n" +
          base64_encode("secret") + "\r\n",
  };
  auto run = [](const std::string& script, bool trickle, bool plaintext_auth) {
    auto s = default_settings();
    s.allow_plaintext_auth = plaintext_auth;
    Harness h(s);
    h.trickle = trickle;
    h.feed(script);
    std::string actions;
    for (const auto& a : h.actions) actions += std::to_string(a.id) + ":" +
                                               std::to_string(a.request.index()) + " ";
    std::string bodies;
    for (const auto& d : h.delivered) bodies += d.message + "|";
    return h.written + "#" + actions + "#" + bodies + (h.closed ? "closed" : "open");
  };
  for (const auto& script : scripts) {
    SCOPED_TRACE(script.substr(0, 60));
    EXPECT_EQ(run(script, false, true), run(script, true, true));
  }
}

}  // namespace
}  // namespace tern::smtpd::testing

namespace tern::smtpd::testing {
namespace {

// Parser vectors run through a live session, whole and byte by byte: identical replies.
TEST(Trickle, CommandVectorsThroughSession) {
  const char* lines[] = {
      "MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME",
      "MAIL FROM:<@r.example:a@example.com>",
      "MAIL FROM:<\"x y\"@example.com>",
      "MAIL FROM:<a@b.example> XFOO=1",
      "MAIL FROM:a@b.example",
      "RCPT TO:<alice@example.test> NOTIFY=SUCCESS ORCPT=rfc822;alice@example.test",
      "RCPT TO:<Postmaster>",
      "RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS",
      "RCPT TO:<>",
      "BDAT x",
      "AUTH PLAIN",
      "VRFY",
      "EHLO bad(host)",
      "DATA now",
      "\x01\x02\xff",
  };
  for (const char* line : lines) {
    SCOPED_TRACE(line);
    std::string script = std::string("EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n") + line +
                         "\r\nRCPT TO:<bob@example.test>\r\nNOOP\r\n";
    std::string out[2];
    for (int t = 0; t < 2; ++t) {
      Harness h;
      h.trickle = t == 1;
      h.feed(script);
      out[t] = h.written;
    }
    EXPECT_EQ(out[0], out[1]);
    EXPECT_NE(out[0].find("250 2.0.0 Ok\r\n"), std::string::npos);  // the NOOP was reached
  }
}

TEST(Session, WrongResultTypeIsTemporaryFailure) {
  Harness h;
  h.auto_complete = false;
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example>");
  h.send("RCPT TO:<alice@example.test>");
  ASSERT_EQ(h.held.size(), 1u);
  Output out = h.session.complete(ActionResult{h.held[0].id, SenderResult{SenderResult::owned}});
  EXPECT_EQ(summarize(out.bytes), "451 4.3.0");
  EXPECT_FALSE(out.log.empty());
  EXPECT_FALSE(h.session.action_pending());
}

}  // namespace
}  // namespace tern::smtpd::testing
