// Store: listing a mailbox's files and reading message bytes by handle or by uid
// (store/message_reader.cpp), as every front end reads them: into a reused buffer at an
// offset, a file renamed meanwhile found again, an expunged message reported gone.
#include "store_fixture.h"

namespace tern::store::testing {
namespace {

const std::string kBob = "bob@example.test";

class MessageReaderTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    open();
    ASSERT_TRUE(store_->ensure_user(kBob).ok());
  }
};

TEST_F(MessageReaderTest, ListingGivesHandlesThatReadTheBytes) {
  const std::string a = "Subject: a\r\n\r\none\r\n", b = "Subject: b\r\n\r\n" + std::string(9000, 'x') + "\r\n";
  uint32_t ua = deliver(kBob, a), ub = deliver(kBob, b);
  auto all = store_->message_files(kBob, "INBOX");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->files.size(), 2u);
  EXPECT_EQ(all->files[0].uid, ua);
  EXPECT_EQ(all->files[0].size, a.size());
  EXPECT_EQ(all->files[1].uid, ub);
  auto some = store_->message_files(kBob, "INBOX", {ub, 77});
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->files.size(), 1u);
  EXPECT_EQ(some->uidvalidity, all->uidvalidity);
  // Into a buffer after a caller's headroom; what is before the offset stays.
  std::string buf = "HEAD";
  auto r = store_->read_message_into(kBob, "INBOX", some->files[0], buf, 4, true);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(*r);
  EXPECT_EQ(buf, "HEAD" + b);
  EXPECT_GE(buf.capacity(), buf.size() + b.size() / 32);  // room to grow in place
  // The same buffer again, for a smaller message: resized down to fit.
  ASSERT_TRUE(*store_->read_message_into(kBob, "INBOX", all->files[0], buf, 0));
  EXPECT_EQ(buf, a);
}

TEST_F(MessageReaderTest, RenamedMeanwhileIsFoundAndExpungedIsGone) {
  const std::string a = "Subject: a\r\n\r\none\r\n";
  uint32_t ua = deliver(kBob, a);
  auto listed = store_->message_files(kBob, "INBOX");
  ASSERT_TRUE(listed.ok());
  Store::MessageFile handle = listed->files.at(0);
  // \Seen moves new/X to cur/X:2,S: the handle's path no longer exists.
  ASSERT_TRUE(store_->store_flags(kBob, "INBOX", {ua}, FlagOp::add, Flags{kSeen, {}}).ok());
  ASSERT_FALSE(fs::exists(handle.path));
  std::string buf;
  auto r = store_->read_message_into(kBob, "INBOX", handle, buf);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_EQ(buf, a);
  ASSERT_TRUE(store_->expunge(kBob, "INBOX", {ua}).ok());
  buf = "x";
  r = store_->read_message_into(kBob, "INBOX", handle, buf, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(buf, "x");
  auto whole = store_->read_message(kBob, "INBOX", ua);
  ASSERT_FALSE(whole.ok());
  EXPECT_EQ(whole.error().code, Errc::not_found);
}

TEST_F(MessageReaderTest, HandleOfAnotherMailboxIsRefused) {
  ASSERT_TRUE(store_->ensure_user("eve@example.test").ok());
  uint32_t theirs = deliver("eve@example.test", "Subject: secret\r\n\r\n");
  auto ep = store_->message_files("eve@example.test", "INBOX");
  ASSERT_TRUE(ep.ok());
  std::string buf;
  auto r = store_->read_message_into(kBob, "INBOX", Store::MessageFile{theirs, 0, ep->files.at(0).path}, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::refused);
  EXPECT_TRUE(buf.empty());
}

}  // namespace
}  // namespace tern::store::testing
