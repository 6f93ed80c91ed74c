// AUTH PLAIN / LOGIN (RFC 4954) and submission policy transcripts.
#include <gtest/gtest.h>

#include "common/codec.h"
#include "harness.h"
#include "support/scram_client.h"

namespace tern::smtpd::testing {
namespace {

Harness tls_submission() {
  return Harness(default_settings(ListenerKind::submission), default_peer(true));
}

const Authenticate& last_auth(const Harness& h) {
  return std::get<Authenticate>(h.actions.back().request);
}

TEST(Auth, PlainInitialResponse) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret")), "235 2.7.0");
  EXPECT_EQ(last_auth(h).user, "alice@example.test");
  EXPECT_EQ(last_auth(h).password, "secret");
  EXPECT_EQ(last_auth(h).mechanism, "PLAIN");
  EXPECT_EQ(h.session.auth_user(), "alice@example.test");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret")), "503 5.5.1");
}

TEST(Auth, PlainContinuation) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  size_t mark = h.written.size();
  h.send("AUTH PLAIN");
  EXPECT_EQ(h.raw_since(mark), "334 \r\n");
  EXPECT_EQ(h.session.state(), State::auth);
  EXPECT_EQ(h.send(plain_response("alice@example.test", "secret")), "235 2.7.0");
}

TEST(Auth, PlainWithMatchingAuthzid) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  std::string raw = std::string("alice@example.test\0alice@example.test\0secret", 44);
  EXPECT_EQ(h.send("AUTH PLAIN " + base64_encode(raw)), "235 2.7.0");
}

TEST(Auth, PlainProxyAuthzidRefused) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  std::string raw = std::string("bob@example.test\0alice@example.test\0secret", 42);
  EXPECT_EQ(h.send("AUTH PLAIN " + base64_encode(raw)), "535 5.7.8");
  EXPECT_TRUE(h.actions.empty());
}

TEST(Auth, LoginExchange) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("AUTH LOGIN"), "334 VXNlcm5hbWU6");
  EXPECT_EQ(h.send(base64_encode("alice@example.test")), "334 UGFzc3dvcmQ6");
  EXPECT_EQ(h.send(base64_encode("secret")), "235 2.7.0");
  EXPECT_EQ(last_auth(h).mechanism, "LOGIN");
  EXPECT_EQ(last_auth(h).user, "alice@example.test");
}

TEST(Auth, LoginWithInitialUser) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("AUTH LOGIN " + base64_encode("alice@example.test")), "334 UGFzc3dvcmQ6");
  EXPECT_EQ(h.send(base64_encode("wrong")), "535 5.7.8");
  EXPECT_TRUE(h.session.auth_user().empty());
}

TEST(Auth, CancelAndMalformed) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  h.send("AUTH PLAIN");
  EXPECT_EQ(h.send("*"), "501 5.0.0");
  EXPECT_EQ(h.session.state(), State::ready);
  h.send("AUTH LOGIN");
  EXPECT_EQ(h.send("*"), "501 5.0.0");
  EXPECT_EQ(h.send("AUTH PLAIN *"), "501 5.0.0");
  EXPECT_EQ(h.send("AUTH PLAIN !!!notbase64"), "501 5.5.2");
  EXPECT_EQ(h.send("AUTH PLAIN " + base64_encode("no-nuls")), "501 5.5.2");
  h.send("AUTH LOGIN");
  EXPECT_EQ(h.send("@@@"), "501 5.5.2");
  EXPECT_TRUE(h.actions.empty());
}

TEST(Auth, ResultsMapToReplies) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain_response("alice@example.test", "bad")), "535 5.7.8");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain_response("locked@example.test", "x")), "454 4.7.0");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain_response("tempfail@example.test", "x")), "454 4.7.0");
}

TEST(Auth, StateRules) {
  Harness h = tls_submission();
  EXPECT_EQ(h.send("AUTH PLAIN"), "503 5.5.1");  // before EHLO
  h.send("HELO client.example");
  EXPECT_EQ(h.send("AUTH PLAIN"), "503 5.5.1");  // HELO is not enough
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("AUTH CRAM-MD5"), "504 5.5.4");
  EXPECT_EQ(h.send("AUTH"), "501 5.5.4");
}

TEST(Auth, RefusedWithoutTls) {
  Harness h(default_settings(ListenerKind::submission));
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret")), "538 5.7.11");
  EXPECT_TRUE(h.actions.empty());
}

TEST(Auth, PlaintextAllowedBySetting) {
  auto s = default_settings(ListenerKind::submission);
  s.allow_plaintext_auth = true;
  Harness h(s);
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret")), "235 2.7.0");
}

TEST(Auth, NotDuringTransaction) {
  Harness h(default_settings(), default_peer(true));
  h.send("EHLO client.example");
  h.send("MAIL FROM:<a@remote.example>");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret")), "503 5.5.1");
}

TEST(Auth, LongResponseLine) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  h.send("AUTH PLAIN");
  EXPECT_EQ(h.send(std::string(3000, 'A')), "500 5.5.6");
  EXPECT_EQ(h.session.state(), State::ready);
}

TEST(Submission, AuthRequiredBeforeMail) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("MAIL FROM:<alice@example.test>"), "530 5.7.0");
}

TEST(Submission, SenderOwnership) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret"));
  EXPECT_EQ(h.send("MAIL FROM:<bob@example.test>"), "553 5.7.1");
  const auto& cs = std::get<CheckSender>(h.actions.back().request);
  EXPECT_EQ(cs.auth_user, "alice@example.test");
  EXPECT_EQ(cs.address, "bob@example.test");
  EXPECT_EQ(h.send("MAIL FROM:<>"), "553 5.7.1");
  EXPECT_EQ(h.send("MAIL FROM:<alice@example.test>"), "250 2.1.0");
}

TEST(Submission, RemoteRecipientsNeedRelay) {
  Harness h = tls_submission();
  h.send("EHLO client.example");
  h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret"));
  h.send("MAIL FROM:<alice@example.test>");
  EXPECT_EQ(h.send("RCPT TO:<friend@remote.example>"), "451 4.3.2");
  bool logged = false;
  for (const auto& l : h.log) logged |= l.find("relay-unavailable") != std::string::npos;
  EXPECT_TRUE(logged);
  EXPECT_EQ(h.send("RCPT TO:<bob@example.test>"), "250 2.1.5");
  const auto& rr = std::get<ResolveRecipient>(h.actions.back().request);
  EXPECT_EQ(rr.auth_user, "alice@example.test");
}

TEST(Submission, RemoteRecipientsWithRelay) {
  auto s = default_settings(ListenerKind::submission);
  s.relay_available = true;
  Harness h(s, default_peer(true));
  h.send("EHLO client.example");
  h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret"));
  h.send("MAIL FROM:<alice@example.test>");
  EXPECT_EQ(h.send("RCPT TO:<friend@remote.example> NOTIFY=FAILURE"), "250 2.1.5");
  EXPECT_EQ(h.send("RCPT TO:<bob@example.test>"), "250 2.1.5");
  EXPECT_EQ(h.send("DATA"), "354");
  EXPECT_EQ(h.feed("hi\r\n.\r\n"), "250 2.0.0");
  ASSERT_EQ(h.delivered.size(), 1u);
  const Envelope& e = h.delivered[0].envelope;
  EXPECT_EQ(e.remote_addresses(), std::vector<std::string>{"friend@remote.example"});
  EXPECT_EQ(e.local_users(), std::vector<std::string>{"bob@example.test"});
  EXPECT_EQ(e.recipients[0].notify, kNotifyFailure);
  EXPECT_EQ(e.auth_user, "alice@example.test");
}

TEST(Submission, MxWithAuthMayRelayWhenAvailable) {
  auto s = default_settings(ListenerKind::mx);
  s.relay_available = true;
  Harness h(s, default_peer(true));
  h.send("EHLO client.example");
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "250 2.1.0");
  EXPECT_EQ(h.send("RCPT TO:<friend@remote.example>"), "554 5.7.1");  // not authenticated
}

// The MX listener without smtp.auth_on_mx: AUTH is neither advertised (even under TLS) nor
// accepted, so password guessing on port 25 gets nowhere and nobody relays through it.
TEST(Submission, AuthDisabledIsNotOfferedNorAccepted) {
  auto s = default_settings(ListenerKind::mx);
  s.auth_enabled = false;
  s.relay_available = true;
  Harness h(s, default_peer(true));
  size_t mark = h.written.size();
  h.send("EHLO client.example");
  EXPECT_EQ(h.raw_since(mark).find("AUTH"), std::string::npos);
  EXPECT_EQ(h.send("AUTH PLAIN " + plain_response("alice@example.test", "secret")), "503 5.5.1");
  for (const auto& a : h.actions) EXPECT_FALSE(std::holds_alternative<Authenticate>(a.request));
  EXPECT_EQ(h.send("MAIL FROM:<a@remote.example>"), "250 2.1.0");
  EXPECT_EQ(h.send("RCPT TO:<friend@remote.example>"), "554 5.7.1");
}

}  // namespace
}  // namespace tern::smtpd::testing

// ---- SCRAM-SHA-256 (RFC 7677) through the session: the key lookup is an action ----------

namespace tern::smtpd::testing {
namespace {

std::string challenge_of(const std::string& reply_line) { return *base64_decode(reply_line.substr(4)); }

// EHLO and AUTH SCRAM-SHA-256 with alice's client-first; the server-first message.
std::string scram_start(Harness& h, const std::string& bare) {
  h.passwords["alice@example.test"] = "secret";
  h.send("EHLO client.example");
  size_t mark = h.written.size();
  h.send("AUTH SCRAM-SHA-256 " + base64_encode("n,," + bare));
  std::string line = h.raw_since(mark);
  EXPECT_EQ(line.substr(0, 4), "334 ") << line;
  return challenge_of(line.substr(0, line.size() - 2));
}

TEST(Auth, ScramSha256ExchangeLooksUpKeysThenAuthenticatesTheProof) {
  Harness h = tls_submission();
  std::string bare = "n=alice@example.test,r=clientnonce";
  std::string server_first = scram_start(h, bare);
  ASSERT_TRUE(std::holds_alternative<LookupScramKeys>(h.actions.back().request));
  EXPECT_EQ(server_first.substr(0, 13), "r=clientnonce");
  size_t mark = h.written.size();
  h.send(base64_encode(test::scram_client_final("secret", bare, server_first)));
  std::string final_line = h.raw_since(mark);
  ASSERT_EQ(final_line.substr(0, 6), "334 dj") << final_line;  // base64 of "v=..."
  // RFC 4954 §4: the client answers the server-final with an empty line; then 235.
  EXPECT_EQ(h.send(""), "235 2.7.0");
  EXPECT_EQ(last_auth(h).mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(last_auth(h).proof, auth::SaslCredentials::Proof::valid);
  EXPECT_EQ(h.session.auth_user(), "alice@example.test");
}

TEST(Auth, ScramSha256WrongPasswordIs535AndKeyLookupFailureIs454) {
  Harness h = tls_submission();
  std::string bare = "n=alice@example.test,r=clientnonce";
  std::string server_first = scram_start(h, bare);
  EXPECT_EQ(h.send(base64_encode(test::scram_client_final("wrong", bare, server_first))), "535 5.7.8");
  EXPECT_EQ(last_auth(h).proof, auth::SaslCredentials::Proof::invalid);
  EXPECT_EQ(h.session.auth_user(), "");
  EXPECT_EQ(h.send("AUTH SCRAM-SHA-256 " + base64_encode("n,,n=tempfail@example.test,r=x")), "454 4.7.0");
  // The session is usable again afterwards.
  EXPECT_EQ(h.send("NOOP"), "250 2.0.0");
}

}  // namespace
}  // namespace tern::smtpd::testing
