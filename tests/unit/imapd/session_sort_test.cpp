// SORT / THREAD / ESORT through the session (RFC 5256, RFC 5267 §3, RFC 5957), against a real
// Store: the keys come from the ENVELOPE cached at delivery.
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

std::string mail(const std::string& from, const std::string& subject, const std::string& date,
                 const std::string& id, const std::string& extra = "", const std::string& body = "x\r\n") {
  return "From: " + from + "\r\nTo: bob@example.test\r\nSubject: " + subject + "\r\nDate: " + date +
         "\r\nMessage-ID: <" + id + ">\r\n" + extra + "\r\n" + body;
}

class SortSessionTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    // uid: 1..5, sizes grow with the body.
    deliver(mail("Zoe <zoe@z.test>", "Re: Fwd: [list] Plans (fwd)", "Tue, 14 Nov 2023 10:00:00 +0000", "p2@x",
                 "In-Reply-To: <p1@x>\r\nReferences: <p1@x>\r\n", "xx\r\n"));
    deliver(mail("=?UTF-8?Q?=C3=89mile?= <emile@e.test>", "=?UTF-8?Q?Caf=C3=A9?=", "Mon, 13 Nov 2023 10:00:00 +0000",
                 "c1@x", "", "xxxxxxxx\r\n"));
    deliver(mail("Adam <adam@a.test>", "Plans", "Mon, 13 Nov 2023 09:00:00 -0500", "p1@x"));
    deliver(mail("bob <bob@b.test>", "[list] plans", "Wed, 15 Nov 2023 10:00:00 +0000", "p3@x",
                 "References: <p1@x> <p2@x>\r\n", "xxxxxxxxxxxxxxxxxxxxxxxx\r\n"));
    deliver(mail("Adam <adam@a.test>", "Zebra", "garbage", "z1@x"));  // sent date: internal date
  }
};

TEST_F(SortSessionTest, Rfc5256_CapabilityAndSortKeys) {
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("c0 CAPABILITY"), " SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES"));
  c.send("s SELECT INBOX");
  // Base subjects CAFÉ, PLANS x3 (ties by sequence), ZEBRA.
  EXPECT_TRUE(has(c.send("a1 SORT (SUBJECT) UTF-8 ALL"), "* SORT 2 1 3 4 5\r\na1 OK")) << c.last.bytes;
  // Sent dates in UTC: 2 (13 Nov 10:00Z), 3 (09:00 -0500 = 14:00Z), 1 (14 Nov 10:00Z),
  // 5 (no valid Date: its internal date, 14 Nov 22:13Z), 4 (15 Nov).
  EXPECT_TRUE(has(c.send("a2 SORT (DATE) US-ASCII ALL"), "* SORT 2 3 1 5 4\r\n")) << c.last.bytes;
  // Sizes 190 170 128 183 104.
  EXPECT_TRUE(has(c.send("a3 UID SORT (REVERSE SIZE) UTF-8 ALL"), "* SORT 1 4 2 3 5\r\n")) << c.last.bytes;
  // addr-mailbox: adam adam bob emile zoe.
  EXPECT_TRUE(has(c.send("a4 SORT (FROM) UTF-8 ALL"), "* SORT 3 5 4 2 1\r\n")) << c.last.bytes;
  // RFC 5957: display names (decoded): Adam Adam bob Émile Zoe; É (0xC3..) after ASCII.
  EXPECT_TRUE(has(c.send("a5 SORT (DISPLAYFROM) UTF-8 ALL"), "* SORT 3 5 4 1 2\r\n")) << c.last.bytes;
  // Several keys, and a search that narrows.
  // Same sender, same internal date: the tie keeps sequence order even under REVERSE.
  EXPECT_TRUE(has(c.send("a6 SORT (FROM REVERSE ARRIVAL) UTF-8 FROM adam"), "* SORT 3 5\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("a7 SORT (REVERSE DATE) UTF-8 FROM adam"), "* SORT 5 3\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("a8 SORT (SUBJECT) UTF-8 SUBJECT nothing-like-this"), "* SORT\r\na8 OK")) << c.last.bytes;
}

TEST_F(SortSessionTest, Rfc5267_3_EsortReturnsInSortOrder) {
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  std::string out = c.send("e1 SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"e1\") MIN 2 MAX 5 ALL 2,1,3:5 COUNT 5\r\n")) << out;
  out = c.send("e2 UID SORT RETURN () (REVERSE SUBJECT) UTF-8 ALL");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"e2\") UID ALL 5,1,3:4,2\r\n")) << out;
  out = c.send("e3 SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT nothing-like-this");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"e3\") COUNT 0\r\n")) << out;
}

// RFC 7162 §3.1.5 (with RFC 5267 §3): ESORT MIN/MAX report the MODSEQ of the messages they
// return (first and last in sort order), not the highest of the whole result.
TEST_F(SortSessionTest, Rfc7162_3_1_5_EsortMinMaxModseqIsThatOfReturnedMessages) {
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  // Subject order is 2 1 3 4 5: raise 2, then 5, then 1 (highest, but neither MIN nor MAX).
  c.send("a1 STORE 2 +FLAGS (\\Seen)");
  c.send("a2 STORE 5 +FLAGS (\\Seen)");
  c.send("a3 STORE 1 +FLAGS (\\Seen)");
  auto snap = store().snapshot_flags(kUser, "INBOX");
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->messages.size(), 5u);
  uint64_t m1 = snap->messages[0].modseq, m2 = snap->messages[1].modseq, m5 = snap->messages[4].modseq;
  ASSERT_LT(m2, m5);
  ASSERT_LT(m5, m1);
  std::string out = c.send("e1 SORT RETURN (MIN) (SUBJECT) UTF-8 MODSEQ 1");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"e1\") MIN 2 MODSEQ " + std::to_string(m2) + "\r\n")) << out;
  out = c.send("e2 SORT RETURN (MIN MAX) (SUBJECT) UTF-8 MODSEQ 1");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"e2\") MIN 2 MAX 5 MODSEQ " + std::to_string(m5) + "\r\n")) << out;
  // With ALL the whole result is returned: its highest modseq, and ALL keeps sort order.
  out = c.send("e3 SORT RETURN (ALL) (SUBJECT) UTF-8 MODSEQ 1");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"e3\") ALL 2,1,3:5 MODSEQ " + std::to_string(m1) + "\r\n")) << out;
}

TEST_F(SortSessionTest, Rfc5256_ThreadOrderedSubjectAndReferences) {
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  // ORDEREDSUBJECT: PLANS (3 at 14:00Z, then 1, then 4), CAFÉ (2), ZEBRA (5, internal date).
  std::string out = c.send("t1 THREAD ORDEREDSUBJECT UTF-8 ALL");
  EXPECT_TRUE(has(out, "* THREAD (2)(3 (1)(4))(5)\r\n")) << out;
  // REFERENCES: 1 replies to 3 (References), 4 to 1 (its last reference).
  out = c.send("t2 THREAD REFERENCES UTF-8 ALL");
  EXPECT_TRUE(has(out, "* THREAD (2)(3 1 4)(5)\r\n")) << out;
  out = c.send("t3 UID THREAD REFERENCES UTF-8 NOT FROM zoe");
  // Without 1, 4's last reference is missing: a dummy between 3 and 4 is pruned away.
  EXPECT_TRUE(has(out, "* THREAD (2)(3 4)(5)\r\n")) << out;
  EXPECT_TRUE(has(c.send("t4 THREAD REFERENCES UTF-8 SUBJECT nothing-like-this"), "* THREAD\r\nt4 OK"));
}

TEST_F(SortSessionTest, Rfc5256_ErrorsAreProtocolAnswers) {
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("n0 SORT (DATE) UTF-8 ALL"), "n0 BAD")) << c.last.bytes;  // nothing selected
  c.send("s SELECT INBOX");
  EXPECT_TRUE(has(c.send("n1 SORT (DATE) KOI8-R ALL"), "n1 NO [BADCHARSET (US-ASCII UTF-8)]")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("n2 THREAD NOSUCH UTF-8 ALL"), "n2 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("n3 SORT (SHOESIZE) UTF-8 ALL"), "n3 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("n4 SORT (DATE) ALL"), "n4 BAD")) << c.last.bytes;  // charset is mandatory
  EXPECT_TRUE(has(c.send("n5 SORT () UTF-8 ALL"), "n5 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("n6 SORT RETURN (SAVE) (DATE) UTF-8 ALL"), "n6 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("n7 SORT (REVERSE) UTF-8 ALL"), "n7 BAD")) << c.last.bytes;
}

}  // namespace
}  // namespace tern::imapd::test
