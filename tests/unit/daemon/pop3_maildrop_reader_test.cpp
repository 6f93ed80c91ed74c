// The worker side of POP3 against a real store: IN-USE at open, exact sizes, RETR bodies.
#include "daemon/pop3/maildrop_reader.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "daemon/pop3/maildrops.h"
#include "net/net.h"
#include "store/store.h"

namespace tern::daemon {
namespace {

using Outcome = pop3d::MaildropResult::Outcome;

class MaildropReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-pop3-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StoreOptions so;
    so.data_dir = dir_;
    auto st = store::Store::open(so);
    ASSERT_TRUE(st.ok());
    store_ = std::move(*st);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  uint32_t append(const std::string& bytes) {
    auto r = store_->append(kUser, "INBOX", bytes, {}, 0);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->uid : 0;
  }

  static constexpr const char* kUser = "ann@example.test";
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  net::Loop loop_;
  net::WorkerPool workers_{loop_, 2};
};

TEST_F(MaildropReaderTest, OneSessionHoldsTheMaildropAndAFailedOpenHoldsNothing) {
  const uint32_t uid = append("Subject: a\r\n\r\nx\r\n");
  Pop3Maildrops drops(*pop3d::UidlFormat::parse("%v.%u"));
  MaildropHold first, second;
  auto r = open_maildrop(*store_, drops, first, kUser);
  ASSERT_EQ(r.outcome, Outcome::ok);
  EXPECT_EQ(first.user, kUser);
  ASSERT_EQ(r.messages.size(), 1u);
  // RFC 1939 §7: "<uidvalidity>.<uid>".
  const uint32_t uidvalidity = store_->mailbox_status(kUser, "INBOX")->uidvalidity;
  EXPECT_EQ(r.messages[0].uidl, std::to_string(uidvalidity) + "." + std::to_string(uid));
  // RFC 1939 §8: the second session is told the maildrop is in use, and holds nothing.
  EXPECT_EQ(open_maildrop(*store_, drops, second, kUser).outcome, Outcome::in_use);
  EXPECT_TRUE(second.user.empty());
  drops.release(first.user);
  EXPECT_EQ(open_maildrop(*store_, drops, second, kUser).outcome, Outcome::ok);
}

// pop3.uidl_format "%08Xu%08Xv": the ids Dovecot's default served, for mail moved in from it.
TEST_F(MaildropReaderTest, UidlFollowsTheConfiguredFormat) {
  const uint32_t uid = append("Subject: a\r\n\r\nx\r\n");
  Pop3Maildrops drops(*pop3d::UidlFormat::parse("%08Xu%08Xv"));
  MaildropHold hold;
  auto r = open_maildrop(*store_, drops, hold, kUser);
  ASSERT_EQ(r.outcome, Outcome::ok);
  ASSERT_EQ(r.messages.size(), 1u);
  char want[32];
  std::snprintf(want, sizeof want, "%08x%08x", uid, store_->mailbox_status(kUser, "INBOX")->uidvalidity);
  EXPECT_EQ(r.messages[0].uidl, want);
}

TEST_F(MaildropReaderTest, SizesAreTheWireSizesMeasuredOnceThenCached) {
  // Stored with bare LF (an IMAP APPEND may do that): RETR sends CRLF, so LIST must count it.
  const uint32_t uid = append("Subject: a\n\nline\n");
  Pop3Maildrops drops(*pop3d::UidlFormat::parse("%v.%u"));
  MaildropHold hold;
  auto r = open_maildrop(*store_, drops, hold, kUser);
  ASSERT_EQ(r.outcome, Outcome::ok);
  EXPECT_FALSE(r.sizes_known);  // a login does not read the messages
  auto sizes = measure_sizes(*store_, workers_, drops, kUser, {uid});
  ASSERT_TRUE(sizes.ok);
  ASSERT_EQ(sizes.sizes.size(), 1u);
  EXPECT_EQ(sizes.sizes[0], std::string("Subject: a\r\n\r\nline\r\n").size());
  drops.release(kUser);
  r = open_maildrop(*store_, drops, hold, kUser);
  ASSERT_EQ(r.outcome, Outcome::ok);
  EXPECT_TRUE(r.sizes_known);  // from the cache now
  EXPECT_EQ(r.messages[0].size_octets, sizes.sizes[0]);
}

TEST_F(MaildropReaderTest, RetrieveReadsTheWireBodyAfterTheHeadroomIntoTheGivenBuffer) {
  const uint32_t a = append("Subject: a\r\n\r\n.dot\r\n");
  const uint32_t b = append("Subject: b\r\n\r\nbody\r\n");
  std::string reused;
  reused.reserve(1 << 16);
  const auto* storage = reused.data();
  auto got = read_messages(store_.get(), kUser, {a, b, 999}, {});
  ASSERT_EQ(got.size(), 3u);
  ASSERT_EQ(got[0].outcome, pop3d::RetrieveResult::Outcome::ok);
  EXPECT_TRUE(got[0].wire);
  EXPECT_EQ(got[0].headroom, kHeadroom);
  // RFC 1939 §3: byte-stuffed, terminated.
  EXPECT_EQ(got[0].bytes.substr(kHeadroom), "Subject: a\r\n\r\n..dot\r\n.\r\n");
  EXPECT_EQ(got[1].outcome, pop3d::RetrieveResult::Outcome::ok);
  EXPECT_EQ(got[2].outcome, pop3d::RetrieveResult::Outcome::gone);  // expunged meanwhile

  auto one = read_retrieve(store_.get(), kUser, b, {}, std::move(reused));
  ASSERT_EQ(one.outcome, pop3d::RetrieveResult::Outcome::ok);
  EXPECT_EQ(one.bytes.data(), storage);  // read into the recycled buffer, not a new one
  EXPECT_EQ(one.octets, std::string("Subject: b\r\n\r\nbody\r\n").size());
}

}  // namespace
}  // namespace tern::daemon
