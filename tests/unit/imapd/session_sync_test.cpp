// Two sessions on one mailbox, IDLE woken by a delivery, CONDSTORE/QRESYNC resync.
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

TEST_F(SessionTest, OtherSessionsFlagChangesArriveAsFetch) {
  deliver(message("a"));
  deliver(message("b"));
  Client a(backend()), b(backend());
  a.login();
  b.login();
  a.send("s SELECT INBOX");
  b.send("s SELECT INBOX");
  a.send("a1 STORE 2 +FLAGS (\\Flagged)");
  std::string out = b.send("b1 NOOP");
  EXPECT_TRUE(has(out, "* 2 FETCH (FLAGS (\\Flagged))")) << out;
  EXPECT_LT(out.find("* 2 FETCH"), out.find("b1 OK")) << out;
  out = b.send("b2 NOOP");
  EXPECT_FALSE(has(out, "FETCH")) << out;  // announced once
}

// RFC 3501 §6.4.6: with or without .SILENT, the server tells of flag changes made by others.
// A silent STORE on a message another session had just changed once hid that change for
// good (the session counted the new flags as shown, though the client never saw them).
TEST_F(SessionTest, SilentStoreStillAnnouncesOthersChanges) {
  deliver(message("a"));
  Client a(backend()), b(backend());
  a.login();
  b.login();
  a.send("s SELECT INBOX");
  b.send("s SELECT INBOX");
  a.send("a1 STORE 1 +FLAGS (\\Flagged)");
  std::string out = b.send("b1 STORE 1 +FLAGS.SILENT ($Mine)");
  out += b.send("b2 NOOP");
  EXPECT_TRUE(has(out, "* 1 FETCH (FLAGS (\\Flagged))")) << out;  // before its own change
  EXPECT_EQ(out.find("FETCH"), out.rfind("FETCH")) << out;           // still silent
  out = b.send("b3 FETCH 1 (FLAGS)");
  EXPECT_TRUE(has(out, "* 1 FETCH (FLAGS (\\Flagged $Mine))")) << out;
  // Its own silent change alone is not echoed back later.
  out = b.send("b4 STORE 1 -FLAGS.SILENT ($Mine)");
  out += b.send("b5 NOOP");
  EXPECT_FALSE(has(out, "FETCH")) << out;
}

TEST_F(SessionTest, ExpungeWaitsForAnAllowedPoint) {
  deliver(message("a"));
  deliver(message("b"));
  deliver(message("c"));
  Client a(backend()), b(backend());
  a.login();
  b.login();
  a.send("s SELECT INBOX");
  b.send("s SELECT INBOX");
  a.send("a1 STORE 2 +FLAGS.SILENT (\\Deleted)");
  a.send("a2 EXPUNGE");
  // RFC 9051 §7.5.1: not during FETCH, STORE or SEARCH; numbers stay as B knows them.
  std::string out = b.send("b1 FETCH 3 (UID)");
  EXPECT_FALSE(has(out, "EXPUNGE")) << out;
  EXPECT_TRUE(has(out, "* 3 FETCH (UID 3)")) << out;
  out = b.send("b2 SEARCH ALL");
  EXPECT_FALSE(has(out, "EXPUNGE")) << out;
  out = b.send("b3 STORE 1 +FLAGS (\\Seen)");
  EXPECT_FALSE(has(out, "EXPUNGE")) << out;
  // UID FETCH is a different command and may carry it.
  out = b.send("b4 UID FETCH 1 (FLAGS)");
  EXPECT_TRUE(has(out, "* 2 EXPUNGE")) << out;
  EXPECT_LT(out.find("* 2 EXPUNGE"), out.find("b4 OK")) << out;
  out = b.send("b5 FETCH 2 (UID)");
  EXPECT_TRUE(has(out, "* 2 FETCH (UID 3)")) << out;
}

// Sessions keep their own sequence maps: A expunges from the middle (its map splits into
// runs), B keeps the old numbering until an allowed point, then both agree again; a session's
// own STORE is not echoed back to it later, while the other session is told once.
TEST_F(SessionTest, TwoSessionsDivergeAndReconverge) {
  for (int i = 0; i < 8; ++i) deliver(message("m" + std::to_string(i)));
  Client a(backend()), b(backend());
  a.login();
  b.login();
  a.send("s SELECT INBOX");
  b.send("s SELECT INBOX");
  a.send("a1 STORE 3,5:6 +FLAGS.SILENT (\\Deleted)");
  std::string out = a.send("a2 EXPUNGE");
  EXPECT_TRUE(has(out, "* 6 EXPUNGE") && has(out, "* 5 EXPUNGE") && has(out, "* 3 EXPUNGE")) << out;
  // A: UIDs 1 2 4 7 8 -> seq 3 is UID 4, seq 4 is UID 7.
  out = a.send("a3 FETCH 3:5 (UID)");
  EXPECT_TRUE(has(out, "* 3 FETCH (UID 4)") && has(out, "* 4 FETCH (UID 7)") &&
              has(out, "* 5 FETCH (UID 8)")) << out;
  // B still numbers the 8 messages as before during FETCH.
  out = b.send("b1 FETCH 7 (UID)");
  EXPECT_TRUE(has(out, "* 7 FETCH (UID 7)")) << out;
  EXPECT_FALSE(has(out, "EXPUNGE")) << out;
  out = b.send("b2 SEARCH UID 4:8");  // old numbers: seq 4, 7, 8 (5 and 6 are gone)
  EXPECT_TRUE(has(out, "* SEARCH 4 7 8")) << out;
  EXPECT_FALSE(has(out, "EXPUNGE")) << out;
  // A marks UID 7 seen: A gets its FETCH now and never again; B hears of it once.
  out = a.send("a4 UID STORE 7 +FLAGS (\\Seen)");
  EXPECT_TRUE(has(out, "* 4 FETCH (UID 7 FLAGS (\\Recent \\Seen))")) << out;  // A selected first
  out = a.send("a5 NOOP");
  EXPECT_FALSE(has(out, "FETCH")) << out;
  out = b.send("b3 NOOP");
  EXPECT_TRUE(has(out, "* 6 EXPUNGE") && has(out, "* 5 EXPUNGE") && has(out, "* 3 EXPUNGE")) << out;
  EXPECT_TRUE(has(out, "* 4 FETCH (FLAGS (\\Seen))") || has(out, "* 7 FETCH (FLAGS (\\Seen))")) << out;
  out = b.send("b4 FETCH 1:* (UID)");
  EXPECT_TRUE(has(out, "* 3 FETCH (UID 4)") && has(out, "* 5 FETCH (UID 8)")) << out;
  EXPECT_FALSE(has(out, "* 6 FETCH")) << out;
  // New mail after the holes: both see it as message 6.
  deliver(message("late"));
  out = a.send("a6 NOOP");
  EXPECT_TRUE(has(out, "* 6 EXISTS")) << out;
  out = b.send("b5 NOOP");
  EXPECT_TRUE(has(out, "* 6 EXISTS")) << out;
  out = b.send("b6 FETCH 6 (UID)");
  EXPECT_TRUE(has(out, "* 6 FETCH (UID 9)")) << out;
  out = a.send("a7 UID FETCH 9 (UID)");
  EXPECT_TRUE(has(out, "* 6 FETCH (UID 9)")) << out;
}

TEST_F(SessionTest, ExpungeAnnouncedOnNoop) {
  deliver(message("a"));
  deliver(message("b"));
  Client a(backend()), b(backend());
  a.login();
  b.login();
  a.send("s SELECT INBOX");
  b.send("s SELECT INBOX");
  a.send("a1 STORE 1 +FLAGS.SILENT (\\Deleted)");
  a.send("a2 EXPUNGE");
  std::string out = b.send("b1 NOOP");
  EXPECT_TRUE(has(out, "* 1 EXPUNGE")) << out;
}

TEST_F(SessionTest, NewMessagesAnnouncedAsExists) {
  deliver(message("a"));
  Client a(backend()), b(backend());
  a.login();
  b.login();
  b.send("s SELECT INBOX");
  deliver(message("b"));
  std::string out = b.send("b1 FETCH 1 (UID)");
  EXPECT_TRUE(has(out, "* 2 EXISTS")) << out;
  out = b.send("b2 FETCH 2 (UID)");
  EXPECT_TRUE(has(out, "* 2 FETCH (UID 2)")) << out;
}

// RFC 3501 §2.3.2: a message is \Recent in the first session told of it, in no other.
TEST_F(SessionTest, RecentGoesToTheFirstSessionToldOfAMessage) {
  deliver(message("one"));
  deliver(message("two"));
  Client a(backend());
  a.login();
  Client b(backend());
  b.login();
  EXPECT_TRUE(has(b.send("b1 STATUS INBOX (RECENT)"), "(RECENT 2)"));
  // EXAMINE sees them without taking them.
  std::string out = b.send("b2 EXAMINE INBOX");
  EXPECT_TRUE(has(out, "* 2 RECENT")) << out;
  out = a.send("a1 SELECT INBOX");
  EXPECT_TRUE(has(out, "* 2 RECENT")) << out;
  out = a.send("a2 FETCH 1:2 FLAGS");
  EXPECT_TRUE(has(out, "* 1 FETCH (FLAGS (\\Recent))") && has(out, "* 2 FETCH (FLAGS (\\Recent))")) << out;
  EXPECT_TRUE(has(a.send("a3 SEARCH RECENT"), "* SEARCH 1 2\r\n"));
  a.send("a4 STORE 1 +FLAGS.SILENT (\\Seen)");
  EXPECT_TRUE(has(a.send("a5 SEARCH NEW"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(a.send("a6 SEARCH OLD"), "* SEARCH\r\n"));

  Client c(backend());
  c.login();
  out = c.send("c1 SELECT INBOX");
  EXPECT_TRUE(has(out, "* 0 RECENT")) << out;
  out = c.send("c2 FETCH 2 FLAGS");
  EXPECT_TRUE(has(out, "* 2 FETCH (FLAGS ())")) << out;
  EXPECT_TRUE(has(c.send("c3 SEARCH RECENT"), "* SEARCH\r\n"));
  EXPECT_TRUE(has(c.send("c4 SEARCH OLD"), "* SEARCH 1 2\r\n"));
  EXPECT_TRUE(has(c.send("c5 STATUS INBOX (RECENT)"), "(RECENT 0)"));

  // A new message with both selected: the first to be told takes it.
  deliver(message("three"));
  out = c.send("c6 NOOP");
  EXPECT_TRUE(has(out, "* 3 EXISTS\r\n* 1 RECENT\r\n")) << out;
  out = a.send("a7 NOOP");
  EXPECT_TRUE(has(out, "* 3 EXISTS\r\n* 2 RECENT\r\n")) << out;
  EXPECT_TRUE(has(c.send("c7 FETCH 3 FLAGS"), "* 3 FETCH (FLAGS (\\Recent))"));
  EXPECT_TRUE(has(a.send("a8 FETCH 3 FLAGS"), "* 3 FETCH (FLAGS ())"));

  // IMAP4rev2 has no \Recent: no RECENT response, and nothing is taken from rev1 sessions.
  Client d(backend());
  d.login();
  d.send("d1 ENABLE IMAP4rev2");
  deliver(message("four"));
  out = d.send("d2 SELECT INBOX");
  EXPECT_FALSE(has(out, "RECENT")) << out;
  EXPECT_FALSE(has(d.send("d3 FETCH 4 FLAGS"), "\\Recent"));
  out = c.send("c8 NOOP");
  EXPECT_TRUE(has(out, "* 4 EXISTS\r\n* 2 RECENT\r\n")) << out;
}

TEST_F(SessionTest, ExamineCountsEachRecentMessageOnce) {
  deliver(message("one"));
  Client e(backend());
  e.login();
  std::string out = e.send("e1 EXAMINE INBOX");
  EXPECT_TRUE(has(out, "* 1 RECENT")) << out;
  deliver(message("two"));
  out = e.send("e2 NOOP");
  EXPECT_TRUE(has(out, "* 2 EXISTS\r\n* 2 RECENT\r\n")) << out;
  EXPECT_TRUE(has(e.send("e3 SEARCH RECENT"), "* SEARCH 1 2\r\n"));
  // Looking did not take them: a SELECT still gets both.
  Client s(backend());
  s.login();
  EXPECT_TRUE(has(s.send("s1 SELECT INBOX"), "* 2 RECENT"));
}

TEST_F(SessionTest, IdleWokenByDelivery) {
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  std::string out = c.send("i1 IDLE");
  EXPECT_EQ(out, "+ idling\r\n");
  EXPECT_TRUE(c.session().idling());
  int before = backend().notified->load();
  deliver(message("new"));
  EXPECT_GT(backend().notified->load(), before);  // the store watch called the notifier
  out = c.session().on_mailbox_changed().bytes;
  EXPECT_EQ(out, "* 1 EXISTS\r\n* 1 RECENT\r\n");  // RFC 3501 §7.3.2: this session is told first
  // Flag change and expunge by another session arrive while idling too.
  Client o(backend());
  o.login();
  o.send("s SELECT INBOX");
  o.send("o1 STORE 1 +FLAGS.SILENT (\\Deleted)");
  out = c.session().on_mailbox_changed().bytes;
  EXPECT_EQ(out, "* 1 FETCH (FLAGS (\\Recent \\Deleted))\r\n");
  o.send("o2 EXPUNGE");
  out = c.session().on_mailbox_changed().bytes;
  EXPECT_EQ(out, "* 1 EXPUNGE\r\n");
  out = c.send("DONE");
  EXPECT_TRUE(has(out, "i1 OK")) << out;
  EXPECT_FALSE(c.session().idling());
  // Outside IDLE the change waits for the next command.
  deliver(message("later"));
  EXPECT_EQ(c.session().on_mailbox_changed().bytes, "");
  EXPECT_TRUE(has(c.send("n NOOP"), "* 1 EXISTS"));
}

TEST_F(SessionTest, IdleEndedByGarbageIsBad) {
  Client c(backend());
  c.login();
  c.send("i1 IDLE");
  EXPECT_TRUE(has(c.send("NOPE"), "i1 BAD"));
  EXPECT_TRUE(has(c.send("n NOOP"), "n OK"));
}

TEST_F(SessionTest, QresyncSelectReportsVanishedAndChanges) {
  deliver(message("a"));
  deliver(message("b"));
  deliver(message("c"));
  auto st = store().mailbox_status(kUser, "INBOX");
  ASSERT_TRUE(st.ok());
  uint64_t modseq = st->highestmodseq;
  uint32_t validity = st->uidvalidity;
  {
    Client o(backend());
    o.login();
    o.send("s SELECT INBOX");
    o.send("o1 STORE 1 +FLAGS (\\Seen)");
    o.send("o2 STORE 2 +FLAGS.SILENT (\\Deleted)");
    o.send("o3 EXPUNGE");
  }
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("q0 SELECT INBOX (QRESYNC (1 1))"), "q0 BAD"));  // not enabled
  c.send("e ENABLE QRESYNC");
  std::string out =
      c.send("q1 SELECT INBOX (QRESYNC (" + std::to_string(validity) + " " + std::to_string(modseq) + " 1:3))");
  EXPECT_TRUE(has(out, "* VANISHED (EARLIER) 2\r\n")) << out;
  EXPECT_TRUE(has(out, "* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (")) << out;
  EXPECT_FALSE(has(out, "UID 3 FLAGS")) << out;
  out = c.send("q2 UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + std::to_string(modseq) + " VANISHED)");
  EXPECT_TRUE(has(out, "* VANISHED (EARLIER) 2\r\n")) << out;
  EXPECT_TRUE(has(out, "* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (")) << out;
  EXPECT_FALSE(has(out, "UID 3")) << out;
}

}  // namespace
}  // namespace tern::imapd::test
