// IMAP extensions through the session against a real Store: SAVEDATE (RFC 8514).
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

}  // namespace
}  // namespace tern::imapd::test
