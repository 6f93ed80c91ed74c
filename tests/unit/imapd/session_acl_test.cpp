// ACL (RFC 4314) and the shared namespace (RFC 2342) through the session against a real
// Store: bob (the harness's user) owns mailboxes and shares them with eve.
#include "session_harness.h"
#include "store/acl.h"

namespace tern::imapd::test {
namespace {

constexpr const char* kEve = "eve@example.test";

class AclTest : public SessionTest {
 protected:
  // Sends a command line and expects `want` in what the session answers.
  static void expect(Client& c, const std::string& line, const std::string& want) {
    EXPECT_TRUE(has(c.send(line), want)) << line << "\n" << c.last.bytes;
  }
  // Each command (tagged "R") must be refused with NO [code].
  using Refusals = std::vector<std::pair<std::string, std::string>>;
  static void refused(Client& c, const Refusals& commands) {
    for (const auto& [command, code] : commands) expect(c, "R " + command, "R NO [" + code + "]");
  }
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
  expect(c, "c CAPABILITY", " ACL RIGHTS=texk ");
  expect(c, "A001 SETACL Drafts eve@example.test lrswi", "A001 OK");
  expect(c, "A002 SETACL Drafts eve@example.test +cda", "A002 OK");
  expect(c, "A003 GETACL Drafts",
         "* ACL Drafts bob@example.test lrswipkxteacd eve@example.test lrswikxteacd\r\nA003 OK");
  expect(c, "A004 SETACL Drafts eve@example.test -d", "A004 OK");
  expect(c, "A005 GETACL Drafts", " eve@example.test lrswikac\r\n");
  // RFC 4314 §3.2: DELETEACL removes the entry.
  expect(c, "A006 DELETEACL Drafts eve@example.test", "A006 OK");
  expect(c, "A007 GETACL Drafts", "* ACL Drafts bob@example.test lrswipkxteacd\r\nA007 OK");
  // RFC 4314 §3.4 (LISTRIGHTS): the owner's rights are all required; others get each alone.
  expect(c, "A008 LISTRIGHTS Drafts eve@example.test",
         "* LISTRIGHTS Drafts eve@example.test \"\" l r s w i p k x t e a\r\nA008 OK");
  expect(c, "A009 LISTRIGHTS Drafts bob@example.test", "* LISTRIGHTS Drafts bob@example.test lrswipkxteacd\r\n");
  // RFC 4314 §3.5: MYRIGHTS.
  expect(c, "A010 MYRIGHTS INBOX", "* MYRIGHTS INBOX lrswipkxteacd\r\nA010 OK");
}

TEST_F(AclTest, Rfc4314_3_1_SetaclErrors) {
  Client c(backend());
  c.login();
  // An unknown right is BAD; the owner's rights and negative rights cannot be set.
  expect(c, "B1 SETACL Drafts eve@example.test lrz", "B1 BAD");
  expect(c, "B2 SETACL Drafts bob@example.test l", "B2 NO [CANNOT]");
  expect(c, "B3 SETACL Drafts -eve@example.test l", "B3 NO [CANNOT]");
  expect(c, "B4 SETACL Nope eve@example.test l", "B4 NO [NONEXISTENT]");
  expect(c, "B5 SETACL Drafts", "B5 BAD");
  expect(c, "B6 SETACL Drafts nobody l", "B6 NO");
  expect(c, "B7 SETACL Drafts ANYONE lr", "B7 OK");
  expect(c, "B8 GETACL Drafts", " anyone lr\r\n");
}

// RFC 2342 / RFC 4314 §4: eve sees what bob shared with "l" as #shared/bob@example.test/...,
// and a mailbox without "l" and "r" is as if it did not exist.
TEST_F(AclTest, Rfc4314_4_SharedNamespaceAndVisibility) {
  share("Drafts", "lr");
  share("Sent", "r");      // readable, not listed
  auto e = eve();
  expect(*e, "N NAMESPACE", "* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\"))");
  std::string out = e->send("L LIST \"\" \"#shared/*\"");
  EXPECT_TRUE(has(out, "\"/\" #shared/bob@example.test\r\n")) << out;
  EXPECT_TRUE(has(out, "(\\HasNoChildren) \"/\" #shared/bob@example.test/Drafts\r\n")) << out;
  EXPECT_FALSE(has(out, "Sent")) << out;
  EXPECT_FALSE(has(out, "INBOX")) << out;
  expect(*e, "S STATUS #shared/bob@example.test/Sent (MESSAGES)",
         "* STATUS #shared/bob@example.test/Sent (MESSAGES 0)");
  refused(*e, {{"EXAMINE #shared/bob@example.test/INBOX", "NONEXISTENT"},
               {"MYRIGHTS #shared/bob@example.test/Trash", "NONEXISTENT"},
               {"SELECT #shared/nobody@example.test/INBOX", "NONEXISTENT"},
               {"GETACL #shared/bob@example.test/Drafts", "NOPERM"}});
  expect(*e, "M MYRIGHTS #shared/bob@example.test/Drafts", "* MYRIGHTS #shared/bob@example.test/Drafts lr\r\n");
  // LIST-STATUS on a shared mailbox (needs "r" as STATUS does).
  out = e->send("LS LIST \"\" \"#shared/%/%\" RETURN (STATUS (MESSAGES))");
  EXPECT_TRUE(has(out, "* STATUS #shared/bob@example.test/Drafts (MESSAGES 0)")) << out;
  // A user's own mailboxes are in the personal namespace only; "#shared" is reserved.
  Client c(backend());
  c.login();
  expect(c, "O SELECT #shared/bob@example.test/INBOX", "O NO [NONEXISTENT]");
  expect(c, "P CREATE #shared", "P NO [CANNOT]");
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
  expect(*e, "F FETCH 1 BODY[]", "Subject: one");
  EXPECT_FALSE(has(e->last.bytes, "\\Seen")) << e->last.bytes;
  auto snap = store().snapshot_flags(kUser, "INBOX");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->messages[0].flags.system & store::kSeen, 0u);
  expect(*e, "T STORE 1 +FLAGS (\\Flagged)", "T NO");
  expect(*e, "X EXPUNGE", "X NO");
  int before = backend().notified->load();
  deliver(message("two"));
  EXPECT_GT(backend().notified->load(), before);  // eve's watch fired
  expect(*e, "N NOOP", "* 2 EXISTS");
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
  expect(*e, "A STORE 1 +FLAGS (\\Seen)", "A OK");
  refused(*e, {{"STORE 1 +FLAGS ($Label)", "NOPERM"},
               {"STORE 1 +FLAGS (\\Deleted)", "NOPERM"},
               {"STORE 1 FLAGS (\\Seen)", "NOPERM"},
               {"EXPUNGE", "NOPERM"},
               {"MOVE 1 INBOX", "NOPERM"},
               {"APPEND #shared/bob@example.test/INBOX {3+}\r\nhi\n", "NOPERM"}});
  // COPY from bob's mailbox into eve's own: copies appended, flags kept.
  out = e->send("H COPY 1:2 INBOX");
  EXPECT_TRUE(has(out, "H OK [COPYUID ")) << out;
  auto mine = store().snapshot_flags(kEve, "INBOX");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->messages.size(), 2u);
  EXPECT_NE(mine->messages[0].flags.system & store::kSeen, 0u);
  expect(*e, "I CREATE #shared/bob@example.test/INBOX/Sub", "I NO [NOPERM]");
  expect(*e, "J DELETE #shared/bob@example.test/INBOX", "J NO");

  share("INBOX", "lrstweikx");
  out = e->send("S2 SELECT #shared/bob@example.test/INBOX");
  EXPECT_TRUE(has(out, "[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]")) << out;
  expect(*e, "K STORE 2 +FLAGS (\\Deleted)", "K OK");
  expect(*e, "L EXPUNGE", "* 2 EXPUNGE\r\nL OK");
  expect(*e, "M APPEND #shared/bob@example.test/INBOX (\\Flagged) {3+}\r\nhi\n", "M OK [APPENDUID");
  expect(*e, "N CREATE #shared/bob@example.test/INBOX/Sub", "N OK");
  auto st = store().mailbox_status(kUser, "INBOX/Sub");
  EXPECT_TRUE(st.ok());
  expect(*e, "O DELETE #shared/bob@example.test/INBOX/Sub", "O NO [NONEXISTENT]");
  share("INBOX/Sub", "lx");
  expect(*e, "P DELETE #shared/bob@example.test/INBOX/Sub", "P OK");
  EXPECT_FALSE(store().mailbox_status(kUser, "INBOX/Sub").ok());
}

// RFC 4314 §4 with an ACL changed while eve has the mailbox selected: her next commands use
// the new rights (no re-SELECT): without "w"/"t"/"e" STORE and EXPUNGE are refused, without
// "r" FETCH and SEARCH; rights given back work again.
TEST_F(AclTest, Rfc4314_4_AclChangeAppliesToTheSelectedSession) {
  deliver(message("one"));
  share("INBOX", "lrswte");
  auto e = eve();
  EXPECT_TRUE(has(e->send("S SELECT #shared/bob@example.test/INBOX"), "S OK [READ-WRITE]")) << e->last.bytes;
  expect(*e, "A STORE 1 +FLAGS ($One)", "A OK");
  Client bob(backend());
  bob.login();
  expect(bob, "B1 SETACL INBOX eve@example.test lrs", "B1 OK");
  refused(*e, {{"STORE 1 +FLAGS ($Two)", "NOPERM"},
               {"STORE 1 +FLAGS (\\Deleted)", "NOPERM"},
               {"EXPUNGE", "NOPERM"},
               {"UID EXPUNGE 1", "NOPERM"}});
  expect(*e, "C FETCH 1 (FLAGS)", "C OK");
  expect(bob, "B2 SETACL INBOX eve@example.test l", "B2 OK");
  refused(*e, {{"FETCH 1 (FLAGS)", "NOPERM"},
               {"UID FETCH 1 BODY.PEEK[]", "NOPERM"},
               {"SEARCH ALL", "NOPERM"},
               {"UID SORT (DATE) UTF-8 ALL", "NOPERM"},
               {"COPY 1 INBOX", "NOPERM"}});
  EXPECT_FALSE(has(e->last.bytes, "Subject: one"));
  expect(bob, "B3 SETACL INBOX eve@example.test lr", "B3 OK");
  expect(*e, "D FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])", "Subject: one");
  // Losing every right (DELETEACL): nothing but leaving.
  expect(bob, "B4 DELETEACL INBOX eve@example.test", "B4 OK");
  refused(*e, {{"FETCH 1 (FLAGS)", "NOPERM"}});
  expect(*e, "F CLOSE", "F OK");
}

// RFC 9208 §4.3: a shared mailbox is under its owner's quota, which eve sees as the root
// "#shared/<owner>" (GETQUOTA answers it too); a mailbox eve has no right on does not exist.
TEST_F(AclTest, Rfc9208_4_3_QuotaRootOfASharedMailbox) {
  backend().quota_bytes = 1024 * 1024;
  deliver(message("one"));
  share("INBOX", "lr");
  auto e = eve();
  std::string out = e->send("Q1 GETQUOTAROOT #shared/bob@example.test/INBOX");
  EXPECT_TRUE(has(out, "* QUOTAROOT #shared/bob@example.test/INBOX #shared/bob@example.test\r\n")) << out;
  EXPECT_TRUE(has(out, "* QUOTA #shared/bob@example.test (STORAGE 1 1024)\r\nQ1 OK")) << out;
  expect(*e, "Q2 GETQUOTA #shared/bob@example.test", "* QUOTA #shared/bob@example.test (STORAGE 1 1024)\r\nQ2 OK");
  expect(*e, "Q3 GETQUOTAROOT INBOX", "* QUOTAROOT INBOX \"\"\r\n* QUOTA \"\" (STORAGE 0 1024)\r\n");
  expect(*e, "Q4 GETQUOTAROOT #shared/bob@example.test/Sent", "Q4 NO [NONEXISTENT]");
  expect(*e, "Q5 GETQUOTA #shared/nobody@example.test", "Q5 NO [NONEXISTENT]");
}

// RFC 5464 on a shared mailbox: eve reads its /shared entries and keeps her own /private
// ones ("r"); setting a /shared entry needs "w" too; without "r" nothing is read.
TEST_F(AclTest, Rfc5464_MetadataOfASharedMailbox) {
  Client bob(backend());
  bob.login();
  expect(bob, "B1 SETMETADATA INBOX (/shared/comment \"team\" /private/comment \"bob's\")", "B1 OK");
  share("INBOX", "lr");
  auto e = eve();
  const std::string box = "#shared/bob@example.test/INBOX";
  expect(*e, "M1 GETMETADATA " + box + " (/shared/comment /private/comment)",
         "* METADATA " + box + " (/shared/comment \"team\" /private/comment NIL)\r\nM1 OK");
  expect(*e, "M2 SETMETADATA " + box + " (/private/comment \"eve's\")", "M2 OK");
  expect(*e, "M3 GETMETADATA " + box + " (/private/comment)", "(/private/comment \"eve's\")");
  expect(bob, "B2 GETMETADATA INBOX (/private/comment)", "(/private/comment \"bob's\")");
  expect(*e, "M4 SETMETADATA " + box + " (/shared/comment \"eve was here\")", "M4 NO [NOPERM]");
  share("INBOX", "lrw");
  expect(*e, "M5 SETMETADATA " + box + " (/shared/comment \"eve was here\")", "M5 OK");
  expect(bob, "B3 GETMETADATA INBOX (/shared/comment)", "(/shared/comment \"eve was here\")");
  share("INBOX", "l");
  expect(*e, "M6 GETMETADATA " + box + " (/shared/comment)", "M6 NO [NOPERM]");
  expect(*e, "M7 GETMETADATA #shared/bob@example.test/Sent (/shared/comment)", "M7 NO [NONEXISTENT]");
}

}  // namespace
}  // namespace tern::imapd::test
