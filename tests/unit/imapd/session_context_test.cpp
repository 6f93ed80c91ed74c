// CONTEXT=SEARCH / CONTEXT=SORT through the session (RFC 5267 §4): live results updated by
// ADDTO / REMOVEFROM as other sessions deliver, flag and expunge, NOUPDATE, CANCELUPDATE.
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

class ContextSessionTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    for (int i = 1; i <= 4; ++i) deliver(message("m" + std::to_string(i)));
  }
};

TEST_F(ContextSessionTest, Rfc5267_4_Capability) {
  Client c(backend());
  EXPECT_TRUE(has(c.send("c CAPABILITY"), " CONTEXT=SEARCH CONTEXT=SORT")) << c.last.bytes;
}

TEST_F(ContextSessionTest, Rfc5267_4_3_SearchUpdatesFollowFlagsDeliveryAndExpunge) {
  Client c(backend()), other(backend());
  c.login();
  other.login();
  c.send("s SELECT INBOX");
  other.send("s SELECT INBOX");
  EXPECT_TRUE(has(c.send("B01 UID SEARCH RETURN (UPDATE) FLAGGED"), "* ESEARCH (TAG \"B01\") UID\r\nB01 OK"))
      << c.last.bytes;
  // Another session flags 2 and 3: the next NOOP brings FETCH, then ADDTO.
  other.send("f STORE 2:3 +FLAGS (\\Flagged)");
  std::string out = c.send("n1 NOOP");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"B01\") UID ADDTO (0 2:3)\r\n")) << out;
  EXPECT_LT(out.find("FETCH"), out.find("ADDTO")) << out;
  // Nothing changed: nothing sent.
  EXPECT_FALSE(has(c.send("n2 NOOP"), "ESEARCH")) << c.last.bytes;
  // Unflagged elsewhere: REMOVEFROM.
  other.send("f STORE 2 -FLAGS (\\Flagged)");
  EXPECT_TRUE(has(c.send("n3 NOOP"), "* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 2)\r\n")) << c.last.bytes;
  // A new flagged message arrives.
  store::Flags flagged;
  flagged.system = store::kFlagged;
  uint32_t uid5 = deliver(message("m5"), "INBOX", flagged);
  out = c.send("n4 NOOP");
  EXPECT_TRUE(has(out, "* 5 EXISTS\r\n")) << out;
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"B01\") UID ADDTO (0 " + std::to_string(uid5) + ")\r\n")) << out;
  EXPECT_LT(out.find("EXISTS"), out.find("ADDTO")) << out;
  // Expunged elsewhere: REMOVEFROM, then EXPUNGE (RFC 5267 §4.3.4).
  other.send("d STORE 3 +FLAGS (\\Deleted)");
  other.send("e EXPUNGE");
  out = c.send("n5 NOOP");
  EXPECT_TRUE(has(out, "* 3 EXPUNGE\r\n")) << out;
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 3)\r\n")) << out;
  EXPECT_LT(out.find("REMOVEFROM"), out.find("EXPUNGE")) << out;
  // CANCELUPDATE: no more updates.
  EXPECT_TRUE(has(c.send("x CANCELUPDATE \"B01\""), "x OK")) << c.last.bytes;
  other.send("f STORE 1 +FLAGS (\\Flagged)");
  EXPECT_FALSE(has(c.send("n6 NOOP"), "ESEARCH")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("y CANCELUPDATE \"B01\""), "y BAD")) << c.last.bytes;
}

TEST_F(ContextSessionTest, Rfc5267_4_3_SequenceContextAndOwnChanges) {
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  EXPECT_TRUE(has(c.send("A1 SEARCH RETURN (UPDATE COUNT) SEEN"), "* ESEARCH (TAG \"A1\") COUNT 0\r\n"))
      << c.last.bytes;
  EXPECT_TRUE(has(c.send("A2 SEARCH RETURN (CONTEXT UPDATE) UNSEEN"), "* ESEARCH (TAG \"A2\") ALL 1:4\r\n"))
      << c.last.bytes;
  // The session's own UID STORE (a point where updates may go): ADDTO for the COUNT context
  // (RFC 5267 §4.3: UPDATE does not interact with COUNT, which is not sent again), REMOVEFROM.
  std::string out = c.send("u UID STORE 1:2 +FLAGS (\\Seen)");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"A1\") ADDTO (0 1:2)\r\n")) << out;
  EXPECT_FALSE(has(out, "COUNT")) << out;
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"A2\") REMOVEFROM (0 1:2)\r\n")) << out;
  // Own EXPUNGE of a message in A2's result: REMOVEFROM with its number, before the EXPUNGE.
  c.send("d STORE 3 +FLAGS (\\Deleted)");
  out = c.send("e EXPUNGE");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"A2\") REMOVEFROM (0 3)\r\n* 3 EXPUNGE\r\n")) << out;
  // Expunged elsewhere during a FETCH (no EXPUNGE allowed): REMOVEFROM at once, the
  // EXPUNGE at the next NOOP.
  Client other(backend());
  other.login();
  other.send("s SELECT INBOX");
  other.send("d STORE 3 +FLAGS (\\Deleted)");
  other.send("e EXPUNGE");
  out = c.send("f FETCH 1 FLAGS");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"A2\") REMOVEFROM (0 3)\r\n")) << out;
  EXPECT_FALSE(has(out, "EXPUNGE")) << out;
  out = c.send("n NOOP");
  EXPECT_TRUE(has(out, "* 3 EXPUNGE\r\n")) << out;
  EXPECT_FALSE(has(out, "ESEARCH")) << out;
  // Leaving the mailbox ends the contexts.
  c.send("s2 SELECT INBOX");
  EXPECT_TRUE(has(c.send("z CANCELUPDATE \"A1\""), "z BAD")) << c.last.bytes;
}

TEST_F(ContextSessionTest, Rfc5267_4_3_SortContextPositions) {
  Client c(backend()), other(backend());
  c.login();
  other.login();
  c.send("s SELECT INBOX");
  other.send("s SELECT INBOX");
  // Subjects m1..m4 reversed: 4 3 2 1; the context holds the unflagged ones.
  EXPECT_TRUE(has(c.send("S1 UID SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 UNFLAGGED"),
                  "* ESEARCH (TAG \"S1\") UID ALL 4,3,2,1\r\n")) << c.last.bytes;
  other.send("f STORE 3 +FLAGS (\\Flagged)");
  EXPECT_TRUE(has(c.send("n1 NOOP"), "* ESEARCH (TAG \"S1\") UID REMOVEFROM (2 3)\r\n")) << c.last.bytes;
  other.send("f STORE 3 -FLAGS (\\Flagged)");
  EXPECT_TRUE(has(c.send("n2 NOOP"), "* ESEARCH (TAG \"S1\") UID ADDTO (2 3)\r\n")) << c.last.bytes;
}

TEST_F(ContextSessionTest, Rfc5267_4_3_1_RefusalsAndErrors) {
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  // RFC 5267 §4.4 (and RFC 9394 §3.1): PARTIAL and UPDATE "do not interact -- the UPDATE
  // will provide notifications for all matching results": kept live, and a new message
  // outside the page 1:2 is announced.
  std::string out = c.send("P1 SEARCH RETURN (UPDATE PARTIAL 1:2) ALL");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"P1\") PARTIAL (1:2 1:2)\r\n")) << out;
  EXPECT_FALSE(has(out, "NOUPDATE")) << out;
  deliver(message("m5"));
  out = c.send("p NOOP");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"P1\") ADDTO (0 5)\r\n")) << out;
  EXPECT_LT(out.find("EXISTS"), out.find("ADDTO")) << out;
  EXPECT_TRUE(has(c.send("p2 CANCELUPDATE \"P1\""), "p2 OK")) << c.last.bytes;
  // A tag already live is refused.
  c.send("T1 SEARCH RETURN (UPDATE) ALL");
  EXPECT_TRUE(has(c.send("T1 SEARCH RETURN (UPDATE) SEEN"), "T1 BAD")) << c.last.bytes;
  // Too many live searches.
  for (int i = 0; i < 9; ++i) c.send("L" + std::to_string(i) + " SEARCH RETURN (UPDATE) ALL");
  EXPECT_TRUE(has(c.send("L9 SEARCH RETURN (UPDATE) ALL"), "* NO [NOUPDATE \"L9\"]")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("x CANCELUPDATE"), "x BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("x2 CANCELUPDATE \"L0\" \"L1\""), "x2 OK")) << c.last.bytes;
}

}  // namespace
}  // namespace tern::imapd::test
