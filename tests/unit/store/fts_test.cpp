// The full-text index (issue 18, store/fts_index.h): filled after delivery and APPEND off the
// caller's path, rows gone with their messages, decoded text only (no markup, no transfer
// encoding), trigram substrings matched case-insensitively, caught up and rebuilt.
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/codec.h"
#include "mime/mime.h"

#include "store_fixture.h"

namespace tern::store::testing {
namespace {

class FtsTest : public StoreTest {
 protected:
  void open_fts() {
    store_.reset();
    StoreOptions o = options();
    o.fts_text = mime::search_document;
    auto s = Store::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  // The UIDs the index finds for the needle (folded as SEARCH folds), after it caught up.
  std::vector<uint32_t> find(const std::string& text, bool body_only = false,
                             const std::string& mailbox = "INBOX") {
    store_->fts_flush();
    auto r = store_->fts_search(kUser, mailbox, body_only, mime::fold_for_search(text));
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return {};
    EXPECT_TRUE(r->available);
    return r->matches;
  }
  std::vector<uint32_t> indexed(const std::string& mailbox = "INBOX") {
    store_->fts_flush();
    auto r = store_->fts_search(kUser, mailbox, false, "xyz");
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->indexed : std::vector<uint32_t>{};
  }
  static constexpr const char* kUser = "ann@example.test";
};

using Uids = std::vector<uint32_t>;

const std::string kHtmlBase64 =
    "From: Bob <bob@example.test>\r\nSubject: news\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain part\r\n"
    "--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
    base64_encode("<html><body><div class=\"kangaroo\">Zebra &amp; crossing</div></body></html>") +
    "\r\n--b--\r\n";

TEST_F(FtsTest, FilledAfterDeliveryAndAppend) {
  open_fts();
  uint32_t a = deliver(kUser, "Subject: one\r\n\r\nThe quixotic quest\r\n");
  auto b = store_->append(kUser, "INBOX", "Subject: two\r\n\r\nanother quixotic day\r\n", {}, 0);
  ASSERT_TRUE(b.ok());
  deliver(kUser, "Subject: three\r\n\r\nnothing here\r\n");
  EXPECT_EQ(find("quixotic"), (Uids{a, b->uid}));
  EXPECT_EQ(indexed().size(), 3u);
}

// The indexing thread runs under SCHED_IDLE (and at nice 19): under a CPU-bound load the
// clients' commands go first (SEARCH reads what the index lacks meanwhile). The store's other
// threads keep their priority.
TEST_F(FtsTest, IndexesAtBackgroundPriority) {
  open_fts();
  deliver(kUser, "Subject: one\r\n\r\nThe quixotic quest\r\n");
  ASSERT_EQ(indexed().size(), 1u);  // the thread exists and has run
  // Per thread, fields 19 (nice) and 41 (scheduling policy) of /proc/<pid>/task/<tid>/stat.
  std::vector<std::pair<int, int>> threads;
  for (auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the command name (in parentheses, which may hold spaces) start at 3.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    int nice = -100;
    for (int i = 3; i <= 41 && rest >> field; ++i) {
      if (i == 19) nice = std::stoi(field);
      if (i == 41) threads.emplace_back(nice, std::stoi(field));
    }
  }
  auto count = [&](std::pair<int, int> v) { return std::count(threads.begin(), threads.end(), v); };
  EXPECT_EQ(count({19, SCHED_IDLE}), 1) << ::testing::PrintToString(threads);
  EXPECT_GE(count({0, SCHED_OTHER}), 2) << ::testing::PrintToString(threads);  // this thread and the store's others
}

TEST_F(FtsTest, HtmlMarkupIsNotIndexedButItsTextIs) {
  open_fts();
  uint32_t uid = deliver(kUser, kHtmlBase64);
  EXPECT_EQ(find("zebra & cross", true), Uids{uid});  // base64 decoded, entity decoded
  EXPECT_TRUE(find("kangaroo").empty());               // an attribute value
  EXPECT_TRUE(find("<div").empty());
  EXPECT_TRUE(find("class=").empty());
}

TEST_F(FtsTest, QuotedPrintableAndCharsetDecoded) {
  open_fts();
  uint32_t uid = deliver(kUser,
                         "Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                         "Caf=E9 cr=E8me br=FBl=\r\n=E9e\r\n");
  EXPECT_EQ(find("CAF\xC3\x89 CR\xC3\x88ME"), Uids{uid});  // "CAFÉ CRÈME": case folded
  EXPECT_EQ(find("br\xC3\xBBl\xC3\xA9" "e"), Uids{uid});   // "brûlée" across a soft break
  EXPECT_TRUE(find("=E9").empty());
}

TEST_F(FtsTest, HeadersDecodedAndOnlyInText) {
  open_fts();
  // Subject "Größe Übersicht" in RFC 2047 base64.
  uint32_t uid = deliver(kUser,
                         "From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\n"
                         "Subject: =?utf-8?B?R3LDtsOfZSDDnGJlcnNpY2h0?=\r\n\r\nbody text\r\n");
  EXPECT_EQ(find("GR\xC3\x96SSE"), Uids{uid});          // ß matches "ss", Ö matches ö
  EXPECT_EQ(find("\xC3\xBC" "bersicht"), Uids{uid});
  EXPECT_EQ(find("j\xC3\xBCrgen"), Uids{uid});
  EXPECT_TRUE(find("bersicht", true).empty());         // BODY: the header is not searched
  EXPECT_TRUE(find("R3LD").empty());                   // the encoded form is not text
}

TEST_F(FtsTest, SubstringsCaseInsensitiveIncludingNonAscii) {
  open_fts();
  uint32_t uid = deliver(kUser, "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                                "Report from \xD0\x9C\xD0\x9E\xD0\xA1\xD0\x9A\xD0\x92\xD0\x90 "
                                "(\xCE\x91\xCE\x98\xCE\x97\xCE\x9D\xCE\x91)\r\n");  // МОСКВА, ΑΘΗΝΑ
  EXPECT_EQ(find("port"), Uids{uid});                  // inside a word
  EXPECT_EQ(find("EPORT FR"), Uids{uid});              // across a space
  EXPECT_EQ(find("\xD0\xBE\xD1\x81\xD0\xBA"), Uids{uid});  // "оск"
  EXPECT_EQ(find("\xCE\xB8\xCE\xB7\xCE\xBD"), Uids{uid});  // "θην"
  EXPECT_TRUE(find("reports").empty());
  auto short_needle = store_->fts_search(kUser, "INBOX", false, "re");
  ASSERT_FALSE(short_needle.ok());  // the caller reads the messages instead
  EXPECT_EQ(short_needle.error().code, Errc::syntax);
}

TEST_F(FtsTest, RowsGoWithExpungeMoveAndDeletedMailboxes) {
  open_fts();
  uint32_t a = deliver(kUser, "Subject: a\r\n\r\nwombat one\r\n");
  uint32_t b = deliver(kUser, "Subject: b\r\n\r\nwombat two\r\n");
  uint32_t c = deliver(kUser, "Subject: c\r\n\r\nwombat three\r\n");
  ASSERT_EQ(find("wombat"), (Uids{a, b, c}));
  ASSERT_TRUE(store_->expunge(kUser, "INBOX", {a}).ok());
  EXPECT_EQ(find("wombat"), (Uids{b, c}));
  EXPECT_EQ(indexed(), (Uids{b, c}));
  auto moved = store_->move(kUser, "INBOX", {b}, "Archive");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(find("wombat"), (Uids{c}));
  EXPECT_EQ(find("wombat", false, "Archive"), (Uids{moved->uids[0].second}));
  // A mailbox made again (its id may be reused) starts with no rows of the old one.
  ASSERT_TRUE(store_->delete_mailbox(kUser, "Archive").ok());
  ASSERT_TRUE(store_->create_mailbox(kUser, "Archive").ok());
  EXPECT_TRUE(find("wombat", false, "Archive").empty());
  EXPECT_TRUE(indexed("Archive").empty());
}

TEST_F(FtsTest, CaughtUpAtOpenAndRebuilt) {
  open();  // no index: messages stored as by an older version
  uint32_t a = deliver(kUser, "Subject: a\r\n\r\nplatypus\r\n");
  auto none = store_->fts_search(kUser, "INBOX", false, "platypus");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->available);
  open_fts();  // the owner compares every mailbox at open
  EXPECT_EQ(find("platypus"), Uids{a});

  // fts.db lost: made again at the next open.
  store_.reset();
  for (const char* f : {"/fts.db", "/fts.db-wal", "/fts.db-shm"}) fs::remove(dir_ + f);
  open_fts();
  EXPECT_EQ(find("platypus"), Uids{a});

  // ternctl reindex: everything indexed again, on the caller's thread.
  uint32_t b = deliver(kUser, "Subject: b\r\n\r\nplatypus too\r\n");
  store_->fts_flush();
  auto n = store_->fts_rebuild(std::string_view(kUser));
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 2u);
  auto all = store_->fts_rebuild();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 2u);
  EXPECT_EQ(find("platypus"), (Uids{a, b}));
}

// An fts.db of the first layout (one table fts(header, body), detail=full, user_version 0)
// is emptied and filled again in the current one at the owner's open.
TEST_F(FtsTest, AnOlderLayoutIsMadeAnew) {
  open();
  uint32_t a = deliver(kUser, "Subject: a\r\n\r\nplatypus\r\n");
  store_.reset();
  exec_sql(dir_ + "/fts.db",
           "CREATE VIRTUAL TABLE fts USING fts5(header, body, tokenize = 'trigram');"
           "CREATE TABLE fts_mailboxes(id INTEGER PRIMARY KEY, uidvalidity INTEGER NOT NULL);"
           "INSERT INTO fts(rowid, header, body) VALUES(1, 'old', 'old');");
  open_fts();
  EXPECT_EQ(find("platypus"), Uids{a});
  EXPECT_TRUE(find("old").empty());
  store_.reset();
  EXPECT_EQ(query_int(dir_ + "/fts.db", "SELECT count(*) FROM sqlite_schema WHERE name = 'fts'"), 0);
}

// detail=none keeps which messages hold a trigram, not where: a message holding each trigram
// of the needle apart is among the index's matches, and only the message itself decides.
TEST_F(FtsTest, TrigramsApartAreAMatchOfTheIndexOnly) {
  open_fts();
  uint32_t a = deliver(kUser, "Subject: a\r\n\r\nthe porch is short\r\n");  // "por", "ort"
  uint32_t b = deliver(kUser, "Subject: b\r\n\r\nthe port\r\n");
  deliver(kUser, "Subject: c\r\n\r\nnothing\r\n");
  EXPECT_EQ(find("port"), (Uids{a, b}));
  EXPECT_EQ(find("port", true), (Uids{a, b}));
  // A quote in the needle is a character like any other.
  uint32_t d = deliver(kUser, "Subject: d\r\n\r\nsay \"hello\"\r\n");
  EXPECT_EQ(find("\"hello\""), Uids{d});
  EXPECT_EQ(find("y \"h"), Uids{d});
}

TEST_F(FtsTest, NotYetIndexedMessagesAreReportedAsSuch) {
  open_fts();
  uint32_t a = deliver(kUser, "Subject: a\r\n\r\nechidna\r\n");
  store_->fts_flush();
  // A message stored by another process (ternctl beside ternd) has no row until this store
  // notices; the search says which messages the index lacks.
  {
    StoreOptions o = options();
    o.wait_to_own = false;
    auto other = Store::open(o);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->append(kUser, "INBOX", "Subject: b\r\n\r\nechidna\r\n", {}, 0).ok());
  }
  auto r = store_->fts_search(kUser, "INBOX", false, "echidna");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->matches, Uids{a});
  EXPECT_EQ(r->indexed, Uids{a});
  // ... and the search itself has it indexed for the next one.
  EXPECT_EQ(find("echidna").size(), 2u);
}

// Below the free-space line the index waits: the space is mail's (free_space.h).
TEST_F(FtsTest, WaitsForRoomBelowTheFreeSpaceLine) {
  auto free_bytes = std::make_shared<std::atomic<uint64_t>>(100);
  store_.reset();
  StoreOptions o = options();
  o.fts_text = mime::search_document;
  o.min_free_bytes = 1000;
  o.free_bytes_for_testing = [free_bytes](const std::string&) -> Result<uint64_t> { return free_bytes->load(); };
  auto s = Store::open(o);
  ASSERT_TRUE(s.ok()) << s.error().message;
  store_ = std::move(*s);
  uint32_t uid = deliver(kUser, "Subject: a\r\n\r\nnumbat\r\n");  // deliver() itself does not ask
  store_->fts_flush();
  EXPECT_TRUE(indexed().empty());
  free_bytes->store(1u << 30);
  std::vector<uint32_t> got;
  for (int i = 0; i < 100 && got.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    got = indexed();
  }
  EXPECT_EQ(got, Uids{uid});
}

}  // namespace
}  // namespace tern::store::testing
