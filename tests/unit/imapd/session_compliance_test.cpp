// Regression tests for the protocol defects of issue 18, each named after the RFC rule it
// enforces. Transcripts against a real Store, as the other session tests.
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

// Position of needle in out (npos when absent), for ordering checks.
size_t at(const std::string& out, const std::string& needle) { return out.find(needle); }

std::string literal_append(const std::string& tag, const std::string& mailbox, const std::string& msg,
                           const std::string& flags = "", bool literal8 = false) {
  return tag + " APPEND " + mailbox + (flags.empty() ? "" : " " + flags) + (literal8 ? " ~{" : " {") +
         std::to_string(msg.size()) + "+}\r\n" + msg + "\r\n";
}

// ---- 1. RFC 3501 §7.2.6 / RFC 9051 §7.3.5: FLAGS before a new keyword is used ----------

TEST_F(SessionTest, Rfc3501_7_2_6_FlagsAnnouncedBeforeNewKeywordUsed) {
  deliver(message("a"));
  deliver(message("b"));
  Client a(backend()), b(backend());
  a.login();
  b.login();
  a.send("s SELECT INBOX");
  b.send("s SELECT INBOX");
  // This session's own STORE: FLAGS and PERMANENTFLAGS (still with \*) before the FETCH.
  std::string out = a.send("a1 STORE 1 +FLAGS ($Label4)");
  size_t flags = at(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label4)\r\n");
  size_t perm = at(out, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label4 \\*)]");
  size_t fetch = at(out, "* 1 FETCH (FLAGS (\\Recent $Label4))");
  ASSERT_NE(flags, std::string::npos) << out;
  ASSERT_NE(perm, std::string::npos) << out;
  ASSERT_NE(fetch, std::string::npos) << out;
  EXPECT_LT(flags, fetch) << out;
  EXPECT_LT(perm, fetch) << out;
  // The other session learns of the keyword at its next sync point, before the FETCH.
  out = b.send("b1 NOOP");
  flags = at(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label4)\r\n");
  fetch = at(out, "* 1 FETCH (FLAGS ($Label4))");
  ASSERT_NE(flags, std::string::npos) << out;
  ASSERT_NE(fetch, std::string::npos) << out;
  EXPECT_LT(flags, fetch) << out;
  EXPECT_TRUE(has(out, "$Label4 \\*)]")) << out;
  // Announced once: a second change with known keywords sends no FLAGS.
  a.send("a2 STORE 2 +FLAGS ($Label4)");
  out = b.send("b2 NOOP");
  EXPECT_TRUE(has(out, "* 2 FETCH (FLAGS ($Label4))")) << out;
  EXPECT_FALSE(has(out, "* FLAGS")) << out;
  // APPEND into the selected mailbox with a keyword it has not had: FLAGS comes with the
  // EXISTS, before any FETCH could show the keyword, in both sessions.
  out = a.raw(literal_append("a3", "INBOX", message("c"), "($Fresh)"));
  out += a.send("a4 FETCH 3 (FLAGS)");
  flags = at(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Fresh $Label4)\r\n");
  fetch = at(out, "* 3 FETCH (FLAGS (");
  ASSERT_NE(flags, std::string::npos) << out;
  ASSERT_NE(fetch, std::string::npos) << out;
  EXPECT_LT(flags, fetch) << out;
  out = b.send("b3 NOOP");
  out += b.send("b4 FETCH 3 (FLAGS)");
  flags = at(out, "$Fresh $Label4)\r\n");
  fetch = at(out, "* 3 FETCH (FLAGS ($Fresh))");
  ASSERT_NE(flags, std::string::npos) << out;
  ASSERT_NE(fetch, std::string::npos) << out;
  EXPECT_LT(flags, fetch) << out;
  // A read-only session is told the FLAGS but its PERMANENTFLAGS stay ().
  Client e(backend());
  e.login();
  e.send("e0 EXAMINE INBOX");
  a.send("a5 STORE 1 +FLAGS.SILENT ($Other)");
  out = e.send("e1 NOOP");
  EXPECT_TRUE(has(out, "$Other)\r\n")) << out;
  EXPECT_FALSE(has(out, "PERMANENTFLAGS")) << out;
}

// ---- 2. RFC 2180 §4.1 / RFC 9051 §7.4.1: FETCH of a message expunged meanwhile ---------

TEST_F(SessionTest, Rfc2180_4_1_FetchWithExpungedMessageAnswersOk) {
  uint32_t u1 = deliver(message("a"));
  uint32_t u2 = deliver(message("b"));
  deliver(message("c"));
  (void)u1;
  // Streaming after every message lets another session's EXPUNGE land in the middle of the
  // FETCH: message 2's row was listed, its file is gone by the time it is read.
  SessionSettings s = Client::default_settings();
  s.stream_threshold = 1;
  Client b(backend(), s);
  b.login();
  b.send("s SELECT INBOX");
  bool done = false;
  backend().on_partial = [&] {
    if (done) return;
    done = true;
    store::Flags del;
    del.system = store::kDeleted;
    ASSERT_TRUE(store().store_flags(kUser, "INBOX", {u2}, store::FlagOp::add, del).ok());
    ASSERT_TRUE(store().expunge(kUser, "INBOX", {u2}).ok());
  };
  std::string out = b.send("f1 FETCH 1:3 (UID BODY.PEEK[])");
  out = backend().streamed + out;
  EXPECT_TRUE(done);
  EXPECT_TRUE(has(out, "* 1 FETCH (UID 1 BODY[] ")) << out;
  EXPECT_TRUE(has(out, "* 3 FETCH (UID 3 BODY[] ")) << out;
  EXPECT_FALSE(has(out, "BODY[] NIL")) << out;
  EXPECT_TRUE(has(out, "f1 OK")) << out;
  EXPECT_FALSE(has(out, "f1 NO")) << out;
  // No EXPUNGE during FETCH (RFC 9051 §7.5.1); the next allowed point reports it.
  EXPECT_FALSE(has(out, "EXPUNGE\r\n")) << out;
  out = b.send("n1 NOOP");
  EXPECT_TRUE(has(out, "* 2 EXPUNGE")) << out;
  // A message whose row was already gone when FETCH listed them: OK as well.
  Client a(backend()), c(backend());
  a.login();
  c.login();
  a.send("s SELECT INBOX");
  c.send("s SELECT INBOX");
  a.send("a1 STORE 1 +FLAGS.SILENT (\\Deleted)");
  a.send("a2 EXPUNGE");
  out = c.send("c1 FETCH 1:2 (UID FLAGS BODY.PEEK[HEADER])");
  EXPECT_TRUE(has(out, "* 2 FETCH (UID 3 ")) << out;
  EXPECT_TRUE(has(out, "c1 OK")) << out;
  EXPECT_FALSE(has(out, "EXPUNGE\r\n")) << out;
}

// ---- 3. RFC 7162 §3.1: the first CONDSTORE enabling command -----------------------------

TEST_F(SessionTest, Rfc7162_3_1_FirstCondstoreEnablingFetchSendsHighestModseq) {
  deliver(message("a"));
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  auto st = store().mailbox_status(kUser, "INBOX");
  ASSERT_TRUE(st.ok());
  std::string out = c.send("f1 FETCH 1 (FLAGS MODSEQ)");
  size_t hms = at(out, "* OK [HIGHESTMODSEQ " + std::to_string(st->highestmodseq) + "]");
  size_t fetch = at(out, "* 1 FETCH (FLAGS (\\Recent) MODSEQ (");
  ASSERT_NE(hms, std::string::npos) << out;
  ASSERT_NE(fetch, std::string::npos) << out;
  EXPECT_LT(hms, fetch) << out;
  // Only the first time.
  out = c.send("f2 FETCH 1 (FLAGS MODSEQ)");
  EXPECT_FALSE(has(out, "HIGHESTMODSEQ")) << out;
  // The same for SEARCH MODSEQ as the first enabling command of another session.
  Client d(backend());
  d.login();
  d.send("s SELECT INBOX");
  out = d.send("s1 SEARCH MODSEQ 1");
  hms = at(out, "* OK [HIGHESTMODSEQ ");
  ASSERT_NE(hms, std::string::npos) << out;
  EXPECT_LT(hms, at(out, "* SEARCH 1")) << out;
}

// ---- 4. RFC 7162 §3.1.5 (with RFC 4731): ESEARCH MIN/MAX report their own MODSEQ ---------

TEST_F(SessionTest, Rfc7162_3_1_5_EsearchMinMaxModseqIsThatOfReturnedMessages) {
  deliver(message("a"));
  deliver(message("b"));
  deliver(message("c"));
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  // Raise message 3's modseq above the others, then message 2's above message 3's.
  c.send("a1 STORE 3 +FLAGS (\\Flagged)");
  c.send("a2 STORE 2 +FLAGS (\\Seen)");
  auto snap = store().snapshot_flags(kUser, "INBOX");
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->messages.size(), 3u);
  uint64_t m1 = snap->messages[0].modseq, m2 = snap->messages[1].modseq, m3 = snap->messages[2].modseq;
  ASSERT_LT(m1, m3);
  ASSERT_LT(m3, m2);
  std::string out = c.send("e1 SEARCH RETURN (MIN) MODSEQ 1");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"e1\") MIN 1 MODSEQ " + std::to_string(m1) + "\r\n")) << out;
  out = c.send("e2 SEARCH RETURN (MAX) MODSEQ 1");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"e2\") MAX 3 MODSEQ " + std::to_string(m3) + "\r\n")) << out;
  out = c.send("e3 SEARCH RETURN (MIN MAX) MODSEQ 1");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"e3\") MIN 1 MAX 3 MODSEQ " + std::to_string(m3) + "\r\n")) << out;
  // With ALL (or COUNT) the whole result is returned: its highest modseq.
  out = c.send("e4 SEARCH RETURN (MIN ALL) MODSEQ 1");
  EXPECT_TRUE(has(out, "MODSEQ " + std::to_string(m2) + "\r\n")) << out;
}

// ---- 5. RFC 5322 §3.4.1: addresses with CFWS inside the addr-spec ------------------------

TEST_F(SessionTest, Rfc5322_3_4_1_SearchAddressMatchesAddrSpecWrittenWithCfws) {
  deliver("From: <user-from (comment)@ (comment) domain.org>\r\n"
          "To: Bob (the boss) <bob-to@ (x) example.test>, \"Carol\" <carol (c) @example.test>\r\n"
          "Cc: dave (d)\r\n @ example.test\r\n"
          "Subject: cfws\r\n\r\nbody\r\n");
  deliver(message("plain"));
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  EXPECT_TRUE(has(c.send("s1 SEARCH FROM user-from@domain.org"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c.send("s2 SEARCH TO bob-to@example.test"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c.send("s3 SEARCH TO carol@example.test"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c.send("s4 SEARCH CC dave@example.test"), "* SEARCH 1\r\n"));
  // Display names and plain parts still match; other messages do not.
  EXPECT_TRUE(has(c.send("s5 SEARCH TO Carol"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c.send("s6 SEARCH FROM alice@example.test"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(c.send("s7 SEARCH FROM domain.org"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c.send("s8 SEARCH BCC user-from@domain.org"), "* SEARCH\r\n"));
}

// ---- 6. RFC 3501 §6.3.9 LSUB "%", RFC 5258 §3 LIST (SUBSCRIBED RECURSIVEMATCH) -----------

TEST_F(SessionTest, Rfc3501_6_3_9_LsubPercentReturnsNoselectParentOfSubscribedChild) {
  Client c(backend());
  c.login();
  c.send("a1 CREATE Work/Sub");
  c.send("a2 CREATE Work/Sub/Deep");
  c.send("a3 CREATE Play");
  c.send("a3 UNSUBSCRIBE Play");
  c.send("a4 SUBSCRIBE Work/Sub/Deep");
  c.send("a5 UNSUBSCRIBE Work");
  c.send("a6 UNSUBSCRIBE Work/Sub");
  std::string out = c.send("l1 LSUB \"\" %");
  EXPECT_TRUE(has(out, "* LSUB (\\Noselect) \"/\" Work\r\n")) << out;
  EXPECT_FALSE(has(out, "Work/Sub")) << out;
  EXPECT_FALSE(has(out, "Play")) << out;
  out = c.send("l2 LSUB \"\" Work/%");
  EXPECT_TRUE(has(out, "* LSUB (\\Noselect) \"/\" Work/Sub\r\n")) << out;
  // "*" reaches the subscribed name itself: no parent is added.
  out = c.send("l3 LSUB \"\" *");
  EXPECT_TRUE(has(out, "* LSUB () \"/\" Work/Sub/Deep\r\n")) << out;
  EXPECT_FALSE(has(out, "\"/\" Work\r\n")) << out;
  EXPECT_FALSE(has(out, "\"/\" Work/Sub\r\n")) << out;
}

TEST_F(SessionTest, Rfc5258_3_ListSubscribedRecursiveMatchAddsNoUnaskedAttributes) {
  Client c(backend());
  c.login();
  c.send("a0 CREATE Foo");
  c.send("a1 CREATE Foo/Bar");
  c.send("a2 CREATE Foo/Baz");
  c.send("a3 CREATE Moo");
  c.send("a3 UNSUBSCRIBE Moo");
  c.send("a4 SUBSCRIBE Foo/Baz");
  c.send("a5 UNSUBSCRIBE Foo");
  c.send("a6 UNSUBSCRIBE Foo/Bar");
  // RFC 5258 §5 example 8 A: the parent with nothing but CHILDINFO.
  std::string out = c.send("l1 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"");
  EXPECT_TRUE(has(out, "* LIST () \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n")) << out;
  EXPECT_FALSE(has(out, "Moo")) << out;
  EXPECT_FALSE(has(out, "HasChildren")) << out;
  // A subscribed name: \Subscribed only.
  out = c.send("l2 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"Foo/%\"");
  EXPECT_TRUE(has(out, "* LIST (\\Subscribed) \"/\" Foo/Baz\r\n")) << out;
  EXPECT_FALSE(has(out, "Foo/Bar")) << out;
  // Asked for with RETURN (CHILDREN), the children attributes come back.
  out = c.send("l3 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)");
  EXPECT_TRUE(has(out, "* LIST (\\HasChildren) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n")) << out;
  // Example 8 C: subscribed parents with children that are not: no CHILDINFO.
  c.send("a7 SUBSCRIBE Foo");
  c.send("a8 UNSUBSCRIBE Foo/Baz");
  out = c.send("l4 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"");
  EXPECT_TRUE(has(out, "* LIST (\\Subscribed) \"/\" Foo\r\n")) << out;
}

// ---- 7. RFC 3501 / RFC 9051 §4.3: no NUL in a plain literal (RFC 3516 §4.3, §6) -----------

const std::string kBinaryMsg = std::string(
                                   "From: a@example.test\r\n"
                                   "Subject: binary\r\n"
                                   "MIME-Version: 1.0\r\n"
                                   "Content-Type: multipart/mixed; boundary=\"zz\"\r\n"
                                   "\r\n"
                                   "--zz\r\n"
                                   "Content-Type: application/octet-stream\r\n"
                                   "Content-Transfer-Encoding: binary\r\n"
                                   "\r\n") +
                               std::string("ab\0cd", 5) +
                               "\r\n"
                               "--zz\r\n"
                               "Content-Type: text/plain\r\n"
                               "\r\n"
                               "text part\r\n"
                               "--zz--\r\n";

TEST_F(SessionTest, Rfc3516_4_3_NoNulInPlainLiteralAfterLiteral8Append) {
  ASSERT_NE(kBinaryMsg.find('\0'), std::string::npos);
  Client c(backend());
  c.login();
  std::string out = c.raw(literal_append("a1", "INBOX", kBinaryMsg, "", true));
  ASSERT_TRUE(has(out, "a1 OK")) << out;
  c.send("s SELECT INBOX");
  for (const char* item : {"BODY.PEEK[1]", "BODY.PEEK[]", "RFC822", "RFC822.TEXT", "BODY.PEEK[TEXT]",
                           "BODY.PEEK[1.MIME]", "BODYSTRUCTURE", "BODY[1]<0.4>"}) {
    out = c.send(std::string("f FETCH 1 (") + item + ")");
    EXPECT_EQ(out.find('\0'), std::string::npos) << item << ": " << out;
    EXPECT_FALSE(has(out, "~{")) << item << ": " << out;
    EXPECT_TRUE(has(out, "f OK")) << item << ": " << out;
  }
  // The part comes base64-encoded, its MIME header saying so; BODYSTRUCTURE agrees
  // (RFC 3516 §6: BODY[] in the form BODYSTRUCTURE describes).
  out = c.send("f1 FETCH 1 (BODY.PEEK[1])");
  EXPECT_TRUE(has(out, "BODY[1] {8}\r\nYWIAY2Q=)")) << out;
  out = c.send("f2 FETCH 1 (BODY.PEEK[1.MIME])");
  EXPECT_TRUE(has(out, "Content-Transfer-Encoding: base64\r\n")) << out;
  EXPECT_FALSE(has(out, "binary")) << out;
  out = c.send("f3 FETCH 1 (BODYSTRUCTURE)");
  EXPECT_TRUE(has(out, "(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 8 ")) << out;
  out = c.send("f4 FETCH 1 (BODY.PEEK[2])");
  EXPECT_TRUE(has(out, "BODY[2] {9}\r\ntext part)")) << out;
  // BINARY keeps the raw bytes, in literal8.
  out = c.send("b1 FETCH 1 (BINARY.PEEK[1])");
  EXPECT_TRUE(has(out, std::string("BINARY[1] ~{5}\r\nab\0cd)", 22))) << out;
  out = c.send("b2 FETCH 1 (BINARY.PEEK[])");
  EXPECT_TRUE(has(out, "BINARY[] ~{" + std::to_string(kBinaryMsg.size()) + "}\r\n" + kBinaryMsg + ")")) << out;
  out = c.send("b3 FETCH 1 (BINARY.SIZE[1])");
  EXPECT_TRUE(has(out, "BINARY.SIZE[1] 5)")) << out;
}

// A single-part message whose body is binary with a NUL: BODY[TEXT] / BODY[1] base64, the
// header names the new encoding.
TEST_F(SessionTest, Rfc3516_4_3_SinglePartBinaryBodyComesBase64) {
  const std::string msg = "Subject: one\r\nContent-Transfer-Encoding: binary\r\n\r\n" + std::string("x\0y", 3);
  Client c(backend());
  c.login();
  ASSERT_TRUE(has(c.raw(literal_append("a1", "INBOX", msg, "", true)), "a1 OK"));
  c.send("s SELECT INBOX");
  std::string out = c.send("f1 FETCH 1 (BODY.PEEK[TEXT] BODY.PEEK[HEADER] BODY.PEEK[1])");
  EXPECT_EQ(out.find('\0'), std::string::npos) << out;
  EXPECT_TRUE(has(out, "BODY[TEXT] {4}\r\neAB5 ")) << out;
  EXPECT_TRUE(has(out, "Content-Transfer-Encoding: base64\r\n")) << out;
  out = c.send("b1 FETCH 1 (BINARY.PEEK[1])");
  EXPECT_TRUE(has(out, std::string("BINARY[1] ~{3}\r\nx\0y)", 20))) << out;
}

}  // namespace
}  // namespace tern::imapd::test
