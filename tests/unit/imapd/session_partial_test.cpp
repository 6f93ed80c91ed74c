// RFC 9394 PARTIAL through the session: paged SEARCH / UID SEARCH, ESORT, UID FETCH, with
// MIN/MAX/COUNT, SAVE and CHANGEDSINCE, and the error cases.
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

class PartialSessionTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    for (int i = 1; i <= 10; ++i) deliver(message("m" + std::to_string(i)));
  }
  // Selected INBOX, messages 2, 5 and 9 \Deleted: UNDELETED matches 1 3 4 6 7 8 10.
  void prepare(Client& c) {
    c.login();
    c.send("s SELECT INBOX");
    c.send("d STORE 2,5,9 +FLAGS (\\Deleted)");
  }
};

TEST_F(PartialSessionTest, Rfc9394_Capability) {
  Client c(backend());
  EXPECT_TRUE(has(c.send("c CAPABILITY"), " PARTIAL")) << c.last.bytes;
}

TEST_F(PartialSessionTest, Rfc9394_3_1_PagedSearchFromBothEnds) {
  Client c(backend());
  prepare(c);
  EXPECT_TRUE(has(c.send("p1 UID SEARCH RETURN (PARTIAL 1:3) UNDELETED"),
                  "* ESEARCH (TAG \"p1\") UID PARTIAL (1:3 1,3:4)\r\np1 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("p2 UID SEARCH RETURN (PARTIAL 4:6) UNDELETED"),
                  "* ESEARCH (TAG \"p2\") UID PARTIAL (4:6 6:8)\r\n")) << c.last.bytes;
  // The last page is short; the next is NIL.
  EXPECT_TRUE(has(c.send("p3 UID SEARCH RETURN (PARTIAL 7:9) UNDELETED"),
                  "* ESEARCH (TAG \"p3\") UID PARTIAL (7:9 10)\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("p4 SEARCH RETURN (PARTIAL 8:100) UNDELETED"),
                  "* ESEARCH (TAG \"p4\") PARTIAL (8:100 NIL)\r\n")) << c.last.bytes;
  // From the newest: -1:-2 are the two highest, reversed ends mean the same.
  EXPECT_TRUE(has(c.send("p5 UID SEARCH RETURN (PARTIAL -1:-2) UNDELETED"),
                  "* ESEARCH (TAG \"p5\") UID PARTIAL (-1:-2 8,10)\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("p6 SEARCH RETURN (PARTIAL -3:-2) UNDELETED"),
                  "* ESEARCH (TAG \"p6\") PARTIAL (-3:-2 7:8)\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("p7 SEARCH RETURN (PARTIAL -5:-100) UNDELETED"),
                  "* ESEARCH (TAG \"p7\") PARTIAL (-5:-100 1,3:4)\r\n")) << c.last.bytes;
}

TEST_F(PartialSessionTest, Rfc9394_3_1_CombinedWithMinMaxCount) {
  Client c(backend());
  prepare(c);
  EXPECT_TRUE(has(c.send("q1 UID SEARCH RETURN (MIN MAX COUNT PARTIAL -1:-3) UNDELETED"),
                  "* ESEARCH (TAG \"q1\") UID MIN 1 MAX 10 COUNT 7 PARTIAL (-1:-3 7:8,10)\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("q2 SEARCH RETURN (COUNT PARTIAL 1:5) DELETED"),
                  "* ESEARCH (TAG \"q2\") COUNT 3 PARTIAL (1:5 2,5,9)\r\n")) << c.last.bytes;
}

TEST_F(PartialSessionTest, Rfc9394_3_1_SaveKeepsOnlyThePage) {
  Client c(backend());
  prepare(c);
  EXPECT_TRUE(has(c.send("s1 UID SEARCH RETURN (SAVE PARTIAL 2:3) UNDELETED"),
                  "* ESEARCH (TAG \"s1\") UID PARTIAL (2:3 3:4)\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s2 UID SEARCH UID $"), "* SEARCH 3 4\r\n")) << c.last.bytes;
}

// RFC 9394 §3.2: with SAVE and PARTIAL, "$" holds the page, plus the MIN and/or MAX message
// when asked for; with COUNT as well it holds every message found.
TEST_F(PartialSessionTest, Rfc9394_3_2_SavePartialWithMinMaxCount) {
  Client c(backend());
  prepare(c);
  EXPECT_TRUE(has(c.send("s1 UID SEARCH RETURN (SAVE MIN PARTIAL 2:3) UNDELETED"),
                  "* ESEARCH (TAG \"s1\") UID MIN 1 PARTIAL (2:3 3:4)\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s2 UID SEARCH UID $"), "* SEARCH 1 3 4\r\n")) << c.last.bytes;
  c.send("s3 UID SEARCH RETURN (SAVE MIN MAX PARTIAL 2:3) UNDELETED");
  EXPECT_TRUE(has(c.send("s4 UID SEARCH UID $"), "* SEARCH 1 3 4 10\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s5 UID SEARCH RETURN (SAVE COUNT PARTIAL 2:3) UNDELETED"),
                  "* ESEARCH (TAG \"s5\") UID COUNT 7 PARTIAL (2:3 3:4)\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s6 UID SEARCH UID $"), "* SEARCH 1 3 4 6 7 8 10\r\n")) << c.last.bytes;
  // A page past the end: "$" is empty.
  c.send("s7 UID SEARCH RETURN (SAVE PARTIAL 20:30) UNDELETED");
  EXPECT_TRUE(has(c.send("s8 UID SEARCH UID $"), "* SEARCH\r\n")) << c.last.bytes;
}

TEST_F(PartialSessionTest, Rfc9394_EsortPartialPagesInSortOrder) {
  Client c(backend());
  prepare(c);
  // Subjects m1 m10 m3 m4 m6 m7 m8 in order; reversed: 8 7 6 4 3 10 1.
  EXPECT_TRUE(has(c.send("o1 SORT RETURN (PARTIAL 1:3) (REVERSE SUBJECT) UTF-8 UNDELETED"),
                  "* ESEARCH (TAG \"o1\") PARTIAL (1:3 8,7,6)\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("o2 UID SORT RETURN (COUNT PARTIAL -1:-2) (REVERSE SUBJECT) UTF-8 UNDELETED"),
                  "* ESEARCH (TAG \"o2\") UID COUNT 7 PARTIAL (-1:-2 10,1)\r\n")) << c.last.bytes;
}

TEST_F(PartialSessionTest, Rfc9394_3_2_UidFetchPartial) {
  Client c(backend());
  prepare(c);
  std::string out = c.send("f1 UID FETCH 1:* (FLAGS) (PARTIAL -1:-2)");
  EXPECT_TRUE(has(out, "* 9 FETCH (UID 9 FLAGS (\\Recent \\Deleted))\r\n* 10 FETCH (UID 10 FLAGS (\\Recent))\r\nf1 OK")) << out;
  EXPECT_FALSE(has(out, "* 8 FETCH")) << out;
  out = c.send("f2 FETCH 2:* (UID) (PARTIAL 1:2)");
  EXPECT_TRUE(has(out, "* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\nf2 OK")) << out;
  EXPECT_EQ(c.send("f3 UID FETCH 1:* (UID) (PARTIAL 20:30)").rfind("f3 OK", 0), 0u) << c.last.bytes;
  // CHANGEDSINCE narrows first (only 2, 5 and 9 changed after the last delivery), then PARTIAL.
  auto snap = store().snapshot_flags(kUser, "INBOX");
  ASSERT_TRUE(snap.ok());
  uint64_t before = snap->messages[9].modseq;
  out = c.send("f4 UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + std::to_string(before) + " PARTIAL 2:3)");
  EXPECT_TRUE(has(out, "* 5 FETCH (UID 5 FLAGS (\\Recent \\Deleted) MODSEQ (")) << out;
  EXPECT_TRUE(has(out, "* 9 FETCH (UID 9 FLAGS (\\Recent \\Deleted) MODSEQ (")) << out;
  EXPECT_FALSE(has(out, "* 2 FETCH")) << out;
}

TEST_F(PartialSessionTest, Rfc9394_3_1_ErrorCases) {
  Client c(backend());
  prepare(c);
  EXPECT_TRUE(has(c.send("e1 SEARCH RETURN (ALL PARTIAL 1:5) ALL"), "e1 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("e2 SEARCH RETURN (PARTIAL 0:5) ALL"), "e2 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("e3 SEARCH RETURN (PARTIAL -1:5) ALL"), "e3 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("e4 SEARCH RETURN (PARTIAL 1:*) ALL"), "e4 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("e5 UID FETCH 1:* FLAGS (PARTIAL 5:0)"), "e5 BAD")) << c.last.bytes;
  // The session still works.
  EXPECT_TRUE(has(c.send("n NOOP"), "n OK")) << c.last.bytes;
}

}  // namespace
}  // namespace tern::imapd::test
