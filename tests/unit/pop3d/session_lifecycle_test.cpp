// Framing, pipelining, error limits and the ways a session ends (timeout, shutdown,
// disconnect), plus whole-vs-byte-by-byte equivalence.
#include <gtest/gtest.h>

#include "common/codec.h"
#include "harness.h"

using namespace pop3test;

namespace {

TEST(Pop3Lifecycle, PipelinedCommandsWaitForPendingActionAndKeepOrder) {
  Harness h;
  h.auto_complete = false;
  EXPECT_EQ(h.feed("USER alice\r\nPASS secret\r\nSTAT\r\nRETR 1\r\nLIST\r\n"), "+OK send PASS\r\n");
  ASSERT_EQ(h.actions.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<Authenticate>(h.actions[0].kind));
  EXPECT_EQ(h.feed("NOOP\r\n"), "");  // still buffered
  EXPECT_EQ(h.complete({h.actions[0].id, AuthResult{AuthResult::Outcome::ok, "alice@example.test"}}), "");
  ASSERT_EQ(h.actions.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<OpenMaildrop>(h.actions[1].kind));
  MaildropResult md{MaildropResult::Outcome::ok, {{101, 23, "7.101"}, {205, 43, "7.205"}}};
  EXPECT_EQ(h.complete({h.actions[1].id, md}), "+OK maildrop has 2 messages (66 octets)\r\n+OK 2 66\r\n");
  ASSERT_EQ(h.actions.size(), 3u);
  ASSERT_TRUE(std::holds_alternative<Retrieve>(h.actions[2].kind));
  RetrieveResult rr{RetrieveResult::Outcome::ok, h.maildrop[0].bytes};
  EXPECT_EQ(h.complete({h.actions[2].id, rr}),
            "+OK 23 octets\r\nSubject: one\r\n\r\nHello\r\n.\r\n"
            "+OK scan listing follows\r\n1 23\r\n2 43\r\n.\r\n+OK\r\n");
  // The batch ended: RETR's \Seen is flushed.
  ASSERT_EQ(h.actions.size(), 4u);
  EXPECT_TRUE(std::holds_alternative<MarkSeen>(h.actions[3].kind));
}

TEST(Pop3Lifecycle, StaleAndMistypedResults) {
  Harness h;
  h.auto_complete = false;
  h.login();
  // A result for an unknown id changes nothing.
  EXPECT_EQ(h.complete({999, AuthResult{AuthResult::Outcome::ok, "x"}}), "");
  // A result of the wrong type is treated as a temporary failure.
  EXPECT_EQ(h.complete({h.actions[0].id, CommitResult{true}}),
            "-ERR [SYS/TEMP] authentication temporarily unavailable\r\n");
  EXPECT_EQ(h.session.state(), State::authorization);
}

TEST(Pop3Lifecycle, ErrorLimitClosesSession) {
  SessionSettings s = plaintext_settings();
  s.max_errors = 3;
  Harness h(s);
  EXPECT_EQ(h.send("BOGUS"), "-ERR unknown command\r\n");
  EXPECT_EQ(h.send("STAT"), "-ERR command not valid in this state\r\n");
  EXPECT_EQ(h.send("BOGUS"), "-ERR too many errors, closing connection\r\n");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.send("CAPA"), "");
}

TEST(Pop3Lifecycle, ZeroMaxErrorsMeansNoLimit) {
  SessionSettings s = plaintext_settings();
  s.max_errors = 0;
  Harness h(s);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(h.send("BOGUS"), "-ERR unknown command\r\n");
  EXPECT_FALSE(h.closed);
}

TEST(Pop3Lifecycle, ErrorLimitAfterLoginReleasesWithoutCommit) {
  SessionSettings s = plaintext_settings();
  s.max_errors = 2;
  Harness h(s);
  h.login();
  h.send("DELE 1");
  h.send("RETR 9");
  EXPECT_EQ(h.send("RETR 9"), "-ERR too many errors, closing connection\r\n");
  EXPECT_EQ(h.count<Commit>(), 0u);
  EXPECT_EQ(h.count<Release>(), 1u);
}

TEST(Pop3Lifecycle, OverlongLineRejectedAndSessionContinues) {
  SessionSettings s = plaintext_settings();
  s.max_line_length = 32;
  Harness h(s);
  std::string ok_line = "USER " + std::string(25, 'a');  // 30 + CRLF = 32: fits
  EXPECT_EQ(h.send(ok_line), "+OK send PASS\r\n");
  std::string long_line = "USER " + std::string(26, 'a');  // 33 with CRLF
  EXPECT_EQ(h.send(long_line), "-ERR line too long\r\n");
  EXPECT_EQ(h.feed(std::string(1000, 'x')), "");  // no line end yet: dropped as it comes
  EXPECT_EQ(h.feed("yyy\r\nNOOP\r\n"), "-ERR line too long\r\n-ERR command not valid in this state\r\n");
  EXPECT_FALSE(h.closed);
}

TEST(Pop3Lifecycle, BareLfEndsCommandLines) {
  Harness h;
  EXPECT_EQ(h.feed("USER alice\nPASS secret\n"), "+OK send PASS\r\n+OK maildrop has 2 messages (66 octets)\r\n");
}

TEST(Pop3Lifecycle, TimeoutClosesWithoutUpdate) {
  Harness h;
  h.login();
  h.send("DELE 1");
  EXPECT_EQ(h.timeout(), "-ERR autologout timer expired, closing connection\r\n");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.count<Commit>(), 0u);
  EXPECT_EQ(h.count<Release>(), 1u);
  Harness before_login;
  EXPECT_EQ(before_login.timeout(), "-ERR autologout timer expired, closing connection\r\n");
  EXPECT_EQ(before_login.count<Release>(), 0u);
}

TEST(Pop3Lifecycle, TimeoutDuringTlsHandshakeWritesNothing) {
  Harness h(default_settings());
  h.send("STLS");
  ASSERT_TRUE(h.start_tls);
  EXPECT_EQ(h.timeout(), "");
  EXPECT_TRUE(h.closed);
  Harness s(default_settings());
  s.send("STLS");
  EXPECT_EQ(s.shutdown(), "");
  EXPECT_TRUE(s.closed);
}

TEST(Pop3Lifecycle, NeedsResultMatchesWhatTheSessionWaitsFor) {
  EXPECT_TRUE(needs_result(Action{1, Authenticate{}}));
  EXPECT_TRUE(needs_result(Action{1, OpenMaildrop{}}));
  EXPECT_TRUE(needs_result(Action{1, Retrieve{}}));
  EXPECT_TRUE(needs_result(Action{1, Commit{}}));
  EXPECT_FALSE(needs_result(Action{1, MarkSeen{}}));
  EXPECT_FALSE(needs_result(Action{1, Release{}}));
  // The harness answers exactly the actions needs_result() names, and a session driven that
  // way completes a full login and QUIT.
  Harness h;
  h.login();
  h.send("RETR 1");
  h.send("DELE 1");
  h.send("QUIT");
  for (const auto& a : h.actions) EXPECT_EQ(needs_result(a), h.answer(a).has_value());
  EXPECT_TRUE(h.closed);
}

TEST(Pop3Lifecycle, DroppedConnectionReleasesWithoutCommit) {
  Harness h;
  h.login();
  h.send("DELE 1");
  h.send("DELE 2");
  EXPECT_EQ(h.disconnected(), "");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.count<Commit>(), 0u);
  EXPECT_EQ(h.count<Release>(), 1u);
  EXPECT_EQ(h.disconnected(), "");
  EXPECT_EQ(h.count<Release>(), 1u);  // exactly once
}

TEST(Pop3Lifecycle, DisconnectWhileOpeningMaildropStillReleases) {
  Harness h;
  h.auto_complete = false;
  h.login();
  h.complete({h.actions[0].id, AuthResult{AuthResult::Outcome::ok, "alice@example.test"}});
  ASSERT_TRUE(std::holds_alternative<OpenMaildrop>(h.actions.back().kind));
  ActionId open_id = h.actions.back().id;
  h.disconnected();
  EXPECT_EQ(h.count<Release>(), 1u);  // queued after the in-flight OpenMaildrop
  MaildropResult md{MaildropResult::Outcome::ok, {}};
  EXPECT_EQ(h.complete({open_id, md}), "");  // late result ignored
  EXPECT_EQ(h.count<Release>(), 1u);
}

TEST(Pop3Lifecycle, ShutdownClosesAndReleases) {
  Harness h;
  h.login();
  EXPECT_EQ(h.shutdown(), "-ERR [SYS/TEMP] server shutting down\r\n");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.count<Release>(), 1u);
  EXPECT_EQ(h.count<Commit>(), 0u);
}

TEST(Pop3Lifecycle, ShutdownMarksPendingSeenBeforeRelease) {
  Harness h;
  h.login();
  h.auto_complete = false;
  h.send("RETR 1");
  RetrieveResult rr{RetrieveResult::Outcome::ok, h.maildrop[0].bytes};
  h.feed("RETR 2\r\n");
  // RETR 1 result arrives while RETR 2 is still queued behind it
  std::string out = h.complete({h.actions.back().id, rr});
  EXPECT_EQ(out.substr(0, 14), "+OK 23 octets\r");
  h.shutdown();
  ASSERT_EQ(h.count<MarkSeen>(), 1u);
  EXPECT_LT(h.last_index<MarkSeen>(), h.last_index<Release>());
}

TEST(Pop3Lifecycle, PipelineOverflowCloses) {
  SessionSettings s = plaintext_settings();
  s.max_pipelined_bytes = 100;
  Harness h(s);
  h.auto_complete = false;
  h.send("USER alice");
  h.send("PASS secret");
  ASSERT_TRUE(h.session.action_pending());
  EXPECT_EQ(h.feed(std::string(50, 'N') + "\r\n"), "");
  EXPECT_FALSE(h.closed);
  EXPECT_EQ(h.feed(std::string(60, 'N') + "\r\n"), "");
  EXPECT_TRUE(h.closed);
}

// A full session as one block of bytes, fed whole and then one byte at a time: the client
// must see identical output and the backend identical actions.
TEST(Pop3Lifecycle, ByteByByteFeedingGivesIdenticalOutput) {
  const std::string script =
      "CAPA\r\nUSER alice\r\nPASS wrong\r\nAUTH PLAIN\r\n*\r\n"
      "AUTH LOGIN " + tern::base64_encode("alice") + "\r\n" + tern::base64_encode("secret") + "\r\n"
      "STAT\r\nLIST\r\nUIDL 2\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nLIST 1\r\nRSET\r\nDELE 2\r\n"
      "BOGUS\r\n" + std::string(600, 'z') + "\r\nNOOP\nQUIT\r\n";
  Harness whole;
  std::string a = whole.greet() + whole.feed(script);
  Harness trickle;
  std::string b = trickle.greet();
  for (char c : script) b += trickle.feed(std::string_view(&c, 1));
  EXPECT_EQ(a, b);
  EXPECT_TRUE(whole.closed);
  EXPECT_TRUE(trickle.closed);
  // Actions that need results come in the same order; MarkSeen batches follow input
  // arrival (fire-and-forget), so only the set of uids marked must agree.
  auto kinds = [](const Harness& h) {
    std::vector<size_t> out;
    for (const auto& a : h.actions)
      if (!std::holds_alternative<MarkSeen>(a.kind)) out.push_back(a.kind.index());
    return out;
  };
  auto seen = [](const Harness& h) {
    std::vector<Uid> out;
    for (const auto& m : h.actions_of<MarkSeen>()) out.insert(out.end(), m.uids.begin(), m.uids.end());
    return out;
  };
  EXPECT_EQ(kinds(whole), kinds(trickle));
  EXPECT_EQ(seen(whole), (std::vector<Uid>{101}));
  EXPECT_EQ(seen(trickle), seen(whole));
  EXPECT_EQ(whole.expunged, (std::vector<Uid>{205}));
  EXPECT_EQ(trickle.expunged, whole.expunged);
  // Spot-check the transcript so the equivalence is not between two empty strings.
  EXPECT_NE(a.find("+OK 23 octets\r\n"), std::string::npos);
  EXPECT_NE(a.find("-ERR line too long\r\n"), std::string::npos);
  EXPECT_NE(a.find("-ERR message 1 already deleted\r\n"), std::string::npos);
}

}  // namespace
