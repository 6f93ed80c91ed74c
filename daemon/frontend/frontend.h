// daemon/frontend: the one front-end runtime every protocol service is built on.
//
// A protocol service (smtp_service, pop3_service, imap_service) is a Frontend<Handler>: a
// net::ConnectionHandler that drives one sans-I/O session (smtpd::Session, pop3d::Session,
// imapd::Session). The Frontend does, once for all of them:
// - Events. net's callbacks become the handler's hooks: opened(info), received(bytes),
//   tls_ready(info), timed_out(), shutting_down(), closed(). Input that arrives while a
//   STARTTLS handshake is pending is dropped (RFC 3207 §4.2, RFC 2595 §4, RFC 9051 §6.2.1:
//   nothing sent before the handshake may be acted on).
// - Work. Blocking actions run through run()/run_async() on the connection's SerialExecutor
//   (daemon/frontend/serial_executor.h): one at a time, in order, on rt.workers. Results come
//   back to the loop thread through if_alive(): a completion for a handler that died is
//   dropped, and jobs never keep a handler alive (it must die on the loop thread, with its
//   timers). When ternd is shutting down and the pool takes no more work, the `refused`
//   continuation given to run() runs instead: the one "answer a temporary failure" path.
// - Flow. update_flow() sets reading and the idle timer from the handler's state: reading
//   pauses while an action is pending and more than Handler::kReadWhilePending bytes were
//   received meanwhile (the session would only buffer them); the idle timer does not fire
//   while an action is pending (we are the slow side, not the client).
// - Throttle. after_delay() holds an answer for auth::LoginResult::delay with a net::Timer
//   that dies with the handler (never a sleeping worker).
//
// What a protocol supplies (the adapter): the hooks above, `bool pending() const` and
// `size_t buffered() const` (bytes received since the pending action started), optionally
// `std::optional<uint64_t> idle_timeout_ms() const` (nullopt: the listener's), and how its
// Output is written (SMTP holds pipelined replies, POP3 writes RETR bodies in pieces, IMAP
// streams large FETCH output).
//
// Threading: everything here runs on the loop thread, except the work given to run().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "daemon/frontend/serial_executor.h"
#include "daemon/runtime.h"
#include "net/net.h"

namespace tern::daemon {

template <class Handler>
class Frontend : public net::ConnectionHandler, public std::enable_shared_from_this<Handler> {
 public:
  void on_open(net::Connection& conn) final {
    conn_ = &conn;
    ip_ = conn.info().peer_ip;
    self().opened(conn.info());
  }
  void on_data(std::string_view bytes) final {
    if (!conn_ || tls_pending_) return;
    self().received(bytes);
  }
  void on_tls_ready() final {
    tls_pending_ = false;
    if (conn_) self().tls_ready(conn_->info());
  }
  void on_timeout() final {
    // The idle timer measures client silence; while we work it does not count.
    if (!conn_ || self().pending()) return;
    self().timed_out();
  }
  void on_shutdown() final { self().shutting_down(); }
  void on_close() final {
    conn_ = nullptr;
    delay_timer_.stop();
    self().closed();
  }

 protected:
  explicit Frontend(Runtime& rt)
      : rt_(rt), executor_(SerialExecutor::create(rt.loop, rt.workers)), delay_timer_(rt.loop) {}

  // f(Handler&) on the loop thread, only while the handler lives. Holds it weakly.
  template <class F>
  std::function<void()> if_alive(F f) {
    return [weak = this->weak_from_this(), f = std::move(f)]() mutable {
      if (auto strong = weak.lock()) f(*strong);
    };
  }

  // work() on a worker (after everything pushed before), then done(Handler&, result) on the
  // loop thread while the handler lives; refused(Handler&) instead when the pool is closed.
  template <class Work, class Done>
  void run(Work work, Done done, std::function<void(Handler&)> refused = {}) {
    executor_->push(job(std::move(work), std::move(done)), refused_continuation(std::move(refused)));
  }

  // The executor job run() pushes, for handlers that route it themselves (POP3 sends its
  // Commit through its \Seen queue first).
  template <class Work, class Done>
  SerialExecutor::Job job(Work work, Done done) {
    using R = std::invoke_result_t<Work&>;
    return [work = std::move(work), done = std::move(done),
            weak = this->weak_from_this()]() mutable -> SerialExecutor::Continuation {
      auto result = std::make_shared<R>(work());
      return [weak, done, result]() mutable {
        if (auto h = weak.lock()) done(*h, std::move(*result));
      };
    };
  }

  // The same for work that finishes later (finish(result) from any thread, exactly once);
  // the executor runs nothing else of this connection until it has.
  template <class R, class Work, class Done>
  void run_async(Work work, Done done, std::function<void(Handler&)> refused = {}) {
    auto weak = this->weak_from_this();
    executor_->push_async(
        [work = std::move(work), done = std::move(done), weak](SerialExecutor::Finish finish) mutable {
          work([finish = std::move(finish), done, weak](R r) {
            auto result = std::make_shared<R>(std::move(r));
            finish([weak, done, result]() mutable {
              if (auto h = weak.lock()) done(*h, std::move(*result));
            });
          });
        },
        refused_continuation(std::move(refused)));
  }

  // auth::LoginResult::delay: fn runs after `delay` (at once when zero). The timer is the
  // handler's, so it never fires for a dead one.
  void after_delay(std::chrono::milliseconds delay, std::function<void()> fn) {
    if (delay.count() <= 0) return fn();
    delay_timer_.start(static_cast<uint64_t>(delay.count()), std::move(fn));
  }

  // Reading and the idle timer, from the handler's pending()/buffered()/idle_timeout_ms().
  void update_flow() {
    if (!conn_) return;
    const bool pending = self().pending();
    conn_->set_reading(!pending || self().buffered() < Handler::kReadWhilePending);
    if constexpr (requires(const Handler& h) { h.idle_timeout_ms(); }) {
      const std::optional<uint64_t> ms = self().idle_timeout_ms();
      if (ms && *ms != timeout_ms_) {
        conn_->set_idle_timeout(*ms);
        timeout_ms_ = *ms;
      }
    }
  }

  // Starts the server side of STARTTLS after the ready reply was written; input until the
  // handshake is done is dropped.
  void start_tls() {
    if (!conn_) return;
    tls_pending_ = true;
    conn_->start_tls();
  }
  bool tls_pending() const { return tls_pending_; }

  Runtime& rt_;
  std::shared_ptr<SerialExecutor> executor_;
  net::Connection* conn_ = nullptr;  // from on_open() until on_close()
  std::string ip_;                   // the client's address, kept after close for logs

 private:
  Handler& self() { return static_cast<Handler&>(*this); }
  const Handler& self() const { return static_cast<const Handler&>(*this); }

  SerialExecutor::Continuation refused_continuation(std::function<void(Handler&)> refused) {
    if (!refused) return {};
    return if_alive(std::move(refused));
  }

  net::Timer delay_timer_;
  uint64_t timeout_ms_ = UINT64_MAX;
  bool tls_pending_ = false;
};

}  // namespace tern::daemon
