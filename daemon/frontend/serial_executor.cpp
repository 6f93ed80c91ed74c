#include "daemon/frontend/serial_executor.h"

#include <utility>

#include "net/net.h"

namespace tern::daemon {

std::shared_ptr<SerialExecutor> SerialExecutor::create(net::Loop& loop, net::WorkerPool& workers) {
  return std::shared_ptr<SerialExecutor>(new SerialExecutor(loop, workers));
}

void SerialExecutor::push(Job job, Continuation refused) {
  push_async([job = std::move(job)](const Finish& finish) { finish(job()); }, std::move(refused));
}

void SerialExecutor::push_async(AsyncJob job, Continuation refused) {
  jobs_.push_back(Entry{std::move(job), std::move(refused)});
  pump();
}

void SerialExecutor::pump() {
  if (running_ || jobs_.empty()) return;
  running_ = true;
  Entry entry = std::move(jobs_.front());
  jobs_.pop_front();
  auto self = shared_from_this();
  net::Loop* loop = &loop_;
  const bool submitted = workers_.submit([self, loop, job = std::move(entry.job)] {
    // Posted like WorkerPool's own completions: FIFO with whatever the job posted before
    // (IMAP's streamed FETCH chunks), so those reach the loop first.
    job([self, loop](Continuation cont) {
      loop->post([self, cont = std::move(cont)] { self->finished(cont); });
    });
  });
  if (submitted) return;
  // The pool is shutting down: nothing more of this connection can run.
  running_ = false;
  if (entry.refused) loop_.post(std::move(entry.refused));
  for (auto& e : std::exchange(jobs_, {}))
    if (e.refused) loop_.post(std::move(e.refused));
}

void SerialExecutor::finished(const Continuation& cont) {
  running_ = false;
  if (cont) cont();
  pump();
}

}  // namespace tern::daemon
