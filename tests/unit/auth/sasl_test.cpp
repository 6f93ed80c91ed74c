#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "auth/sasl.h"
#include "common/codec.h"
#include "common/strings.h"

using namespace tern;
using namespace tern::auth;

namespace {

std::string b64(std::string_view s) { return base64_encode(s); }

// Expected end of an exchange: credentials, or an error kind.
struct Expect {
  bool ok;
  std::string user, password;
  SaslErrorKind error = SaslErrorKind::malformed;
};

struct Vector {
  const char* name;
  std::string mechanism;
  std::optional<std::string> initial;
  std::vector<std::string> lines;      // client lines after start()
  std::vector<std::string> challenges;  // every challenge the server sends, in order
  Expect expect;
};

std::vector<Vector> vectors() {
  using namespace std::string_literals;
  Expect bad{false, "", "", SaslErrorKind::malformed};
  Expect bad_b64{false, "", "", SaslErrorKind::bad_base64};
  return {
      {"plain-ir", "PLAIN", b64("\0bob@example.test\0secret"s), {}, {}, {true, "bob@example.test", "secret"}},
      {"plain-lowercase-mech", "plain", b64("\0bob\0pw"s), {}, {}, {true, "bob", "pw"}},
      {"plain-challenge", "PLAIN", std::nullopt, {b64("\0bob\0pw"s)}, {""}, {true, "bob", "pw"}},
      {"plain-authzid-same", "PLAIN", b64("bob\0bob\0pw"s), {}, {}, {true, "bob", "pw"}},
      {"plain-authzid-same-case", "PLAIN", b64("BOB\0bob\0pw"s), {}, {}, {true, "bob", "pw"}},
      {"plain-authzid-other", "PLAIN", b64("admin\0bob\0pw"s), {}, {},
       {false, "", "", SaslErrorKind::authzid_mismatch}},
      {"plain-no-nul", "PLAIN", b64("bobpw"), {}, {}, bad},
      {"plain-one-nul", "PLAIN", b64("bob\0pw"s), {}, {}, bad},
      {"plain-three-nul", "PLAIN", b64("\0bob\0pw\0x"s), {}, {}, bad},
      {"plain-empty-user", "PLAIN", b64("\0\0pw"s), {}, {}, bad},
      {"plain-empty-password", "PLAIN", b64("\0bob\0"s), {}, {}, bad},
      {"plain-empty-ir", "PLAIN", "=", {}, {}, bad},
      {"plain-bad-base64", "PLAIN", "AGJvYgBwdw=x", {}, {}, bad_b64},
      {"plain-not-base64", "PLAIN", "not base64!", {}, {}, bad_b64},
      {"plain-bad-padding", "PLAIN", "YWJj=", {}, {}, bad_b64},
      {"plain-space-in-password", "PLAIN", b64("\0cid\0p w"s), {}, {}, {true, "cid", "p w"}},
      {"plain-authzid-only", "PLAIN", b64("\0cid"s), {}, {}, bad},
      {"plain-empty-line", "PLAIN", std::nullopt, {""}, {""}, bad},
      {"plain-spaces", "PLAIN", std::nullopt, {"AGJv YgBw"}, {""}, bad_b64},
      {"plain-too-long-field", "PLAIN", b64("\0"s + std::string(256, 'u') + "\0pw"s), {}, {},
       {false, "", "", SaslErrorKind::too_long}},
      {"plain-long-ok", "PLAIN", b64("\0"s + std::string(255, 'u') + "\0"s + std::string(255, 'p')), {}, {},
       {true, std::string(255, 'u'), std::string(255, 'p')}},
      {"plain-too-long-line", "PLAIN", std::nullopt, {std::string(4000, 'A')}, {""},
       {false, "", "", SaslErrorKind::too_long}},
      {"plain-cancel", "PLAIN", std::nullopt, {"*"}, {""}, {false, "", "", SaslErrorKind::cancelled}},
      {"plain-crlf-tolerated", "PLAIN", std::nullopt, {b64("\0bob\0pw"s) + "\r\n"}, {""}, {true, "bob", "pw"}},
      {"login", "LOGIN", std::nullopt, {b64("bob"), b64("pw")}, {"VXNlcm5hbWU6", "UGFzc3dvcmQ6"},
       {true, "bob", "pw"}},
      {"login-ir", "login", b64("bob"), {b64("pw")}, {"UGFzc3dvcmQ6"}, {true, "bob", "pw"}},
      {"login-cancel-user", "LOGIN", std::nullopt, {"*"}, {"VXNlcm5hbWU6"},
       {false, "", "", SaslErrorKind::cancelled}},
      {"login-cancel-password", "LOGIN", std::nullopt, {b64("bob"), "*"}, {"VXNlcm5hbWU6", "UGFzc3dvcmQ6"},
       {false, "", "", SaslErrorKind::cancelled}},
      {"login-empty-user", "LOGIN", std::nullopt, {"="}, {"VXNlcm5hbWU6"}, bad},
      {"login-empty-password", "LOGIN", std::nullopt, {b64("bob"), ""}, {"VXNlcm5hbWU6", "UGFzc3dvcmQ6"}, bad},
      {"login-nul-in-password", "LOGIN", std::nullopt, {b64("bob"), b64("p\0w"s)},
       {"VXNlcm5hbWU6", "UGFzc3dvcmQ6"}, bad},
      {"login-bad-base64", "LOGIN", std::nullopt, {"!!!!"}, {"VXNlcm5hbWU6"}, bad_b64},
      {"login-user-too-long", "LOGIN", std::nullopt, {b64(std::string(256, 'u'))}, {"VXNlcm5hbWU6"},
       {false, "", "", SaslErrorKind::too_long}},
      {"login-password-too-long", "LOGIN", b64("bob"), {b64(std::string(256, 'p'))}, {"UGFzc3dvcmQ6"},
       {false, "", "", SaslErrorKind::too_long}},
      {"login-empty-ir-is-empty-user", "LOGIN", "=", {}, {}, bad},
      {"unknown-mech", "CRAM-MD5", std::nullopt, {}, {}, {false, "", "", SaslErrorKind::unknown_mechanism}},
      {"empty-mech", "", std::nullopt, {}, {}, {false, "", "", SaslErrorKind::unknown_mechanism}},
  };
}

// Runs one vector; every challenge is checked, the final step must match `expect`.
void run(const Vector& v) {
  SCOPED_TRACE(v.name);
  SaslExchange ex;
  std::optional<std::string_view> ir;
  if (v.initial) ir = *v.initial;
  SaslStep step = ex.start(v.mechanism, ir);
  size_t challenge = 0;
  for (const std::string& line : v.lines) {
    auto* c = std::get_if<SaslChallenge>(&step);
    ASSERT_NE(c, nullptr) << "expected a challenge before line " << line.substr(0, 20);
    ASSERT_LT(challenge, v.challenges.size());
    EXPECT_EQ(c->base64, v.challenges[challenge++]);
    EXPECT_TRUE(ex.in_progress());
    step = ex.step(line);
  }
  EXPECT_EQ(challenge, v.challenges.size());
  EXPECT_FALSE(ex.in_progress());
  if (v.expect.ok) {
    auto* c = std::get_if<SaslCredentials>(&step);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->user, v.expect.user);
    EXPECT_EQ(c->password, v.expect.password);
    EXPECT_EQ(c->mechanism, ascii_upper(v.mechanism));
  } else {
    auto* e = std::get_if<SaslError>(&step);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->kind, v.expect.error) << to_string(e->kind);
    EXPECT_EQ(e->message.find("secret"), std::string::npos);
  }
}

}  // namespace

TEST(Sasl, Vectors) {
  for (const Vector& v : vectors()) run(v);
}

// The same vectors where the client gives no initial response: the initial response is sent
// as the first line after an empty (PLAIN) or username (LOGIN) challenge instead.
TEST(Sasl, VectorsWithoutInitialResponse) {
  for (Vector v : vectors()) {
    if (!v.initial || v.expect.error == SaslErrorKind::unknown_mechanism) continue;
    v.lines.insert(v.lines.begin(), *v.initial);
    v.challenges.insert(v.challenges.begin(), iequals(v.mechanism, "PLAIN") ? "" : "VXNlcm5hbWU6");
    v.initial.reset();
    run(v);
  }
}

TEST(Sasl, StepWithoutStartIsAnError) {
  SaslExchange ex;
  auto step = ex.step("AGJvYgBwdw==");
  auto* e = std::get_if<SaslError>(&step);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind, SaslErrorKind::not_in_progress);
}

TEST(Sasl, ExchangeIsReusableAndRestartable) {
  SaslExchange ex;
  ASSERT_TRUE(std::holds_alternative<SaslChallenge>(ex.start("LOGIN", std::nullopt)));
  // A new start() abandons the running exchange.
  auto step = ex.start("PLAIN", std::string_view("AGFsaWNlAHB3"));  // \0alice\0pw
  auto* c = std::get_if<SaslCredentials>(&step);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->user, "alice");
  EXPECT_FALSE(ex.in_progress());
  step = ex.start("LOGIN", std::nullopt);
  EXPECT_TRUE(ex.in_progress());
}
