// Session transcripts: greeting, capabilities per state, login/authenticate, STARTTLS,
// ENABLE, mailbox commands, LIST variants, bad input.
#include "common/codec.h"
#include "session_harness.h"

#include "common/strings.h"

namespace tern::imapd::test {
namespace {

TEST_F(SessionTest, GreetingCarriesCapabilities) {
  Client c(backend());
  EXPECT_EQ(c.greeting.rfind("* OK [CAPABILITY IMAP4rev2 IMAP4rev1 ", 0), 0u) << c.greeting;
  EXPECT_TRUE(has(c.greeting, "AUTH=PLAIN"));
  EXPECT_FALSE(has(c.greeting, "LOGINDISABLED"));
  std::string out = c.send("a1 CAPABILITY");
  EXPECT_TRUE(has(out, "* CAPABILITY IMAP4rev2 IMAP4rev1")) << out;
  EXPECT_TRUE(has(out, "a1 OK")) << out;
}

TEST_F(SessionTest, PlaintextRefusedUntilTls) {
  SessionSettings s = Client::default_settings();
  s.allow_plaintext_auth = false;
  s.tls_available = true;
  Client c(backend(), s);
  EXPECT_TRUE(has(c.greeting, "STARTTLS"));
  EXPECT_TRUE(has(c.greeting, "LOGINDISABLED"));
  EXPECT_FALSE(has(c.greeting, "AUTH=PLAIN"));
  EXPECT_TRUE(has(c.login(), "L1 NO [PRIVACYREQUIRED]"));
  EXPECT_TRUE(has(c.send("a2 AUTHENTICATE PLAIN"), "a2 NO [PRIVACYREQUIRED]"));
  // RFC 9051 §6.2.1: input pipelined after STARTTLS is discarded.
  std::string out = c.raw("a3 STARTTLS\r\na4 NOOP\r\n");
  EXPECT_TRUE(has(out, "a3 OK")) << out;
  EXPECT_FALSE(has(out, "a4")) << out;
  EXPECT_TRUE(c.last.start_tls);
  c.session().tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384");
  out = c.send("a5 CAPABILITY");
  EXPECT_TRUE(has(out, "AUTH=PLAIN")) << out;
  EXPECT_FALSE(has(out, "STARTTLS")) << out;
  EXPECT_FALSE(has(out, "LOGINDISABLED")) << out;
  EXPECT_TRUE(has(c.login(), "L1 OK"));
}

// RFC 4978 §3: COMPRESS in the authenticated and selected states; the tagged OK is the
// last uncompressed byte, and input pipelined after the command is not acted on.
TEST_F(SessionTest, CompressDeflate) {
  SessionSettings s = Client::default_settings();
  s.compress_available = true;
  Client c(backend(), s);
  EXPECT_FALSE(has(c.greeting, "COMPRESS=DEFLATE"));
  EXPECT_TRUE(has(c.send("a1 COMPRESS DEFLATE"), "a1 BAD"));  // not authenticated
  EXPECT_TRUE(has(c.login(), "COMPRESS=DEFLATE"));
  EXPECT_TRUE(has(c.send("a2 COMPRESS LZMA"), "a2 BAD"));
  EXPECT_TRUE(has(c.send("a3 COMPRESS"), "a3 BAD"));
  EXPECT_FALSE(c.last.start_compress);
  std::string out = c.raw("a4 compress deflate\r\na5 NOOP\r\n");
  EXPECT_TRUE(has(out, "a4 OK")) << out;
  EXPECT_FALSE(has(out, "a5")) << out;
  EXPECT_TRUE(c.last.start_compress);
  out = c.send("a6 COMPRESS DEFLATE");
  EXPECT_TRUE(has(out, "a6 NO [COMPRESSIONACTIVE]")) << out;
  EXPECT_FALSE(c.last.start_compress);
  EXPECT_TRUE(has(c.send("a7 SELECT INBOX"), "a7 OK"));
}

TEST_F(SessionTest, CompressNotOfferedWithoutTheConnectionsSupport) {
  Client c(backend());
  EXPECT_FALSE(has(c.login(), "COMPRESS=DEFLATE"));
  EXPECT_TRUE(has(c.send("a1 COMPRESS DEFLATE"), "a1 BAD"));
  EXPECT_FALSE(c.last.start_compress);
}

TEST_F(SessionTest, LoginSuccessAndFailure) {
  Client c(backend());
  std::string out = c.send("a1 LOGIN bob@example.test wrong");
  EXPECT_TRUE(has(out, "a1 NO [AUTHENTICATIONFAILED]")) << out;
  EXPECT_EQ(c.session().state(), State::not_authenticated);
  out = c.send("a2 LOGIN \"Bob@Example.test\" {7+}\r\nhunter2");
  EXPECT_TRUE(has(out, "a2 OK [CAPABILITY IMAP4rev2")) << out;
  EXPECT_EQ(c.session().user(), kUser);
  EXPECT_EQ(c.session().state(), State::authenticated);
  EXPECT_TRUE(has(c.send("a3 LOGIN x y"), "a3 BAD"));
}

TEST_F(SessionTest, SynchronizingLiteralGetsContinuation) {
  Client c(backend());
  std::string out = c.send("a1 LOGIN {16}");
  EXPECT_EQ(out, "+ Ready for literal data\r\n");
  out = c.send("bob@example.test {7}");
  EXPECT_EQ(out, "+ Ready for literal data\r\n");
  out = c.send("hunter2");
  EXPECT_TRUE(has(out, "a1 OK")) << out;
}

TEST_F(SessionTest, AuthenticatePlainWithAndWithoutInitialResponse) {
  Client c(backend());
  std::string ir = base64_encode(std::string("\0bob@example.test\0hunter2", 25));
  std::string out = c.send("a1 AUTHENTICATE PLAIN " + ir);
  EXPECT_TRUE(has(out, "a1 OK")) << out;

  Client d(backend());
  out = d.send("b1 AUTHENTICATE PLAIN");
  EXPECT_EQ(out, "+ \r\n");
  out = d.send(ir);
  EXPECT_TRUE(has(out, "b1 OK")) << out;

  Client e(backend());
  out = e.send("c1 AUTHENTICATE LOGIN");
  EXPECT_EQ(out.rfind("+ ", 0), 0u);
  out = e.send(base64_encode("bob@example.test"));
  EXPECT_EQ(out.rfind("+ ", 0), 0u);
  out = e.send(base64_encode("hunter2"));
  EXPECT_TRUE(has(out, "c1 OK")) << out;

  Client f(backend());
  f.send("d1 AUTHENTICATE PLAIN");
  EXPECT_TRUE(has(f.send("*"), "d1 BAD"));
  EXPECT_TRUE(has(f.send("d2 AUTHENTICATE CRAM-MD5"), "d2 NO"));
}

TEST_F(SessionTest, CommandsInWrongStateAndUnknownCommands) {
  Client c(backend());
  EXPECT_TRUE(has(c.send("a1 SELECT INBOX"), "a1 BAD"));
  EXPECT_TRUE(has(c.send("a2 FROBNICATE"), "a2 BAD"));
  c.login();
  EXPECT_TRUE(has(c.send("a3 FETCH 1 FLAGS"), "a3 BAD"));
  EXPECT_TRUE(has(c.send("a4 LOGIN a b"), "a4 BAD"));
  EXPECT_TRUE(has(c.send("a5 SELECT"), "a5 BAD"));
  EXPECT_TRUE(has(c.send("no-space-here"), "BAD"));
  EXPECT_FALSE(c.session().closed());
}

TEST_F(SessionTest, TooManyErrorsSayBye) {
  SessionSettings s = Client::default_settings();
  s.max_errors = 3;
  Client c(backend(), s);
  c.send("a1 BOGUS");
  c.send("a2 BOGUS");
  std::string out = c.send("a3 BOGUS");
  EXPECT_TRUE(has(out, "a3 BAD")) << out;
  EXPECT_TRUE(has(out, "* BYE")) << out;
  EXPECT_TRUE(c.last.close_after_write);
  EXPECT_TRUE(c.session().closed());
  EXPECT_EQ(c.send("a4 NOOP"), "");
}

TEST_F(SessionTest, LogoutSaysByeThenOk) {
  Client c(backend());
  std::string out = c.send("a1 LOGOUT");
  EXPECT_LT(out.find("* BYE"), out.find("a1 OK")) << out;
  EXPECT_TRUE(c.last.close_after_write);
}

TEST_F(SessionTest, IdAndNamespaceAndEnable) {
  Client c(backend());
  EXPECT_TRUE(has(c.send("a1 ID (\"name\" \"test\")"), "* ID ("));
  c.login();
  EXPECT_TRUE(has(c.send("a2 NAMESPACE"), "* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\"))"));
  std::string out = c.send("a3 ENABLE IMAP4rev2 QRESYNC X-UNKNOWN");
  EXPECT_TRUE(has(out, "* ENABLED IMAP4rev2 QRESYNC\r\n")) << out;
  out = c.send("a4 ENABLE IMAP4rev2");
  EXPECT_TRUE(has(out, "* ENABLED\r\n")) << out;
}

TEST_F(SessionTest, SelectAndExamine) {
  deliver(message("one"));
  deliver(message("two"), "INBOX", store::Flags{store::kSeen, {"$Label1"}});
  Client c(backend());
  c.login();
  std::string out = c.send("a1 SELECT INBOX");
  EXPECT_TRUE(has(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)")) << out;
  EXPECT_TRUE(has(out, "* 2 EXISTS")) << out;
  EXPECT_TRUE(has(out, "* 2 RECENT")) << out;  // the first session told of them
  EXPECT_TRUE(has(out, "* OK [UNSEEN 1]")) << out;
  EXPECT_TRUE(has(out, "* OK [UIDVALIDITY ")) << out;
  EXPECT_TRUE(has(out, "* OK [UIDNEXT 3]")) << out;
  EXPECT_TRUE(has(out, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 \\*)]")) << out;
  EXPECT_TRUE(has(out, "* OK [HIGHESTMODSEQ ")) << out;
  EXPECT_TRUE(has(out, "a1 OK [READ-WRITE]")) << out;
  EXPECT_EQ(c.session().state(), State::selected);

  out = c.send("a2 EXAMINE Sent");
  EXPECT_TRUE(has(out, "* OK [CLOSED]")) << out;
  EXPECT_TRUE(has(out, "* 0 EXISTS")) << out;
  EXPECT_TRUE(has(out, "a2 OK [READ-ONLY]")) << out;
  EXPECT_TRUE(has(c.send("a3 STORE 1 +FLAGS \\Seen"), "a3 NO [READ-ONLY]"));

  out = c.send("a4 SELECT Nope");
  EXPECT_TRUE(has(out, "a4 NO [NONEXISTENT]")) << out;
  EXPECT_EQ(c.session().state(), State::authenticated);

  c.send("a5 ENABLE IMAP4rev2");
  out = c.send("a6 SELECT inbox");
  EXPECT_FALSE(has(out, "RECENT")) << out;
  EXPECT_TRUE(has(out, "* LIST () \"/\" INBOX")) << out;
}

TEST_F(SessionTest, CreateRenameDeleteSubscribe) {
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("a1 CREATE Projects/"), "a1 OK"));
  EXPECT_TRUE(has(c.send("a2 CREATE Projects/Tern"), "a2 OK"));
  EXPECT_TRUE(has(c.send("a3 CREATE Projects"), "a3 NO [ALREADYEXISTS]"));
  EXPECT_TRUE(has(c.send("a4 CREATE \"a/../b\""), "a4 NO"));
  EXPECT_TRUE(has(c.send("a5 CREATE \"a\x01b\""), "a5 "));
  EXPECT_TRUE(has(c.send("a6 DELETE INBOX"), "a6 NO"));
  EXPECT_TRUE(has(c.send("a7 RENAME Projects Work"), "a7 OK"));
  std::string out = c.send("a8 LIST \"\" \"Work*\"");
  EXPECT_TRUE(has(out, "* LIST (\\HasChildren) \"/\" Work\r\n")) << out;
  EXPECT_TRUE(has(out, "* LIST (\\HasNoChildren) \"/\" Work/Tern\r\n")) << out;
  EXPECT_TRUE(has(c.send("a9 DELETE Work/Tern"), "a9 OK"));
  EXPECT_TRUE(has(c.send("b1 DELETE Work/Tern"), "b1 NO"));
  EXPECT_TRUE(has(c.send("b2 SUBSCRIBE Work"), "b2 OK"));
  out = c.send("b3 LSUB \"\" \"*\"");
  EXPECT_TRUE(has(out, "* LSUB () \"/\" Work\r\n")) << out;
  EXPECT_TRUE(has(out, "* LSUB () \"/\" INBOX\r\n")) << out;
  EXPECT_TRUE(has(c.send("b4 UNSUBSCRIBE Work"), "b4 OK"));
  EXPECT_FALSE(has(c.send("b5 LSUB \"\" \"*\""), "Work"));
}

// RFC 6154 §3 CREATE-SPECIAL-USE: the attribute is set at creation, or nothing is created.
TEST_F(SessionTest, Rfc6154_3_CreateSpecialUse) {
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("a0 CAPABILITY"), " CREATE-SPECIAL-USE"));
  EXPECT_TRUE(has(c.send("a1 CREATE Receipts (USE (\\archive))"), "a1 OK"));
  std::string out = c.send("a2 LIST \"\" Receipts");
  EXPECT_TRUE(has(out, "* LIST (\\HasNoChildren \\Archive) \"/\" Receipts\r\n")) << out;
  EXPECT_TRUE(has(c.send("a3 CREATE Odd (USE (\\Important))"), "a3 NO [USE]"));
  EXPECT_TRUE(has(c.send("a4 CREATE Two (USE (\\Sent \\Junk))"), "a4 NO [USE]"));
  out = c.send("a5 LIST \"\" *");
  EXPECT_FALSE(has(out, "Odd")) << out;
  EXPECT_FALSE(has(out, "Two")) << out;
  EXPECT_TRUE(has(c.send("a6 CREATE Plain (USE ())"), "a6 OK"));
}

// RFC 5032: WITHIN is advertised; OLDER/YOUNGER count seconds back from now.
TEST_F(SessionTest, Rfc5032_WithinAdvertisedAndSearched) {
  deliver(message("m"));  // internal date == the test clock's now
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("a0 CAPABILITY"), " WITHIN"));
  c.send("s SELECT INBOX");
  EXPECT_TRUE(has(c.send("s1 SEARCH YOUNGER 60"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c.send("s2 SEARCH OLDER 60"), "* SEARCH\r\n"));
}

TEST_F(SessionTest, ListVariants) {
  deliver(message("x"));
  Client c(backend());
  c.login();
  c.send("a0 CREATE Archive/2023");
  std::string out = c.send("a1 LIST \"\" \"*\"");
  EXPECT_EQ(out.find("* LIST"), out.find("* LIST (\\HasNoChildren) \"/\" INBOX")) << out;  // INBOX first
  EXPECT_TRUE(has(out, "* LIST (\\HasNoChildren \\Sent) \"/\" Sent")) << out;
  EXPECT_TRUE(has(out, "* LIST (\\HasChildren \\Archive) \"/\" Archive")) << out;
  out = c.send("a2 LIST \"\" \"%\"");
  EXPECT_FALSE(has(out, "Archive/2023")) << out;
  out = c.send("a3 LIST \"\" \"\"");
  EXPECT_TRUE(has(out, "* LIST (\\Noselect) \"/\" \"\"")) << out;
  out = c.send("a4 LIST (SPECIAL-USE) \"\" \"*\"");
  EXPECT_FALSE(has(out, "INBOX")) << out;
  EXPECT_TRUE(has(out, "\\Trash) \"/\" Trash")) << out;
  c.send("a5 SUBSCRIBE Gone");
  out = c.send("a6 LIST (SUBSCRIBED) \"\" \"*\"");
  EXPECT_TRUE(has(out, "(\\NonExistent \\Subscribed) \"/\" Gone")) << out;
  EXPECT_FALSE(has(out, "2023")) << out;
  out = c.send("a7 LIST \"\" \"INBOX\" RETURN (STATUS (MESSAGES UNSEEN SIZE DELETED))");
  EXPECT_TRUE(has(out, "* STATUS INBOX (MESSAGES 1 UNSEEN 1 SIZE ")) << out;
  EXPECT_TRUE(has(out, " DELETED 0)")) << out;
  out = c.send("a8 list \"\" inbox");
  EXPECT_TRUE(has(out, "\"/\" INBOX")) << out;
}

TEST_F(SessionTest, ModifiedUtf7NamesForRev1AndUtf8AfterEnable) {
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("a1 CREATE \"&AMQ-pfel\""), "a1 OK"));
  EXPECT_TRUE(has(c.send("a2 CREATE \"bad&name\""), "a2 NO"));
  std::string out = c.send("a3 LIST \"\" \"&AMQ-*\"");
  EXPECT_TRUE(has(out, "\"/\" &AMQ-pfel\r\n")) << out;
  c.send("a4 ENABLE UTF8=ACCEPT");
  out = c.send("a5 LIST \"\" \"\xC3\x84*\"");
  EXPECT_TRUE(has(out, "\"/\" \"\xC3\x84pfel\"\r\n")) << out;
  out = c.send("a6 STATUS \"\xC3\x84pfel\" (MESSAGES)");
  EXPECT_TRUE(has(out, "* STATUS \"\xC3\x84pfel\" (MESSAGES 0)")) << out;
}

TEST_F(SessionTest, StatusItems) {
  deliver(message("a"));
  deliver(message("b"), "INBOX", store::Flags{store::kSeen | store::kDeleted, {}});
  Client c(backend());
  c.login();
  std::string out = c.send("a1 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)");
  EXPECT_TRUE(has(out, "* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ")) << out;
  EXPECT_TRUE(has(out, "UNSEEN 1 DELETED 1 SIZE ")) << out;
  EXPECT_TRUE(has(out, "HIGHESTMODSEQ ")) << out;
  EXPECT_TRUE(has(c.send("a2 STATUS Nope (MESSAGES)"), "a2 NO"));
}

TEST_F(SessionTest, Quota) {
  backend().quota_bytes = 10 * 1024 * 1024;
  deliver(message("a", std::string(3000, 'x') + "\r\n"));
  Client c(backend());
  c.login();
  std::string out = c.send("a1 GETQUOTAROOT INBOX");
  EXPECT_TRUE(has(out, "* QUOTAROOT INBOX \"\"\r\n")) << out;
  EXPECT_TRUE(has(out, "* QUOTA \"\" (STORAGE 4 10240)")) << out;
  EXPECT_TRUE(has(out, "a1 OK")) << out;
  EXPECT_TRUE(has(c.send("a2 GETQUOTA \"\""), "* QUOTA \"\" (STORAGE 4 10240)"));
  EXPECT_TRUE(has(c.send("a3 GETQUOTA other"), "a3 NO"));
  EXPECT_TRUE(has(c.send("a4 SETQUOTA \"\" (STORAGE 1)"), "a4 NO"));
  EXPECT_TRUE(has(c.send("a5 GETQUOTAROOT"), "a5 BAD"));
}

// RFC 9208 §4.2: a COPY over the quota fails with [OVERQUOTA] and copies nothing; a MOVE
// stays within the user's usage and goes through.
TEST_F(SessionTest, CopyOverQuotaFailsAndMoveDoesNot) {
  deliver(message("a", std::string(3000, 'x') + "\r\n"));
  deliver(message("b", std::string(3000, 'y') + "\r\n"));
  backend().quota_bytes = 7000;
  Client c(backend());
  c.login();
  c.send("s1 SELECT INBOX");
  std::string out = c.send("a1 COPY 1:2 Archive");
  EXPECT_TRUE(has(out, "a1 NO [OVERQUOTA]")) << out;
  EXPECT_TRUE(has(c.send("a2 STATUS Archive (MESSAGES)"), "(MESSAGES 0)"));
  out = c.send("a3 MOVE 1:2 Archive");
  EXPECT_TRUE(has(out, "a3 OK")) << out;
  EXPECT_TRUE(has(c.send("a4 STATUS Archive (MESSAGES)"), "(MESSAGES 2)"));
}

}  // namespace
}  // namespace tern::imapd::test

namespace tern::imapd::test {
namespace {

// RFC 8437: UNAUTHENTICATE returns to the not-authenticated state on the same connection.
TEST_F(SessionTest, Rfc8437_UnauthenticateResetsTheSessionForAnotherLogin) {
  deliver(message("bob's"));
  Client c(backend());
  EXPECT_FALSE(has(c.send("c0 CAPABILITY"), " UNAUTHENTICATE"));
  c.login();
  EXPECT_TRUE(has(c.send("c1 CAPABILITY"), " UNAUTHENTICATE"));
  EXPECT_TRUE(has(c.send("e ENABLE CONDSTORE"), "* ENABLED CONDSTORE"));
  EXPECT_TRUE(has(c.send("s SELECT INBOX"), "* 1 EXISTS"));
  std::string out = c.send("u UNAUTHENTICATE");
  EXPECT_TRUE(has(out, "u OK")) << out;
  EXPECT_FALSE(has(out, "[CLOSED]")) << out;  // §3: no CLOSED response code
  EXPECT_EQ(c.session().state(), State::not_authenticated);
  EXPECT_TRUE(has(c.send("s2 SELECT INBOX"), "s2 BAD")) << c.last.bytes;
  out = c.send("c2 CAPABILITY");
  EXPECT_TRUE(has(out, "AUTH=PLAIN")) << out;
  EXPECT_FALSE(has(out, " UNAUTHENTICATE")) << out;
  // Another user on the same connection sees only their own mail, and CONDSTORE is off.
  EXPECT_TRUE(has(c.send("l LOGIN eve@example.test evepass"), "l OK"));
  out = c.send("s3 SELECT INBOX");
  EXPECT_TRUE(has(out, "* 0 EXISTS")) << out;
  // CONDSTORE was disabled: ENABLE turns it on anew (RFC 5161 §3.2 lists only new ones).
  EXPECT_TRUE(has(c.send("e2 ENABLE CONDSTORE"), "* ENABLED CONDSTORE")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("u2 UNAUTHENTICATE"), "u2 OK"));
  EXPECT_TRUE(has(c.send("u3 UNAUTHENTICATE"), "u3 BAD")) << c.last.bytes;
}

}  // namespace
}  // namespace tern::imapd::test
