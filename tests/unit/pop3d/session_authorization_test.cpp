// AUTHORIZATION state: greeting, CAPA per state/TLS, USER/PASS, AUTH PLAIN/LOGIN, STLS,
// plaintext refusal, IN-USE and failed logins.
#include <gtest/gtest.h>

#include "common/codec.h"
#include "harness.h"

using namespace pop3test;
using tern::base64_encode;

namespace {

std::string plain(std::string_view authzid, std::string_view user, std::string_view pass) {
  std::string raw;
  raw.append(authzid).push_back('\0');
  raw.append(user).push_back('\0');
  raw.append(pass);
  return base64_encode(raw);
}

TEST(Pop3Authorization, GreetingHasNoApopTimestamp) {
  Harness h;
  EXPECT_EQ(h.greet(), "+OK mail.example.test POP3 server ready\r\n");
  EXPECT_EQ(h.session.state(), State::authorization);
}

TEST(Pop3Authorization, CapaBeforeTlsOnPlainListener) {
  Harness h(default_settings());
  EXPECT_EQ(h.send("CAPA"),
            "+OK capability list follows\r\n"
            "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSTLS\r\n"
            "IMPLEMENTATION Tern-test\r\n.\r\n");
}

TEST(Pop3Authorization, CapaWithPlaintextAllowedListsLogin) {
  Harness h(plaintext_settings());
  EXPECT_EQ(h.send("capa"),
            "+OK capability list follows\r\n"
            "TOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
            "SASL SCRAM-SHA-256 PLAIN LOGIN\r\nSTLS\r\nIMPLEMENTATION Tern-test\r\n.\r\n");
}

TEST(Pop3Authorization, CapaUnderImplicitTlsHasLoginButNoStls) {
  SessionSettings s = default_settings();
  s.implicit_tls = true;
  Harness h(s, {"192.0.2.1", true});
  auto lines = lines_of(h.send("CAPA"));
  EXPECT_NE(std::find(lines.begin(), lines.end(), "USER"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "SASL SCRAM-SHA-256 PLAIN LOGIN"), lines.end());
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "STLS"), lines.end());
}

TEST(Pop3Authorization, CapaWithoutCertificateHasNoStls) {
  SessionSettings s = default_settings();
  s.stls_available = false;
  Harness h(s);
  auto lines = lines_of(h.send("CAPA"));
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "STLS"), lines.end());
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "USER"), lines.end());
}

TEST(Pop3Authorization, CapaInTransactionHasNoLoginNorStls) {
  Harness h(plaintext_settings());
  h.login();
  ASSERT_EQ(h.session.state(), State::transaction);
  EXPECT_EQ(h.send("CAPA"),
            "+OK capability list follows\r\n"
            "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
            "IMPLEMENTATION Tern-test\r\n.\r\n");
}

TEST(Pop3Authorization, PlaintextLoginRefusedWithoutTls) {
  Harness h(default_settings());
  EXPECT_EQ(h.send("USER alice"), "-ERR [AUTH] TLS required for login, use STLS\r\n");
  EXPECT_EQ(h.send("PASS secret"), "-ERR [AUTH] TLS required for login, use STLS\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain("", "alice", "secret")),
            "-ERR [AUTH] TLS required for login, use STLS\r\n");
  EXPECT_EQ(h.send("AUTH"), "-ERR [AUTH] TLS required for login, use STLS\r\n");
  EXPECT_EQ(h.count<Authenticate>(), 0u);
  EXPECT_EQ(h.session.state(), State::authorization);
}

TEST(Pop3Authorization, PlaintextRefusalWithoutStlsDoesNotSuggestIt) {
  SessionSettings s = default_settings();
  s.stls_available = false;
  Harness h(s);
  EXPECT_EQ(h.send("USER alice"), "-ERR [AUTH] TLS required for login\r\n");
  EXPECT_EQ(h.send("AUTH LOGIN"), "-ERR [AUTH] TLS required for login\r\n");
  EXPECT_EQ(h.count<Authenticate>(), 0u);
}

TEST(Pop3Authorization, UserPassLogsInAndOpensMaildrop) {
  Harness h;
  EXPECT_EQ(h.send("USER alice"), "+OK send PASS\r\n");
  EXPECT_EQ(h.send("PASS secret"), "+OK maildrop has 2 messages (66 octets)\r\n");
  EXPECT_EQ(h.session.state(), State::transaction);
  auto auths = h.actions_of<Authenticate>();
  ASSERT_EQ(auths.size(), 1u);
  EXPECT_EQ(auths[0].user, "alice");
  EXPECT_EQ(auths[0].password, "secret");
  EXPECT_EQ(auths[0].mechanism, "USER");
  auto opens = h.actions_of<OpenMaildrop>();
  ASSERT_EQ(opens.size(), 1u);
  EXPECT_EQ(opens[0].user, "alice@example.test");  // the canonical name from Authenticate
  EXPECT_EQ(h.session.user(), "alice@example.test");
}

TEST(Pop3Authorization, PasswordKeepsSpaces) {
  Harness h;
  h.send("USER bob");
  EXPECT_EQ(h.send("PASS pass with spaces"), "+OK maildrop has 2 messages (66 octets)\r\n");
  EXPECT_EQ(h.actions_of<Authenticate>().at(0).password, "pass with spaces");
}

TEST(Pop3Authorization, PassMustImmediatelyFollowUser) {
  Harness h;
  EXPECT_EQ(h.send("PASS secret"), "-ERR PASS must follow a successful USER\r\n");
  h.send("USER alice");
  EXPECT_EQ(h.send("CAPA").substr(0, 3), "+OK");
  EXPECT_EQ(h.send("PASS secret"), "-ERR PASS must follow a successful USER\r\n");
  EXPECT_EQ(h.send("USER"), "-ERR USER needs a name\r\n");
  EXPECT_EQ(h.count<Authenticate>(), 0u);
}

TEST(Pop3Authorization, FailedLoginsAnswerWithAuthCode) {
  Harness h;
  h.send("USER alice");
  EXPECT_EQ(h.send("PASS wrong"), "-ERR [AUTH] invalid credentials\r\n");
  EXPECT_EQ(h.session.state(), State::authorization);
  h.locked_users.insert("alice");
  h.send("USER alice");
  EXPECT_EQ(h.send("PASS secret"), "-ERR [AUTH] too many failed logins, try again later\r\n");
  h.locked_users.clear();
  h.auth_temporary = true;
  h.send("USER alice");
  EXPECT_EQ(h.send("PASS secret"), "-ERR [SYS/TEMP] authentication temporarily unavailable\r\n");
  EXPECT_EQ(h.count<OpenMaildrop>(), 0u);
  // A later correct login still works.
  h.auth_temporary = false;
  EXPECT_EQ(h.login(), "+OK maildrop has 2 messages (66 octets)\r\n");
}

TEST(Pop3Authorization, MaildropInUseStaysInAuthorization) {
  Harness h;
  h.maildrop_outcome = MaildropResult::Outcome::in_use;
  EXPECT_EQ(h.login(), "-ERR [IN-USE] maildrop already in use\r\n");
  EXPECT_EQ(h.session.state(), State::authorization);
  EXPECT_EQ(h.send("STAT"), "-ERR command not valid in this state\r\n");
  h.maildrop_outcome = MaildropResult::Outcome::temporary_failure;
  EXPECT_EQ(h.login(), "-ERR [SYS/TEMP] cannot open maildrop now\r\n");
  EXPECT_EQ(h.send("QUIT"), "+OK mail.example.test POP3 server signing off\r\n");
  EXPECT_TRUE(h.closed);
  // The failed OpenMaildrop holds no lock: nothing to release, nothing to commit.
  EXPECT_EQ(h.count<Release>(), 0u);
  EXPECT_EQ(h.count<Commit>(), 0u);
}

TEST(Pop3Authorization, AuthPlainWithInitialResponse) {
  Harness h;
  EXPECT_EQ(h.send("AUTH PLAIN " + plain("", "alice", "secret")),
            "+OK maildrop has 2 messages (66 octets)\r\n");
  auto a = h.actions_of<Authenticate>().at(0);
  EXPECT_EQ(a.user, "alice");
  EXPECT_EQ(a.password, "secret");
  EXPECT_EQ(a.mechanism, "PLAIN");
}

TEST(Pop3Authorization, AuthPlainWithChallengeAndSameAuthzid) {
  Harness h;
  EXPECT_EQ(h.send("auth plain"), "+ \r\n");
  EXPECT_EQ(h.send(plain("alice", "alice", "secret")), "+OK maildrop has 2 messages (66 octets)\r\n");
  EXPECT_EQ(h.session.state(), State::transaction);
}

TEST(Pop3Authorization, AuthPlainRejections) {
  Harness h;
  EXPECT_EQ(h.send("AUTH PLAIN " + plain("admin", "alice", "secret")),
            "-ERR [AUTH] authorization identity not permitted\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN !!!notbase64"), "-ERR [AUTH] malformed base64 response\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN " + base64_encode("no-nuls-here")), "-ERR [AUTH] malformed SASL response\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN ="), "-ERR [AUTH] malformed SASL response\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN " + plain("", "alice", "wrong")), "-ERR [AUTH] invalid credentials\r\n");
  EXPECT_EQ(h.send("AUTH CRAM-MD5"), "-ERR [AUTH] unsupported SASL mechanism\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN a b"), "-ERR syntax error in arguments\r\n");
  EXPECT_EQ(h.session.state(), State::authorization);
  EXPECT_EQ(h.count<OpenMaildrop>(), 0u);
}

TEST(Pop3Authorization, AuthFieldsOver255OctetsAreRefused) {
  // RFC 4616 §2: servers must accept 255 octets; more is refused before any hashing.
  Harness h;
  h.passwords["alice"] = std::string(255, 'p');
  EXPECT_EQ(h.send("AUTH PLAIN " + plain("", "alice", std::string(256, 'p'))),
            "-ERR [AUTH] malformed SASL response\r\n");
  EXPECT_EQ(h.send("AUTH LOGIN " + base64_encode(std::string(256, 'u'))),
            "-ERR [AUTH] malformed SASL response\r\n");
  EXPECT_EQ(h.send("AUTH LOGIN " + base64_encode("alice")), "+ UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(h.send(base64_encode(std::string(256, 'p'))), "-ERR [AUTH] malformed SASL response\r\n");
  EXPECT_EQ(h.count<Authenticate>(), 0u);
  // 255 octets is still accepted.
  EXPECT_EQ(h.send("AUTH PLAIN " + plain("", "alice", std::string(255, 'p'))),
            "+OK maildrop has 2 messages (66 octets)\r\n");
  EXPECT_EQ(h.actions_of<Authenticate>().at(0).password, std::string(255, 'p'));
}

TEST(Pop3Authorization, AuthCancelWithStar) {
  Harness h;
  EXPECT_EQ(h.send("AUTH PLAIN"), "+ \r\n");
  EXPECT_EQ(h.send("*"), "-ERR [AUTH] authentication cancelled\r\n");
  EXPECT_EQ(h.send("AUTH LOGIN"), "+ VXNlcm5hbWU6\r\n");
  EXPECT_EQ(h.send(base64_encode("alice")), "+ UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(h.send("*"), "-ERR [AUTH] authentication cancelled\r\n");
  EXPECT_EQ(h.count<Authenticate>(), 0u);
  // Back to command mode: the next line is a command again.
  EXPECT_EQ(h.send("NOOP"), "-ERR command not valid in this state\r\n");
}

TEST(Pop3Authorization, AuthLoginExchange) {
  Harness h;
  EXPECT_EQ(h.send("AUTH LOGIN"), "+ VXNlcm5hbWU6\r\n");
  EXPECT_EQ(h.send(base64_encode("bob")), "+ UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(h.send(base64_encode("pass with spaces")), "+OK maildrop has 2 messages (66 octets)\r\n");
  auto a = h.actions_of<Authenticate>().at(0);
  EXPECT_EQ(a.user, "bob");
  EXPECT_EQ(a.mechanism, "LOGIN");
}

TEST(Pop3Authorization, AuthLoginWithInitialResponseAndBadBase64) {
  Harness h;
  EXPECT_EQ(h.send("AUTH LOGIN " + base64_encode("alice")), "+ UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(h.send("%%%"), "-ERR [AUTH] malformed base64 response\r\n");
  EXPECT_EQ(h.send("AUTH LOGIN ***"), "-ERR [AUTH] malformed base64 response\r\n");
  EXPECT_EQ(h.send("AUTH LOGIN " + base64_encode("alice")), "+ UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(h.send(base64_encode("secret")), "+OK maildrop has 2 messages (66 octets)\r\n");
}

TEST(Pop3Authorization, BareAuthListsMechanisms) {
  Harness h;
  EXPECT_EQ(h.send("AUTH"), "+OK SASL mechanisms follow\r\nSCRAM-SHA-256\r\nPLAIN\r\nLOGIN\r\n.\r\n");
}

TEST(Pop3Authorization, StlsDiscardsPipelinedInputAndRestarts) {
  Harness h(default_settings());
  // Everything after STLS in the same packet is plaintext the client should not have sent.
  EXPECT_EQ(h.feed("STLS\r\nUSER alice\r\nPASS secret\r\n"), "+OK Begin TLS negotiation\r\n");
  EXPECT_TRUE(h.start_tls);
  EXPECT_EQ(h.feed("CAPA\r\n"), "");  // before the handshake completes: discarded
  EXPECT_EQ(h.tls_started(), "");
  EXPECT_TRUE(h.session.tls_active());
  EXPECT_EQ(h.count<Authenticate>(), 0u);
  auto lines = lines_of(h.send("CAPA"));
  EXPECT_NE(std::find(lines.begin(), lines.end(), "USER"), lines.end());
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "STLS"), lines.end());
  EXPECT_EQ(h.send("STLS"), "-ERR TLS already active\r\n");
  EXPECT_EQ(h.send("PASS secret"), "-ERR PASS must follow a successful USER\r\n");
  EXPECT_EQ(h.login(), "+OK maildrop has 2 messages (66 octets)\r\n");
}

TEST(Pop3Authorization, StlsRefusals) {
  SessionSettings s = default_settings();
  s.implicit_tls = true;
  Harness tls(s, {"192.0.2.1", true});
  EXPECT_EQ(tls.send("STLS"), "-ERR TLS already active\r\n");
  s = default_settings();
  s.stls_available = false;
  Harness nocert(s);
  EXPECT_EQ(nocert.send("STLS"), "-ERR STLS not available\r\n");
  Harness after_login(plaintext_settings());
  after_login.login();
  EXPECT_EQ(after_login.send("STLS"), "-ERR command not valid in this state\r\n");
  EXPECT_FALSE(tls.start_tls || nocert.start_tls || after_login.start_tls);
}

TEST(Pop3Authorization, QuitInAuthorizationDeletesNothing) {
  Harness h;
  h.send("USER alice");
  EXPECT_EQ(h.send("QUIT"), "+OK mail.example.test POP3 server signing off\r\n");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.session.state(), State::closed);
  EXPECT_TRUE(h.actions.empty());
  EXPECT_EQ(h.send("USER alice"), "");  // nothing is read after the end
}

TEST(Pop3Authorization, TransactionCommandsRefusedBeforeLogin) {
  Harness h;
  for (const char* cmd : {"STAT", "LIST", "LIST 1", "UIDL", "RETR 1", "TOP 1 0", "DELE 1", "NOOP", "RSET"}) {
    Harness fresh;
    EXPECT_EQ(fresh.send(cmd), "-ERR command not valid in this state\r\n") << cmd;
  }
  EXPECT_EQ(h.send("APOP alice 0123456789abcdef"), "-ERR unknown command\r\n");
  EXPECT_EQ(h.send("XYZZY"), "-ERR unknown command\r\n");
  EXPECT_EQ(h.send(""), "-ERR unknown command\r\n");
}

}  // namespace
