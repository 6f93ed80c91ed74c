// SCRAM-SHA-256 (RFC 5802, RFC 7677): the exchange against the RFC 7677 §3 example, and the
// ways a client's messages can be wrong.
#include <gtest/gtest.h>

#include "auth/sasl.h"
#include "auth/scram.h"
#include "common/codec.h"
#include "support/scram_client.h"

using namespace tern;
using namespace tern::auth;

namespace {

// RFC 7677 §3: user "user", password "pencil".
constexpr const char* kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr const char* kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr const char* kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr const char* kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr const char* kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr const char* kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

ScramKeys pencil() { return scram_keys("pencil", *base64_decode(kSalt), 4096); }

std::string b64(std::string_view s) { return base64_encode(s); }

// Runs the exchange up to the server-first message.
SaslExchange started(std::string_view client_first = kClientFirst) {
  SaslExchange x;
  x.set_server_nonce_for_test(kServerNonce);
  SaslStep s = x.start("SCRAM-SHA-256", b64(client_first));
  EXPECT_TRUE(std::holds_alternative<SaslNeedKeys>(s));
  return x;
}

TEST(Scram, Rfc7677_3_ExampleExchange) {
  SaslExchange x;
  x.set_server_nonce_for_test(kServerNonce);
  // No initial response: an empty challenge first.
  SaslStep s = x.start("scram-sha-256", std::nullopt);
  ASSERT_TRUE(std::holds_alternative<SaslChallenge>(s));
  EXPECT_EQ(std::get<SaslChallenge>(s).base64, "");
  s = x.step(b64(kClientFirst));
  ASSERT_TRUE(std::holds_alternative<SaslNeedKeys>(s));
  EXPECT_EQ(std::get<SaslNeedKeys>(s).user, "user");
  s = x.keys(pencil());
  ASSERT_TRUE(std::holds_alternative<SaslChallenge>(s));
  EXPECT_EQ(*base64_decode(std::get<SaslChallenge>(s).base64), kServerFirst);
  s = x.step(b64(kClientFinal));
  ASSERT_TRUE(std::holds_alternative<SaslChallenge>(s));
  EXPECT_EQ(*base64_decode(std::get<SaslChallenge>(s).base64), kServerFinal);
  // The client's empty acknowledgement completes it.
  s = x.step("");
  ASSERT_TRUE(std::holds_alternative<SaslCredentials>(s));
  const auto& c = std::get<SaslCredentials>(s);
  EXPECT_EQ(c.user, "user");
  EXPECT_EQ(c.password, "");
  EXPECT_EQ(c.mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(c.proof, SaslCredentials::Proof::valid);
  EXPECT_FALSE(x.in_progress());
}

TEST(Scram, WrongPasswordIsAnInvalidProofNotAServerSignature) {
  SaslExchange x = started();
  ASSERT_TRUE(std::holds_alternative<SaslChallenge>(x.keys(scram_keys("wrong", *base64_decode(kSalt), 4096))));
  SaslStep s = x.step(b64(kClientFinal));
  ASSERT_TRUE(std::holds_alternative<SaslCredentials>(s));
  EXPECT_EQ(std::get<SaslCredentials>(s).proof, SaslCredentials::Proof::invalid);
  EXPECT_EQ(std::get<SaslCredentials>(s).user, "user");
  EXPECT_FALSE(x.in_progress());
}

TEST(Scram, ClientFinalMustEchoTheNonceAndBinding) {
  {
    SaslExchange x = started();
    x.keys(pencil());
    SaslStep s = x.step(b64("c=biws,r=rOprNGfwEbeRWgbNEkqOforged,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
    ASSERT_TRUE(std::holds_alternative<SaslError>(s));
  }
  {
    // "eSws" is base64("y,,"): a binding that differs from the gs2 header sent.
    SaslExchange x = started();
    x.keys(pencil());
    std::string final_msg = kClientFinal;
    final_msg.replace(2, 4, "eSws");
    ASSERT_TRUE(std::holds_alternative<SaslError>(x.step(b64(final_msg))));
  }
  {
    SaslExchange x = started();
    x.keys(pencil());
    ASSERT_TRUE(std::holds_alternative<SaslError>(x.step(b64("c=biws,r=x"))));  // no proof
  }
}

TEST(Scram, ClientFirstRules) {
  auto error_of = [](std::string_view first) {
    SaslExchange x;
    SaslStep s = x.start("SCRAM-SHA-256", b64(first));
    return std::holds_alternative<SaslError>(s) ? std::get<SaslError>(s).kind : SaslErrorKind::not_in_progress;
  };
  // RFC 5802 §6: channel binding asked for without -PLUS (and without TLS, none is offered).
  EXPECT_EQ(error_of("p=tls-exporter,,n=user,r=abc"), SaslErrorKind::malformed);
  // §5.1: an unknown mandatory extension fails.
  EXPECT_EQ(error_of("n,,m=ext,n=user,r=abc"), SaslErrorKind::malformed);
  EXPECT_EQ(error_of("x,,n=user,r=abc"), SaslErrorKind::malformed);
  EXPECT_EQ(error_of("n,,n=user"), SaslErrorKind::malformed);
  EXPECT_EQ(error_of("n,,n=us=41er,r=abc"), SaslErrorKind::malformed);  // bad =XX escape
  // No proxy authorisation.
  EXPECT_EQ(error_of("n,a=admin,n=user,r=abc"), SaslErrorKind::authzid_mismatch);
  // §7: "=2C" and "=3D" stand for "," and "="; an authzid equal to the user is accepted.
  SaslExchange x;
  SaslStep s = x.start("SCRAM-SHA-256", b64("y,a=a=2Cb=3Dc,n=a=2Cb=3Dc,r=abc"));
  ASSERT_TRUE(std::holds_alternative<SaslNeedKeys>(s));
  EXPECT_EQ(std::get<SaslNeedKeys>(s).user, "a,b=c");
}

namespace {

const ChannelBindings kBindings{std::string(32, '\x11'), std::string(32, '\x22')};

// A -PLUS exchange with `client_first` (its gs2 header first), answered by a client that
// sees `client_cbind` on its side of the connection; the step after the client-final.
SaslStep plus_exchange(const std::string& gs2, const std::string& client_cbind, SaslExchange& x) {
  x.set_channel_bindings(kBindings);
  const std::string bare = "n=user,r=clientnonce";
  SaslStep s = x.start("SCRAM-SHA-256-PLUS", b64(gs2 + bare));
  if (!std::holds_alternative<SaslNeedKeys>(s)) return s;
  s = x.keys(pencil());
  std::string server_first = *base64_decode(std::get<SaslChallenge>(s).base64);
  return x.step(b64(test::scram_client_final("pencil", bare, server_first, gs2, client_cbind)));
}

}  // namespace

TEST(ScramPlus, OfferedOnlyWithTlsBindings) {
  SaslExchange x;
  EXPECT_EQ(x.mechanisms(), "SCRAM-SHA-256 PLAIN LOGIN");
  // No TLS, no -PLUS: an unknown mechanism.
  SaslStep s = x.start("SCRAM-SHA-256-PLUS", b64("p=tls-exporter,,n=user,r=abc"));
  ASSERT_TRUE(std::holds_alternative<SaslError>(s));
  EXPECT_EQ(std::get<SaslError>(s).kind, SaslErrorKind::unknown_mechanism);
  x.set_channel_bindings(kBindings);
  EXPECT_EQ(x.mechanisms(), "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN");
}

TEST(ScramPlus, BindsToTlsExporterAndServerEndPoint) {
  // RFC 9266 tls-exporter and RFC 5929 tls-server-end-point: c= carries the gs2 header and
  // the binding data of the connection the client sees.
  for (auto [type, data] : {std::pair{"tls-exporter", kBindings.tls_exporter},
                            std::pair{"tls-server-end-point", kBindings.tls_server_end_point}}) {
    SaslExchange x;
    const std::string gs2 = std::string("p=") + type + ",,";
    SaslStep s = plus_exchange(gs2, data, x);
    ASSERT_TRUE(std::holds_alternative<SaslChallenge>(s)) << type;  // server-final
    s = x.step("");
    ASSERT_TRUE(std::holds_alternative<SaslCredentials>(s)) << type;
    EXPECT_EQ(std::get<SaslCredentials>(s).mechanism, "SCRAM-SHA-256-PLUS");
    EXPECT_EQ(std::get<SaslCredentials>(s).proof, SaslCredentials::Proof::valid);
  }
}

TEST(ScramPlus, AnotherConnectionsBindingFails) {
  // A man in the middle relays the exchange from a TLS connection of its own: the client's
  // binding data differs from ours, and the password proof is not enough.
  SaslExchange x;
  SaslStep s = plus_exchange("p=tls-exporter,,", std::string(32, '\x33'), x);
  ASSERT_TRUE(std::holds_alternative<SaslError>(s));
  EXPECT_FALSE(x.in_progress());
}

TEST(ScramPlus, Rfc5802_6_FlagRules) {
  auto kind = [](const char* mech, const char* first, bool tls) {
    SaslExchange x;
    if (tls) x.set_channel_bindings(kBindings);
    SaslStep s = x.start(mech, b64(first));
    return std::holds_alternative<SaslError>(s) ? std::get<SaslError>(s).kind : SaslErrorKind::not_in_progress;
  };
  const auto ok = SaslErrorKind::not_in_progress;  // the exchange went on (SaslNeedKeys)
  // "y": the client could bind but believes we cannot. Over TLS we offer -PLUS, so the
  // list was tampered with: fail. Without TLS it is an ordinary exchange.
  EXPECT_EQ(kind("SCRAM-SHA-256", "y,,n=user,r=abc", true), SaslErrorKind::malformed);
  EXPECT_EQ(kind("SCRAM-SHA-256", "y,,n=user,r=abc", false), ok);
  EXPECT_EQ(kind("SCRAM-SHA-256", "n,,n=user,r=abc", true), ok);
  // -PLUS must bind, to a type this connection has; tls-unique is not defined for TLS 1.3.
  EXPECT_EQ(kind("SCRAM-SHA-256-PLUS", "n,,n=user,r=abc", true), SaslErrorKind::malformed);
  EXPECT_EQ(kind("SCRAM-SHA-256-PLUS", "p=tls-unique,,n=user,r=abc", true), SaslErrorKind::malformed);
  EXPECT_EQ(kind("SCRAM-SHA-256", "p=tls-exporter,,n=user,r=abc", true), SaslErrorKind::malformed);
  EXPECT_EQ(kind("SCRAM-SHA-256-PLUS", "p=tls-exporter,,n=user,r=abc", true), ok);
  // A TLS 1.2 connection has no tls-exporter binding (RFC 9266 §3): only the end point.
  SaslExchange x;
  x.set_channel_bindings({"", kBindings.tls_server_end_point});
  SaslStep s = x.start("SCRAM-SHA-256-PLUS", b64("p=tls-exporter,,n=user,r=abc"));
  EXPECT_TRUE(std::holds_alternative<SaslError>(s));
}

TEST(Scram, KeysSerializeAndParse) {
  ScramKeys k = pencil();
  auto back = ScramKeys::parse(k.serialize());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->salt, k.salt);
  EXPECT_EQ(back->iterations, 4096);
  EXPECT_EQ(back->stored_key, k.stored_key);
  EXPECT_EQ(back->server_key, k.server_key);
  EXPECT_FALSE(ScramKeys::parse("").has_value());
  EXPECT_FALSE(ScramKeys::parse("SCRAM-SHA-256$x:AAAA$AAAA:AAAA").has_value());
  EXPECT_FALSE(ScramKeys::parse("$argon2id$v=19$m=65536,t=3,p=4$abc").has_value());
  // Fresh keys for the same password differ (random salt) and never contain it.
  ScramKeys a = new_scram_keys("pencil"), b = new_scram_keys("pencil");
  EXPECT_NE(a.salt, b.salt);
  EXPECT_EQ(a.serialize().find("pencil"), std::string::npos);
}

}  // namespace

// ---- the stored keys and the Authenticator's side -------------------------------------------

#include <sqlite3.h>

#include "auth_fixture.h"

namespace {

// One whole exchange through the Authenticator; the login outcome.
LoginResult scram_login(Authenticator& a, const std::string& user, const std::string& password) {
  SaslExchange x;
  std::string bare = "n=" + user + ",r=clientnonce123";
  SaslStep s = x.start("SCRAM-SHA-256", base64_encode("n,," + bare));
  auto keys = a.scram_keys(std::get<SaslNeedKeys>(s).user);
  EXPECT_TRUE(keys.ok());
  s = x.keys(*keys);
  std::string server_first = *base64_decode(std::get<SaslChallenge>(s).base64);
  s = x.step(base64_encode(test::scram_client_final(password, bare, server_first)));
  if (std::holds_alternative<SaslChallenge>(s)) s = x.step("");
  const auto& creds = std::get<SaslCredentials>(s);
  return a.login_proven(creds.user, creds.proof == SaslCredentials::Proof::valid, "192.0.2.1", "test");
}

}  // namespace

TEST_F(AuthDbTest, ScramKeysAreMadeWithThePasswordAndChangeWithIt) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "s3cret", 0));
  AuthConfig cfg;
  cfg.failure_delay_ms = 0;
  Authenticator a(*db_, cfg);
  EXPECT_EQ(scram_login(a, "bob@example.test", "s3cret").outcome, LoginResult::Outcome::ok);
  EXPECT_EQ(scram_login(a, "Bob@Example.TEST", "s3cret").outcome, LoginResult::Outcome::ok);
  EXPECT_EQ(scram_login(a, "bob@example.test", "wrong").outcome, LoginResult::Outcome::bad_credentials);
  ASSERT_OK(db_->set_password("bob@example.test", "n3w"));
  EXPECT_EQ(scram_login(a, "bob@example.test", "s3cret").outcome, LoginResult::Outcome::bad_credentials);
  EXPECT_EQ(scram_login(a, "bob@example.test", "n3w").outcome, LoginResult::Outcome::ok);
  ASSERT_OK(db_->set_enabled("bob@example.test", false));
  EXPECT_EQ(scram_login(a, "bob@example.test", "n3w").outcome, LoginResult::Outcome::disabled);
  // Unknown users get keys too (fake, the same salt every time), and always fail.
  auto f1 = a.scram_keys("nobody@example.test"), f2 = a.scram_keys("nobody@example.test");
  ASSERT_TRUE(f1.ok() && f2.ok());
  EXPECT_EQ(f1->salt, f2->salt);
  EXPECT_EQ(f1->salt.size(), kScramSaltBytes);
  EXPECT_EQ(scram_login(a, "nobody@example.test", "x").outcome, LoginResult::Outcome::bad_credentials);
}

TEST_F(AuthDbTest, UsersFromBeforeScramGetKeysAtTheirNextPasswordLogin) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "s3cret", 0));
  db_.reset();
  // Make it a schema-1 database: no scram column.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "ALTER TABLE users DROP COLUMN scram; PRAGMA user_version=1;", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  db_ = open_db();
  ASSERT_NE(db_, nullptr);
  AuthConfig cfg;
  cfg.failure_delay_ms = 0;
  Authenticator a(*db_, cfg);
  EXPECT_FALSE(db_->scram_keys("bob@example.test")->has_value());
  EXPECT_EQ(scram_login(a, "bob@example.test", "s3cret").outcome, LoginResult::Outcome::bad_credentials);
  EXPECT_EQ(a.login("bob@example.test", "s3cret", "192.0.2.1", "test").outcome, LoginResult::Outcome::ok);
  EXPECT_TRUE(db_->scram_keys("bob@example.test")->has_value());
  EXPECT_EQ(scram_login(a, "bob@example.test", "s3cret").outcome, LoginResult::Outcome::ok);
}
