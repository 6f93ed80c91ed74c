// The POP3 RETR read-ahead window's bookkeeping.
#include "daemon/pop3/read_ahead.h"

#include <gtest/gtest.h>

namespace tern::daemon {
namespace {

pop3d::MaildropResult maildrop(const std::vector<uint64_t>& sizes) {
  pop3d::MaildropResult m;
  m.outcome = pop3d::MaildropResult::Outcome::ok;
  for (size_t i = 0; i < sizes.size(); ++i)
    m.messages.push_back({static_cast<pop3d::Uid>(10 + i), sizes[i], ""});
  return m;
}

// What a worker would read for `batch`: each message `size` bytes of 'x'.
std::vector<ReadAhead::Prefetched> read(const ReadAhead::Batch& b, size_t size = 10) {
  std::vector<ReadAhead::Prefetched> out;
  for (auto uid : b.uids) {
    ReadAhead::Prefetched p;
    p.uid = uid;
    p.result.outcome = pop3d::RetrieveResult::Outcome::ok;
    p.result.bytes.assign(size, 'x');
    out.push_back(std::move(p));
  }
  return out;
}

TEST(ReadAhead, PlansWithinTheMessageAndByteLimits) {
  BufferPool pool;
  ReadAhead ra(pool, {4, 100, 2});
  ra.reset(maildrop({10, 10, 10, 10, 10, 10}));
  auto b = ra.plan(0, false, 99);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->uids, (std::vector<pop3d::Uid>{10, 11, 12, 13}));  // 4 messages at most
  EXPECT_TRUE(ra.in_flight(12));

  ra.reset(maildrop({40, 40, 40, 500, 10}));
  b = ra.plan(0, false, 99);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->uids, (std::vector<pop3d::Uid>{10, 11}));  // 100 bytes at most
  // A message over the byte limit is read only when asked for (must), alone.
  EXPECT_FALSE(ra.plan(3, false, 99));
  b = ra.plan(3, true, 99);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->uids, (std::vector<pop3d::Uid>{13}));
}

TEST(ReadAhead, TakingAMessageDropsTheOnesBeforeItAndRecyclesTheirBuffers) {
  BufferPool pool;
  ReadAhead ra(pool, {8, 1 << 20, 4});
  ra.reset(maildrop({10, 10, 10}));
  auto b = ra.plan(0, false, 99);
  ASSERT_TRUE(ra.landed(b->generation, read(*b, 5000)));
  EXPECT_FALSE(ra.in_flight(10));
  EXPECT_EQ(ra.window_size(), 3u);
  auto r = ra.take(11);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bytes.size(), 5000u);
  EXPECT_EQ(ra.window_size(), 1u);  // 10 skipped, 11 taken
  EXPECT_EQ(pool.count(), 1u);      // 10's buffer comes back for the next read
  EXPECT_FALSE(ra.take(10));
}

TEST(ReadAhead, ARestartMakesTheBatchInFlightStale) {
  BufferPool pool;
  ReadAhead ra(pool, {8, 1 << 20, 4});
  ra.reset(maildrop({10, 10, 10, 10, 10}));
  auto first = ra.plan(0, false, 2);
  auto jump = ra.restart_at(14);  // the client skipped ahead
  ASSERT_TRUE(jump);
  EXPECT_EQ(jump->uids, (std::vector<pop3d::Uid>{14}));
  EXPECT_FALSE(ra.landed(first->generation, read(*first, 5000)));
  EXPECT_EQ(ra.window_size(), 0u);
  EXPECT_EQ(pool.count(), 2u);  // the stale batch's buffers are recycled
  EXPECT_TRUE(ra.landed(jump->generation, read(*jump)));
  EXPECT_TRUE(ra.take(14));
  EXPECT_FALSE(ra.restart_at(99));  // not in the maildrop
}

TEST(ReadAhead, TopsUpOnlyAfterARetrieveAndWhileABatchFits) {
  BufferPool pool;
  ReadAhead ra(pool, {4, 1 << 20, 2});
  ra.reset(maildrop({10, 10, 10, 10, 10, 10, 10}));
  EXPECT_FALSE(ra.top_up());  // nothing asked for yet: no reading on speculation
  auto b = ra.plan(0, false, 4);
  EXPECT_FALSE(ra.top_up());  // a batch is in flight
  ASSERT_TRUE(ra.landed(b->generation, read(*b)));
  EXPECT_FALSE(ra.top_up());  // 4 in the window: 2 more do not fit
  ASSERT_TRUE(ra.take(11));
  auto more = ra.top_up();
  ASSERT_TRUE(more);
  EXPECT_EQ(more->uids, (std::vector<pop3d::Uid>{14, 15}));
}

}  // namespace
}  // namespace tern::daemon
