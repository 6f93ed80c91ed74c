// Session transcripts for messages: APPEND, FETCH, STORE, SEARCH, COPY/MOVE, EXPUNGE.
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

class MessageTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    c_ = std::make_unique<Client>(backend());
    c_->login();
  }
  void TearDown() override {
    c_.reset();
    SessionTest::TearDown();
  }
  std::string append(const std::string& mailbox, const std::string& msg, const std::string& extra = "") {
    return c().send("ap APPEND " + mailbox + extra + " {" + std::to_string(msg.size()) + "+}\r\n" + msg);
  }
  Client& c() { return *c_; }
  std::unique_ptr<Client> c_;
};

TEST_F(MessageTest, AppendReportsAppendUidAndTryCreate) {
  std::string out = append("INBOX", message("hello"), " (\\Flagged $Work) \"14-Nov-2023 22:13:20 +0000\"");
  EXPECT_TRUE(has(out, "ap OK [APPENDUID ")) << out;
  EXPECT_TRUE(has(out, " 1] APPEND")) << out;
  out = append("Nope", message("x"));
  EXPECT_TRUE(has(out, "ap NO [TRYCREATE]")) << out;
  // Synchronizing literal: "+" first, then the data.
  std::string msg = message("sync");
  out = c().send("a2 APPEND INBOX {" + std::to_string(msg.size()) + "}");
  EXPECT_EQ(out, "+ Ready for literal data\r\n");
  out = c().raw(msg + "\r\n");
  EXPECT_TRUE(has(out, "a2 OK [APPENDUID ")) << out;
  // Over APPENDLIMIT: NO [TOOBIG] before any data is sent.
  out = c().send("a3 APPEND INBOX {99999999}");
  EXPECT_TRUE(has(out, "a3 NO [TOOBIG]")) << out;
  EXPECT_FALSE(has(out, "+ ")) << out;
  out = c().send("a4 STATUS INBOX (MESSAGES)");
  EXPECT_TRUE(has(out, "(MESSAGES 2)")) << out;
}

// RFC 3502 (MULTIAPPEND): several messages in one APPEND, appended all or none.
TEST_F(MessageTest, Rfc3502_MultiappendIsAllOrNothing) {
  EXPECT_TRUE(has(c().send("c CAPABILITY"), " MULTIAPPEND"));
  std::string m1 = message("one"), m2 = message("two", std::string(400, 'x') + "\r\n"), m3 = message("three");
  auto lit = [](const std::string& m) { return "{" + std::to_string(m.size()) + "+}\r\n" + m; };
  std::string out = c().send("m1 APPEND INBOX " + lit(m1) + " (\\Seen) " + lit(m2) + " " + lit(m3));
  EXPECT_TRUE(has(out, "m1 OK [APPENDUID ")) << out;
  EXPECT_TRUE(has(out, " 1:3] APPEND")) << out;
  EXPECT_TRUE(has(c().send("s1 STATUS INBOX (MESSAGES)"), "(MESSAGES 3)"));
  // Room for one more small message, not for the big one after it: nothing is appended.
  auto used = store().usage(kUser);
  ASSERT_TRUE(used.ok());
  backend().quota_bytes = *used + m1.size() + 100;
  out = c().send("m2 APPEND INBOX " + lit(m1) + " " + lit(m2));
  EXPECT_TRUE(has(out, "m2 NO [OVERQUOTA]")) << out;
  EXPECT_TRUE(has(c().send("s2 STATUS INBOX (MESSAGES)"), "(MESSAGES 3)"));
  backend().quota_bytes = 0;
  // A missing mailbox: TRYCREATE, and none of the messages anywhere.
  out = c().send("m3 APPEND Nowhere " + lit(m1) + " " + lit(m3));
  EXPECT_TRUE(has(out, "m3 NO [TRYCREATE]")) << out;
}

TEST_F(MessageTest, AppendToSelectedMailboxAnnouncesExists) {
  c().send("s SELECT INBOX");
  std::string out = append("INBOX", message("one"));
  EXPECT_LT(out.find("* 1 EXISTS"), out.find("ap OK")) << out;
}

TEST_F(MessageTest, FetchItemsAndImplicitSeen) {
  append("INBOX", message("first", "Line one\r\nLine two\r\n"), " (\\Flagged)");
  c().send("s SELECT INBOX");
  std::string out = c().send("f1 FETCH 1 (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)");
  EXPECT_TRUE(has(out, "* 1 FETCH (UID 1 FLAGS (\\Recent \\Flagged) RFC822.SIZE ")) << out;
  EXPECT_TRUE(has(out, "ENVELOPE (\"Tue, 14 Nov 2023 22:13:20 +0000\" \"first\"")) << out;
  EXPECT_TRUE(has(out, "BODYSTRUCTURE (\"TEXT\" \"PLAIN\"") || has(out, "BODYSTRUCTURE (\"text\" \"plain\"")) << out;
  EXPECT_TRUE(has(out, "f1 OK")) << out;
  out = c().send("f2 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
  EXPECT_TRUE(has(out, "BODY[HEADER.FIELDS (SUBJECT)] {")) << out;
  EXPECT_TRUE(has(out, "Subject: first")) << out;
  EXPECT_FALSE(has(out, "\\Seen")) << out;
  out = c().send("f3 FETCH 1 BODY[TEXT]<5.3>");
  EXPECT_TRUE(has(out, "BODY[TEXT]<5> {3}\r\none")) << out;
  EXPECT_TRUE(has(out, "FLAGS (\\Recent \\Seen \\Flagged)")) << out;
  out = c().send("f4 UID FETCH 1:* (FLAGS)");
  EXPECT_TRUE(has(out, "* 1 FETCH (UID 1 FLAGS (")) << out;
  EXPECT_TRUE(has(out, "\\Seen") && has(out, "\\Flagged")) << out;
  EXPECT_TRUE(has(c().send("f5 FETCH 2 FLAGS"), "f5 BAD"));
  EXPECT_TRUE(has(c().send("f6 UID FETCH 99 FLAGS"), "f6 OK"));
  // The metadata computed by the first FETCH is cached in the index.
  auto snap = store().snapshot(kUser, "INBOX");
  ASSERT_TRUE(snap.ok());
  EXPECT_FALSE(snap->messages[0].cached_metadata.empty());
}

TEST_F(MessageTest, ExamineDoesNotSetSeen) {
  append("INBOX", message("m"));
  c().send("s EXAMINE INBOX");
  std::string out = c().send("f1 FETCH 1 BODY[]");
  EXPECT_FALSE(has(out, "\\Seen")) << out;
  EXPECT_TRUE(has(c().send("f2 STORE 1 +FLAGS (\\Seen)"), "f2 NO"));
}

TEST_F(MessageTest, StoreFlagsVariants) {
  append("INBOX", message("a"));
  append("INBOX", message("b"));
  c().send("s SELECT INBOX");
  std::string out = c().send("s1 STORE 1:2 +FLAGS (\\Seen $Work)");
  EXPECT_TRUE(has(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)")) << out;
  EXPECT_TRUE(has(out, "* 1 FETCH (FLAGS (\\Recent \\Seen $Work))")) << out;
  EXPECT_TRUE(has(out, "* 2 FETCH (FLAGS (\\Recent \\Seen $Work))")) << out;
  out = c().send("s2 STORE 1 -FLAGS.SILENT ($Work)");
  EXPECT_FALSE(has(out, "FETCH")) << out;
  EXPECT_TRUE(has(out, "s2 OK")) << out;
  out = c().send("s3 UID STORE 2 FLAGS (\\Answered)");
  EXPECT_TRUE(has(out, "* 2 FETCH (UID 2 FLAGS (\\Recent \\Answered))")) << out;
  // Unchanged flags are still reported (RFC 9051 §6.4.6).
  out = c().send("s4 STORE 1 +FLAGS (\\Seen)");
  EXPECT_TRUE(has(out, "* 1 FETCH (FLAGS (\\Recent \\Seen))")) << out;
  // UNCHANGEDSINCE with an old modseq fails: [MODIFIED 1].
  out = c().send("s5 STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)");
  EXPECT_TRUE(has(out, "s5 OK [MODIFIED 1]")) << out;
  out = c().send("s6 FETCH 1 (FLAGS MODSEQ)");
  EXPECT_TRUE(has(out, "MODSEQ (")) << out;
  EXPECT_FALSE(has(out, "\\Flagged")) << out;
}

TEST_F(MessageTest, SearchForms) {
  append("INBOX", message("apple pie"));
  append("INBOX", message("banana split"), " (\\Seen)");
  append("INBOX", message("cherry", "apple inside\r\n"));
  c().send("s SELECT INBOX");
  EXPECT_TRUE(has(c().send("q1 SEARCH UNSEEN"), "* SEARCH 1 3\r\n"));
  EXPECT_TRUE(has(c().send("q2 UID SEARCH SUBJECT banana"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(c().send("q3 SEARCH TEXT apple"), "* SEARCH 1 3\r\n"));
  EXPECT_TRUE(has(c().send("q4 SEARCH CHARSET UTF-8 BODY inside"), "* SEARCH 3\r\n"));
  EXPECT_TRUE(has(c().send("q5 SEARCH CHARSET KOI8-R BODY x"), "q5 NO [BADCHARSET (US-ASCII UTF-8)]"));
  std::string out = c().send("q6 SEARCH RETURN (MIN MAX COUNT ALL) ALL");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"q6\") MIN 1 MAX 3 ALL 1:3 COUNT 3")) << out;
  out = c().send("q7 UID SEARCH RETURN (COUNT) SEEN");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"q7\") UID COUNT 1")) << out;
  out = c().send("q8 SEARCH RETURN (SAVE) UNSEEN");
  EXPECT_FALSE(has(out, "ESEARCH")) << out;
  out = c().send("q9 FETCH $ (UID)");
  EXPECT_TRUE(has(out, "* 1 FETCH (UID 1)")) << out;
  EXPECT_TRUE(has(out, "* 3 FETCH (UID 3)")) << out;
  EXPECT_FALSE(has(out, "* 2 FETCH")) << out;
  c().send("e ENABLE IMAP4rev2");
  out = c().send("r1 SEARCH SUBJECT cherry");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"r1\") ALL 3")) << out;
  out = c().send("r2 SEARCH SUBJECT nothing");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"r2\")\r\n")) << out;
}

TEST_F(MessageTest, CopyAndMoveReportCopyUid) {
  append("INBOX", message("a"));
  append("INBOX", message("b"));
  append("INBOX", message("c"));
  c().send("s SELECT INBOX");
  std::string out = c().send("c1 COPY 1:2 Archive");
  EXPECT_TRUE(has(out, "c1 OK [COPYUID ")) << out;
  EXPECT_TRUE(has(out, " 1:2 1:2]")) << out;
  EXPECT_TRUE(has(c().send("c2 COPY 1 Nope"), "c2 NO [TRYCREATE]"));
  out = c().send("m1 MOVE 2 Trash");
  EXPECT_TRUE(has(out, "* OK [COPYUID ")) << out;
  EXPECT_LT(out.find("* OK [COPYUID"), out.find("* 2 EXPUNGE")) << out;
  EXPECT_LT(out.find("* 2 EXPUNGE"), out.find("m1 OK")) << out;
  out = c().send("m2 UID MOVE 3 Trash");
  EXPECT_TRUE(has(out, "* 2 EXPUNGE")) << out;  // UID 3 is now message 2
  out = c().send("n NOOP");
  EXPECT_FALSE(has(out, "EXPUNGE")) << out;  // already announced
  EXPECT_TRUE(has(c().send("st STATUS Trash (MESSAGES)"), "(MESSAGES 2)"));
  // QRESYNC: VANISHED instead of EXPUNGE.
  c().send("e ENABLE QRESYNC");
  out = c().send("m3 MOVE 1 Trash");
  EXPECT_TRUE(has(out, "* VANISHED 1\r\n")) << out;
}

TEST_F(MessageTest, ExpungeAndUidExpungeAndClose) {
  for (const char* s : {"a", "b", "c", "d"}) append("INBOX", message(s));
  c().send("s SELECT INBOX");
  c().send("t1 STORE 1:3 +FLAGS.SILENT (\\Deleted)");
  std::string out = c().send("x1 UID EXPUNGE 2");
  EXPECT_TRUE(has(out, "* 2 EXPUNGE\r\n")) << out;
  EXPECT_FALSE(has(out, "* 1 EXPUNGE")) << out;
  out = c().send("x2 EXPUNGE");
  EXPECT_TRUE(has(out, "* 2 EXPUNGE\r\n* 1 EXPUNGE\r\n")) << out;
  out = c().send("x3 FETCH 1 (UID)");
  EXPECT_TRUE(has(out, "* 1 FETCH (UID 4)")) << out;
  c().send("t2 STORE 1 +FLAGS (\\Deleted)");
  out = c().send("x4 CLOSE");
  EXPECT_FALSE(has(out, "EXPUNGE")) << out;
  EXPECT_EQ(c().session().state(), State::authenticated);
  EXPECT_TRUE(has(c().send("x5 STATUS INBOX (MESSAGES)"), "(MESSAGES 0)"));
  c().send("s2 SELECT INBOX");
  EXPECT_TRUE(has(c().send("x6 UNSELECT"), "x6 OK"));
  EXPECT_EQ(c().session().state(), State::authenticated);
}

}  // namespace
}  // namespace tern::imapd::test

// ---- Junk-filter lessons (issue 17): what the user does over IMAP teaches the classifier ----

namespace tern::imapd::test {
namespace {

TEST_F(SessionTest, JunkLessonsComeFromMovesIntoAndOutOfJunkAndFromKeywords) {
  ASSERT_TRUE(store().ensure_user(kUser).ok());  // Junk and Trash with their SPECIAL-USE
  deliver(message("one"));
  deliver(message("two"));
  deliver(message("three"));
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  auto& lessons = backend().lessons;
  // COPY within non-junk mailboxes teaches nothing.
  EXPECT_TRUE(has(c.send("c1 COPY 3 Archive"), "c1 OK"));
  EXPECT_TRUE(lessons.empty());
  // MOVE into Junk: spam, the message's bytes.
  EXPECT_TRUE(has(c.send("m1 MOVE 1 Junk"), "m1 OK"));
  ASSERT_EQ(lessons.size(), 1u);
  EXPECT_TRUE(lessons[0].spam);
  EXPECT_EQ(lessons[0].user, kUser);
  EXPECT_NE(lessons[0].message.find("Subject: one"), std::string::npos);
  // A failed MOVE (no such mailbox) teaches nothing.
  EXPECT_TRUE(has(c.send("m2 MOVE 1 Nowhere"), "m2 NO"));
  EXPECT_EQ(lessons.size(), 1u);
  // Out of Junk into INBOX: not spam; out of Junk into Trash: no lesson.
  c.send("s2 SELECT Junk");
  deliver(message("four"), "Junk");
  c.send("n NOOP");
  EXPECT_TRUE(has(c.send("m3 MOVE 1 INBOX"), "m3 OK"));
  ASSERT_EQ(lessons.size(), 2u);
  EXPECT_FALSE(lessons[1].spam);
  EXPECT_NE(lessons[1].message.find("Subject: one"), std::string::npos);
  EXPECT_TRUE(has(c.send("m4 MOVE 1 Trash"), "m4 OK"));
  EXPECT_EQ(lessons.size(), 2u);
  // RFC 5788 keywords: $Junk is spam, $NotJunk is not; removing them or setting both is not
  // a lesson, and neither is a STORE that changed nothing.
  c.send("s3 SELECT INBOX");
  EXPECT_TRUE(has(c.send("k1 STORE 1 +FLAGS ($Junk)"), "k1 OK"));
  ASSERT_EQ(lessons.size(), 3u);
  EXPECT_TRUE(lessons[2].spam);
  EXPECT_TRUE(has(c.send("k2 STORE 1 +FLAGS ($Junk)"), "k2 OK"));
  EXPECT_EQ(lessons.size(), 3u);
  EXPECT_TRUE(has(c.send("k3 STORE 1 -FLAGS ($Junk)"), "k3 OK"));
  EXPECT_TRUE(has(c.send("k4 STORE 1 +FLAGS ($Junk $NotJunk)"), "k4 OK"));
  EXPECT_EQ(lessons.size(), 3u);
  EXPECT_TRUE(has(c.send("k5 STORE 2 +FLAGS.SILENT ($NotJunk)"), "k5 OK"));
  ASSERT_EQ(lessons.size(), 4u);
  EXPECT_FALSE(lessons[3].spam);
}

}  // namespace
}  // namespace tern::imapd::test
