// Per-message and per-mailbox attributes the store keeps for IMAP extensions: the save date
// (RFC 8514), and the migration that adds them to an index made before they existed.
#include <ctime>

#include <sqlite3.h>

#include "store_fixture.h"

namespace tern::store::testing {
namespace {

const std::string kAlice = "alice@example.test";

void exec_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

class ImapAttributesTest : public StoreTest {};

// RFC 8514 §1: the save date is when the message was saved into its current mailbox: at
// delivery/APPEND (not the internal date APPEND may give), and anew by COPY and MOVE.
TEST_F(ImapAttributesTest, Rfc8514_SaveDateIsSetAtEverySave) {
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  const int64_t before = ::time(nullptr);
  auto a = store_->append(kAlice, "INBOX", "Subject: a\r\n\r\nx\r\n", {}, 1000000000);
  ASSERT_TRUE(a.ok());
  auto c = store_->copy(kAlice, "INBOX", {a->uid}, "Archive");
  ASSERT_TRUE(c.ok());
  auto m = store_->move(kAlice, "INBOX", {a->uid}, "Trash");
  ASSERT_TRUE(m.ok());
  const int64_t after = ::time(nullptr);
  for (const char* box : {"Archive", "Trash"}) {
    auto snap = store_->snapshot_flags(kAlice, box);
    ASSERT_TRUE(snap.ok());
    ASSERT_EQ(snap->messages.size(), 1u) << box;
    const MessageInfo& info = snap->messages[0];
    EXPECT_EQ(info.internal_date, 1000000000) << box;  // kept by COPY/MOVE
    ASSERT_TRUE(info.save_date.has_value()) << box;
    EXPECT_GE(*info.save_date, before);
    EXPECT_LE(*info.save_date, after);
  }
}

// An index made before the save date existed gets the column at open; its rows have no save
// date (unknown, not made up), new ones do.
TEST_F(ImapAttributesTest, OldIndexIsMigratedWithUnknownSaveDates) {
  open();
  uint32_t old_uid = deliver(kAlice, "Subject: old\r\n\r\nx\r\n");
  store_.reset();
  exec_sql(dir_ + "/index.db", "ALTER TABLE messages DROP COLUMN save_date");
  open();
  uint32_t new_uid = deliver(kAlice, "Subject: new\r\n\r\nx\r\n");
  auto infos = store_->messages(kAlice, "INBOX", {old_uid, new_uid});
  ASSERT_TRUE(infos.ok());
  ASSERT_EQ(infos->size(), 2u);
  EXPECT_FALSE((*infos)[0].save_date.has_value());
  EXPECT_TRUE((*infos)[1].save_date.has_value());
}

}  // namespace
}  // namespace tern::store::testing
