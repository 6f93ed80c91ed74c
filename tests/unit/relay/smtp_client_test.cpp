// SmtpClient transcripts against scripted server replies, plus the reply parser and encoders.
#include <gtest/gtest.h>

#include "relay/relay.h"

using namespace tern::relay;

// ---- ReplyParser: table of vectors, whole and byte by byte -------------------------------------

namespace {

struct ParseVector {
  std::string input;
  bool ok;
  int code;
  std::string enhanced;
  size_t lines;
};

std::vector<ParseVector> parse_vectors() {
  return {
      {"220 mx.test ESMTP ready\r\n", true, 220, "", 1},
      {"250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", true, 250, "", 3},
      {"550 5.1.1 no such user\r\n", true, 550, "5.1.1", 1},
      {"451-4.3.0 first\r\n451 4.3.0 second\r\n", true, 451, "4.3.0", 2},
      {"250\r\n", true, 250, "", 1},
      {"250 ok\n", true, 250, "", 1},                 // bare LF tolerated
      {"250 8BITMIME\r\n", true, 250, "", 1},         // not an enhanced code
      {"abc hello\r\n", false, 0, "", 0},
      {"25 short\r\n", false, 0, "", 0},
      {"250x bad separator\r\n", false, 0, "", 0},
      {"650 bad class\r\n", false, 0, "", 0},
      {"250-a\r\n251 b\r\n", false, 0, "", 0},        // code changes mid-reply
  };
}

}  // namespace

TEST(ReplyParser, VectorsWholeAndByteByByte) {
  for (const auto& v : parse_vectors()) {
    for (bool trickle : {false, true}) {
      ReplyParser p;
      SmtpReply reply;
      ReplyParser::State st = ReplyParser::State::need_more;
      if (trickle) {
        for (char c : v.input) {
          p.append(std::string_view(&c, 1));
          st = p.next(reply);
          if (st != ReplyParser::State::need_more) break;
        }
      } else {
        p.append(v.input);
        st = p.next(reply);
      }
      SCOPED_TRACE(v.input + (trickle ? " (trickled)" : ""));
      if (v.ok) {
        ASSERT_EQ(st, ReplyParser::State::reply);
        EXPECT_EQ(reply.code, v.code);
        EXPECT_EQ(reply.enhanced, v.enhanced);
        EXPECT_EQ(reply.lines.size(), v.lines);
      } else {
        EXPECT_EQ(st, ReplyParser::State::error);
      }
    }
  }
}

TEST(ReplyParser, IncompleteAndOverlong) {
  ReplyParser p;
  SmtpReply r;
  p.append("250-first\r\n250 sec");
  EXPECT_EQ(p.next(r), ReplyParser::State::need_more);
  p.append("ond\r\n354 go\r\n");
  ASSERT_EQ(p.next(r), ReplyParser::State::reply);
  EXPECT_EQ(r.text(), "first second");
  ASSERT_EQ(p.next(r), ReplyParser::State::reply);
  EXPECT_EQ(r.code, 354);
  ReplyParser long_line;
  long_line.append("250 " + std::string(ReplyParser::kMaxLine + 10, 'x'));
  EXPECT_EQ(long_line.next(r), ReplyParser::State::error);
}

TEST(SmtpEncoding, DataDotStuffingAndCrlf) {
  EXPECT_EQ(smtp_data_encode(""), ".\r\n");
  EXPECT_EQ(smtp_data_encode("a\r\nb\r\n"), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(smtp_data_encode("a\nb"), "a\r\nb\r\n.\r\n");              // LF -> CRLF, final CRLF added
  EXPECT_EQ(smtp_data_encode("a\rb\r\n"), "a\r\nb\r\n.\r\n");          // bare CR -> CRLF
  EXPECT_EQ(smtp_data_encode(".\r\n..x\r\n.y"), "..\r\n...x\r\n..y\r\n.\r\n");
  EXPECT_EQ(smtp_data_encode("a.\r\n b.c"), "a.\r\n b.c\r\n.\r\n");    // only leading dots
}

TEST(SmtpEncoding, EhloCapabilities) {
  ReplyParser p;
  SmtpReply r;
  p.append("250-mx.test hi\r\n250-pipelining\r\n250-SIZE 1024\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
           "250-DSN\r\n250-STARTTLS\r\n250-AUTH PLAIN login\r\n250 AUTH=CRAM-MD5\r\n");
  ASSERT_EQ(p.next(r), ReplyParser::State::reply);
  Capabilities c = parse_ehlo_reply(r);
  EXPECT_TRUE(c.pipelining && c.eightbitmime && c.smtputf8 && c.dsn && c.starttls && c.size_advertised);
  EXPECT_EQ(c.size, 1024u);
  EXPECT_EQ(c.auth, (std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"}));
}

// ---- Session transcripts ----------------------------------------------------------------------

namespace {

OutboundMessage message(std::string id, std::vector<std::string> rcpts, std::string data = "Subject: hi\r\n\r\nhello\r\n") {
  OutboundMessage m;
  m.id = std::move(id);
  m.sender = "alice@example.test";
  for (auto& r : rcpts) m.recipients.push_back({r, "", ""});
  m.data = std::move(data);
  return m;
}

struct Transcript {
  SmtpClient client;
  std::vector<MessageResult> results;
  bool start_tls = false, closed = false;

  Transcript(SmtpClientSettings s, std::vector<OutboundMessage> msgs) : client(std::move(s), std::move(msgs)) {}
  std::string take(ClientOutput o) {
    for (auto& r : o.results) results.push_back(std::move(r));
    start_tls = start_tls || o.start_tls;
    closed = closed || o.close;
    return o.write;
  }
  // Server sends `reply`; returns what the client writes back.
  std::string server(const std::string& reply) { return take(client.feed(reply)); }
};

SmtpClientSettings settings() {
  SmtpClientSettings s;
  s.helo_name = "relay.example.test";
  return s;
}

const char* kEhloPlain = "250-mx.remote.test\r\n250-8BITMIME\r\n250 SIZE 100000\r\n";
const char* kEhloPipe = "250-mx.remote.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 100000\r\n250 DSN\r\n";

}  // namespace

TEST(SmtpClient, SimpleDeliveryWithoutPipelining) {
  Transcript t(settings(), {message("m1", {"bob@remote.test", "nobody@remote.test"}, "Subject: x\n\n.hidden\nend")});
  EXPECT_EQ(t.client.phase(), ClientPhase::greeting);
  EXPECT_EQ(t.client.timeout_seconds(), 300);
  EXPECT_EQ(t.server("220-mx.remote.test\r\n220 ESMTP\r\n"), "EHLO relay.example.test\r\n");
  EXPECT_EQ(t.client.phase(), ClientPhase::ehlo);
  EXPECT_EQ(t.server(kEhloPlain), "MAIL FROM:<alice@example.test> SIZE=29\r\n");
  EXPECT_EQ(t.client.phase(), ClientPhase::mail);
  EXPECT_EQ(t.server("250 2.1.0 ok\r\n"), "RCPT TO:<bob@remote.test>\r\n");
  EXPECT_EQ(t.client.phase(), ClientPhase::rcpt);
  EXPECT_EQ(t.server("250 2.1.5 ok\r\n"), "RCPT TO:<nobody@remote.test>\r\n");
  EXPECT_EQ(t.server("550 5.1.1 unknown user\r\n"), "DATA\r\n");
  EXPECT_EQ(t.client.phase(), ClientPhase::data);
  EXPECT_EQ(t.client.timeout_seconds(), 120);
  EXPECT_EQ(t.server("354 go ahead\r\n"), "Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n");
  EXPECT_EQ(t.client.phase(), ClientPhase::data_end);
  EXPECT_EQ(t.client.timeout_seconds(), 600);
  EXPECT_TRUE(t.results.empty());
  EXPECT_EQ(t.server("250 2.0.0 queued as X\r\n"), "QUIT\r\n");
  ASSERT_EQ(t.results.size(), 1u);
  const auto& r = t.results[0];
  EXPECT_EQ(r.id, "m1");
  EXPECT_EQ(r.outcome, Outcome::permanent);  // nothing temporary left, one permanent
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::delivered);
  EXPECT_EQ(r.recipients[0].reply.code, 250);
  EXPECT_EQ(r.recipients[1].outcome, Outcome::permanent);
  EXPECT_EQ(r.recipients[1].reply.str(), "550 5.1.1 unknown user");
  EXPECT_FALSE(t.closed);
  t.server("221 bye\r\n");
  EXPECT_TRUE(t.closed);
  EXPECT_TRUE(t.client.done());
  EXPECT_EQ(t.client.timeout_seconds(), 0);
}

TEST(SmtpClient, PipelinedBatchWithMixedReplies) {
  auto m = message("m1", {"a@remote.test", "b@remote.test", "c@remote.test"});
  m.dsn_ret = "HDRS";
  m.dsn_envid = "id 1";
  m.recipients[0].notify = "FAILURE,DELAY";
  m.recipients[0].orcpt = "a@remote.test";
  Transcript t(settings(), {m});
  t.server("220 hi\r\n");
  EXPECT_EQ(t.server(kEhloPipe),
            "MAIL FROM:<alice@example.test> SIZE=22 RET=HDRS ENVID=id+201\r\n"
            "RCPT TO:<a@remote.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@remote.test\r\n"
            "RCPT TO:<b@remote.test>\r\n"
            "RCPT TO:<c@remote.test>\r\n"
            "DATA\r\n");
  // Replies trickled one byte at a time must give the same result.
  std::string replies = "250 ok\r\n250 ok\r\n452 4.2.2 mailbox full\r\n550 5.7.1 denied\r\n354 go\r\n";
  std::string written;
  for (char c : replies) written += t.server(std::string(1, c));
  EXPECT_EQ(written, "Subject: hi\r\n\r\nhello\r\n.\r\n");
  EXPECT_EQ(t.server("250 done\r\n"), "QUIT\r\n");
  ASSERT_EQ(t.results.size(), 1u);
  const auto& r = t.results[0];
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::delivered);
  EXPECT_EQ(r.recipients[1].outcome, Outcome::temporary);
  EXPECT_EQ(r.recipients[1].reply.enhanced, "4.2.2");
  EXPECT_EQ(r.recipients[2].outcome, Outcome::permanent);
}

TEST(SmtpClient, PipelinedAllRecipientsRejectedThenRsetAndNextMessage) {
  Transcript t(settings(), {message("m1", {"x@remote.test"}), message("m2", {"y@remote.test"}),
                            message("m3", {"z@remote.test"})});
  t.server("220 hi\r\n");
  t.server(kEhloPipe);
  // RCPT refused, DATA refused (RFC 2920: 554 no valid recipients) -> RSET before the next one.
  EXPECT_EQ(t.server("250 ok\r\n550 no\r\n554 no valid recipients\r\n"), "RSET\r\n");
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0].outcome, Outcome::permanent);
  EXPECT_EQ(t.results[0].recipients[0].reply.code, 550);
  EXPECT_EQ(t.server("250 reset\r\n"),
            "MAIL FROM:<alice@example.test> SIZE=22\r\nRCPT TO:<y@remote.test>\r\nDATA\r\n");
  EXPECT_EQ(t.server("250 ok\r\n250 ok\r\n354 go\r\n"), "Subject: hi\r\n\r\nhello\r\n.\r\n");
  // After a completed transaction the next MAIL follows directly, no RSET.
  EXPECT_EQ(t.server("250 queued\r\n"),
            "MAIL FROM:<alice@example.test> SIZE=22\r\nRCPT TO:<z@remote.test>\r\nDATA\r\n");
  // A server that says 354 although no recipient was accepted gets an empty body.
  EXPECT_EQ(t.server("250 ok\r\n550 no\r\n354 go\r\n"), ".\r\n");
  EXPECT_EQ(t.server("554 no recipients\r\n"), "QUIT\r\n");
  ASSERT_EQ(t.results.size(), 3u);
  EXPECT_EQ(t.results[1].outcome, Outcome::delivered);
  EXPECT_EQ(t.results[2].outcome, Outcome::permanent);
  EXPECT_EQ(t.results[2].recipients[0].reply.code, 550);
}

TEST(SmtpClient, MailFromRejectedNotPipelined) {
  Transcript t(settings(), {message("m1", {"a@remote.test", "b@remote.test"}), message("m2", {"c@remote.test"})});
  t.server("220 hi\r\n");
  t.server(kEhloPlain);
  EXPECT_EQ(t.server("451 4.7.1 greylisted\r\n"), "RSET\r\n");
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0].outcome, Outcome::temporary);
  for (const auto& r : t.results[0].recipients) EXPECT_EQ(r.reply.str(), "451 4.7.1 greylisted");
  EXPECT_EQ(t.server("250 ok\r\n"), "MAIL FROM:<alice@example.test> SIZE=22\r\n");
}

TEST(SmtpClient, HeloFallbackAndEightBitRefusal) {
  Transcript t(settings(), {message("m8", {"a@remote.test"}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n"),
                            message("m7", {"a@remote.test"})});
  t.server("220 old server\r\n");
  EXPECT_EQ(t.server("502 5.5.1 what?\r\n"), "HELO relay.example.test\r\n");
  EXPECT_EQ(t.client.phase(), ClientPhase::helo);
  // No 8BITMIME after HELO: the 8-bit message fails permanently without being sent, and the
  // next (7-bit) message goes out with no ESMTP parameters.
  EXPECT_EQ(t.server("250 hello\r\n"), "MAIL FROM:<alice@example.test>\r\n");
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0].id, "m8");
  EXPECT_EQ(t.results[0].outcome, Outcome::permanent);
  EXPECT_TRUE(t.results[0].recipients[0].local);
  EXPECT_EQ(t.results[0].recipients[0].reply.enhanced, "5.6.3");
  EXPECT_NE(t.results[0].recipients[0].reply.text().find("8BITMIME"), std::string::npos);
}

TEST(SmtpClient, EightBitWithRemoteSupportUsesBodyParameter) {
  Transcript t(settings(), {message("m8", {"a@remote.test"}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n")});
  t.server("220 hi\r\n");
  EXPECT_EQ(t.server(kEhloPlain), "MAIL FROM:<alice@example.test> SIZE=21 BODY=8BITMIME\r\n");
}

TEST(SmtpClient, SmtpUtf8AndSizeRefusals) {
  auto utf8 = message("u", {"j\xc3\xb6rg@remote.test"});
  auto big = message("big", {"a@remote.test"}, "Subject: big\r\n\r\n" + std::string(200000, 'x') + "\r\n");
  Transcript t(settings(), {utf8, big, message("ok", {"a@remote.test"})});
  t.server("220 hi\r\n");
  EXPECT_EQ(t.server(kEhloPlain), "MAIL FROM:<alice@example.test> SIZE=22\r\n");
  ASSERT_EQ(t.results.size(), 2u);
  EXPECT_EQ(t.results[0].recipients[0].reply.enhanced, "5.6.7");
  EXPECT_EQ(t.results[0].outcome, Outcome::permanent);
  EXPECT_EQ(t.results[1].recipients[0].reply.code, 552);
  EXPECT_EQ(t.results[1].outcome, Outcome::permanent);

  // With SMTPUTF8 offered, the parameter is sent.
  Transcript t2(settings(), {utf8});
  t2.server("220 hi\r\n");
  EXPECT_EQ(t2.server("250-x\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"), "MAIL FROM:<alice@example.test> SMTPUTF8\r\n");
}

TEST(SmtpClient, StartTlsFlowDiscardsInjectedPlaintext) {
  Transcript t(settings(), {message("m1", {"a@remote.test"})});
  t.server("220 hi\r\n");
  EXPECT_EQ(t.server("250-mx\r\n250-STARTTLS\r\n250 8BITMIME\r\n"), "STARTTLS\r\n");
  EXPECT_EQ(t.client.phase(), ClientPhase::starttls);
  // The server (or a MITM) appends a reply after 220: it must be discarded.
  EXPECT_EQ(t.server("220 2.0.0 go ahead\r\n250 injected\r\n"), "");
  EXPECT_TRUE(t.start_tls);
  EXPECT_EQ(t.client.phase(), ClientPhase::tls_handshake);
  EXPECT_EQ(t.take(t.client.tls_established()), "EHLO relay.example.test\r\n");
  EXPECT_TRUE(t.client.tls_active());
  EXPECT_FALSE(t.client.capabilities().starttls);  // forgotten after TLS
  // STARTTLS is not offered again (and must not be used again).
  EXPECT_EQ(t.server("250-mx\r\n250 PIPELINING\r\n"),
            "MAIL FROM:<alice@example.test>\r\nRCPT TO:<a@remote.test>\r\nDATA\r\n");
}

TEST(SmtpClient, TlsRequiredButNotOffered) {
  auto s = settings();
  s.tls = TlsPolicy::required;
  Transcript t(s, {message("m1", {"a@remote.test"})});
  t.server("220 hi\r\n");
  EXPECT_EQ(t.server(kEhloPlain), "QUIT\r\n");
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0].outcome, Outcome::temporary);
  EXPECT_NE(t.results[0].recipients[0].reply.text().find("TLS required"), std::string::npos);
}

TEST(SmtpClient, TlsHandshakeFailureClosesWithTemporaryResults) {
  Transcript t(settings(), {message("m1", {"a@remote.test"})});
  t.server("220 hi\r\n");
  t.server("250-mx\r\n250 STARTTLS\r\n");
  t.server("220 go\r\n");
  t.take(t.client.tls_failed("certificate expired"));
  EXPECT_TRUE(t.closed);
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0].outcome, Outcome::temporary);
}

TEST(SmtpClient, AuthPlainOverImplicitTls) {
  auto s = settings();
  s.tls_active = true;
  s.auth_username = "user";
  s.auth_password = "secret";
  Transcript t(s, {message("m1", {"a@remote.test"})});
  t.server("220 smarthost\r\n");
  // base64("\0user\0secret")
  EXPECT_EQ(t.server("250-sh\r\n250 AUTH LOGIN PLAIN\r\n"), "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
  EXPECT_EQ(t.client.phase(), ClientPhase::auth);
  EXPECT_EQ(t.server("235 2.7.0 ok\r\n"), "MAIL FROM:<alice@example.test>\r\n");
}

TEST(SmtpClient, AuthLoginAndFailure) {
  auto s = settings();
  s.tls_active = true;
  s.auth_username = "user";
  s.auth_password = "secret";
  Transcript t(s, {message("m1", {"a@remote.test"})});
  t.server("220 smarthost\r\n");
  EXPECT_EQ(t.server("250-sh\r\n250 AUTH LOGIN\r\n"), "AUTH LOGIN\r\n");
  EXPECT_EQ(t.server("334 VXNlcm5hbWU6\r\n"), "dXNlcg==\r\n");
  EXPECT_EQ(t.server("334 UGFzc3dvcmQ6\r\n"), "c2VjcmV0\r\n");
  EXPECT_EQ(t.server("535 5.7.8 bad credentials\r\n"), "QUIT\r\n");
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0].outcome, Outcome::temporary);  // admin must fix; mail stays queued
  EXPECT_EQ(t.results[0].recipients[0].reply.code, 535);
}

TEST(SmtpClient, AuthRefusedWithoutTls) {
  auto s = settings();
  s.tls = TlsPolicy::none;
  s.auth_username = "user";
  s.auth_password = "secret";
  Transcript t(s, {message("m1", {"a@remote.test"})});
  t.server("220 smarthost\r\n");
  EXPECT_EQ(t.server("250-sh\r\n250 AUTH PLAIN\r\n"), "QUIT\r\n");  // password never sent
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0].outcome, Outcome::temporary);
  s.allow_auth_without_tls = true;
  Transcript t2(s, {message("m1", {"a@remote.test"})});
  t2.server("220 smarthost\r\n");
  EXPECT_EQ(t2.server("250-sh\r\n250 AUTH PLAIN\r\n").rfind("AUTH PLAIN ", 0), 0u);
}

TEST(SmtpClient, GreetingRefusedAndServiceClosing) {
  Transcript t(settings(), {message("m1", {"a@remote.test"}), message("m2", {"b@remote.test"})});
  EXPECT_EQ(t.server("554 5.3.2 no service\r\n"), "QUIT\r\n");
  ASSERT_EQ(t.results.size(), 2u);
  EXPECT_EQ(t.results[0].outcome, Outcome::permanent);
  EXPECT_EQ(t.results[1].outcome, Outcome::permanent);

  Transcript t2(settings(), {message("m1", {"a@remote.test", "b@remote.test"})});
  t2.server("220 hi\r\n");
  t2.server(kEhloPlain);
  t2.server("250 ok\r\n");
  t2.server("550 no such user\r\n");
  // 421: closing without QUIT; the rejected recipient keeps its permanent result.
  EXPECT_EQ(t2.server("421 4.3.2 shutting down\r\n"), "");
  EXPECT_TRUE(t2.closed);
  ASSERT_EQ(t2.results.size(), 1u);
  EXPECT_EQ(t2.results[0].recipients[0].outcome, Outcome::permanent);
  EXPECT_EQ(t2.results[0].recipients[1].outcome, Outcome::temporary);
  EXPECT_EQ(t2.results[0].recipients[1].reply.code, 421);
}

TEST(SmtpClient, ConnectionLostAndTimeout) {
  Transcript t(settings(), {message("m1", {"a@remote.test"}), message("m2", {"b@remote.test"})});
  t.server("220 hi\r\n");
  t.server(kEhloPlain);
  t.server("250 ok\r\n");
  t.server("250 ok\r\n");
  t.server("354 go\r\n");
  t.take(t.client.connection_lost());
  EXPECT_TRUE(t.closed);
  ASSERT_EQ(t.results.size(), 2u);
  for (const auto& r : t.results) EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_NE(t.results[0].recipients[0].reply.text().find("data_end"), std::string::npos);
  EXPECT_TRUE(t.take(t.client.connection_lost()).empty());  // idempotent

  Transcript t2(settings(), {message("m1", {"a@remote.test"})});
  t2.take(t2.client.timed_out());
  ASSERT_EQ(t2.results.size(), 1u);
  EXPECT_EQ(t2.results[0].outcome, Outcome::temporary);
  EXPECT_NE(t2.results[0].recipients[0].reply.text().find("greeting"), std::string::npos);
}

TEST(SmtpClient, MalformedReplyAbortsAndNoMessages) {
  Transcript t(settings(), {message("m1", {"a@remote.test"})});
  t.server("220 hi\r\n");
  EXPECT_EQ(t.server("hello?\r\n"), "");
  EXPECT_TRUE(t.closed);
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0].outcome, Outcome::temporary);

  Transcript empty(settings(), {});
  empty.server("220 hi\r\n");
  EXPECT_EQ(empty.server(kEhloPlain), "QUIT\r\n");
}

TEST(SmtpClient, RefusesAddressesThatCouldInjectCommands) {
  Transcript t(settings(), {message("m1", {"a@remote.test>\r\nRCPT TO:<evil@x.test"})});
  t.server("220 hi\r\n");
  EXPECT_EQ(t.server(kEhloPlain), "QUIT\r\n");
  ASSERT_EQ(t.results.size(), 1u);
  EXPECT_EQ(t.results[0].outcome, Outcome::permanent);
}
