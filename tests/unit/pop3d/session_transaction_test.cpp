// TRANSACTION and UPDATE: STAT, LIST, UIDL, RETR (sizes, byte-stuffing, LF repair), TOP,
// DELE/RSET, deleted-message errors, bad numbers, MarkSeen batching, QUIT and Commit.
#include <gtest/gtest.h>

#include "harness.h"

using namespace pop3test;

namespace {

Harness logged_in(std::vector<StoredMessage> maildrop = two_messages()) {
  Harness h;
  h.maildrop = std::move(maildrop);
  h.login();
  EXPECT_EQ(h.session.state(), State::transaction);
  return h;
}

// Removes the RETR status line, the terminator and the byte-stuffing: what the client's
// POP3 library hands to its user.
std::string unstuff_body(const std::string& response) {
  size_t start = response.find("\r\n") + 2;
  std::string body = response.substr(start, response.size() - start - 3);  // drop ".\r\n"
  std::string out;
  bool at_start = true;
  for (size_t i = 0; i < body.size(); ++i) {
    if (at_start && body[i] == '.') {
      at_start = false;
      continue;
    }
    at_start = body[i] == '\n';
    out.push_back(body[i]);
  }
  return out;
}

TEST(Pop3Transaction, WireBodiesAnswerExactlyLikeStoredBytes) {
  // ternd prepares RETR bodies on workers (to_wire_body) and the session moves them into
  // Output::bodies; TOP cuts its lines from them. The client must see the same bytes.
  std::vector<StoredMessage> drop = {
      {1, "Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend.\r\n", "1.1"},
      {2, "Subject: lf\n\n.body\nline\nno final newline", "1.2"},
      {3, "No-Body: at all\r\n", "1.3"},
      {4, "", "1.4"},
      {5, ".", "1.5"},
  };
  const char* script[] = {"RETR 1",  "TOP 1 0", "TOP 1 2", "TOP 1 99", "RETR 2", "TOP 2 1",
                          "TOP 2 9", "RETR 3",  "TOP 3 1", "RETR 4",   "TOP 4 0", "RETR 5",
                          "TOP 5 1", "LIST",    "RETR 1"};
  // Headroom: none, too small for the status line, room to spare.
  for (size_t headroom : {0, 5, 64}) {
    auto plain = logged_in(drop);
    auto wire = logged_in(drop);
    wire.wire_bodies = true;
    wire.wire_headroom = headroom;
    for (const char* cmd : script) EXPECT_EQ(wire.send(cmd), plain.send(cmd)) << cmd << " " << headroom;
    EXPECT_EQ(wire.actions_of<MarkSeen>().size(), plain.actions_of<MarkSeen>().size());
  }
}

TEST(Pop3Transaction, WireBodyIsMovedNotCopied) {
  // Pipelined RETRs and a DELE behind them: each response is its own Output::bodies entry,
  // the status line written into the buffer's headroom, nothing copied into Output::bytes;
  // wire() splices them in order with the DELE answer.
  auto h = logged_in();
  h.auto_complete = false;
  h.feed("RETR 1\r\nRETR 2\r\nDELE 1\r\n");
  std::string text;
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(h.actions_of<Retrieve>().size(), i + 1);
    constexpr size_t kHeadroom = 40;
    RetrieveResult rr{RetrieveResult::Outcome::ok, std::string(kHeadroom, '#') + h.maildrop[i].bytes};
    rr.octets = to_wire_body(rr.bytes, kHeadroom);
    rr.wire = true;
    rr.headroom = kHeadroom;
    const std::string body = rr.bytes.substr(kHeadroom);
    const char* data = rr.bytes.data();
    Output out = h.session.complete(ActionResult{h.actions.back().id, std::move(rr)});
    ASSERT_EQ(out.bodies.size(), 1u);
    const std::string status = "+OK " + std::to_string(wire_size(h.maildrop[i].bytes)) + " octets\r\n";
    EXPECT_EQ(out.bodies[0].at, 0u);
    EXPECT_EQ(out.bodies[0].view(), status + body);
    EXPECT_EQ(out.bodies[0].data.data(), data);  // the very buffer, moved
    EXPECT_EQ(out.bytes, i == 0 ? "" : "+OK message 1 deleted\r\n");
    for (auto& a : out.actions) h.actions.push_back(a);
    text += out.wire();
  }
  EXPECT_EQ(text, "+OK 23 octets\r\nSubject: one\r\n\r\nHello\r\n.\r\n"
                  "+OK 43 octets\r\nSubject: two\r\nFrom: a@b\r\n\r\nline 1\r\nline 2\r\n.\r\n"
                  "+OK message 1 deleted\r\n");
}

TEST(Pop3Transaction, SizesMeasuredWhenFirstShown) {
  // ternd answers OpenMaildrop without sizes when it would have to read messages: PASS gives
  // the count, UIDL/RETR/DELE need none, the first STAT, LIST or RSET asks (once) and
  // answers with the same sizes as when they came with the maildrop.
  Harness h;
  h.defer_sizes = true;
  EXPECT_EQ(h.login(), "+OK maildrop has 2 messages\r\n");
  EXPECT_EQ(h.count<MeasureSizes>(), 0u);
  EXPECT_EQ(h.send("UIDL"), "+OK unique-id listing follows\r\n1 7.101\r\n2 7.205\r\n.\r\n");
  EXPECT_EQ(h.send("RETR 1"), "+OK 23 octets\r\nSubject: one\r\n\r\nHello\r\n.\r\n");
  EXPECT_EQ(h.send("DELE 1"), "+OK message 1 deleted\r\n");
  EXPECT_EQ(h.count<MeasureSizes>(), 0u);
  EXPECT_EQ(h.send("STAT"), "+OK 1 43\r\n");
  ASSERT_EQ(h.count<MeasureSizes>(), 1u);
  EXPECT_EQ(h.actions_of<MeasureSizes>()[0].uids, (std::vector<Uid>{101, 205}));
  EXPECT_EQ(h.send("LIST"), "+OK scan listing follows\r\n2 43\r\n.\r\n");
  EXPECT_EQ(h.send("RSET"), "+OK maildrop has 2 messages (66 octets)\r\n");
  EXPECT_EQ(h.send("LIST 1"), "+OK 1 23\r\n");
  EXPECT_EQ(h.count<MeasureSizes>(), 1u);
}

TEST(Pop3Transaction, EachSizeCommandAsksFirstAndPipelinedInputWaits) {
  for (const char* first : {"STAT", "LIST", "LIST 2", "RSET"}) {
    Harness h;
    h.defer_sizes = true;
    h.login();
    h.auto_complete = false;
    // The command and everything behind it wait for the sizes, then answer in order.
    EXPECT_EQ(h.feed(std::string(first) + "\r\nNOOP\r\nLIST 1\r\n"), "") << first;
    ASSERT_EQ(h.count<MeasureSizes>(), 1u) << first;
    EXPECT_TRUE(h.session.action_pending());
    std::string out = h.complete(*h.answer(h.actions.back()));
    Harness known;
    known.login();
    std::string want = known.send(first) + "+OK\r\n+OK 1 23\r\n";
    EXPECT_EQ(out, want) << first;
  }
}

TEST(Pop3Transaction, SizesFailureAnswersTheCommandAndAsksAgainLater) {
  Harness h;
  h.defer_sizes = true;
  h.sizes_fail = true;
  h.login();
  EXPECT_EQ(h.send("STAT"), "-ERR [SYS/TEMP] cannot open maildrop now\r\n");
  EXPECT_EQ(h.send("NOOP"), "+OK\r\n");
  h.sizes_fail = false;
  EXPECT_EQ(h.send("LIST"), "+OK scan listing follows\r\n1 23\r\n2 43\r\n.\r\n");
  EXPECT_EQ(h.count<MeasureSizes>(), 2u);
  EXPECT_EQ(h.session.state(), State::transaction);
}

TEST(Pop3Transaction, DeferredSizesByteAtATime) {
  // The same transcript fed one byte at a time gives the same bytes.
  const std::string input = "USER alice\r\nPASS secret\r\nUIDL\r\nSTAT\r\nLIST\r\nQUIT\r\n";
  Harness whole;
  whole.defer_sizes = true;
  whole.greet();
  std::string a = whole.feed(input);
  Harness trickle;
  trickle.defer_sizes = true;
  trickle.greet();
  std::string b;
  for (char c : input) b += trickle.feed(std::string(1, c));
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find("+OK 2 66\r\n"), std::string::npos);
  EXPECT_EQ(whole.count<MeasureSizes>(), 1u);
  EXPECT_EQ(trickle.count<MeasureSizes>(), 1u);
}

TEST(Pop3Transaction, StatListUidl) {
  auto h = logged_in();
  ASSERT_EQ(h.maildrop[0].bytes.size(), 23u);
  ASSERT_EQ(h.maildrop[1].bytes.size(), 43u);
  EXPECT_EQ(h.send("STAT"), "+OK 2 66\r\n");
  EXPECT_EQ(h.send("LIST"), "+OK scan listing follows\r\n1 23\r\n2 43\r\n.\r\n");
  EXPECT_EQ(h.send("LIST 2"), "+OK 2 43\r\n");
  EXPECT_EQ(h.send("UIDL"), "+OK unique-id listing follows\r\n1 7.101\r\n2 7.205\r\n.\r\n");
  EXPECT_EQ(h.send("uidl 1"), "+OK 1 7.101\r\n");
  EXPECT_EQ(h.send("NOOP"), "+OK\r\n");
}

TEST(Pop3Transaction, EmptyMaildrop) {
  auto h = logged_in({});
  EXPECT_EQ(h.send("STAT"), "+OK 0 0\r\n");
  EXPECT_EQ(h.send("LIST"), "+OK scan listing follows\r\n.\r\n");
  EXPECT_EQ(h.send("UIDL"), "+OK unique-id listing follows\r\n.\r\n");
  EXPECT_EQ(h.send("RETR 1"), "-ERR no such message\r\n");
}

TEST(Pop3Transaction, RetrSendsMessageWithExactSize) {
  auto h = logged_in();
  EXPECT_EQ(h.send("RETR 1"), "+OK 23 octets\r\nSubject: one\r\n\r\nHello\r\n.\r\n");
  auto r = h.actions_of<Retrieve>();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].uid, 101u);
}

TEST(Pop3Transaction, RetrByteStuffsLinesStartingWithDot) {
  auto h = logged_in({{1, "Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend.\r\n", "1.1"}});
  std::string r = h.send("RETR 1");
  EXPECT_EQ(r, "+OK 42 octets\r\nSubject: dots\r\n\r\n..hidden\r\n...two\r\n..\r\nend.\r\n.\r\n");
  EXPECT_EQ(unstuff_body(r), h.maildrop[0].bytes);
}

TEST(Pop3Transaction, BareLfRepairedAndSizesMatchWhatIsSent) {
  // The store should hold CRLF; a bare-LF message is still sent as CRLF, and the size LIST
  // announces (wire_size) equals what RETR sends before stuffing.
  auto h = logged_in({{9, "Subject: lf\n\n.body\nno final newline", "1.9"}});
  std::string list = h.send("LIST 1");
  EXPECT_EQ(list, "+OK 1 40\r\n");
  std::string r = h.send("RETR 1");
  EXPECT_EQ(r, "+OK 40 octets\r\nSubject: lf\r\n\r\n..body\r\nno final newline\r\n.\r\n");
  EXPECT_EQ(unstuff_body(r).size(), 40u);
}

TEST(Pop3Transaction, TopWithZeroAndMoreLinesThanBody) {
  auto h = logged_in();
  EXPECT_EQ(h.send("TOP 2 0"), "+OK top of message follows\r\nSubject: two\r\nFrom: a@b\r\n\r\n.\r\n");
  EXPECT_EQ(h.send("TOP 2 1"), "+OK top of message follows\r\nSubject: two\r\nFrom: a@b\r\n\r\nline 1\r\n.\r\n");
  EXPECT_EQ(h.send("TOP 2 99"),
            "+OK top of message follows\r\nSubject: two\r\nFrom: a@b\r\n\r\nline 1\r\nline 2\r\n.\r\n");
  EXPECT_EQ(h.send("TOP 2"), "-ERR syntax error in arguments\r\n");
  EXPECT_EQ(h.send("TOP 2 x"), "-ERR syntax error in arguments\r\n");
  EXPECT_EQ(h.send("TOP 3 0"), "-ERR no such message\r\n");
  EXPECT_EQ(h.count<MarkSeen>(), 0u);  // TOP does not mark messages read
}

TEST(Pop3Transaction, TopStuffsAndHandlesHeaderOnlyMessage) {
  auto h = logged_in({{1, "Subject: x\r\n\r\n.a\r\n.b\r\n", "1.1"}, {2, "Subject: only\r\n", "1.2"}});
  EXPECT_EQ(h.send("TOP 1 1"), "+OK top of message follows\r\nSubject: x\r\n\r\n..a\r\n.\r\n");
  EXPECT_EQ(h.send("TOP 2 5"), "+OK top of message follows\r\nSubject: only\r\n.\r\n");
}

TEST(Pop3Transaction, DeleteHidesMessageUntilRset) {
  auto h = logged_in();
  EXPECT_EQ(h.send("DELE 1"), "+OK message 1 deleted\r\n");
  EXPECT_EQ(h.send("STAT"), "+OK 1 43\r\n");
  EXPECT_EQ(h.send("LIST"), "+OK scan listing follows\r\n2 43\r\n.\r\n");
  EXPECT_EQ(h.send("UIDL"), "+OK unique-id listing follows\r\n2 7.205\r\n.\r\n");
  for (const char* cmd : {"LIST 1", "UIDL 1", "RETR 1", "TOP 1 0", "DELE 1"})
    EXPECT_EQ(h.send(cmd), "-ERR message 1 already deleted\r\n") << cmd;
  EXPECT_EQ(h.count<Retrieve>(), 0u);
  EXPECT_EQ(h.send("RSET"), "+OK maildrop has 2 messages (66 octets)\r\n");
  EXPECT_EQ(h.send("STAT"), "+OK 2 66\r\n");
  EXPECT_EQ(h.send("LIST 1"), "+OK 1 23\r\n");
}

TEST(Pop3Transaction, BadMessageNumbers) {
  auto h = logged_in();
  EXPECT_EQ(h.send("RETR 0"), "-ERR no such message\r\n");
  EXPECT_EQ(h.send("RETR 3"), "-ERR no such message\r\n");
  EXPECT_EQ(h.send("LIST 18446744073709551615"), "-ERR no such message\r\n");
  h = logged_in();
  EXPECT_EQ(h.send("RETR x"), "-ERR syntax error in arguments\r\n");
  EXPECT_EQ(h.send("RETR -1"), "-ERR syntax error in arguments\r\n");
  EXPECT_EQ(h.send("RETR +1"), "-ERR syntax error in arguments\r\n");
  EXPECT_EQ(h.send("RETR"), "-ERR syntax error in arguments\r\n");
  EXPECT_EQ(h.send("DELE 99999999999999999999999"), "-ERR syntax error in arguments\r\n");
  h = logged_in();
  EXPECT_EQ(h.send("LIST 1 2"), "-ERR syntax error in arguments\r\n");
  EXPECT_EQ(h.send("STAT 1"), "-ERR syntax error in arguments\r\n");
  EXPECT_EQ(h.count<Retrieve>(), 0u);
}

TEST(Pop3Transaction, AuthorizationCommandsRefusedAfterLogin) {
  auto h = logged_in();
  for (const char* cmd : {"USER alice", "PASS secret", "AUTH PLAIN", "STLS"})
    EXPECT_EQ(h.send(cmd), "-ERR command not valid in this state\r\n") << cmd;
  EXPECT_EQ(h.session.state(), State::transaction);
}

TEST(Pop3Transaction, RetrieveFailures) {
  auto h = logged_in();
  h.maildrop.erase(h.maildrop.begin());  // expunged by another client meanwhile
  EXPECT_EQ(h.send("RETR 1"), "-ERR [SYS/PERM] message no longer available\r\n");
  h.auto_complete = false;
  h.send("RETR 2");
  ASSERT_TRUE(h.session.action_pending());
  RetrieveResult tmp;
  tmp.outcome = RetrieveResult::Outcome::temporary_failure;
  EXPECT_EQ(h.complete({h.actions.back().id, tmp}), "-ERR [SYS/TEMP] cannot read message now\r\n");
  EXPECT_EQ(h.count<MarkSeen>(), 0u);
}

TEST(Pop3Transaction, QuitDoesNotMarkSeenWhatItExpunges) {
  // RETR both, delete one, QUIT, all pipelined: \Seen only for the message that stays,
  // and the Commit expunges the other.
  auto h = logged_in();
  h.feed("RETR 1\r\nRETR 2\r\nDELE 1\r\nQUIT\r\n");
  std::vector<Uid> seen;
  for (const auto& m : h.actions_of<MarkSeen>()) seen.insert(seen.end(), m.uids.begin(), m.uids.end());
  EXPECT_EQ(seen, (std::vector<Uid>{205}));
  EXPECT_EQ(h.expunged, (std::vector<Uid>{101}));
  EXPECT_LT(h.last_index<MarkSeen>(), h.last_index<Commit>());
  EXPECT_TRUE(h.closed);
  // Deleting everything read leaves nothing to mark.
  auto all = logged_in();
  all.feed("RETR 1\r\nRETR 2\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n");
  EXPECT_EQ(all.count<MarkSeen>(), 0u);
  EXPECT_EQ(all.expunged, (std::vector<Uid>{101, 205}));
}

TEST(Pop3Transaction, RetrMarksSeenInOneBatchPerPipeline) {
  auto h = logged_in();
  h.feed("RETR 1\r\nRETR 2\r\nTOP 1 0\r\n");
  auto seen = h.actions_of<MarkSeen>();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].uids, (std::vector<Uid>{101, 205}));
  h.send("RETR 2");
  ASSERT_EQ(h.count<MarkSeen>(), 2u);
  EXPECT_EQ(h.actions_of<MarkSeen>()[1].uids, (std::vector<Uid>{205}));
}

TEST(Pop3Transaction, QuitCommitsDeletionsThenReleases) {
  auto h = logged_in();
  h.send("DELE 2");
  EXPECT_EQ(h.send("QUIT"), "+OK mail.example.test POP3 server signing off (1 messages left)\r\n");
  EXPECT_TRUE(h.closed);
  auto commits = h.actions_of<Commit>();
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].expunge, (std::vector<Uid>{205}));
  EXPECT_EQ(h.expunged, (std::vector<Uid>{205}));
  ASSERT_EQ(h.count<Release>(), 1u);
  EXPECT_GT(h.last_index<Release>(), h.last_index<Commit>());
}

TEST(Pop3Transaction, QuitWaitsForCommitAndIgnoresLaterInput) {
  auto h = logged_in();
  h.auto_complete = false;
  h.send("DELE 1");
  EXPECT_EQ(h.feed("QUIT\r\nNOOP\r\n"), "");
  EXPECT_EQ(h.session.state(), State::update);
  EXPECT_EQ(h.timeout(), "");  // a Commit in flight is not interrupted
  EXPECT_EQ(h.feed("STAT\r\n"), "");
  EXPECT_EQ(h.complete({h.actions.back().id, CommitResult{true}}),
            "+OK mail.example.test POP3 server signing off (1 messages left)\r\n");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.count<Release>(), 1u);
}

TEST(Pop3Transaction, FailedCommitReportsAndReleases) {
  auto h = logged_in();
  h.commit_ok = false;
  h.send("DELE 1");
  EXPECT_EQ(h.send("QUIT"), "-ERR [SYS/TEMP] some deleted messages not removed\r\n");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.count<Release>(), 1u);
}

TEST(Pop3Transaction, QuitWithoutDeletionsSkipsCommit) {
  auto h = logged_in();
  h.send("DELE 1");
  h.send("RSET");
  EXPECT_EQ(h.send("QUIT"), "+OK mail.example.test POP3 server signing off (2 messages left)\r\n");
  EXPECT_EQ(h.count<Commit>(), 0u);
  EXPECT_EQ(h.count<Release>(), 1u);
  EXPECT_TRUE(h.closed);
}

}  // namespace
