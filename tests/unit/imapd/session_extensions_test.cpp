// IMAP extensions through the session against a real Store: SAVEDATE (RFC 8514), OBJECTID
// (RFC 8474), METADATA / METADATA-SERVER (RFC 5464).
#include <sqlite3.h>

#include <ctime>

#include "imapd/fetch.h"
#include "imapd/search.h"
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

// date-text of a unix time, as SEARCH writes it ("6-Dec-2026").
std::string day_text(int64_t t) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  Date d = utc_calendar_date(t);
  return std::to_string(d.day) + "-" + kMonths[d.month - 1] + "-" + std::to_string(d.year);
}

class ExtensionsTest : public SessionTest {};

// RFC 8514 §4.1 (FETCH SAVEDATE) and §4.2 (SAVEDBEFORE / SAVEDON / SAVEDSINCE /
// SAVEDATESUPPORTED). The harness appends with internal date 14-Nov-2023; the save date is
// the time of the save (today), so the two kinds of keys select differently.
TEST_F(ExtensionsTest, Rfc8514_FetchAndSearchSaveDate) {
  deliver(message("one"));
  deliver(message("two"));
  const int64_t now = ::time(nullptr);
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("c CAPABILITY"), " SAVEDATE")) << c.last.bytes;
  c.send("s SELECT INBOX");
  std::string out = c.send("f1 FETCH 1:2 (SAVEDATE INTERNALDATE)");
  EXPECT_TRUE(has(out, "* 1 FETCH (SAVEDATE \"" + format_internal_date(now).substr(0, 11)))
      << out;
  EXPECT_TRUE(has(out, "INTERNALDATE \"14-Nov-2023 22:13:20 +0000\")")) << out;
  EXPECT_TRUE(has(out, "f1 OK")) << out;
  const std::string today = day_text(now);
  EXPECT_TRUE(has(c.send("s1 SEARCH SAVEDON " + today), "* SEARCH 1 2\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s2 SEARCH SAVEDSINCE " + today), "* SEARCH 1 2\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s3 SEARCH SAVEDBEFORE " + today), "* SEARCH\r\ns3 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s4 SEARCH SAVEDBEFORE " + day_text(now + 86400)), "* SEARCH 1 2\r\n"))
      << c.last.bytes;
  // The internal date keys still use the internal date.
  EXPECT_TRUE(has(c.send("s5 SEARCH SAVEDON 14-Nov-2023"), "* SEARCH\r\ns5 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s6 SEARCH ON 14-Nov-2023"), "* SEARCH 1 2\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s7 UID SEARCH SAVEDATESUPPORTED"), "* SEARCH 1 2\r\n")) << c.last.bytes;
  // ESEARCH and SORT share the keys.
  EXPECT_TRUE(has(c.send("e1 SEARCH RETURN (COUNT) SAVEDSINCE " + today),
                  "* ESEARCH (TAG \"e1\") COUNT 2\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("o1 SORT (REVERSE SUBJECT) UTF-8 SAVEDON " + today), "* SORT 2 1\r\n"))
      << c.last.bytes;
  // A COPY saves anew: the copy's save date is today, whatever the source's.
  EXPECT_TRUE(has(c.send("k1 COPY 1 Archive"), "k1 OK")) << c.last.bytes;
  c.send("x1 SELECT Archive");
  EXPECT_TRUE(has(c.send("f2 FETCH 1 SAVEDATE"), "* 1 FETCH (SAVEDATE \"")) << c.last.bytes;
  // Bad input: a save date key without its date.
  EXPECT_TRUE(has(c.send("b1 SEARCH SAVEDON"), "b1 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("b2 SEARCH SAVEDSINCE 31-Foo-2020"), "b2 BAD")) << c.last.bytes;
}

// RFC 8514 §4.1: a message whose save date the server does not know (indexed before the
// store kept one) is answered NIL; SAVED* search keys then use its internal date.
TEST_F(ExtensionsTest, Rfc8514_UnknownSaveDateIsNil) {
  deliver(message("old"));
  {  // as a migrated index has it (the store reads its rows afresh for every command)
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/index.db").c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "UPDATE messages SET save_date = NULL", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  EXPECT_TRUE(has(c.send("f FETCH 1 (SAVEDATE)"), "* 1 FETCH (SAVEDATE NIL)\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s1 SEARCH SAVEDON 14-Nov-2023"), "* SEARCH 1\r\n")) << c.last.bytes;
}

// The objectid in "NAME (id)" of a response, or "".
std::string objectid_after(const std::string& out, const std::string& name) {
  size_t p = out.find(name + " (");
  if (p == std::string::npos) return "";
  p += name.size() + 2;
  size_t e = out.find(')', p);
  return e == std::string::npos ? "" : out.substr(p, e - p);
}

// RFC 8474 §4 examples: CREATE answers the MAILBOXID, RENAME keeps it, STATUS and SELECT show
// it; a re-created name gets another one.
TEST_F(ExtensionsTest, Rfc8474_MailboxId) {
  Client c(backend());
  c.login();
  EXPECT_TRUE(has(c.send("c CAPABILITY"), " OBJECTID")) << c.last.bytes;
  std::string out = c.send("3 create foo");
  std::string foo = objectid_after(out, "[MAILBOXID");
  ASSERT_FALSE(foo.empty()) << out;
  EXPECT_TRUE(has(out, "3 OK [MAILBOXID (" + foo + ")]")) << out;
  std::string bar = objectid_after(c.send("4 create bar"), "[MAILBOXID");
  EXPECT_FALSE(bar.empty());
  EXPECT_NE(foo, bar);
  EXPECT_TRUE(has(c.send("5 create foo"), "5 NO")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("6 rename foo renamed"), "6 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("7 status renamed (mailboxid)"), "* STATUS renamed (MAILBOXID (" + foo + "))\r\n"))
      << c.last.bytes;
  EXPECT_TRUE(has(c.send("8 status bar (mailboxid UIDNEXT)"), "* STATUS bar (MAILBOXID (" + bar + ") UIDNEXT 1)"))
      << c.last.bytes;
  EXPECT_TRUE(has(c.send("9 select renamed"), "* OK [MAILBOXID (" + foo + ")]")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("10 examine bar"), "* OK [MAILBOXID (" + bar + ")]")) << c.last.bytes;
  c.send("11 close");
  c.send("12 delete bar");
  std::string again = objectid_after(c.send("13 create bar"), "[MAILBOXID");
  EXPECT_FALSE(again.empty());
  EXPECT_NE(again, bar);
}

// RFC 8474 §5 and §6: EMAILID and THREADID kept by COPY/MOVE, SEARCH EMAILID finds the copy.
TEST_F(ExtensionsTest, Rfc8474_EmailIdAndThreadId) {
  deliver(message("one"));
  deliver(message("two"));
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  std::string out = c.send("6 fetch 1:2 (emailid threadid)");
  std::string one = objectid_after(out, "* 1 FETCH (EMAILID");
  std::string two = objectid_after(out, "* 2 FETCH (EMAILID");
  std::string thread_one = objectid_after(out, ") THREADID");
  ASSERT_FALSE(one.empty()) << out;
  ASSERT_FALSE(thread_one.empty()) << out;
  EXPECT_NE(one, two);
  EXPECT_TRUE(has(out, "* 1 FETCH (EMAILID (" + one + ") THREADID (" + thread_one + "))\r\n")) << out;
  EXPECT_TRUE(has(c.send("7 copy 1 Archive"), "7 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("8 move 2 Trash"), "8 OK")) << c.last.bytes;
  c.send("9 select Archive");
  EXPECT_TRUE(has(c.send("10 fetch 1 (emailid threadid)"),
                  "* 1 FETCH (EMAILID (" + one + ") THREADID (" + thread_one + "))")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("11 search emailid " + one), "* SEARCH 1\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("12 uid search emailid " + two), "* SEARCH\r\n12 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("13 search threadid T123"), "* SEARCH\r\n13 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("13b search threadid " + thread_one), "* SEARCH 1\r\n")) << c.last.bytes;
  c.send("14 select Trash");
  EXPECT_TRUE(has(c.send("15 fetch 1 (emailid)"), "* 1 FETCH (EMAILID (" + two + "))")) << c.last.bytes;
  // RFC 8474 §7: objectid is 1*255 of [A-Za-z0-9_-].
  EXPECT_TRUE(has(c.send("16 search emailid M$x"), "16 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("17 search emailid " + std::string(256, 'a')), "17 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("18 search threadid T$x"), "18 BAD")) << c.last.bytes;
}

// RFC 8474 §5.2: messages of one thread (linked by In-Reply-To / References) share a THREADID,
// an unrelated message has another; SEARCH THREADID finds the whole thread.
TEST_F(ExtensionsTest, Rfc8474_ThreadIdSharedByReplies) {
  deliver(message("root"));
  deliver("From: b@example.test\r\nSubject: Re: root\r\nMessage-ID: <reply@example.test>\r\n"
          "In-Reply-To: <root@example.test>\r\n\r\nx\r\n");
  deliver(message("other"));
  deliver("From: c@example.test\r\nSubject: deeper\r\nMessage-ID: <deeper@example.test>\r\n"
          "References: <root@example.test>\r\n <reply@example.test>\r\n\r\nx\r\n");
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  std::string t1 = objectid_after(c.send("1 fetch 1 threadid"), "THREADID");
  std::string t2 = objectid_after(c.send("2 fetch 2 threadid"), "THREADID");
  std::string t3 = objectid_after(c.send("3 fetch 3 threadid"), "THREADID");
  std::string t4 = objectid_after(c.send("4 fetch 4 threadid"), "THREADID");
  ASSERT_FALSE(t1.empty());
  EXPECT_EQ(t1, t2);
  EXPECT_EQ(t1, t4);
  EXPECT_NE(t1, t3);
  EXPECT_FALSE(t3.empty());
  EXPECT_TRUE(has(c.send("5 uid search threadid " + t1), "* SEARCH 1 2 4\r\n")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("6 search threadid " + t3), "* SEARCH 3\r\n")) << c.last.bytes;
}

// RFC 5464 §4.2-§4.3 examples on a mailbox: SETMETADATA with a literal, GETMETADATA, NIL
// removes, MAXSIZE leaves long values out with [METADATA LONGENTRIES n], DEPTH.
TEST_F(ExtensionsTest, Rfc5464_MailboxMetadata) {
  Client c(backend());
  c.login();
  std::string caps = c.send("c CAPABILITY");
  EXPECT_TRUE(has(caps, " METADATA ") && has(caps, " METADATA-SERVER ")) << caps;
  EXPECT_TRUE(has(c.send("a GETMETADATA INBOX /private/comment"), "* METADATA INBOX (/private/comment NIL)\r\na OK"))
      << c.last.bytes;
  EXPECT_TRUE(has(c.send("a1 SETMETADATA INBOX (/private/comment {33+}\r\nMy new comment across\r\ntwo lines.)"),
                  "a1 OK")) << c.last.bytes;
  // A value with CR LF cannot be quoted: a literal.
  EXPECT_TRUE(has(c.send("a2 GETMETADATA INBOX /private/comment"),
                  "* METADATA INBOX (/private/comment {33}\r\nMy new comment across\r\ntwo lines.)\r\na2 OK"))
      << c.last.bytes;
  EXPECT_TRUE(has(c.send("a3 GETMETADATA (MAXSIZE 10) INBOX /private/comment"),
                  "a3 OK [METADATA LONGENTRIES 33]")) << c.last.bytes;
  EXPECT_FALSE(has(c.last.bytes, "My new")) << c.last.bytes;
  c.send("a4 SETMETADATA INBOX (/private/filters/values/small \"x\" /private/filters/values/big \"y\" "
         "/shared/filters/values/deep/one \"z\")");
  EXPECT_TRUE(has(c.last.bytes, "a4 OK")) << c.last.bytes;
  std::string out = c.send("a5 GETMETADATA (DEPTH 1) INBOX (/private/filters/values /shared/filters/values)");
  EXPECT_TRUE(has(out, "/private/filters/values/big \"y\" /private/filters/values/small \"x\"")) << out;
  EXPECT_FALSE(has(out, "deep")) << out;
  EXPECT_TRUE(has(c.send("a6 GETMETADATA (DEPTH infinity) INBOX /shared"), "/shared/filters/values/deep/one \"z\""))
      << c.last.bytes;
  EXPECT_TRUE(has(c.send("a7 SETMETADATA INBOX (/private/comment NIL)"), "a7 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("a8 GETMETADATA INBOX /private/comment"), "(/private/comment NIL)")) << c.last.bytes;
  // Entries follow RENAME and go with DELETE.
  c.send("r1 CREATE Notes");
  c.send("r2 SETMETADATA Notes (/private/comment \"n\")");
  c.send("r3 RENAME Notes Notes2");
  EXPECT_TRUE(has(c.send("r4 GETMETADATA Notes2 /private/comment"), "(/private/comment \"n\")")) << c.last.bytes;
  c.send("r5 DELETE Notes2");
  c.send("r6 CREATE Notes2");
  EXPECT_TRUE(has(c.send("r7 GETMETADATA Notes2 /private/comment"), "(/private/comment NIL)")) << c.last.bytes;
  // Errors: no such mailbox, bad entry names, bad options.
  EXPECT_TRUE(has(c.send("e1 GETMETADATA Nope /private/comment"), "e1 NO [NONEXISTENT]")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("e2 SETMETADATA INBOX (/other/comment \"x\")"), "e2 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("e3 GETMETADATA INBOX /private/*"), "e3 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("e4 GETMETADATA (DEPTH 2) INBOX /private"), "e4 BAD")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("e5 SETMETADATA INBOX (/private/x/ \"x\")"), "e5 BAD")) << c.last.bytes;
}

// RFC 5464 §4.3 limits: a value over MAXSIZE and too many entries fail the whole command.
// METADATA-SERVER: users set the server's /private entries, the /shared ones are refused.
TEST_F(ExtensionsTest, Rfc5464_LimitsAndServerEntries) {
  Client c(backend());
  c.login();
  std::string big(64 * 1024 + 1, 'v');
  std::string out = c.send("l1 SETMETADATA INBOX (/private/big {" + std::to_string(big.size()) + "+}\r\n" + big + ")");
  EXPECT_TRUE(has(out, "l1 NO [METADATA MAXSIZE 65536]")) << out.substr(0, 200);
  std::string many;
  for (int i = 0; i < 501; ++i) many += (i ? " " : "") + std::string("/private/n") + std::to_string(i) + " \"v\"";
  EXPECT_TRUE(has(c.send("l2 SETMETADATA INBOX (" + many + ")"), "l2 NO [METADATA TOOMANY]")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("l3 GETMETADATA (DEPTH 1) INBOX /private"), "l3 OK")) << c.last.bytes;
  EXPECT_FALSE(has(c.last.bytes, "/private/n1")) << c.last.bytes;  // nothing of l2 was set
  EXPECT_TRUE(has(c.send("s1 SETMETADATA \"\" (/private/vendor/tern/x \"1\")"), "s1 OK")) << c.last.bytes;
  EXPECT_TRUE(has(c.send("s2 GETMETADATA \"\" /private/vendor/tern/x"), "* METADATA \"\" (/private/vendor/tern/x \"1\")"))
      << c.last.bytes;
  EXPECT_TRUE(has(c.send("s3 SETMETADATA \"\" (/shared/admin \"mailto:me@x\")"), "s3 NO [NOPERM]")) << c.last.bytes;
  // What the administrator set is visible to every user.
  Status admin = store().set_metadata("eve@example.test", "", {{"/shared/admin", std::string("mailto:pm@example.test")}}, 0);
  ASSERT_TRUE(admin.ok());
  EXPECT_TRUE(has(c.send("s4 GETMETADATA \"\" /shared/admin"), "(/shared/admin \"mailto:pm@example.test\")"))
      << c.last.bytes;
}

}  // namespace
}  // namespace tern::imapd::test
