// The IMAP service: imapd::Session on the front-end runtime, every session call a job of the
// connection's serial executor. See daemon/imap_service.h.
#include "daemon/imap_service.h"

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "auth/auth.h"
#include "bayes/bayes.h"
#include "common/log.h"
#include "daemon/frontend/frontend.h"
#include "daemon/services.h"
#include "daemon/user_ip_limiter.h"
#include "imapd/session.h"
#include "store/store.h"

namespace tern::daemon {

namespace {

constexpr size_t kMaxInbox = 256 * 1024;  // input held while a call runs, before pausing reads

// Memory: after a large response the free pages are handed back (malloc_trim, at most once
// a second, on a worker); main.cpp sets the allocator up so that they can be (see there).
constexpr size_t kTrimAfterBytes = 1 << 20;

// A FETCH streams its output to the connection in chunks of about this size (posted to the
// loop from the worker while it renders the rest): the client reads the first messages
// while the others are rendered, and chunks stay below main.cpp's mmap threshold.
constexpr size_t kStreamThreshold = 256 * 1024;

void trim_soon(net::WorkerPool& workers) {
#ifdef __GLIBC__
  static std::atomic<int64_t> last_ms{0};
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t prev = last_ms.load();
  if (now - prev < 1000 || !last_ms.compare_exchange_strong(prev, now)) return;
  (void)workers.submit([] { malloc_trim(0); }, nullptr);
#else
  (void)workers;
#endif
}

class ImapBackend final : public imapd::Backend {
 public:
  ImapBackend(Runtime& rt, std::function<void()> notify, std::function<void(std::string)> partial)
      : rt_(rt), notify_(std::move(notify)), partial_(std::move(partial)) {}

  store::Store& store() override { return *rt_.store; }
  auth::LoginResult login(std::string_view user, std::string_view password, std::string_view ip) override {
    if (!rt_.authenticator) {
      auth::LoginResult r;
      r.outcome = auth::LoginResult::Outcome::unavailable;
      return r;
    }
    // The authenticator throttles and logs "auth ok|fail proto=imap user=.. ip=..".
    return after_login(rt_.authenticator->login(user, password, ip, "imap"), ip);
  }
  Result<auth::ScramKeys> scram_keys(std::string_view user) override {
    if (!rt_.authenticator) return make_error(Errc::temporary, "no account database");
    return rt_.authenticator->scram_keys(user);
  }
  auth::LoginResult login_proven(std::string_view user, bool proof_valid, std::string_view ip) override {
    if (!rt_.authenticator) {
      auth::LoginResult r;
      r.outcome = auth::LoginResult::Outcome::unavailable;
      return r;
    }
    return after_login(rt_.authenticator->login_proven(user, proof_valid, ip, "imap"), ip);
  }
  void logged_out() override { lease_.reset(); }
  // The per-user connection limit, once the credentials are good.
  auth::LoginResult after_login(auth::LoginResult r, std::string_view ip) {
    if (r.outcome != auth::LoginResult::Outcome::ok || !rt_.user_ips) return mark_logged_in(r);
    lease_ = rt_.user_ips->acquire("imap", r.user, ip);
    if (!lease_) {
      spdlog::warn("auth refused proto=imap user={} ip={} reason=max_user_ip_connections ({})",
                   r.user, ip, rt_.user_ips->limit());
      r.outcome = auth::LoginResult::Outcome::too_many_connections;
    }
    return mark_logged_in(r);
  }
  // Read on the loop thread once the call that logged in has completed.
  bool logged_in() const { return logged_in_.load(std::memory_order_acquire); }
  Result<uint64_t> quota(std::string_view user) override {
    if (!rt_.accounts) return uint64_t{0};
    auto q = rt_.accounts->quota_of(user);
    if (!q) return uint64_t{0};
    return *q;
  }
  std::function<void()> change_notifier() override { return notify_; }
  int64_t now() override { return static_cast<int64_t>(std::time(nullptr)); }
  void write_partial(std::string bytes) override { partial_(std::move(bytes)); }
  bool learns_junk() const override { return rt_.classifier != nullptr; }
  void learn_junk(std::string_view user, const std::vector<std::string>& messages, bool spam) override {
    int64_t day = static_cast<int64_t>(std::time(nullptr)) / 86400;
    size_t learnt = 0;
    for (const auto& m : messages) {
      auto r = rt_.classifier->learn(user, m, spam ? bayes::Class::spam : bayes::Class::ham, day);
      if (!r) {
        // A lesson lost is not worth failing the user's command: the move itself succeeded.
        spdlog::warn("junk lesson failed user={} error={}", user, r.error().message);
        return;
      }
      learnt += *r;
    }
    spdlog::info("junk lesson user={} class={} messages={} new={}", user, spam ? "spam" : "ham",
                 messages.size(), learnt);
  }

 private:
  auth::LoginResult mark_logged_in(auth::LoginResult r) {
    if (r.outcome == auth::LoginResult::Outcome::ok) logged_in_.store(true, std::memory_order_release);
    return r;
  }

  Runtime& rt_;
  std::function<void()> notify_;
  std::function<void(std::string)> partial_;
  std::shared_ptr<UserIpLimiter::Lease> lease_;  // held for the life of the session
  std::atomic<bool> logged_in_{false};
};

// What jobs share with the handler: outlives the handler while a call is running.
struct Core {
  Core(Runtime& rt, std::function<void()> notify, std::function<void(std::string)> partial)
      : backend(rt, std::move(notify), std::move(partial)) {}
  ImapBackend backend;
  std::optional<imapd::Session> session;
};

class ImapHandler final : public Frontend<ImapHandler> {
 public:
  // Input held while a call runs, before reading pauses.
  static constexpr size_t kReadWhilePending = kMaxInbox;

  ImapHandler(Runtime& rt, bool implicit_tls) : Frontend(rt), implicit_tls_(implicit_tls) {}

  // ---- Frontend hooks ----
  bool pending() const { return busy_; }
  size_t buffered() const { return inbox_.size(); }

  void opened(const net::ConnectionInfo& info) {
    if (!rt_.store) {
      // RFC 9051 §7.1.5: BYE as the greeting when the server cannot serve.
      closing_ = true;
      conn_->write("* BYE Service not available\r\n");
      conn_->close();
      return;
    }
    imapd::SessionSettings s;
    s.hostname = rt_.config.hostname;
    s.max_errors = rt_.config.imap.max_errors;
    s.max_line_length = static_cast<size_t>(rt_.config.imap.max_line_length);
    s.max_literal_size = rt_.config.imap.max_literal_size;
    s.tls_active = info.tls;
    // RFC 9051 §6.2.1: offer STARTTLS only on the plain listener with a certificate.
    s.tls_available = rt_.tls != nullptr && !implicit_tls_ && info.tls_available;
    s.allow_plaintext_auth = rt_.config.auth.allow_plaintext_without_tls;
    s.compress_available = true;  // net::Connection::start_compress (RFC 4978)
    s.stream_threshold = kStreamThreshold;
    // The notifier may run on any thread: it only posts to the loop, holding us weakly.
    net::Loop* loop = &rt_.loop;
    auto notify = [changed = if_alive([](ImapHandler& h) { h.mailbox_changed(); }), loop] {
      loop->post(changed);
    };
    // Streamed FETCH output: posted from the worker, so it is written on the loop before the
    // call's completion (posted later, same FIFO) and after everything written earlier.
    auto partial = [weak = weak_from_this(), loop](std::string bytes) {
      loop->post([weak, bytes = std::move(bytes)]() mutable {
        if (auto h = weak.lock()) h->write_partial(std::move(bytes));
      });
    };
    core_ = std::make_shared<Core>(rt_, std::move(notify), std::move(partial));
    core_->session.emplace(s, imapd::PeerInfo{info.peer_ip, info.peer_port, info.listener}, core_->backend);
    if (info.tls) core_->session->set_channel_bindings({info.tls_exporter, info.tls_server_end_point});
    // greet() neither blocks nor races: no call is in flight yet.
    finish(core_->session->greet());
  }

  void received(std::string_view bytes) {
    if (closing_) return;
    inbox_.append(bytes);
    pump();
    update_flow();
  }

  void tls_ready(const net::ConnectionInfo& info) {
    if (!core_) return;
    core_->session->set_channel_bindings({info.tls_exporter, info.tls_server_end_point});  // as tls_started
    core_->session->tls_started(info.tls_version, info.tls_cipher);  // no call is in flight
    pump();
  }

  void timed_out() {
    how_ = "timeout";
    special_ = Special::timeout;
    pump();
  }

  void shutting_down() {
    if (!core_) {
      if (conn_) conn_->close();
      return;
    }
    how_ = "shutdown";
    special_ = Special::shutdown;
    pump();
  }

  void closed() {
    closing_ = true;
    spdlog::info("imap close user={} ip={} how={}", user_.empty() ? "-" : user_, ip_, how_ ? how_ : "logout");
    // The Core (and the session's store watch) goes with the last job holding it.
    core_.reset();
  }

 private:
  enum class Special { none, timeout, shutdown };

  void write_partial(std::string bytes) {
    streamed_ += bytes.size();
    if (conn_ && !closing_) conn_->write_owned(std::move(bytes));
  }

  void mailbox_changed() {
    changed_ = true;
    pump();
  }

  // Starts the next session call if none is running: the session itself is the action, run
  // on the connection's serial executor.
  void pump() {
    if (busy_ || closing_ || tls_pending() || !core_) return;
    std::function<imapd::Output(imapd::Session&)> call;
    if (special_ != Special::none) {
      Special sp = std::exchange(special_, Special::none);
      call = [sp](imapd::Session& s) { return sp == Special::timeout ? s.timeout() : s.shutdown(); };
    } else if (!inbox_.empty()) {
      call = [bytes = std::exchange(inbox_, std::string())](imapd::Session& s) { return s.feed(bytes); };
    } else if (changed_) {
      changed_ = false;
      call = [](imapd::Session& s) { return s.on_mailbox_changed(); };
    } else {
      return;
    }
    busy_ = true;
    run([core = core_, call = std::move(call)] {
          imapd::Output out = call(*core->session);
          return std::make_pair(std::move(out), core->session->user());
        },
        [](ImapHandler& h, std::pair<imapd::Output, std::string> r) {
          if (h.user_.empty() && !r.second.empty()) h.user_ = r.second;
          h.completed(std::move(r.first));
        },
        [](ImapHandler& h) {
          h.busy_ = false;  // shutting down: nothing more runs
          if (h.conn_) h.conn_->close();
        });
  }

  void completed(imapd::Output out) {
    if (out.delay_ms > 0) {
      // auth::LoginResult::delay: the answer waits (busy_ stays set, so nothing else runs).
      auto delay = std::chrono::milliseconds(out.delay_ms);
      out.delay_ms = 0;
      auto held = std::make_shared<imapd::Output>(std::move(out));
      after_delay(delay, [this, held] { completed(std::move(*held)); });
      return;
    }
    busy_ = false;
    bool big = out.bytes.size() + std::exchange(streamed_, 0) >= kTrimAfterBytes;
    finish(std::move(out));
    if (big) trim_soon(rt_.workers);
    if (!closing_) update_flow();
    pump();
  }

  void finish(imapd::Output out) {
    if (!conn_) return;
    // Logged in: the per-user limit counts this connection now, not the per-address one.
    if (!slot_released_ && core_ && core_->backend.logged_in()) {
      slot_released_ = true;
      conn_->release_ip_slot();
    }
    if (!out.bytes.empty()) conn_->write_owned(std::move(out.bytes));
    if (out.close_after_write) {
      closing_ = true;
      conn_->close();
      return;
    }
    if (out.start_tls) {
      // The OK is queued in clear first; input received so far belongs to the old layer.
      inbox_.clear();
      start_tls();
    }
    if (out.start_compress) {
      // The same for COMPRESS: the OK above went out uncompressed (RFC 4978 §3).
      inbox_.clear();
      if (!conn_->start_compress()) conn_->close();
    }
  }

  bool implicit_tls_;
  std::shared_ptr<Core> core_;
  std::string inbox_;
  size_t streamed_ = 0;  // bytes the running call streamed (write_partial)
  bool busy_ = false;    // a session call runs, or its answer waits out the login throttle
  bool changed_ = false;
  bool closing_ = false;
  bool slot_released_ = false;
  Special special_ = Special::none;
  std::string user_;
  const char* how_ = nullptr;
};

}  // namespace

net::HandlerFactory make_imap_factory(Runtime& rt, ListenerKind kind) {
  // rt.store is opened after the listeners are bound (and privileges dropped): look at it
  // per connection, not here.
  bool implicit = spec(kind).implicit_tls;
  return [&rt, implicit] { return std::make_shared<ImapHandler>(rt, implicit); };
}

}  // namespace tern::daemon
