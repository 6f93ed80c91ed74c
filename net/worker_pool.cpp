// WorkerPool: a fixed set of std::threads draining one FIFO queue. Completions go back to the
// loop thread through Loop::post, so handlers only ever run on the loop thread.
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "net/net.h"

namespace tern::net {

struct WorkerPool::State {
  // An idle worker sleeps on its own condition variable. Idle workers form a stack and
  // submit() wakes the most recently idle one: under light load the same one or two threads
  // take every job with warm caches (a shared condition variable woke the longest-sleeping
  // thread, cycling every job through all of them).
  struct Idle {
    std::condition_variable cv;
    bool woken = false;
  };

  Loop& loop;
  mutable std::mutex mu;
  std::deque<std::pair<std::function<void()>, std::function<void()>>> queue;
  std::vector<Idle*> idle;  // top = back
  std::vector<std::unique_ptr<Idle>> slots;  // one per thread, alive as long as the pool
                                             // (submit() notifies after releasing mu)
  std::vector<std::thread> threads;
  size_t running = 0;
  bool stopping = false;

  explicit State(Loop& l) : loop(l) {}

  // Requires mu. Wakes one idle worker for a newly queued job.
  std::condition_variable* take_idle() {
    if (idle.empty()) return nullptr;
    Idle* w = idle.back();
    idle.pop_back();
    w->woken = true;
    return &w->cv;
  }

  void worker(Idle& me) {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      while (!stopping && queue.empty()) {
        me.woken = false;
        idle.push_back(&me);
        me.cv.wait(lock, [&] { return me.woken; });
      }
      // Shutdown drains: queued work still runs so accepted transactions complete.
      if (queue.empty()) return;
      auto job = std::move(queue.front());
      queue.pop_front();
      ++running;
      lock.unlock();
      // Work must not throw (errors are values); if it does anyway, keep the pool alive.
      try {
        job.first();
      } catch (const std::exception& e) {
        spdlog::error("worker: task threw: {}", e.what());
      } catch (...) {
        spdlog::error("worker: task threw a non-exception");
      }
      if (job.second) loop.post(std::move(job.second));
      job = {};  // the work's captures are released outside the lock
      // One acquisition both ends this job and looks for the next one.
      lock.lock();
      --running;
    }
  }
};

WorkerPool::WorkerPool(Loop& loop, int threads) : s_(std::make_unique<State>(loop)) {
  if (threads < 1) threads = 1;
  s_->threads.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    s_->slots.push_back(std::make_unique<State::Idle>());
    s_->threads.emplace_back([st = s_.get(), me = s_->slots.back().get()] { st->worker(*me); });
  }
}

WorkerPool::~WorkerPool() { shutdown(); }

bool WorkerPool::submit(std::function<void()> work, std::function<void()> done) {
  std::condition_variable* cv = nullptr;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (s_->stopping) return false;
    s_->queue.emplace_back(std::move(work), std::move(done));
    cv = s_->take_idle();
  }
  if (cv) cv->notify_one();
  return true;
}

void WorkerPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->stopping = true;
    for (auto* w : s_->idle) {
      w->woken = true;
      w->cv.notify_one();
    }
    s_->idle.clear();
  }
  for (auto& t : s_->threads)
    if (t.joinable()) t.join();
  s_->threads.clear();
}

size_t WorkerPool::pending() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->queue.size() + s_->running;
}

int WorkerPool::threads() const { return static_cast<int>(s_->threads.size()); }

}  // namespace tern::net
