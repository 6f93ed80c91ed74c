// APPEND ... CATENATE through the session (RFC 4469), against a real Store: the RFC §5 draft
// example, URL errors (BADURL), TOOBIG, the NUL rule, and MULTIAPPEND's all-or-none.
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

const std::string kBoundary = "------------030308070208000400050907";

class CatenateSessionTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    (void)store().create_mailbox(kUser, "Drafts");  // may exist already (special use)
    // RFC 4469 §5's draft: UID 1 in Drafts, a multipart whose part 1 is kept.
    draft = "From: Alice <alice@example.test>\r\nSubject: draft\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"" + kBoundary + "\"\r\n\r\n--" + kBoundary +
            "\r\nContent-Type: text/plain\r\n\r\nBody text.\r\n--" + kBoundary + "--\r\n";
    deliver(draft, "Drafts");
    deliver("Subject: attachment\r\n\r\nATTACHED\r\n", "Drafts");
    auto st = store().mailbox_status(kUser, "Drafts");
    ASSERT_TRUE(st.ok());
    validity = std::to_string(st->uidvalidity);
  }
  std::string url(const std::string& rest) { return "\"/Drafts;UIDVALIDITY=" + validity + "/;UID=" + rest + "\""; }
  std::string last_message(const std::string& mailbox) {
    auto snap = store().snapshot_flags(kUser, mailbox);
    EXPECT_TRUE(snap.ok() && !snap->messages.empty());
    auto r = store().read_message(kUser, mailbox, snap->messages.back().uid);
    return r.ok() ? *r : "";
  }
  size_t count(const std::string& mailbox) {
    auto snap = store().snapshot_flags(kUser, mailbox);
    return snap.ok() ? snap->messages.size() : 0;
  }
  std::string draft, validity;
};

TEST_F(CatenateSessionTest, Rfc4469_Capability) {
  Client c(backend());
  EXPECT_TRUE(has(c.send("c CAPABILITY"), " CATENATE")) << c.last.bytes;
}

TEST_F(CatenateSessionTest, Rfc4469_5_ComposesFromUrlsAndText) {
  Client c(backend());
  c.login();
  std::string t1 = "\r\n--" + kBoundary + "\r\n";
  std::string t2 = "\r\n--" + kBoundary + "--\r\n";
  std::string cmd = "A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL " + url("1/;section=HEADER") +
                    " TEXT {" + std::to_string(t1.size()) + "+}\r\n" + t1 + " URL " + url("1/;section=1.MIME") +
                    " URL " + url("1/;section=1") + " TEXT {" + std::to_string(t1.size()) + "+}\r\n" + t1 + " URL " +
                    url("2") + " TEXT {" + std::to_string(t2.size()) + "+}\r\n" + t2 + ")";
  std::string out = c.send(cmd);
  EXPECT_TRUE(has(out, "A003 OK [APPENDUID " + validity + " 3]")) << out;
  std::string header = draft.substr(0, draft.find("\r\n\r\n") + 4);
  std::string expected = header + t1 + "Content-Type: text/plain\r\n\r\n" + "Body text." + t1 +
                         "Subject: attachment\r\n\r\nATTACHED\r\n" + t2;
  EXPECT_EQ(last_message("Drafts"), expected);
  // The composed message is a real message: FETCH sees its parts.
  c.send("s SELECT Drafts");
  EXPECT_TRUE(has(c.send("f FETCH 3 BODY.PEEK[2]"), "BODY[2] {10}\r\nATTACHED\r\n)")) << c.last.bytes;
}

TEST_F(CatenateSessionTest, Rfc4469_6_BadUrlNamesTheUrlAndAppendsNothing) {
  Client c(backend());
  c.login();
  size_t before = count("Drafts");
  for (const std::string& bad : std::vector<std::string>{url("99"), url("1/;section=7"), "\"/Drafts;UIDVALIDITY=1/;UID=1\"", "\"/Nope/;UID=1\"", "\";UID=1\"",
        "\"imap://eve@example.test/Drafts/;UID=1\"", "\"/Drafts/;UID=1;EXPIRE=2030-01-01T00:00:00Z;URLAUTH=x\""}) {
    std::string out = c.send("b APPEND Drafts CATENATE (TEXT {2+}\r\nhi URL " + bad + ")");
    EXPECT_TRUE(has(out, "b NO [BADURL " + bad + "]")) << bad << " -> " << out;
  }
  EXPECT_EQ(count("Drafts"), before);
  // The user's own name in the URL is fine.
  EXPECT_TRUE(has(c.send("g APPEND Drafts CATENATE (URL \"imap://" + std::string(kUser) + "@h/Drafts/;UID=2\")"),
                  "g OK [APPENDUID")) << c.last.bytes;
  EXPECT_EQ(last_message("Drafts"), "Subject: attachment\r\n\r\nATTACHED\r\n");
}

TEST_F(CatenateSessionTest, Rfc4469_5_MultiappendIsAllOrNone) {
  Client c(backend());
  c.login();
  size_t before = count("Drafts");
  // Second message has a bad URL: the first must not stay.
  std::string out = c.send("m1 APPEND Drafts {6+}\r\nA: b\r\n CATENATE (URL " + url("2") + ") CATENATE (URL " +
                           url("50") + ")");
  EXPECT_TRUE(has(out, "m1 NO [BADURL")) << out;
  EXPECT_EQ(count("Drafts"), before);
  out = c.send("m2 APPEND Drafts {6+}\r\nA: b\r\n CATENATE (URL " + url("2") + " TEXT {3+}\r\nxyz)");
  EXPECT_TRUE(has(out, "m2 OK [APPENDUID " + validity + " 3:4]")) << out;
  EXPECT_EQ(last_message("Drafts"), "Subject: attachment\r\n\r\nATTACHED\r\nxyz");
}

TEST_F(CatenateSessionTest, Rfc4469_5_TooBigAndNul) {
  SessionSettings s = Client::default_settings();
  s.max_literal_size = 40;
  Client c(backend(), s);
  c.login();
  size_t before = count("Drafts");
  // Each piece fits, the whole does not (the draft alone is over 40 bytes).
  EXPECT_TRUE(has(c.send("t APPEND Drafts CATENATE (URL " + url("1") + ")"), "t NO [TOOBIG]")) << c.last.bytes;
  // RFC 3501 §4.3: NUL only in literal8.
  EXPECT_TRUE(has(c.raw("n APPEND Drafts CATENATE (TEXT {3+}\r\na" + std::string(1, '\0') + "b)\r\n"), "n BAD"))
      << c.last.bytes;
  EXPECT_EQ(count("Drafts"), before);
  EXPECT_TRUE(has(c.raw("n8 APPEND Drafts CATENATE (TEXT ~{10+}\r\nA: b\r\n\r\n" + std::string(1, '\0') + "c)\r\n"),
                  "n8 OK")) << c.last.bytes;
  EXPECT_EQ(last_message("Drafts"), std::string("A: b\r\n\r\n\0c", 10));
}

}  // namespace
}  // namespace tern::imapd::test
