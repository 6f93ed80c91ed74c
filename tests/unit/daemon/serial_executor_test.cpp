// The per-connection serial executor: order, no overlap, async jobs, the refused path.
#include "daemon/frontend/serial_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "net/net.h"

namespace tern::daemon {
namespace {

using namespace std::chrono_literals;

TEST(SerialExecutor, RunsJobsOneAtATimeInPushOrderWithTheirContinuations) {
  net::Loop loop;
  net::WorkerPool pool(loop, 4);
  auto ex = SerialExecutor::create(loop, pool);
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::vector<int> ran;        // worker side, in order (jobs never overlap)
  std::vector<int> continued;  // loop side
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) {
    ex->push([&, i]() -> SerialExecutor::Continuation {
      if (inside.fetch_add(1) != 0) overlapped = true;
      std::this_thread::sleep_for(1ms);
      ran.push_back(i);
      inside.fetch_sub(1);
      return [&, i] {
        // The next job has not started: its continuation comes first.
        EXPECT_EQ(static_cast<int>(ran.size()), i + 1);
        continued.push_back(i);
      };
    });
  }
  EXPECT_FALSE(ex->idle());
  ASSERT_TRUE(loop.run_until([&] { return static_cast<int>(continued.size()) == kJobs; }, 10s));
  EXPECT_FALSE(overlapped);
  for (int i = 0; i < kJobs; ++i) {
    EXPECT_EQ(ran[i], i);
    EXPECT_EQ(continued[i], i);
  }
  EXPECT_TRUE(ex->idle());
}

TEST(SerialExecutor, AnAsyncJobHoldsTheNextOneUntilItFinishesFromAnotherThread) {
  net::Loop loop;
  net::WorkerPool pool(loop, 2);
  auto ex = SerialExecutor::create(loop, pool);
  std::atomic<bool> finished_async{false};
  std::atomic<bool> second_saw_finished{false};
  std::thread finisher;
  std::atomic<bool> done{false};
  ex->push_async([&](SerialExecutor::Finish finish) {
    finisher = std::thread([&, finish] {
      std::this_thread::sleep_for(50ms);
      finished_async = true;
      finish({});
    });
  });
  ex->push([&]() -> SerialExecutor::Continuation {
    second_saw_finished = finished_async.load();
    return [&] { done = true; };
  });
  ASSERT_TRUE(loop.run_until([&] { return done.load(); }, 10s));
  finisher.join();
  EXPECT_TRUE(second_saw_finished);
}

TEST(SerialExecutor, OutlivesItsOwnerWhileWorkIsQueued) {
  net::Loop loop;
  net::WorkerPool pool(loop, 2);
  std::atomic<int> ran{0};
  {
    auto ex = SerialExecutor::create(loop, pool);
    for (int i = 0; i < 3; ++i) ex->push([&]() -> SerialExecutor::Continuation { ++ran; return {}; });
  }  // the connection is gone; its queued work (a POP3 Release) still runs
  EXPECT_TRUE(loop.run_until([&] { return ran.load() == 3; }, 10s));
}

TEST(SerialExecutor, RefusedWorkAnswersThroughItsRefusedContinuationOnALaterTurn) {
  net::Loop loop;
  net::WorkerPool pool(loop, 1);
  auto ex = SerialExecutor::create(loop, pool);
  pool.shutdown();  // ternd is exiting: the pool takes no more work
  int refused = 0;
  bool job_ran = false;
  ex->push([&]() -> SerialExecutor::Continuation { job_ran = true; return {}; }, [&] { ++refused; });
  EXPECT_EQ(refused, 0);  // not from inside push(): the caller is still applying its output
  ex->push([&]() -> SerialExecutor::Continuation { job_ran = true; return {}; }, [&] { ++refused; });
  ASSERT_TRUE(loop.run_until([&] { return refused == 2; }, 5s));
  EXPECT_FALSE(job_ran);
  EXPECT_TRUE(ex->idle());
}

}  // namespace
}  // namespace tern::daemon
