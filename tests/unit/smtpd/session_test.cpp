// Session transcripts: greeting, EHLO, command order, policy, pipelining, STARTTLS, limits.
#include <gtest/gtest.h>

#include "harness.h"

namespace tern::smtpd::testing {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Session, GreetingNamesHost) {
  Harness h;
  EXPECT_EQ(h.written, "220 mx.example.test ESMTP Tern\r\n");
  EXPECT_EQ(h.session.state(), State::fresh);
}

TEST(Session, EhloWithoutTlsOffersStarttlsNotAuth) {
  Harness h;
  size_t mark = h.written.size();
  h.send("EHLO client.example");
  std::string r = h.raw_since(mark);
  EXPECT_EQ(r,
            "250-mx.example.test\r\n"
            "250-PIPELINING\r\n"
            "250-SIZE 10000\r\n"
            "250-8BITMIME\r\n"
            "250-SMTPUTF8\r\n"
            "250-ENHANCEDSTATUSCODES\r\n"
            "250-CHUNKING\r\n"
            "250-DSN\r\n"
            "250 STARTTLS\r\n");
  EXPECT_EQ(h.session.state(), State::ready);
}

TEST(Session, EhloUnderTlsOffersAuthNotStarttls) {
  Harness h(default_settings(), default_peer(true));
  size_t mark = h.written.size();
  h.send("EHLO client.example");
  std::string r = h.raw_since(mark);
  EXPECT_FALSE(contains(r, "STARTTLS"));
  EXPECT_TRUE(contains(r, "250 AUTH SCRAM-SHA-256 PLAIN LOGIN\r\n"));
}

TEST(Session, EhloUnderTlsWithChannelBindingsOffersScramPlusFirst) {
  Harness h(default_settings(), default_peer(true));
  h.session.set_channel_bindings({std::string(32, 'x'), std::string(32, 'y')});
  size_t mark = h.written.size();
  h.send("EHLO client.example");
  EXPECT_TRUE(contains(h.raw_since(mark), "250 AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN\r\n"));
}

TEST(Session, EhloPlaintextAuthSetting) {
  auto s = default_settings();
  s.allow_plaintext_auth = true;
  s.tls_available = false;
  Harness h(s);
  size_t mark = h.written.size();
  h.send("EHLO client.example");
  std::string r = h.raw_since(mark);
  EXPECT_FALSE(contains(r, "STARTTLS"));
  EXPECT_TRUE(contains(r, "AUTH SCRAM-SHA-256 PLAIN LOGIN"));
}

TEST(Session, HeloIsPlainSmtp) {
  Harness h;
  size_t mark = h.written.size();
  EXPECT_EQ(h.send("HELO client.example"), "250");
  EXPECT_EQ(h.raw_since(mark), "250 mx.example.test\r\n");
  EXPECT_EQ(h.send("HELO"), "501 5.5.4");
}

TEST(Session, SimpleCommands) {
  Harness h;
  EXPECT_EQ(h.send("NOOP"), "250 2.0.0");
  EXPECT_EQ(h.send("HELP"), "214 2.0.0");
  EXPECT_EQ(h.send("VRFY alice"), "252 2.5.0");
  EXPECT_EQ(h.send("VRFY nobody@example.test"), "252 2.5.0");  // no enumeration
  EXPECT_EQ(h.send("EXPN list"), "502 5.5.1");
  EXPECT_EQ(h.send("RSET"), "250 2.0.0");
  EXPECT_EQ(h.send("XYZZY"), "500 5.5.2");
  EXPECT_EQ(h.send("RSET now"), "501 5.5.4");
  EXPECT_TRUE(h.actions.empty());
  EXPECT_EQ(h.send("QUIT"), "221 2.0.0");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.send("NOOP"), "");  // closed: nothing more
}

TEST(Session, CommandOrderErrors) {
  auto s = default_settings();
  s.max_errors = 100;
  Harness h(s);
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "503 5.5.1");
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "503 5.5.1");
  EXPECT_EQ(h.send("DATA"), "503 5.5.1");
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "503 5.5.1");
  EXPECT_EQ(h.send("DATA"), "503 5.5.1");
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "250 2.1.0");
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "503 5.5.1");  // nested MAIL
  EXPECT_EQ(h.send("DATA"), "554 5.5.1");                           // no valid recipient
  EXPECT_EQ(h.send("RCPT TO:<nobody@example.test>"), "550 5.1.1");
  EXPECT_EQ(h.send("DATA"), "554 5.5.1");
  EXPECT_EQ(h.send("RSET"), "250 2.0.0");
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "503 5.5.1");  // RSET ended it
}

TEST(Session, SyntaxErrorsAndUnknownParameters) {
  Harness h;
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("MAIL FROM:a@b.example"), "501 5.5.4");
  EXPECT_EQ(h.send("MAIL FROM:<a@b.example> XFOO=1"), "555 5.5.4");
  EXPECT_EQ(h.send("MAIL FROM:<a@b.example> BODY=BINARYMIME"), "501 5.5.4");
  EXPECT_EQ(h.send("MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME RET=FULL ENVID=x AUTH=<>"),
            "250 2.1.0");
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test> FOO=bar"), "555 5.5.4");
  EXPECT_EQ(h.send("RCPT TO:alice@example.test"), "501 5.5.4");
}

// Issue 20: the server's disk at its reserve. RCPT: 452 4.3.1 (RFC 3463 §3.4, mail system
// full), not the user's 4.2.2; MAIL: 452 4.3.1 when the declared SIZE (or any message, when
// the reading says there is no room at all) does not fit (RFC 1870 §6.1).
TEST(Session, StorageFullIsATemporaryRefusal) {
  Harness h;
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "250 2.1.0");
  EXPECT_EQ(h.send("RCPT TO:<diskfull@example.test>"), "452 4.3.1");
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "250 2.1.5");
  bool logged = false;
  for (const auto& l : h.log) logged |= contains(l, "reason=storage-full");
  EXPECT_TRUE(logged);
}

TEST(Session, MailRefusedWhenTheDeclaredSizeDoesNotFit) {
  auto settings = default_settings();
  uint64_t room = 5000;
  std::vector<uint64_t> asked;
  settings.has_room = [&](uint64_t bytes) {
    asked.push_back(bytes);
    return bytes <= room;
  };
  for (bool trickle : {false, true}) {
    asked.clear();
    room = 5000;
    Harness h(settings);
    h.trickle = trickle;
    h.send("EHLO client.example");
    EXPECT_EQ(h.send("MAIL FROM:<a@remote.example> SIZE=6000"), "452 4.3.1");
    EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "503 5.5.1");  // no transaction
    EXPECT_EQ(h.send("MAIL FROM:<a@remote.example> SIZE=4000"), "250 2.1.0");
    EXPECT_EQ(h.send("RSET"), "250 2.0.0");
    room = 0;
    EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "250 2.1.0");  // no size: 0 fits
    EXPECT_EQ(h.send("RSET"), "250 2.0.0");
    settings.has_room = [](uint64_t) { return false; };
    Harness full(settings);
    full.send("EHLO client.example");
    EXPECT_EQ(full.send("MAIL FROM:<a@remote.example>"), "452 4.3.1");
    EXPECT_EQ((std::vector<uint64_t>{6000, 4000, 0}), asked);
    settings.has_room = [&](uint64_t bytes) {
      asked.push_back(bytes);
      return bytes <= room;
    };
  }
}

TEST(Session, EhloResetsTransaction) {
  Harness h;
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example>");
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "503 5.5.1");
}

TEST(Session, MxRecipientPolicy) {
  Harness h;
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("MAIL FROM:<>"), "250 2.1.0");  // null sender allowed on mx
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "250 2.1.5");
  EXPECT_EQ(h.send("RCPT TO:<nobody@example.test>"), "550 5.1.1");
  EXPECT_EQ(h.send("RCPT TO:<someone@elsewhere.example>"), "554 5.7.1");
  EXPECT_EQ(h.send("RCPT TO:<full@example.test>"), "452 4.2.2");
  EXPECT_EQ(h.send("RCPT TO:<busy@example.test>"), "451 4.3.0");
  EXPECT_EQ(h.send("RCPT TO:<Postmaster>"), "250 2.1.5");
  bool logged = false;
  for (const auto& l : h.log) logged |= contains(l, "relay-denied");
  EXPECT_TRUE(logged);
  // The resolver saw the address as given, and the auth user (none).
  const auto& rr = std::get<ResolveRecipient>(h.actions[0].request);
  EXPECT_EQ(rr.address, "alice@example.test");
  EXPECT_EQ(rr.parsed.local, "alice");
  EXPECT_EQ(rr.parsed.domain, "example.test");
  EXPECT_TRUE(rr.auth_user.empty());
}

TEST(Session, RecipientLimit) {
  Harness h;
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example>");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "250 2.1.5");
  size_t actions = h.actions.size();
  EXPECT_EQ(h.send("RCPT TO:<bob@example.test>"), "452 4.5.3");
  EXPECT_EQ(h.actions.size(), actions);  // refused without asking the resolver
}

TEST(Session, SmtpUtf8AddressNeedsParameter) {
  Harness h;
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("MAIL FROM:<j\xc3\xb6rg@remote.example>"), "553 5.6.7");
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "250 2.1.0");
  EXPECT_EQ(h.send("RCPT TO:<j\xc3\xb6rg@example.test>"), "553 5.6.7");
  h.send("RSET");
  EXPECT_EQ(h.send("MAIL FROM:<j\xc3\xb6rg@remote.example> SMTPUTF8"), "250 2.1.0");
  EXPECT_EQ(h.send("RCPT TO:<j\xc3\xb6rg@example.test>"), "550 5.1.1");  // resolver asked
}

TEST(Session, DeclaredSizeOverLimit) {
  Harness h;
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example> SIZE=10001"), "552 5.3.4");
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example> SIZE=10000"), "250 2.1.0");
}

TEST(Session, PipelinedCommandsKeepOrder) {
  Harness h;
  h.auto_complete = false;
  std::string r = h.feed(
      "EHLO client.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\n"
      "RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nNOOP\r\n");
  // EHLO and MAIL answered; the first RCPT waits for the resolver, the rest is buffered.
  EXPECT_TRUE(contains(h.written, "250 STARTTLS\r\n250 2.1.0 "));
  EXPECT_EQ(r.substr(r.size() - 9), "250 2.1.0");
  ASSERT_EQ(h.held.size(), 1u);
  EXPECT_TRUE(h.session.action_pending());
  EXPECT_EQ(h.feed("DATA\r\n"), "");  // still buffered
  EXPECT_EQ(h.complete_next(), "250 2.1.5");
  EXPECT_EQ(h.complete_next(), "550 5.1.1");
  EXPECT_EQ(h.complete_next(), "250 2.1.5|250 2.0.0|354");
  EXPECT_TRUE(h.held.empty());
  EXPECT_EQ(h.session.state(), State::data);
}

TEST(Session, ActionResultWithWrongIdIsIgnored) {
  Harness h;
  h.auto_complete = false;
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example>");
  h.send("RCPT TO:<alice@example.test>");
  ASSERT_EQ(h.held.size(), 1u);
  ActionResult bogus{h.held[0].id + 100, RecipientResult{RecipientResult::local, {"x"}}};
  Output out = h.session.complete(bogus);
  EXPECT_TRUE(out.bytes.empty());
  EXPECT_EQ(h.complete_next(), "250 2.1.5");
}

TEST(Session, ErrorLimitDisconnects) {
  auto s = default_settings();
  s.max_errors = 3;
  Harness h(s);
  EXPECT_EQ(h.send("BOGUS"), "500 5.5.2");
  EXPECT_EQ(h.send("BOGUS"), "500 5.5.2");
  EXPECT_FALSE(h.closed);
  EXPECT_EQ(h.send("BOGUS"), "500 5.5.2|421 4.7.0");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.session.state(), State::closed);
}

TEST(Session, ErrorLimitInsidePipelinedBatchStopsProcessing) {
  auto s = default_settings();
  s.max_errors = 2;
  Harness h(s);
  EXPECT_EQ(h.feed("A\r\nB\r\nNOOP\r\n"), "500 5.5.2|500 5.5.2|421 4.7.0");
}

TEST(Session, OverlongCommandLine) {
  auto s = default_settings();
  s.max_line_length = 100;
  Harness h(s);
  h.send("EHLO client.example");
  std::string fits = "NOOP " + std::string(93, 'x');  // 98 + CRLF = 100
  EXPECT_EQ(h.send(fits), "250 2.0.0");
  EXPECT_EQ(h.send(fits + "x"), "500 5.5.6");
  // A huge unterminated line is discarded as it arrives, then answered once.
  EXPECT_EQ(h.feed(std::string(5000, 'y')), "");
  EXPECT_EQ(h.feed(std::string(5000, 'y')), "");
  EXPECT_EQ(h.feed("MAIL FROM:<a@b.example>\r\nNOOP\r\n"), "500 5.5.6|250 2.0.0");
  EXPECT_EQ(h.session.state(), State::ready);  // the MAIL in the long line never ran
}

TEST(Session, BareLfCommandTerminatorAccepted) {
  Harness h;
  EXPECT_EQ(h.feed("NOOP\n"), "250 2.0.0");
}

TEST(Session, TimeoutSays421AndCloses) {
  Harness h;
  h.send("EHLO client.example");
  h.absorb(h.session.timeout());
  EXPECT_TRUE(h.written.size() >= 2);
  EXPECT_EQ(summarize(h.written.substr(h.written.rfind("421"))), "421 4.4.2");
  EXPECT_TRUE(h.closed);
  EXPECT_TRUE(h.session.timeout().bytes.empty());
}

TEST(Session, ShutdownWhenIdleIsImmediate) {
  Harness h;
  h.send("EHLO client.example");
  Output out = h.session.shutdown();
  EXPECT_EQ(summarize(out.bytes), "421 4.3.2");
  EXPECT_TRUE(out.close_after_write);
}

TEST(Session, ShutdownWaitsForTransactionEnd) {
  Harness h;
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example>");
  h.send("RCPT TO:<alice@example.test>");
  Output out = h.session.shutdown();
  EXPECT_TRUE(out.bytes.empty());
  EXPECT_FALSE(out.close_after_write);
  EXPECT_EQ(h.send("DATA"), "354");
  EXPECT_EQ(h.feed("Subject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n"), "250 2.0.0|421 4.3.2");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.delivered.size(), 1u);
}

TEST(Session, ShutdownAfterRset) {
  Harness h;
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example>");
  h.absorb(h.session.shutdown());
  EXPECT_FALSE(h.closed);
  EXPECT_EQ(h.send("RSET"), "250 2.0.0|421 4.3.2");
  EXPECT_TRUE(h.closed);
}

TEST(Session, ShutdownWhilePendingOutsideTransaction) {
  Harness h(default_settings(), default_peer(true));
  h.auto_complete = false;
  h.send("EHLO client.example");
  h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret"));
  Output out = h.session.shutdown();
  EXPECT_TRUE(out.bytes.empty());
  EXPECT_EQ(h.complete_next(), "235 2.7.0|421 4.3.2");
}

TEST(Session, StartTlsDiscardsPipelinedInputAndResets) {
  Harness h;
  h.send("EHLO client.example");
  // Classic injection: commands after STARTTLS in the same packet.
  std::string r = h.feed("STARTTLS\r\nMAIL FROM:<evil@remote.example>\r\nRCPT TO:<alice@example.test>\r\n");
  EXPECT_EQ(r, "220 2.0.0");
  EXPECT_TRUE(h.start_tls);
  EXPECT_EQ(h.session.state(), State::tls_handshake);
  EXPECT_EQ(h.feed("NOOP\r\n"), "");  // plaintext before the handshake completes: dropped
  h.session.tls_started("TLSv1.3", "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(h.session.state(), State::fresh);
  // The injected MAIL never ran, and the client must EHLO again.
  EXPECT_EQ(h.send("RCPT TO:<alice@example.test>"), "503 5.5.1");
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "503 5.5.1");
  size_t mark = h.written.size();
  h.send("EHLO client.example");
  EXPECT_FALSE(contains(h.raw_since(mark), "STARTTLS"));
  EXPECT_TRUE(contains(h.raw_since(mark), "AUTH SCRAM-SHA-256 PLAIN LOGIN"));
  EXPECT_EQ(h.send("STARTTLS"), "503 5.5.1");
  EXPECT_TRUE(h.actions.empty());
  bool logged = false;
  for (const auto& l : h.log) logged |= contains(l, "starttls discarded");
  EXPECT_TRUE(logged);
}

TEST(Session, StartTlsWithoutContext) {
  auto s = default_settings();
  s.tls_available = false;
  Harness h(s);
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("STARTTLS"), "454 4.7.0");
  EXPECT_FALSE(h.start_tls);
  EXPECT_EQ(h.send("STARTTLS now"), "501 5.5.4");
}

TEST(Session, PipelinedInputOverflowWhilePending) {
  auto s = default_settings();
  s.max_message_size = 100;
  Harness h(s);
  h.auto_complete = false;
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example>");
  h.send("RCPT TO:<alice@example.test>");
  ASSERT_EQ(h.held.size(), 1u);
  std::string flood(70 * 1024, 'N');
  EXPECT_EQ(h.feed(flood), "");
  EXPECT_EQ(h.complete_next(), "250 2.1.5|421 4.7.0");
  EXPECT_TRUE(h.closed);
}

// An alias of ours that forwards off-site is not relaying: accepted from an unauthenticated
// MX client when the relay runs, deferred (never refused as relaying) when it does not.
TEST(Session, MxForwardingAliasAcceptedWithoutAuth) {
  SessionSettings s = default_settings();
  s.relay_available = true;
  Harness h(s);
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "250 2.1.0");
  EXPECT_EQ(h.send("RCPT TO:<fwd@example.test>"), "250 2.1.5");
  EXPECT_EQ(h.send("RCPT TO:<someone@elsewhere.example>"), "554 5.7.1");  // still no relaying
  EXPECT_EQ(h.send("DATA"), "354");
  EXPECT_EQ(h.feed("Subject: f\r\n\r\nbody\r\n.\r\n"), "250 2.0.0");
  ASSERT_EQ(h.delivered.size(), 1u);
  const Envelope& e = h.delivered[0].envelope;
  ASSERT_EQ(e.recipients.size(), 1u);
  EXPECT_EQ(e.recipients[0].address, "fwd@example.test");
  EXPECT_TRUE(e.recipients[0].remote);

  Harness off;  // relay not running
  off.send("EHLO client.example");
  off.send("MAIL FROM:<a@remote.example>");
  EXPECT_EQ(off.send("RCPT TO:<fwd@example.test>"), "451 4.3.2");
}

}  // namespace
}  // namespace tern::smtpd::testing
