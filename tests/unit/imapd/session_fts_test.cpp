// SEARCH TEXT/BODY through the full-text index (issue 18): the index narrows the messages
// read, each candidate is confirmed against the message itself (RFC 9051 §6.4.4 substring
// semantics), and messages the index lacks, or strings too short for it, are read as before.
// The tests make the index disagree with the messages (rows rewritten in fts.db) to show
// which of the two decided.
#include <sqlite3.h>

#include "common/codec.h"
#include "mime/mime.h"
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

class FtsSessionTest : public SessionTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/imapfts-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    backend_ = std::make_unique<TestBackend>(dir_, mime::search_document);
    c_ = std::make_unique<Client>(backend());
    c_->login();
  }
  void TearDown() override {
    c_.reset();
    SessionTest::TearDown();
  }
  // Runs SQL on fts.db once the index has caught up (as another process would).
  void fts_sql(const std::string& sql) {
    store().fts_flush();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/fts.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  // The row of the message with this UID (rowid = mailbox id << 32 | uid).
  static std::string row(uint32_t uid) { return "(rowid & 4294967295) = " + std::to_string(uid); }
  Client& c() { return *c_; }
  std::unique_ptr<Client> c_;
};

TEST_F(FtsSessionTest, IndexNarrowsAndTheMessageConfirms) {
  deliver(message("one", "a quixotic plan\r\n"));
  deliver(message("two", "nothing to see\r\n"));
  deliver(message("three", "more quixotic ideas\r\n"));
  c().send("s SELECT INBOX");
  EXPECT_TRUE(has(c().send("a SEARCH TEXT QUIXOTIC"), "* SEARCH 1 3\r\n"));
  // Message 1's row now lacks the word and message 2's claims it: the index decides which
  // messages are read (1 is not), the message decides whether it matches (2 does not).
  fts_sql("UPDATE fts_body SET text = 'nothing' WHERE " + row(1) + ";"
          "UPDATE fts_body SET text = 'quixotic' WHERE " + row(2) + ";"
          "UPDATE fts_header SET text = 'quixotic' WHERE " + row(2));
  std::string out = c().send("b SEARCH TEXT quixotic");
  EXPECT_TRUE(has(out, "* SEARCH 3\r\n")) << out;
  out = c().send("c UID SEARCH BODY quixotic");
  EXPECT_TRUE(has(out, "* SEARCH 3\r\n")) << out;
  // Combined with other keys (AND), the narrowing still holds.
  out = c().send("d SEARCH UNSEEN TEXT quixotic SUBJECT three");
  EXPECT_TRUE(has(out, "* SEARCH 3\r\n")) << out;
}

TEST_F(FtsSessionTest, MessagesTheIndexLacksAreStillFound) {
  deliver(message("one", "a quixotic plan\r\n"));
  deliver(message("two", "quixotic too\r\n"));
  c().send("s SELECT INBOX");
  // As after a crash before its rows were written.
  fts_sql("DELETE FROM fts_body WHERE " + row(2) + "; DELETE FROM fts_header WHERE " + row(2));
  EXPECT_TRUE(has(c().send("a SEARCH TEXT quixotic"), "* SEARCH 1 2\r\n"));
  fts_sql("DELETE FROM fts_body; DELETE FROM fts_header");
  EXPECT_TRUE(has(c().send("b SEARCH BODY quixotic"), "* SEARCH 1 2\r\n"));
}

TEST_F(FtsSessionTest, ShortStringsAndOrNotAreNotNarrowed) {
  deliver(message("one", "a quixotic plan\r\n"));
  c().send("s SELECT INBOX");
  fts_sql("UPDATE fts_body SET text = 'nothing'; UPDATE fts_header SET text = 'nothing'");
  // Under 3 characters a trigram index cannot answer: every message is read.
  EXPECT_TRUE(has(c().send("a SEARCH TEXT ui"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c().send("b SEARCH BODY xo"), "* SEARCH 1\r\n"));
  // Under OR and NOT a string is not required of every match: no narrowing.
  EXPECT_TRUE(has(c().send("c SEARCH OR TEXT quixotic SUBJECT zzz"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c().send("d SEARCH NOT NOT BODY quixotic"), "* SEARCH 1\r\n"));
  // ... while a plain TEXT key trusts the (now wrong) index: proof the index was asked.
  EXPECT_TRUE(has(c().send("e SEARCH TEXT quixotic"), "* SEARCH\r\n"));
}

TEST_F(FtsSessionTest, HtmlTextIsFoundAndMarkupIsNot) {
  std::string html = "<p style=\"color:red\">Ostrich <b>feathers</b> &eacute;l&eacute;gantes</p>";
  deliver("From: a@example.test\r\nSubject: h\r\nMIME-Version: 1.0\r\n"
          "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
          base64_encode(html) + "\r\n");
  c().send("s SELECT INBOX");
  EXPECT_TRUE(has(c().send("a SEARCH BODY \"ostrich feathers\""), "* SEARCH 1\r\n"));
  // "ÉLÉGANTES" as a literal (8-bit text is not an atom): entities decoded, case folded.
  std::string out = c().send("b SEARCH CHARSET UTF-8 BODY {11+}\r\n\xC3\x89L\xC3\x89GANTES");
  EXPECT_TRUE(has(out, "* SEARCH 1\r\n")) << out;
  EXPECT_TRUE(has(c().send("c SEARCH BODY color"), "* SEARCH\r\n"));
  EXPECT_TRUE(has(c().send("d SEARCH TEXT <b>"), "* SEARCH\r\n"));
}

}  // namespace
}  // namespace tern::imapd::test
