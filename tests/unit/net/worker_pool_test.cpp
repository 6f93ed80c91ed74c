#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "net/net.h"

namespace tern::net {
namespace {

TEST(WorkerPool, WorkOnWorkerDoneOnLoopThread) {
  Loop loop;
  WorkerPool pool(loop, 4);
  const auto loop_thread = std::this_thread::get_id();
  std::atomic<int> off_loop{0};
  int done_on_loop = 0, done_elsewhere = 0;
  constexpr int kTasks = 500;
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(pool.submit(
        [&] {
          if (std::this_thread::get_id() != loop_thread) ++off_loop;
        },
        [&] { (std::this_thread::get_id() == loop_thread ? done_on_loop : done_elsewhere)++; }));
  }
  EXPECT_TRUE(loop.run_until([&] { return done_on_loop + done_elsewhere == kTasks; },
                             std::chrono::seconds(20)));
  EXPECT_EQ(off_loop.load(), kTasks);
  EXPECT_EQ(done_on_loop, kTasks);
  EXPECT_EQ(done_elsewhere, 0);
}

TEST(WorkerPool, ShutdownDrainsQueuedWorkAndRefusesNew) {
  Loop loop;
  std::atomic<int> ran{0};
  {
    WorkerPool pool(loop, 2);
    for (int i = 0; i < 100; ++i)
      pool.submit([&] {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        ++ran;
      });
    pool.shutdown();
    EXPECT_EQ(ran.load(), 100);
    EXPECT_FALSE(pool.submit([&] { ++ran; }));
  }
  EXPECT_EQ(ran.load(), 100);
}

TEST(WorkerPool, RunsInParallel) {
  Loop loop;
  WorkerPool pool(loop, 8);
  std::atomic<int> inside{0}, max_inside{0};
  int done = 0;
  for (int i = 0; i < 16; ++i)
    pool.submit(
        [&] {
          int now = ++inside;
          int prev = max_inside.load();
          while (now > prev && !max_inside.compare_exchange_weak(prev, now)) {
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          --inside;
        },
        [&] { ++done; });
  EXPECT_TRUE(loop.run_until([&] { return done == 16; }, std::chrono::seconds(20)));
  EXPECT_GT(max_inside.load(), 1);
}

// Jobs that arrive one at a time go to the worker that went idle last, so a sequential
// client's commands keep running on one warm thread instead of cycling through all of them.
TEST(WorkerPool, SequentialJobsReuseTheMostRecentlyIdleWorker) {
  Loop loop;
  WorkerPool pool(loop, 8);
  // Let every worker reach its idle wait first.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::set<std::thread::id> ran_on;
  for (int i = 0; i < 20; ++i) {
    bool done = false;
    std::thread::id id;
    ASSERT_TRUE(pool.submit([&] { id = std::this_thread::get_id(); }, [&] { done = true; }));
    ASSERT_TRUE(loop.run_until([&] { return done; }, std::chrono::seconds(5)));
    ran_on.insert(id);
    // pending() drops to 0 in the same critical section in which the worker goes idle.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (pool.pending() != 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
  }
  EXPECT_EQ(ran_on.size(), 1u);
}

TEST(Loop, PostFromOtherThreadRunsOnLoopThread) {
  Loop loop;
  bool ran_on_loop = false;
  std::thread t([&] {
    loop.post([&] { ran_on_loop = loop.in_loop_thread(); });
  });
  EXPECT_TRUE(loop.run_until([&] { return ran_on_loop; }, std::chrono::seconds(5)));
  t.join();
}

TEST(Loop, StopEndsRun) {
  Loop loop;
  Timer t(loop);
  int fired = 0;
  t.start(10, [&] {
    if (++fired == 3) loop.stop();
  }, 10);
  loop.run();
  EXPECT_EQ(fired, 3);
}

}  // namespace
}  // namespace tern::net
