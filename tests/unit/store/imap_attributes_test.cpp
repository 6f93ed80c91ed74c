// Per-message and per-mailbox attributes the store keeps for IMAP extensions: the save date
// (RFC 8514), object ids (RFC 8474), annotations (RFC 5464), and the migration that adds them
// to an index made before they existed.
#include <ctime>

#include <sqlite3.h>

#include "store_fixture.h"

namespace tern::store::testing {
namespace {

const std::string kAlice = "alice@example.test";

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

bool is_objectid(const std::string& id) {
  // RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
  return !id.empty() && id.size() <= 255 &&
         id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
             std::string::npos;
}

std::string mailbox_id(Store& s, const std::string& name) {
  auto st = s.mailbox_status(kAlice, name);
  EXPECT_TRUE(st.ok()) << name;
  return st.ok() ? st->mailbox_id : std::string();
}

// RFC 8474 §4: MAILBOXID stays with a mailbox through RENAME and is never given to another
// mailbox, even one re-created under the same name.
TEST_F(ImapAttributesTest, Rfc8474_MailboxIdFollowsRenameAndIsNeverReused) {
  open();
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Projects").ok());
  std::string id = mailbox_id(*store_, "Projects");
  EXPECT_TRUE(is_objectid(id)) << id;
  EXPECT_NE(id, mailbox_id(*store_, "INBOX"));
  ASSERT_TRUE(store_->rename_mailbox(kAlice, "Projects", "Old projects").ok());
  EXPECT_EQ(mailbox_id(*store_, "Old projects"), id);
  ASSERT_TRUE(store_->delete_mailbox(kAlice, "Old projects").ok());
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Old projects").ok());
  EXPECT_NE(mailbox_id(*store_, "Old projects"), id);
}

// RFC 8474 §5.1: COPY and MOVE keep the EMAILID; distinct messages have distinct ones.
TEST_F(ImapAttributesTest, Rfc8474_EmailIdSurvivesCopyAndMove) {
  open();
  uint32_t a = deliver(kAlice, "Subject: a\r\n\r\nx\r\n");
  uint32_t b = deliver(kAlice, "Subject: a\r\n\r\nx\r\n");
  auto infos = store_->messages(kAlice, "INBOX", {a, b});
  ASSERT_TRUE(infos.ok());
  ASSERT_EQ(infos->size(), 2u);
  std::string id = (*infos)[0].email_id;
  EXPECT_TRUE(is_objectid(id)) << id;
  EXPECT_NE((*infos)[1].email_id, id);
  auto copied = store_->copy(kAlice, "INBOX", {a}, "Archive");
  ASSERT_TRUE(copied.ok());
  auto moved = store_->move(kAlice, "INBOX", {a}, "Trash");
  ASSERT_TRUE(moved.ok());
  for (const char* box : {"Archive", "Trash"}) {
    auto snap = store_->snapshot_flags(kAlice, box);
    ASSERT_TRUE(snap.ok());
    ASSERT_EQ(snap->messages.size(), 1u);
    EXPECT_EQ(snap->messages[0].email_id, id) << box;
  }
}

TEST_F(ImapAttributesTest, OldIndexGetsObjectIds) {
  open();
  uint32_t uid = deliver(kAlice, "Subject: old\r\n\r\nx\r\n");
  store_.reset();
  exec_sql(dir_ + "/index.db",
           "ALTER TABLE messages DROP COLUMN email_id; ALTER TABLE mailboxes DROP COLUMN object_id");
  open();
  auto infos = store_->messages(kAlice, "INBOX", {uid});
  ASSERT_TRUE(infos.ok());
  ASSERT_EQ(infos->size(), 1u);
  EXPECT_TRUE(is_objectid((*infos)[0].email_id));
  EXPECT_TRUE(is_objectid(mailbox_id(*store_, "INBOX")));
  EXPECT_NE(mailbox_id(*store_, "INBOX"), mailbox_id(*store_, "Sent"));
}

using Entries = std::vector<std::pair<std::string, std::optional<std::string>>>;

std::vector<std::string> names_of(const Result<std::vector<Store::MetadataEntry>>& r) {
  std::vector<std::string> out;
  EXPECT_TRUE(r.ok());
  if (r.ok())
    for (const auto& e : *r) out.push_back(e.name + "=" + e.value);
  return out;
}

// RFC 5464 §4.2.2 DEPTH, §4.3 NIL removes, entries follow RENAME and go with DELETE.
TEST_F(ImapAttributesTest, Rfc5464_MetadataDepthRenameDelete) {
  open();
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Notes").ok());
  ASSERT_TRUE(store_->set_metadata(kAlice, "Notes",
                                   Entries{{"/private/Comment", "mine"},
                                           {"/private/comment/a", "1"},
                                           {"/private/comment/a/b", "2"},
                                           {"/shared/comment", "ours"}},
                                   0).ok());
  using V = std::vector<std::string>;
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "Notes", {"/PRIVATE/comment"}, 0)),
            V{"/private/comment=mine"});
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "Notes", {"/private/comment"}, 1)),
            (V{"/private/comment=mine", "/private/comment/a=1"}));
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "Notes", {"/private/comment"}, -1)),
            (V{"/private/comment=mine", "/private/comment/a=1", "/private/comment/a/b=2"}));
  // Not "/private/commentary": a child is below a "/".
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "Notes", {"/private/comm"}, -1)), V{});
  ASSERT_TRUE(store_->set_metadata(kAlice, "Notes", Entries{{"/private/comment/a", std::nullopt}}, 0).ok());
  ASSERT_TRUE(store_->rename_mailbox(kAlice, "Notes", "Notes 2").ok());
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "Notes 2", {"/private", "/shared"}, -1)),
            (V{"/private/comment=mine", "/private/comment/a/b=2", "/shared/comment=ours"}));
  // Another mailbox and the server see none of them.
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "INBOX", {"/private", "/shared"}, -1)), V{});
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "", {"/private", "/shared"}, -1)), V{});
  ASSERT_TRUE(store_->delete_mailbox(kAlice, "Notes 2").ok());
  ASSERT_TRUE(store_->create_mailbox(kAlice, "Notes 2").ok());
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "Notes 2", {"/private", "/shared"}, -1)), V{});
  EXPECT_EQ(store_->get_metadata(kAlice, "Nope", {"/private"}, 0).error().code, Errc::not_found);
}

// Server entries: /private per user, /shared common to all users; the entry limit counts a
// user's entries and refuses the whole command.
TEST_F(ImapAttributesTest, Rfc5464_ServerEntriesAndLimit) {
  open();
  const std::string bob = "bob@example.test";
  ASSERT_TRUE(store_->set_metadata(kAlice, "", Entries{{"/private/vendor/x", "a"}, {"/shared/admin", "mailto:pm@x"}}, 0).ok());
  using V = std::vector<std::string>;
  EXPECT_EQ(names_of(store_->get_metadata(bob, "", {"/private", "/shared"}, -1)), V{"/shared/admin=mailto:pm@x"});
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "", {"/private", "/shared"}, -1)),
            (V{"/private/vendor/x=a", "/shared/admin=mailto:pm@x"}));
  auto over = store_->set_metadata(kAlice, "INBOX", Entries{{"/private/a", "1"}, {"/private/b", "2"}}, 2);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, Errc::over_quota);
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "INBOX", {"/private"}, 1)), V{});  // none set
  EXPECT_TRUE(store_->set_metadata(kAlice, "INBOX", Entries{{"/private/a", "1"}}, 2).ok());
  // Removing the user removes its entries.
  ASSERT_TRUE(store_->remove_user(kAlice).ok());
  EXPECT_EQ(names_of(store_->get_metadata(kAlice, "", {"/private"}, -1)), V{});
}

}  // namespace
}  // namespace tern::store::testing
