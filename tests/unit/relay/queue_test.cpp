// QueueStore: durability contract, state persistence across re-open, administrative actions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "relay/relay.h"

using namespace tern;
using namespace tern::relay;

namespace {

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("relayq-queue-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    reopen();
  }
  void TearDown() override {
    q_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    q_.reset();
    auto q = QueueStore::open(dir_.string());
    ASSERT_TRUE(q.ok()) << q.error().message;
    q_ = std::move(*q);
  }
  static Envelope envelope(std::vector<std::string> rcpts, std::string sender = "alice@local.test") {
    Envelope e;
    e.sender = std::move(sender);
    for (auto& r : rcpts) e.recipients.push_back({r, "", ""});
    return e;
  }
  std::filesystem::path dir_;
  std::unique_ptr<QueueStore> q_;
};

TEST_F(QueueTest, EnqueuePersistsEnvelopeAndBytesAcrossReopen) {
  Envelope e = envelope({"bob@remote.test", "carol@other.test"});
  e.envid = "ENV-1";
  e.ret = "HDRS";
  e.eight_bit = true;
  e.recipients[0].notify = "SUCCESS,FAILURE";
  e.recipients[0].orcpt = "bob@remote.test";
  auto id = q_->enqueue(e, "Subject: hi\r\n\r\nbody\r\n", 1000);
  ASSERT_TRUE(id.ok()) << id.error().message;
  reopen();  // a restart
  auto m = q_->get(*id);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->sender, "alice@local.test");
  EXPECT_EQ(m->envid, "ENV-1");
  EXPECT_EQ(m->ret, "HDRS");
  EXPECT_TRUE(m->eight_bit);
  EXPECT_EQ(m->arrival, 1000);
  ASSERT_EQ(m->recipients.size(), 2u);
  EXPECT_EQ(m->recipients[0].notify, "SUCCESS,FAILURE");
  EXPECT_EQ(m->recipients[0].orcpt, "bob@remote.test");
  EXPECT_EQ(m->recipients[1].domain, "other.test");
  EXPECT_EQ(m->recipients[1].state, RcptState::pending);
  auto body = q_->read_message(*id);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "queue" / *id));
}

TEST_F(QueueTest, NullSenderAndNoRecipients) {
  auto bad = q_->enqueue(envelope({}), "x", 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::syntax);
  auto id = q_->enqueue(envelope({"a@b.test"}, ""), "x", 1);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(q_->get(*id)->sender, "");
}

TEST_F(QueueTest, FinalStatesAreNeverChangedAndRestartResumes) {
  auto id = q_->enqueue(envelope({"a@x.test", "b@x.test", "c@x.test"}), "m", 100);
  ASSERT_TRUE(id.ok());
  auto m = *q_->get(*id);
  std::vector<RecipientUpdate> ups(3);
  ups[0] = {m.recipients[0].row, RcptState::delivered, 1, 0, 101, "250 ok", "mx.x.test", ""};
  ups[1] = {m.recipients[1].row, RcptState::failed, 1, 0, 101, "550 5.1.1 no", "mx.x.test", "failed"};
  ups[2] = {m.recipients[2].row, RcptState::deferred, 1, 400, 101, "451 later", "mx.x.test", ""};
  ASSERT_TRUE(q_->update_recipients(ups).ok());
  reopen();
  // Only the deferred one is due, and only once its time has come.
  EXPECT_TRUE(q_->due(399, 10)->empty());
  auto due = q_->due(400, 10);
  ASSERT_EQ(due->size(), 1u);
  ASSERT_EQ((*due)[0].recipients.size(), 1u);
  EXPECT_EQ((*due)[0].recipients[0].address, "c@x.test");
  EXPECT_EQ(*q_->next_due_after(100), 400);
  // A late "delivered" for a recipient already failed is ignored.
  RecipientUpdate late{m.recipients[1].row, RcptState::delivered, 2, 0, 500, "250 ok", "", ""};
  ASSERT_TRUE(q_->update_recipients({late}).ok());
  EXPECT_EQ(q_->get(*id)->recipients[1].state, RcptState::failed);
  // Pending DSN keeps the message; clearing it and finishing c purges it.
  auto pend = q_->dsn_pending();
  ASSERT_EQ(pend->size(), 1u);
  EXPECT_EQ((*pend)[0].recipients[0].dsn_action, "failed");
  ASSERT_TRUE(q_->clear_dsn({{m.recipients[1].row, "failed"}}).ok());
  EXPECT_TRUE(q_->purge_finished()->empty());
  RecipientUpdate fin{m.recipients[2].row, RcptState::delivered, 2, 0, 500, "250 ok", "", ""};
  ASSERT_TRUE(q_->update_recipients({fin}).ok());
  auto purged = q_->purge_finished();
  ASSERT_EQ(purged->size(), 1u);
  EXPECT_FALSE(q_->get(*id).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "queue" / *id));
}

TEST_F(QueueTest, ConcurrentEnqueuesAreGroupCommitted) {
  constexpr int kThreads = 8, kEach = 10;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        if (q_->enqueue(envelope({"r" + std::to_string(t) + "@x.test"}), "msg", 5).ok()) ok++;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(q_->list()->size(), static_cast<size_t>(kThreads * kEach));
  auto st = q_->stats();
  EXPECT_EQ(st.enqueued, static_cast<uint64_t>(kThreads * kEach));
  EXPECT_LE(st.commit_batches, st.enqueued);
}

TEST_F(QueueTest, AdministrativeActions) {
  auto a = *q_->enqueue(envelope({"a@x.test"}), "m", 10);
  auto b = *q_->enqueue(envelope({"b@x.test"}), "m", 10);
  auto m = *q_->get(a);
  ASSERT_TRUE(q_->update_recipients({{m.recipients[0].row, RcptState::deferred, 1, 9999, 10, "451 x", "", ""}}).ok());
  EXPECT_EQ(*q_->flush(a, 20), 1);
  EXPECT_EQ(q_->get(a)->recipients[0].next_attempt, 20);
  EXPECT_EQ(q_->flush(std::string("nope"), 20).error().code, Errc::not_found);
  EXPECT_EQ(*q_->fail_all(b, "550 5.0.0 deleted by administrator", 30), 1);
  auto fb = *q_->get(b);
  EXPECT_EQ(fb.recipients[0].state, RcptState::failed);
  EXPECT_EQ(fb.recipients[0].dsn_action, "failed");
  ASSERT_TRUE(q_->remove(a).ok());
  EXPECT_EQ(q_->get(a).error().code, Errc::not_found);
  EXPECT_EQ(q_->remove(a).error().code, Errc::not_found);
}

TEST_F(QueueTest, ExpiryFailsOldRecipientsWithExpiredMark) {
  auto old_id = *q_->enqueue(envelope({"a@x.test"}), "m", 100);
  auto new_id = *q_->enqueue(envelope({"b@x.test"}), "m", 900);
  EXPECT_EQ(*q_->expire(500, 1000), 1);
  auto o = *q_->get(old_id);
  EXPECT_EQ(o.recipients[0].state, RcptState::failed);
  EXPECT_EQ(o.recipients[0].dsn_action, "expired");
  EXPECT_EQ(q_->get(new_id)->recipients[0].state, RcptState::pending);
}

TEST_F(QueueTest, ReadMessageRejectsPathsOutsideTheQueue) {
  EXPECT_EQ(q_->read_message("../queue.db").error().code, Errc::not_found);
  EXPECT_EQ(q_->read_message("").error().code, Errc::not_found);
}

}  // namespace
