// The POP3 service: pop3d::Session on the front-end runtime. See daemon/pop3_service.h.
#include "daemon/pop3_service.h"

#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "auth/auth.h"
#include "common/log.h"
#include "daemon/frontend/frontend.h"
#include "daemon/pop3/buffer_pool.h"
#include "daemon/pop3/maildrop_reader.h"
#include "daemon/pop3/maildrops.h"
#include "daemon/pop3/read_ahead.h"
#include "daemon/pop3/seen_batcher.h"
#include "daemon/services.h"
#include "pop3d/pop3d.h"
#include "store/store.h"

namespace tern::daemon {

namespace {

constexpr const char* kInbox = "INBOX";  // RFC 1939 §1: the maildrop is the user's INBOX

pop3d::AuthResult to_auth_result(const auth::LoginResult& r) {
  pop3d::AuthResult out;
  switch (r.outcome) {
    case auth::LoginResult::Outcome::ok:
      out.outcome = pop3d::AuthResult::Outcome::ok;
      out.canonical_user = r.user;
      break;
    // A disabled account is reported like bad credentials: the client learns nothing more.
    case auth::LoginResult::Outcome::bad_credentials:
    case auth::LoginResult::Outcome::disabled:
      out.outcome = pop3d::AuthResult::Outcome::invalid_credentials;
      break;
    case auth::LoginResult::Outcome::locked_out:
      out.outcome = pop3d::AuthResult::Outcome::locked_out;
      break;
    case auth::LoginResult::Outcome::unavailable:
    case auth::LoginResult::Outcome::too_many_connections:
      out.outcome = pop3d::AuthResult::Outcome::temporary_failure;
      break;
  }
  return out;
}

class Pop3Handler final : public Frontend<Pop3Handler> {
 public:
  // The session buffers pipelined input itself: reading pauses as soon as an action is pending.
  static constexpr size_t kReadWhilePending = 0;

  Pop3Handler(Runtime& rt, std::shared_ptr<Pop3Maildrops> drops, bool implicit_tls)
      : Frontend(rt),
        drops_(std::move(drops)),
        implicit_tls_(implicit_tls),
        hold_(std::make_shared<MaildropHold>()),
        seen_executor_(SerialExecutor::create(rt.loop, rt.workers)),
        seen_(rt.loop, [this](std::vector<pop3d::Uid> uids) { write_seen(std::move(uids)); }),
        read_ahead_(buffers_) {}

  // ---- Frontend hooks ----
  bool pending() const { return session_ && session_->action_pending(); }
  size_t buffered() const { return 0; }

  void opened(const net::ConnectionInfo& info) {
    pop3d::SessionSettings s;
    s.hostname = rt_.config.hostname;
    s.implicit_tls = implicit_tls_;
    s.allow_plaintext_auth = rt_.config.auth.allow_plaintext_without_tls;
    // RFC 2595 §4: offer STLS only when a certificate exists and TLS is not already on.
    s.stls_available = rt_.tls != nullptr && !implicit_tls_ && info.tls_available;
    s.max_errors = rt_.config.pop3.max_errors;
    session_.emplace(s, pop3d::PeerInfo{info.peer_ip, info.tls});
    if (info.tls) session_->set_channel_bindings({info.tls_exporter, info.tls_server_end_point});
    apply(session_->greet());
  }

  void received(std::string_view bytes) {
    if (session_) apply(session_->feed(bytes));
  }

  void tls_ready(const net::ConnectionInfo& info) {
    if (!session_) return;
    session_->set_channel_bindings({info.tls_exporter, info.tls_server_end_point});
    apply(session_->tls_started());
  }

  void timed_out() {
    if (!session_) return;
    if (!session_->closed()) how_ = "timeout";
    apply(session_->timeout());  // RFC 1939 §3: autologout, no UPDATE
  }

  void shutting_down() {
    if (!session_) {
      if (conn_) conn_->close();
      return;
    }
    if (!session_->closed() && session_->state() != pop3d::State::update) how_ = "shutdown";
    apply(session_->shutdown());  // a QUIT's Commit in flight finishes first
  }

  void closed() {
    // From here on only actions run; nothing is written.
    if (session_ && !session_->closed()) {
      how_ = how_ ? how_ : "dropped";
      // RFC 1939 §6: no UPDATE without QUIT. The session emits Release (and pending \Seen);
      // the executor runs them after whatever is in flight, handler or not.
      apply(session_->disconnected());
    }
    read_ahead_.clear();
    buffers_.clear();
    seen_.flush_now();  // normally done by the Release above; nothing may stay behind
    spdlog::info("pop3 quit user={} ip={} retr={} dele={} how={}", user_.empty() ? "-" : user_,
                 ip_, retr_, dele_, how_ ? how_ : "quit");
  }

 private:
  void apply(pop3d::Output out) {
    // A Retrieve answered from the read-ahead window leaves its result in immediate_: it is
    // fed back right after this Output's bytes are written (order kept), in this loop rather
    // than recursively, so a long pipelined run of RETRs costs no stack and no loop turn.
    for (;;) {
      for (auto& a : out.actions) run_action(std::move(a));
      if (!conn_) {
        immediate_.reset();
        return;
      }
      write_output(out);
      if (out.close_after_write) {
        immediate_.reset();
        conn_->close();
        return;
      }
      // RFC 2595 §4: the "+OK" goes out in clear, then the handshake; the session discards
      // whatever the client pipelined behind STLS until tls_started().
      if (out.start_tls) start_tls();
      if (!immediate_ || !session_) break;
      pop3d::ActionResult r = std::move(*immediate_);
      immediate_.reset();
      out = session_->complete(std::move(r));  // moved: the body is not copied
    }
    // While the session waits for a result it would only buffer input: let the kernel do
    // that instead (bounded by the socket buffers, and the client's own flow control).
    update_flow();
    top_up();
  }

  void feed_result(pop3d::ActionResult r) {
    if (session_) apply(session_->complete(std::move(r)));
  }

  // Pieces stay under glibc's mmap threshold (64 KiB, daemon/main.cpp).
  static constexpr size_t kWriteChunk = 60 * 1024;

  // Writes an Output in order: its text, and the RETR responses built in read buffers
  // (status line and body together), which go back to the pool once net has them.
  void write_output(pop3d::Output& out) {
    const std::string_view text(out.bytes);
    size_t from = 0;
    for (auto& body : out.bodies) {
      if (body.at > from) conn_->write(text.substr(from, body.at - from));
      from = body.at;
      std::string_view v = body.view();
      for (size_t pos = 0; pos < v.size(); pos += kWriteChunk) conn_->write(v.substr(pos, kWriteChunk));
      buffers_.recycle(std::move(body.data));
    }
    if (from < text.size()) conn_->write(text.substr(from));
  }

  // Commit and Release run after every \Seen flush before them has finished (the flags of a
  // message kept must be on disk once QUIT is answered, and IN-USE is released last): the
  // job goes through the seen executor first, which hands it to the main one in order.
  void push_after_seen(SerialExecutor::Job job) {
    seen_.flush_now();
    // No flush queued or running: nothing to wait for, so no hop through the seen executor.
    if (seen_executor_->idle()) return executor_->push(std::move(job));
    seen_executor_->push([main = executor_, job = std::move(job)]() mutable -> SerialExecutor::Continuation {
      return [main, job = std::move(job)]() mutable { main->push(std::move(job)); };
    });
  }

  // Runs even if the connection is gone by then: the client did RETR these.
  void write_seen(std::vector<pop3d::Uid> uids) {
    seen_executor_->push([rt = &rt_, user = user_, uids = std::move(uids)]() -> SerialExecutor::Continuation {
      if (!rt->store) return {};
      std::vector<uint32_t> u32(uids.begin(), uids.end());
      store::Flags seen;
      seen.system = store::kSeen;
      auto st = rt->store->store_flags(user, kInbox, u32, store::FlagOp::add, seen);
      if (!st) spdlog::warn("pop3 seen user={} error={}", user, st.error().message);
      return {};
    });
  }

  // ---- RETR: the read-ahead window ----

  void read(ReadAhead::Batch batch) {
    run([rt = &rt_, user = user_, uids = batch.uids, bufs = buffers_.take(batch.uids.size())]() mutable {
          auto results = read_messages(rt->store, user, uids, std::move(bufs));
          std::vector<ReadAhead::Prefetched> got;
          got.reserve(uids.size());
          for (size_t i = 0; i < uids.size(); ++i) got.push_back({uids[i], std::move(results[i])});
          return got;
        },
        [gen = batch.generation](Pop3Handler& h, std::vector<ReadAhead::Prefetched> got) {
          h.batch_done(gen, std::move(got));
        });
  }

  void batch_done(uint64_t gen, std::vector<ReadAhead::Prefetched> got) {
    if (!read_ahead_.landed(gen, std::move(got))) return;
    if (waiting_) {
      auto [id, uid] = *waiting_;
      waiting_.reset();
      // Not read after all cannot happen (the batch held it); it would answer as a failure.
      auto r = read_ahead_.take(uid);
      feed_result(pop3d::ActionResult{id, r ? std::move(*r) : pop3d::RetrieveResult{}});
      return;  // apply() topped up
    }
    top_up();
  }

  void top_up() {
    if (!session_ || session_->state() != pop3d::State::transaction) return;
    if (auto b = read_ahead_.top_up()) read(std::move(*b));
  }

  void retrieve(pop3d::ActionId id, pop3d::Uid uid) {
    if (auto r = read_ahead_.take(uid)) {
      immediate_ = pop3d::ActionResult{id, std::move(*r)};  // apply() feeds it back
      return;
    }
    if (read_ahead_.in_flight(uid)) {
      waiting_ = {id, uid};  // answered when the batch lands
      return;
    }
    if (auto b = read_ahead_.restart_at(uid)) {
      read(std::move(*b));
      waiting_ = {id, uid};
      return;
    }
    // Not in the maildrop as opened (cannot happen: the session only asks for its own).
    run([rt = &rt_, user = user_, uid] { return read_retrieve(rt->store, user, uid, {}, {}); },
        [id](Pop3Handler& h, pop3d::RetrieveResult r) {
          h.feed_result(pop3d::ActionResult{id, std::move(r)});
        });
  }

  // ---- the session's actions ----

  void run_action(pop3d::Action action) {
    const pop3d::ActionId id = action.id;
    std::visit([&](auto& a) { run_one(id, a); }, action.kind);
  }

  void run_one(pop3d::ActionId id, pop3d::Authenticate& a) {
    run([rt = &rt_, ip = ip_, a = std::move(a)] {
          using Proof = auth::SaslCredentials::Proof;
          auth::LoginResult lr;
          if (!rt->authenticator) lr.outcome = auth::LoginResult::Outcome::unavailable;
          else if (a.proof != Proof::none) lr = rt->authenticator->login_proven(a.user, a.proof == Proof::valid, ip, "pop3");
          else lr = rt->authenticator->login(a.user, a.password, ip, "pop3");
          return lr;
        },
        [id](Pop3Handler& h, auth::LoginResult lr) {
          // Logged in: no longer counted as unauthenticated from this address. One POP3
          // session per user holds the maildrop (RFC 1939 §8), so POP3 needs no per-user
          // connection limit of its own.
          if (lr.outcome == auth::LoginResult::Outcome::ok && h.conn_) h.conn_->release_ip_slot();
          pop3d::ActionResult r{id, to_auth_result(lr)};
          // The answer (good or bad) waits out the throttle, so timing reveals nothing.
          h.after_delay(lr.delay, [&h, r] { h.feed_result(r); });
        });
  }

  void run_one(pop3d::ActionId id, pop3d::LookupScramKeys& a) {
    run([rt = &rt_, user = std::move(a.user)] {
          pop3d::ScramKeysResult r;
          if (!rt->authenticator) return r;
          auto keys = rt->authenticator->scram_keys(user);
          if (keys) r = {true, std::move(*keys)};
          return r;
        },
        [id](Pop3Handler& h, pop3d::ScramKeysResult r) { h.feed_result(pop3d::ActionResult{id, std::move(r)}); });
  }

  void run_one(pop3d::ActionId id, pop3d::OpenMaildrop& a) {
    user_ = a.user;
    run([rt = &rt_, drops = drops_, hold = hold_, user = a.user] {
          pop3d::MaildropResult r;
          if (rt->store) r = open_maildrop(*rt->store, *drops, *hold, user);
          return r;
        },
        [id](Pop3Handler& h, pop3d::MaildropResult r) {
          h.read_ahead_.reset(r);
          h.feed_result(pop3d::ActionResult{id, std::move(r)});
        });
  }

  void run_one(pop3d::ActionId id, pop3d::MeasureSizes& a) {
    run([rt = &rt_, drops = drops_, user = user_, uids = std::move(a.uids)] {
          pop3d::SizesResult r;
          if (rt->store) r = measure_sizes(*rt->store, rt->workers, *drops, user, uids);
          return r;
        },
        [id](Pop3Handler& h, pop3d::SizesResult r) {
          h.feed_result(pop3d::ActionResult{id, std::move(r)});
        });
  }

  void run_one(pop3d::ActionId id, pop3d::Retrieve& a) {
    ++retr_;
    retrieve(id, a.uid);
  }

  void run_one(pop3d::ActionId, pop3d::MarkSeen& a) { seen_.add(a.uids); }

  void run_one(pop3d::ActionId id, pop3d::Commit& a) {
    // Messages expunged now need no \Seen: drop them from the batch (the session leaves
    // them out of its MarkSeen already; this covers what was batched before QUIT).
    seen_.forget(a.expunge);
    // RFC 1939 §6 UPDATE: expunge through the store, so IMAP sessions are notified.
    push_after_seen(job(
        [rt = &rt_, user = user_, uids = std::move(a.expunge)] {
          std::pair<pop3d::CommitResult, size_t> out{};
          if (!rt->store) return out;
          std::vector<uint32_t> u32(uids.begin(), uids.end());
          auto ex = rt->store->expunge(user, kInbox, u32);
          out.first.ok = ex.ok();
          if (ex) out.second = ex->size();
          else spdlog::warn("pop3 update user={} error={}", user, ex.error().message);
          return out;
        },
        [id](Pop3Handler& h, std::pair<pop3d::CommitResult, size_t> r) {
          h.dele_ = r.second;
          h.feed_result(pop3d::ActionResult{id, r.first});
        }));
  }

  void run_one(pop3d::ActionId, pop3d::Release&) {
    // Runs after everything queued before it, connection or not.
    push_after_seen([drops = drops_, hold = hold_]() -> SerialExecutor::Continuation {
      if (!hold->user.empty()) {
        drops->release(hold->user);
        hold->user.clear();
      }
      return {};
    });
  }

  std::shared_ptr<Pop3Maildrops> drops_;
  bool implicit_tls_;
  std::shared_ptr<MaildropHold> hold_;            // IN-USE held by this connection's jobs
  std::shared_ptr<SerialExecutor> seen_executor_; // \Seen flushes; Commit/Release pass through
  SeenBatcher seen_;
  BufferPool buffers_;
  ReadAhead read_ahead_;
  std::optional<std::pair<pop3d::ActionId, pop3d::Uid>> waiting_;  // a Retrieve in flight
  std::optional<pop3d::ActionResult> immediate_;  // answered from the window, see apply()
  std::optional<pop3d::Session> session_;
  std::string user_;  // canonical, from OpenMaildrop
  uint64_t retr_ = 0;
  uint64_t dele_ = 0;
  const char* how_ = nullptr;  // how the session ended, for the log; null = QUIT
};

}  // namespace

net::HandlerFactory make_pop3_factory(Runtime& rt, ListenerKind kind) {
  // Called on the loop thread at start-up, once per listener: pop3 and pop3s share the
  // lock table (one maildrop, one POP3 session, whichever port it came in on).
  // pop3.uidl_format was checked at start-up (daemon/main.cpp).
  if (!rt.pop3_maildrops)
    rt.pop3_maildrops = std::make_shared<Pop3Maildrops>(*pop3d::UidlFormat::parse(rt.config.pop3.uidl_format));
  auto drops = rt.pop3_maildrops;
  bool implicit = spec(kind).implicit_tls;
  return [&rt, drops, implicit] { return std::make_shared<Pop3Handler>(rt, drops, implicit); };
}

}  // namespace tern::daemon
