// RFC 8474 THREADID (store/threads.h): the msg-ids a message's header links it by, the
// thread each new message is given, and the migration that gives old messages theirs.
#include "store/threads.h"

#include <sqlite3.h>

#include "common/message_ids.h"
#include "store_fixture.h"

namespace tern::store::testing {
namespace {

const std::string kAlice = "alice@example.test";
const std::string kBob = "bob@example.test";

std::string msg(const std::string& id, const std::string& links = "") {
  return "From: a@example.test\r\nMessage-ID: <" + id + "@x>\r\n" + links + "Subject: s\r\n\r\nbody\r\n";
}

TEST(ThreadKeys, OwnIdFirstThenReferencesThenInReplyTo) {
  std::string m =
      "Message-Id: <me@x>\r\nreferences: <a@x>\r\n\t<b@x> <a@x>\r\nIn-Reply-To: <b@x> (x)\r\n"
      "Subject: s\r\n\r\nReferences: <body@x>\r\n";
  EXPECT_EQ(detail::thread_keys(m), (std::vector<std::string>{"<me@x>", "<a@x>", "<b@x>"}));
  EXPECT_EQ(detail::thread_keys("Subject: none\n\nMessage-ID: <body@x>\n"), std::vector<std::string>{});
  // LF-only header, folded Message-ID.
  EXPECT_EQ(detail::thread_keys("Message-ID:\n <folded@x>\nIn-Reply-To: <p@x>\n\n"),
            (std::vector<std::string>{"<folded@x>", "<p@x>"}));
  EXPECT_EQ(header_field("X: 1\r\nY: 2\r\n", "y"), std::optional<std::string>("2"));
  EXPECT_EQ(header_field("X: 1\r\n\r\nY: 2\r\n", "Y"), std::nullopt);
}

TEST(ThreadKeys, AtMostALimitedNumber) {
  std::string refs = "References:";
  for (int i = 0; i < 200; ++i) refs += " <r" + std::to_string(i) + "@x>";
  auto keys = detail::thread_keys(msg("me", refs + "\r\n"));
  EXPECT_EQ(keys.size(), detail::kMaxThreadKeys);
  EXPECT_EQ(keys.front(), "<me@x>");
}

class ThreadIdTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    open();
  }
  std::string thread_of(const std::string& user, const std::string& box, uint32_t uid) {
    auto infos = store_->messages(user, box, {uid});
    EXPECT_TRUE(infos.ok());
    if (!infos.ok() || infos->size() != 1) return "<none>";
    return (*infos)[0].thread_id;
  }
};

bool is_objectid(const std::string& id) {
  // RFC 8474 §4: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
  return !id.empty() && id.size() <= 255 &&
         id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
             std::string::npos;
}

// RFC 8474 §5.2: messages linked by In-Reply-To / References share a THREADID, others do not;
// a message without any msg-id is a thread of its own.
TEST_F(ThreadIdTest, Rfc8474_5_2_RepliesShareTheThread) {
  uint32_t root = deliver(kAlice, msg("root"));
  uint32_t reply = deliver(kAlice, msg("reply", "In-Reply-To: <root@x>\r\n"));
  uint32_t deeper = deliver(kAlice, msg("deeper", "References: <root@x> <reply@x>\r\n"));
  uint32_t other = deliver(kAlice, msg("other"));
  uint32_t bare = deliver(kAlice, "Subject: s\r\n\r\nx\r\n");
  uint32_t bare2 = deliver(kAlice, "Subject: s\r\n\r\nx\r\n");
  std::string t = thread_of(kAlice, "INBOX", root);
  EXPECT_TRUE(is_objectid(t)) << t;
  EXPECT_EQ(thread_of(kAlice, "INBOX", reply), t);
  EXPECT_EQ(thread_of(kAlice, "INBOX", deeper), t);
  EXPECT_NE(thread_of(kAlice, "INBOX", other), t);
  EXPECT_TRUE(is_objectid(thread_of(kAlice, "INBOX", bare)));
  EXPECT_NE(thread_of(kAlice, "INBOX", bare), thread_of(kAlice, "INBOX", bare2));
  // Threads are per user: the same messages delivered to bob form bob's own thread.
  uint32_t bob_root = deliver(kBob, msg("root"));
  EXPECT_NE(thread_of(kBob, "INBOX", bob_root), t);
}

// A reply delivered before its parent: the parent joins the reply's thread (the reply
// recorded the parent's id).
TEST_F(ThreadIdTest, ParentArrivingAfterItsReplyJoinsTheThread) {
  uint32_t reply = deliver(kAlice, msg("reply", "References: <root@x>\r\n"));
  uint32_t root = deliver(kAlice, msg("root"));
  EXPECT_EQ(thread_of(kAlice, "INBOX", root), thread_of(kAlice, "INBOX", reply));
}

// RFC 8474 §5.2 (a THREADID never changes): a message whose References link two existing
// threads joins the one first seen; both keep their ids, and later messages linked only to
// the second thread stay in it.
TEST_F(ThreadIdTest, Rfc8474_5_2_MessageLinkingTwoThreadsJoinsTheOldest) {
  uint32_t a = deliver(kAlice, msg("a"));
  uint32_t b = deliver(kAlice, msg("b"));
  std::string ta = thread_of(kAlice, "INBOX", a), tb = thread_of(kAlice, "INBOX", b);
  ASSERT_NE(ta, tb);
  uint32_t both = deliver(kAlice, msg("both", "References: <b@x> <a@x>\r\n"));
  EXPECT_EQ(thread_of(kAlice, "INBOX", both), ta);
  EXPECT_EQ(thread_of(kAlice, "INBOX", a), ta);
  EXPECT_EQ(thread_of(kAlice, "INBOX", b), tb);
  uint32_t b2 = deliver(kAlice, msg("b2", "In-Reply-To: <b@x>\r\n"));
  EXPECT_EQ(thread_of(kAlice, "INBOX", b2), tb);
  uint32_t both2 = deliver(kAlice, msg("both2", "In-Reply-To: <both@x>\r\n"));
  EXPECT_EQ(thread_of(kAlice, "INBOX", both2), ta);
}

// RFC 8474 §5.1/§5.2: COPY and MOVE keep the thread (the same email); it survives a reopen.
TEST_F(ThreadIdTest, Rfc8474_5_2_CopyMoveAndRestartKeepTheThread) {
  uint32_t root = deliver(kAlice, msg("root"));
  std::string t = thread_of(kAlice, "INBOX", root);
  auto c = store_->copy(kAlice, "INBOX", {root}, "Archive");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(thread_of(kAlice, "Archive", c->uids[0].second), t);
  auto m = store_->move(kAlice, "INBOX", {root}, "Trash");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(thread_of(kAlice, "Trash", m->uids[0].second), t);
  open();
  EXPECT_EQ(thread_of(kAlice, "Trash", m->uids[0].second), t);
  uint32_t reply = deliver(kAlice, msg("reply", "In-Reply-To: <root@x>\r\n"));
  EXPECT_EQ(thread_of(kAlice, "INBOX", reply), t);
}

// An index made before THREADID: the column is added at open and every old message gets a
// thread from its file's header, related ones the same; new mail joins those threads.
TEST_F(ThreadIdTest, OldIndexIsMigratedWithThreadsFromTheFiles) {
  uint32_t root = deliver(kAlice, msg("root"));
  uint32_t reply = deliver(kAlice, msg("reply", "In-Reply-To: <root@x>\r\n"));
  uint32_t other = deliver(kAlice, msg("other"));
  store_.reset();
  exec_sql(dir_ + "/index.db",
           "DROP INDEX messages_no_thread; ALTER TABLE messages DROP COLUMN thread_id; "
           "DROP TABLE thread_refs");
  open();
  std::string t = thread_of(kAlice, "INBOX", root);
  EXPECT_TRUE(is_objectid(t)) << t;
  EXPECT_EQ(thread_of(kAlice, "INBOX", reply), t);
  EXPECT_NE(thread_of(kAlice, "INBOX", other), t);
  EXPECT_TRUE(is_objectid(thread_of(kAlice, "INBOX", other)));
  uint32_t later = deliver(kAlice, msg("later", "References: <reply@x>\r\n"));
  EXPECT_EQ(thread_of(kAlice, "INBOX", later), t);
  open();
  EXPECT_EQ(thread_of(kAlice, "INBOX", root), t);
}

}  // namespace
}  // namespace tern::store::testing
