// POP3 read buffers (recycled) and the \Seen batcher.
#include <gtest/gtest.h>

#include <chrono>

#include "daemon/pop3/buffer_pool.h"
#include "daemon/pop3/seen_batcher.h"
#include "net/net.h"

namespace tern::daemon {
namespace {

using namespace std::chrono_literals;

std::string buffer_of(size_t capacity) {
  std::string s;
  s.reserve(capacity);
  return s;
}

TEST(BufferPool, KeepsUsefulBuffersUpToItsBound) {
  BufferPool pool;
  pool.recycle(buffer_of(100));  // too small to be worth keeping
  EXPECT_EQ(pool.count(), 0u);
  pool.recycle(buffer_of(1 << 20));
  pool.recycle(buffer_of(512 << 10));
  EXPECT_EQ(pool.count(), 2u);
  EXPECT_GE(pool.bytes(), (1u << 20) + (512u << 10));
  pool.recycle(buffer_of(1 << 20));  // over kMaxBytes of spare capacity: freed
  EXPECT_EQ(pool.count(), 2u);
  EXPECT_LE(pool.bytes(), BufferPool::kMaxBytes);

  auto got = pool.take(5);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[0].capacity(), 512u << 10);  // the last recycled comes first
  EXPECT_EQ(pool.count(), 0u);
  EXPECT_EQ(pool.bytes(), 0u);
}

TEST(SeenBatcher, FlushesAfterTheIntervalInOneBatch) {
  net::Loop loop;
  std::vector<std::vector<pop3d::Uid>> flushed;
  SeenBatcher seen(loop, [&](std::vector<pop3d::Uid> u) { flushed.push_back(std::move(u)); }, 30);
  seen.add({1});
  seen.add({2, 3});
  EXPECT_TRUE(flushed.empty());
  ASSERT_TRUE(loop.run_until([&] { return !flushed.empty(); }, 5s));
  ASSERT_EQ(flushed.size(), 1u);
  EXPECT_EQ(flushed[0], (std::vector<pop3d::Uid>{1, 2, 3}));
  EXPECT_EQ(seen.size(), 0u);
}

TEST(SeenBatcher, FlushesAtOnceAtTheCountAndOnRequest) {
  net::Loop loop;
  std::vector<std::vector<pop3d::Uid>> flushed;
  SeenBatcher seen(loop, [&](std::vector<pop3d::Uid> u) { flushed.push_back(std::move(u)); },
                   60'000, 3);
  seen.add({1, 2});
  EXPECT_TRUE(flushed.empty());
  seen.add({3});
  ASSERT_EQ(flushed.size(), 1u);
  seen.flush_now();  // empty: nothing to write
  EXPECT_EQ(flushed.size(), 1u);
  seen.add({4});
  seen.flush_now();  // before a Commit/Release
  ASSERT_EQ(flushed.size(), 2u);
  EXPECT_EQ(flushed[1], (std::vector<pop3d::Uid>{4}));
}

TEST(SeenBatcher, LeavesOutWhatACommitExpunges) {
  net::Loop loop;
  std::vector<pop3d::Uid> flushed;
  SeenBatcher seen(loop, [&](std::vector<pop3d::Uid> u) { flushed = std::move(u); }, 60'000);
  seen.add({5, 1, 9, 3});
  seen.forget({9, 1, 42});
  seen.flush_now();
  EXPECT_EQ(flushed, (std::vector<pop3d::Uid>{5, 3}));
}

}  // namespace
}  // namespace tern::daemon
