// ACL (RFC 4314) and the shared namespace (RFC 2342) through the session against a real
// Store: bob (the harness's user) owns mailboxes and shares them with eve.
#include "session_harness.h"
#include "store/acl.h"

namespace tern::imapd::test {
namespace {

constexpr const char* kEve = "eve@example.test";

class AclTest : public SessionTest {
 protected:
  void share(const std::string& mailbox, const std::string& rights) {
    ASSERT_TRUE(store().ensure_user(kUser).ok());  // Drafts, Sent... as at bob's first login
    ASSERT_TRUE(store().set_acl(kUser, mailbox, kEve, *store::acl::parse(rights)).ok());
  }
  std::unique_ptr<Client> eve() {
    auto c = std::make_unique<Client>(backend());
    EXPECT_TRUE(has(c->send("E1 LOGIN eve@example.test evepass"), "E1 OK")) << c->last.bytes;
    return c;
  }
};

// RFC 4314 §3.1 / §3.3 examples (Chris is eve here): "+" adds to the current rights, the
// obsolete "c"/"d" stand for "k" and "x t e" and are returned whenever one of theirs is held.
TEST_F(AclTest, Rfc4314_3_SetaclGetaclExamples) {
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("c CAPABILITY"), " ACL RIGHTS=texk ")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("A001 SETACL Drafts eve@example.test lrswi"), "A001 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("A002 SETACL Drafts eve@example.test +cda"), "A002 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("A003 GETACL Drafts"),
                  "* ACL Drafts bob@example.test lrswipkxteacd eve@example.test lrswikxteacd\r\nA003 OK"))
      << c.last.bytes;
  EXPECT_TRUE(has(c.send("A004 SETACL Drafts eve@example.test -d"), "A004 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("A005 GETACL Drafts"), " eve@example.test lrswikac\r\n")) << c.last.bytes;
  // RFC 4314 §3.2: DELETEACL removes the entry.
  EXPECT_TRUE(has(c.send("A006 DELETEACL Drafts eve@example.test"), "A006 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("A007 GETACL Drafts"), "* ACL Drafts bob@example.test lrswipkxteacd\r\nA007 OK"))
      << c.last.bytes;
  // RFC 4314 §3.4 (LISTRIGHTS): the owner's rights are all required; others get each alone.
  EXPECT_TRUE(has(c.send("A008 LISTRIGHTS Drafts eve@example.test"),
                  "* LISTRIGHTS Drafts eve@example.test \"\" l r s w i p k x t e a\r\nA008 OK"))
      << c.last.bytes;
  EXPECT_TRUE(has(c.send("A009 LISTRIGHTS Drafts bob@example.test"),
                  "* LISTRIGHTS Drafts bob@example.test lrswipkxteacd\r\n"))
      << c.last.bytes;
  // RFC 4314 §3.5: MYRIGHTS.
  EXPECT_TRUE(has(c.send("A010 MYRIGHTS INBOX"), "* MYRIGHTS INBOX lrswipkxteacd\r\nA010 OK")) << c.last.bytes;
}

TEST_F(AclTest, Rfc4314_3_1_SetaclErrors) {
  Client c(backend());
  c.login();
  // An unknown right is BAD; the owner's rights and negative rights cannot be set.
  EXPECT_TRUE(has(c.send("B1 SETACL Drafts eve@example.test lrz"), "B1 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("B2 SETACL Drafts bob@example.test l"), "B2 NO [CANNOT]")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("B3 SETACL Drafts -eve@example.test l"), "B3 NO [CANNOT]")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("B4 SETACL Nope eve@example.test l"), "B4 NO [NONEXISTENT]")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("B5 SETACL Drafts"), "B5 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("B6 SETACL Drafts nobody l"), "B6 NO")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("B7 SETACL Drafts ANYONE lr"), "B7 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("B8 GETACL Drafts"), " anyone lr\r\n")) << c.last.bytes;
}

// RFC 2342 / RFC 4314 §4: eve sees what bob shared with "l" as #shared/bob@example.test/...,
// and a mailbox without "l" and "r" is as if it did not exist.
TEST_F(AclTest, Rfc4314_4_SharedNamespaceAndVisibility) {
  share("Drafts", "lr");
  share("Sent", "r");      // readable, not listed
  auto e = eve();
  EXPECT_TRUE(has(e->send("N NAMESPACE"), "* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\"))")) << e->last.bytes;
  std::string out = e->send("L LIST \"\" \"#shared/*\"");
  EXPECT_TRUE(has(out, "\"/\" #shared/bob@example.test\r\n")) << out;
  EXPECT_TRUE(has(out, "(\\HasNoChildren) \"/\" #shared/bob@example.test/Drafts\r\n")) << out;
  EXPECT_FALSE(has(out, "Sent")) << out;
  EXPECT_FALSE(has(out, "INBOX")) << out;
  EXPECT_TRUE(has(e->send("S STATUS #shared/bob@example.test/Sent (MESSAGES)"),
                  "* STATUS #shared/bob@example.test/Sent (MESSAGES 0)")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("X EXAMINE #shared/bob@example.test/INBOX"), "X NO [NONEXISTENT]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("Y MYRIGHTS #shared/bob@example.test/Trash"), "Y NO [NONEXISTENT]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("Z SELECT #shared/nobody@example.test/INBOX"), "Z NO [NONEXISTENT]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("G GETACL #shared/bob@example.test/Drafts"), "G NO [NOPERM]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("M MYRIGHTS #shared/bob@example.test/Drafts"),
                  "* MYRIGHTS #shared/bob@example.test/Drafts lr\r\n")) << e->last.bytes;
  // LIST-STATUS on a shared mailbox (needs "r" as STATUS does).
  out = e->send("LS LIST \"\" \"#shared/%/%\" RETURN (STATUS (MESSAGES))");
  EXPECT_TRUE(has(out, "* STATUS #shared/bob@example.test/Drafts (MESSAGES 0)")) << out;
  // A user's own mailboxes are in the personal namespace only; "#shared" is reserved.
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("O SELECT #shared/bob@example.test/INBOX"), "O NO [NONEXISTENT]")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("P CREATE #shared"), "P NO [CANNOT]")) << c.last.bytes;
}

// RFC 4314 §4: SELECT needs "r"; without "s", "w", "t", "e" it is read-only; reading does not
// set \Seen without "s"; the owner's new mail reaches eve's session.
TEST_F(AclTest, Rfc4314_4_ReadOnlyShareAndNotifications) {
  deliver(message("one"));
  share("INBOX", "lr");
  auto e = eve();
  std::string out = e->send("S SELECT #shared/bob@example.test/INBOX");
  EXPECT_TRUE(has(out, "* 1 EXISTS")) << out;
  EXPECT_TRUE(has(out, "[PERMANENTFLAGS ()]")) << out;
  EXPECT_TRUE(has(out, "S OK [READ-ONLY]")) << out;
  EXPECT_TRUE(has(e->send("F FETCH 1 BODY[]"), "Subject: one")) << e->last.bytes;
  EXPECT_FALSE(has(e->last.bytes, "\\Seen")) << e->last.bytes;
  auto snap = store().snapshot_flags(kUser, "INBOX");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->messages[0].flags.system & store::kSeen, 0u);
  EXPECT_TRUE(has(e->send("T STORE 1 +FLAGS (\\Flagged)"), "T NO")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("X EXPUNGE"), "X NO")) << e->last.bytes;
  int before = backend().notified->load();
  deliver(message("two"));
  EXPECT_GT(backend().notified->load(), before);  // eve's watch fired
  EXPECT_TRUE(has(e->send("N NOOP"), "* 2 EXISTS")) << e->last.bytes;
}

// RFC 4314 §4: \Seen needs "s", \Deleted "t", other flags "w"; EXPUNGE "e"; APPEND and COPY
// into "i"; CREATE below needs "k", DELETE "x".
TEST_F(AclTest, Rfc4314_4_RightsPerCommand) {
  deliver(message("one"));
  deliver(message("two"));
  share("INBOX", "lrs");
  auto e = eve();
  std::string out = e->send("S SELECT #shared/bob@example.test/INBOX");
  EXPECT_TRUE(has(out, "[PERMANENTFLAGS (\\Seen)]")) << out;
  EXPECT_TRUE(has(out, "S OK [READ-WRITE]")) << out;
  EXPECT_TRUE(has(e->send("A STORE 1 +FLAGS (\\Seen)"), "A OK")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("B STORE 1 +FLAGS ($Label)"), "B NO [NOPERM]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("C STORE 1 +FLAGS (\\Deleted)"), "C NO [NOPERM]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("D STORE 1 FLAGS (\\Seen)"), "D NO [NOPERM]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("E EXPUNGE"), "E NO [NOPERM]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("F MOVE 1 INBOX"), "F NO [NOPERM]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("G APPEND #shared/bob@example.test/INBOX {3+}\r\nhi\n"), "G NO [NOPERM]")) << e->last.bytes;
  // COPY from bob's mailbox into eve's own: copies appended, flags kept.
  out = e->send("H COPY 1:2 INBOX");
  EXPECT_TRUE(has(out, "H OK [COPYUID ")) << out;
  auto mine = store().snapshot_flags(kEve, "INBOX");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->messages.size(), 2u);
  EXPECT_NE(mine->messages[0].flags.system & store::kSeen, 0u);
  EXPECT_TRUE(has(e->send("I CREATE #shared/bob@example.test/INBOX/Sub"), "I NO [NOPERM]")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("J DELETE #shared/bob@example.test/INBOX"), "J NO")) << e->last.bytes;

  share("INBOX", "lrstweikx");
  out = e->send("S2 SELECT #shared/bob@example.test/INBOX");
  EXPECT_TRUE(has(out, "[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]")) << out;
  EXPECT_TRUE(has(e->send("K STORE 2 +FLAGS (\\Deleted)"), "K OK")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("L EXPUNGE"), "* 2 EXPUNGE\r\nL OK")) << e->last.bytes;
  EXPECT_TRUE(has(e->send("M APPEND #shared/bob@example.test/INBOX (\\Flagged) {3+}\r\nhi\n"), "M OK [APPENDUID"))
      << e->last.bytes;
  EXPECT_TRUE(has(e->send("N CREATE #shared/bob@example.test/INBOX/Sub"), "N OK")) << e->last.bytes;
  auto st = store().mailbox_status(kUser, "INBOX/Sub");
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(has(e->send("O DELETE #shared/bob@example.test/INBOX/Sub"), "O NO [NONEXISTENT]")) << e->last.bytes;
  share("INBOX/Sub", "lx");
  EXPECT_TRUE(has(e->send("P DELETE #shared/bob@example.test/INBOX/Sub"), "P OK")) << e->last.bytes;
  EXPECT_FALSE(store().mailbox_status(kUser, "INBOX/Sub").ok());
}

}  // namespace
}  // namespace tern::imapd::test
