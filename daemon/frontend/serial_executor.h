// daemon/frontend: the serial executor, one per connection.
//
// A connection's blocking work (logins, store reads, deliveries, IMAP session calls) runs on
// the shared worker pool, but never two jobs of one connection at once and always in the
// order they were pushed: the sans-I/O sessions emit actions that depend on each other
// (POP3's Release must follow its Commit; an IMAP call must see the previous one's state).
//
// - A job runs on a worker and hands back a continuation for the loop thread; the next job
//   starts only after that continuation ran. An asynchronous job (SMTP's group-committed
//   delivery) may finish later, from any thread: the executor stays busy until it does.
// - Running jobs hold the executor by shared_ptr, so work pushed by a connection that has
//   closed meanwhile still runs (a dropped POP3 client's Release after its Commit). Jobs
//   must therefore hold their handler weakly (Frontend::if_alive), never by shared_ptr.
// - The one failure path: once the pool takes no more work (ternd is shutting down) each
//   job's `refused` continuation runs instead, on a later turn of the loop, and so does that
//   of every job queued behind it. Protocols answer "try again later" there.
//
// Threading: push() and idle() on the loop thread only; jobs on workers, one at a time.
#pragma once

#include <deque>
#include <functional>
#include <memory>

namespace tern::net {
class Loop;
class WorkerPool;
}  // namespace tern::net

namespace tern::daemon {

class SerialExecutor : public std::enable_shared_from_this<SerialExecutor> {
 public:
  using Continuation = std::function<void()>;      // loop thread; may be empty
  using Job = std::function<Continuation()>;       // worker thread
  using Finish = std::function<void(Continuation)>;  // thread-safe, call exactly once
  using AsyncJob = std::function<void(Finish)>;    // worker thread; finishes later

  static std::shared_ptr<SerialExecutor> create(net::Loop& loop, net::WorkerPool& workers);

  void push(Job job, Continuation refused = {});
  void push_async(AsyncJob job, Continuation refused = {});

  // Nothing queued or running.
  bool idle() const { return !running_ && jobs_.empty(); }

 private:
  SerialExecutor(net::Loop& loop, net::WorkerPool& workers) : loop_(loop), workers_(workers) {}
  struct Entry {
    AsyncJob job;
    Continuation refused;
  };
  void pump();
  void finished(const Continuation& cont);

  net::Loop& loop_;
  net::WorkerPool& workers_;
  std::deque<Entry> jobs_;
  bool running_ = false;
};

}  // namespace tern::daemon
