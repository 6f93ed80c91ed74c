// Loop, Timer, SignalWatcher: thin RAII over libuv handles.
// Handles are heap-allocated and freed in their uv_close callback, because libuv finishes
// closing a handle on a later loop iteration: the C++ owner may already be gone by then.
#include <uv.h>

#include <csignal>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "net/net.h"

namespace tern::net {

struct Loop::Posted {
  uv_async_t async;
  std::mutex mu;
  std::vector<std::function<void()>> queue;
  std::thread::id loop_thread;
  bool stop_requested = false;
};

namespace {

void run_posted(uv_async_t* a) {
  auto* p = static_cast<Loop::Posted*>(a->data);  // NOLINT: layout owned by Loop
  auto* loop = static_cast<uv_loop_t*>(a->loop);
  std::vector<std::function<void()>> batch;
  bool stop = false;
  {
    std::lock_guard<std::mutex> lock(p->mu);
    batch.swap(p->queue);
    stop = p->stop_requested;
    p->stop_requested = false;
  }
  for (auto& fn : batch) fn();
  if (stop) uv_stop(loop);
}

}  // namespace

Loop::Loop() : loop_(new uv_loop_t), posted_(std::make_unique<Posted>()) {
  // A peer that resets mid-write must cost us an EPIPE, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  uv_loop_init(loop_);
  posted_->loop_thread = std::this_thread::get_id();
  uv_async_init(loop_, &posted_->async, run_posted);
  posted_->async.data = posted_.get();
  // The async handle alone must not keep run_until()/teardown spinning.
  uv_unref(reinterpret_cast<uv_handle_t*>(&posted_->async));
}

Loop::~Loop() {
  uv_close(reinterpret_cast<uv_handle_t*>(&posted_->async), nullptr);
  // Let pending close callbacks free their handles.
  uv_run(loop_, UV_RUN_NOWAIT);
  uv_run(loop_, UV_RUN_NOWAIT);
  if (uv_loop_close(loop_) == UV_EBUSY) {
    uv_walk(
        loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) {
            spdlog::warn("net: handle type={} still open at loop teardown", uv_handle_type_name(h->type));
            uv_close(h, nullptr);
          }
        },
        nullptr);
    uv_run(loop_, UV_RUN_DEFAULT);
    uv_loop_close(loop_);
  }
  delete loop_;
}

void Loop::run() {
  posted_->loop_thread = std::this_thread::get_id();
  // Keep the loop alive while run() is active even with no other handles.
  uv_ref(reinterpret_cast<uv_handle_t*>(&posted_->async));
  uv_run(loop_, UV_RUN_DEFAULT);
  uv_unref(reinterpret_cast<uv_handle_t*>(&posted_->async));
}

void Loop::stop() {
  {
    std::lock_guard<std::mutex> lock(posted_->mu);
    posted_->stop_requested = true;
  }
  uv_async_send(&posted_->async);
}

void Loop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_->mu);
    posted_->queue.push_back(std::move(fn));
  }
  uv_async_send(&posted_->async);
}

bool Loop::run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  posted_->loop_thread = std::this_thread::get_id();
  uv_update_time(loop_);
  uint64_t deadline = uv_now(loop_) + static_cast<uint64_t>(timeout.count());
  // A ticking timer guarantees that UV_RUN_ONCE returns regularly to re-check pred.
  Timer tick(*this);
  tick.start(5, [] {}, 5);
  uv_ref(reinterpret_cast<uv_handle_t*>(&posted_->async));
  while (!pred()) {
    uv_update_time(loop_);
    if (uv_now(loop_) >= deadline) break;
    uv_run(loop_, UV_RUN_ONCE);
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&posted_->async));
  return pred();
}

bool Loop::in_loop_thread() const { return std::this_thread::get_id() == posted_->loop_thread; }

uint64_t Loop::now_ms() const { return uv_now(loop_); }

// ---------------------------------------------------------------------------------------------

struct Timer::Handle {
  uv_timer_t timer;
  std::function<void()> cb;
};

Timer::Timer(Loop& loop) : h_(new Handle) {
  uv_timer_init(loop.raw(), &h_->timer);
  h_->timer.data = h_;
}

Timer::~Timer() {
  uv_timer_stop(&h_->timer);
  h_->cb = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&h_->timer),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
}

void Timer::start(uint64_t ms, std::function<void()> cb, uint64_t repeat_ms) {
  h_->cb = std::move(cb);
  uv_timer_start(
      &h_->timer,
      [](uv_timer_t* t) {
        auto* h = static_cast<Handle*>(t->data);
        if (!h->cb) return;
        // Copy: the callback may restart or destroy this timer.
        auto cb = h->cb;
        cb();
      },
      ms, repeat_ms);
}

void Timer::stop() { uv_timer_stop(&h_->timer); }

bool Timer::active() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&h_->timer)) != 0;
}

// ---------------------------------------------------------------------------------------------

struct SignalWatcher::Handle {
  uv_signal_t sig;
  std::function<void()> cb;
};

SignalWatcher::SignalWatcher(Loop& loop, int signum, std::function<void()> cb) : h_(new Handle) {
  h_->cb = std::move(cb);
  uv_signal_init(loop.raw(), &h_->sig);
  h_->sig.data = h_;
  uv_signal_start(
      &h_->sig,
      [](uv_signal_t* s, int) {
        auto* h = static_cast<Handle*>(s->data);
        if (h->cb) h->cb();
      },
      signum);
}

SignalWatcher::~SignalWatcher() {
  uv_signal_stop(&h_->sig);
  h_->cb = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&h_->sig),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
}

}  // namespace tern::net
