// The POP3 service: net::Connection events <-> pop3d::Session, the session's actions run on
// rt.workers against auth::Authenticator and store::Store. See daemon/pop3_service.h.
#include "daemon/pop3_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <utility>

#include "auth/auth.h"
#include "common/log.h"
#include "daemon/services.h"
#include "pop3d/pop3d.h"
#include "store/store.h"

namespace tern::daemon {

// --- Pop3Maildrops -------------------------------------------------------------------------

bool Pop3Maildrops::acquire(const std::string& user) {
  std::lock_guard lock(mu_);
  return in_use_.insert(user).second;
}

void Pop3Maildrops::release(const std::string& user) {
  std::lock_guard lock(mu_);
  in_use_.erase(user);
}

bool Pop3Maildrops::held(const std::string& user) const {
  std::lock_guard lock(mu_);
  return in_use_.count(user) != 0;
}

Pop3Maildrops::SizeMap Pop3Maildrops::take_sizes(const std::string& user, uint32_t uidvalidity) {
  std::lock_guard lock(mu_);
  auto it = sizes_.find(user);
  if (it == sizes_.end()) return {};
  SizeMap out;
  // A new UIDVALIDITY means UIDs may name other messages now: nothing cached is valid.
  if (it->second.uidvalidity == uidvalidity) out = std::move(it->second.sizes);
  sizes_.erase(it);
  return out;
}

void Pop3Maildrops::put_sizes(const std::string& user, uint32_t uidvalidity, SizeMap sizes) {
  std::lock_guard lock(mu_);
  // Bounded memory: past the limit start over (sizes are recomputed from the files on need).
  if (sizes_.size() >= kMaxCachedUsers && sizes_.count(user) == 0) sizes_.clear();
  sizes_[user] = CacheEntry{uidvalidity, std::move(sizes)};
}

namespace {

constexpr const char* kInbox = "INBOX";  // RFC 1939 §1: the maildrop is the user's INBOX

// --- ActionQueue: one per connection, runs jobs on the workers strictly one after another ---
//
// A job runs on a worker and returns a continuation for the loop thread (possibly empty).
// Jobs hold the queue by shared_ptr, so it lives until drained even when the handler that
// filled it is gone: that is what lets a dropped connection's Release run after the Commit
// or OpenMaildrop in front of it.
class ActionQueue : public std::enable_shared_from_this<ActionQueue> {
 public:
  using Job = std::function<std::function<void()>()>;

  explicit ActionQueue(net::WorkerPool& workers) : workers_(workers) {}

  void push(Job job) {
    jobs_.push_back(std::move(job));
    pump();
  }

  // The user whose IN-USE lock this connection holds. Written and read only by jobs, which
  // never overlap (the worker pool's hand-off orders them).
  std::string locked_user;

 private:
  void pump() {
    if (running_ || jobs_.empty()) return;
    running_ = true;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    auto cont = std::make_shared<std::function<void()>>();
    auto self = shared_from_this();
    bool submitted = workers_.submit([job = std::move(job), cont] { *cont = job(); },
                                     [self, cont] {
                                       self->running_ = false;
                                       if (*cont) (*cont)();
                                       self->pump();
                                     });
    if (!submitted) {
      // The pool is shutting down (ternd is exiting): nothing more can run.
      running_ = false;
      jobs_.clear();
    }
  }

  net::WorkerPool& workers_;
  std::deque<Job> jobs_;
  bool running_ = false;
};

// Like net::if_alive, from a weak_ptr (jobs must not own the handler).
template <class H, class F>
std::function<void()> alive(std::weak_ptr<H> weak, F f) {
  return [weak = std::move(weak), f = std::move(f)]() mutable {
    if (auto strong = weak.lock()) f(*strong);
  };
}

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
      out.outcome = pop3d::AuthResult::Outcome::temporary_failure;
      break;
  }
  return out;
}

// Worker side of OpenMaildrop: lock, snapshot, sizes. Releases the lock again on failure
// (pop3d.h: a failed OpenMaildrop holds nothing, and the session owes no Release).
pop3d::MaildropResult open_maildrop(store::Store& store, Pop3Maildrops& drops, ActionQueue& q,
                                    const std::string& user) {
  pop3d::MaildropResult out;
  // RFC 1939 §8 / RFC 2449 §8.1.2: one POP3 session per maildrop; the second gets [IN-USE].
  if (!drops.acquire(user)) {
    out.outcome = pop3d::MaildropResult::Outcome::in_use;
    return out;
  }
  auto fail = [&](const std::string& why) {
    drops.release(user);
    spdlog::warn("pop3 maildrop user={} error={}", user, why);
    out.outcome = pop3d::MaildropResult::Outcome::temporary_failure;
    out.messages.clear();
    return out;
  };
  auto snap = store.snapshot(user, kInbox);
  if (!snap) return fail(snap.error().message);
  const uint32_t uidvalidity = snap->status.uidvalidity;
  Pop3Maildrops::SizeMap cached = drops.take_sizes(user, uidvalidity);
  Pop3Maildrops::SizeMap sizes;
  sizes.reserve(snap->messages.size());
  out.messages.reserve(snap->messages.size());
  const std::string uidl_prefix = std::to_string(uidvalidity) + ".";
  for (const auto& m : snap->messages) {
    uint64_t wire = 0;
    if (auto it = cached.find(m.uid); it != cached.end()) {
      wire = it->second;
    } else {
      // RFC 1939 §11: sizes as RETR sends them (CRLF), so count from the bytes themselves.
      auto bytes = store.read_message(user, kInbox, m.uid);
      if (!bytes) {
        if (bytes.error().code == Errc::not_found) continue;  // expunged meanwhile (IMAP)
        drops.put_sizes(user, uidvalidity, std::move(sizes));
        return fail(bytes.error().message);
      }
      wire = pop3d::wire_size(*bytes);
    }
    sizes.emplace(m.uid, wire);
    // RFC 1939 §7: the unique-id, "<uidvalidity>.<uid>" (pop3d.h), never reused.
    out.messages.push_back(pop3d::MessageInfo{m.uid, wire, uidl_prefix + std::to_string(m.uid)});
  }
  drops.put_sizes(user, uidvalidity, std::move(sizes));
  q.locked_user = user;
  out.outcome = pop3d::MaildropResult::Outcome::ok;
  return out;
}

// Worker side of Retrieve (and of the read-ahead).
pop3d::RetrieveResult read_retrieve(store::Store* store, const std::string& user, pop3d::Uid uid) {
  pop3d::RetrieveResult rr;
  if (!store) return rr;
  auto bytes = store->read_message(user, kInbox, static_cast<uint32_t>(uid));
  if (bytes) {
    rr.outcome = pop3d::RetrieveResult::Outcome::ok;
    rr.bytes = std::move(*bytes);
  } else if (bytes.error().code == Errc::not_found) {
    rr.outcome = pop3d::RetrieveResult::Outcome::gone;  // expunged by IMAP meanwhile
  } else {
    spdlog::warn("pop3 retr user={} uid={} error={}", user, uid, bytes.error().message);
  }
  return rr;
}

// --- the connection handler -----------------------------------------------------------------

class Pop3Handler final : public net::ConnectionHandler,
                          public std::enable_shared_from_this<Pop3Handler> {
 public:
  Pop3Handler(Runtime& rt, std::shared_ptr<Pop3Maildrops> drops, bool implicit_tls)
      : rt_(rt),
        drops_(std::move(drops)),
        implicit_tls_(implicit_tls),
        queue_(std::make_shared<ActionQueue>(rt.workers)),
        seen_queue_(std::make_shared<ActionQueue>(rt.workers)),
        delay_timer_(rt.loop),
        seen_timer_(rt.loop) {}

  void on_open(net::Connection& conn) override {
    conn_ = &conn;
    const net::ConnectionInfo& info = conn.info();
    pop3d::SessionSettings s;
    s.hostname = rt_.config.hostname;
    s.implicit_tls = implicit_tls_;
    s.allow_plaintext_auth = rt_.config.auth.allow_plaintext_without_tls;
    // RFC 2595 §4: offer STLS only when a certificate exists and TLS is not already on.
    s.stls_available = rt_.tls != nullptr && !implicit_tls_ && info.tls_available;
    s.max_errors = rt_.config.pop3.max_errors;
    ip_ = info.peer_ip;
    session_.emplace(s, pop3d::PeerInfo{info.peer_ip, info.tls});
    apply(session_->greet());
  }

  void on_data(std::string_view bytes) override {
    if (!session_) return;
    apply(session_->feed(bytes));
  }

  void on_tls_ready() override {
    if (!session_) return;
    apply(session_->tls_started());
  }

  void on_timeout() override {
    if (!session_) return;
    // The timer measures client silence; while we are the ones working (an action is
    // pending, e.g. a large RETR or a throttled login) it does not count. net re-arms it.
    if (session_->action_pending()) return;
    if (!session_->closed()) how_ = "timeout";
    apply(session_->timeout());  // RFC 1939 §3: autologout, no UPDATE
  }

  void on_shutdown() override {
    if (!session_) {
      if (conn_) conn_->close();
      return;
    }
    if (!session_->closed() && session_->state() != pop3d::State::update) how_ = "shutdown";
    apply(session_->shutdown());  // a QUIT's Commit in flight finishes first
  }

  void on_close() override {
    conn_ = nullptr;  // from here on only actions run; nothing is written
    if (session_ && !session_->closed()) {
      how_ = how_ ? how_ : "dropped";
      // RFC 1939 §6: no UPDATE without QUIT. The session emits Release (and pending \Seen);
      // the queue runs them after whatever is in flight, handler or not.
      apply(session_->disconnected());
    }
    delay_timer_.stop();
    window_.clear();
    flush_seen();  // normally done by the Release above; nothing may stay behind
    spdlog::info("pop3 quit user={} ip={} retr={} dele={} how={}", user_.empty() ? "-" : user_,
                 ip_, retr_, dele_, how_ ? how_ : "quit");
  }

 private:
  void apply(pop3d::Output out) {
    // A Retrieve answered from the read-ahead window leaves its result in immediate_: it is
    // fed back right after this Output's bytes are written (order kept), in this loop rather
    // than recursively, so a long pipelined run of RETRs costs no stack and no loop turn.
    for (;;) {
      for (auto& a : out.actions) run(std::move(a));
      if (!conn_) {
        immediate_.reset();
        return;
      }
      if (!out.bytes.empty()) conn_->write(out.bytes);
      if (out.close_after_write) {
        immediate_.reset();
        conn_->close();
        return;
      }
      // RFC 2595 §4: the "+OK" goes out in clear, then the handshake; the session discards
      // whatever the client pipelined behind STLS until tls_started().
      if (out.start_tls) conn_->start_tls();
      if (!immediate_ || !session_) break;
      pop3d::ActionResult r = std::move(*immediate_);
      immediate_.reset();
      out = session_->complete(r);
    }
    // While the session waits for a result it would only buffer input: let the kernel do
    // that instead (bounded by the socket buffers, and the client's own flow control).
    if (conn_ && session_) conn_->set_reading(!session_->action_pending());
    top_up();
  }

  void feed_result(const pop3d::ActionResult& r) {
    if (!session_) return;
    apply(session_->complete(r));
  }

  template <class Work>
  void push(Work work) {
    queue_->push(std::move(work));
  }

  // Commit and Release run after every \Seen flush before them has finished (the flags of a
  // message kept must be on disk once QUIT is answered, and IN-USE is released last): the
  // job goes through the seen queue first, which hands it to the main queue in order.
  void push_after_seen(ActionQueue::Job job) {
    flush_seen();
    seen_queue_->push([main = queue_, job = std::move(job)]() mutable -> std::function<void()> {
      return [main, job = std::move(job)]() mutable { main->push(std::move(job)); };
    });
  }

  // \Seen after RETR is batched: the session emits MarkSeen after every lock-step RETR, and
  // each store_flags is a durable index commit (an fsync, and a rename per message into cur/).
  // Flags are fire-and-forget, so they are collected and written every kSeenFlushMs, every
  // kSeenFlushCount messages, and always before a Commit or Release (queue order keeps them
  // ahead of the session's end); messages that Commit expunges are left out (Dovecot's POP3
  // likewise sets \Seen only in UPDATE, and only on what it keeps).
  static constexpr uint64_t kSeenFlushMs = 2000;
  static constexpr size_t kSeenFlushCount = 4096;

  void add_seen(std::vector<pop3d::Uid> uids) {
    seen_batch_.insert(seen_batch_.end(), uids.begin(), uids.end());
    if (seen_batch_.size() >= kSeenFlushCount) return flush_seen();
    if (!seen_timer_.active()) seen_timer_.start(kSeenFlushMs, [this] { flush_seen(); });
  }

  void flush_seen() {
    seen_timer_.stop();
    if (seen_batch_.empty()) return;
    // Runs even if the connection is gone by then: the client did RETR these. On its own
    // serial queue, so a large flags commit never holds up the read-ahead.
    seen_queue_->push([rt = &rt_, user = user_,
          uids = std::exchange(seen_batch_, {})]() -> std::function<void()> {
      if (!rt->store) return {};
      std::vector<uint32_t> u32(uids.begin(), uids.end());
      store::Flags seen;
      seen.system = store::kSeen;
      auto st = rt->store->store_flags(user, kInbox, u32, store::FlagOp::add, seen);
      if (!st) spdlog::warn("pop3 seen user={} error={}", user, st.error().message);
      return {};
    });
  }

  // Read-ahead: clients fetch in order (RETR 1, RETR 2, ...). The handler keeps a window of
  // the next messages of the maildrop in memory (at most kWindowMessages and kWindowBytes,
  // messages over kWindowBytes are never read ahead), read on a worker through the same
  // serial queue several at a time, so a RETR is normally answered on the loop thread at once
  // and only every few messages costs a worker round trip, overlapped with the client's
  // reading. A Retrieve outside the window (a client skipping about) drops it and reads from
  // the requested message on. The window is topped up whenever it is half empty.
  static constexpr size_t kWindowMessages = 32;
  static constexpr uint64_t kWindowBytes = 2 << 20;

  struct Prefetched {
    pop3d::Uid uid = 0;
    pop3d::RetrieveResult result;
  };

  void remember_maildrop(const pop3d::MaildropResult& m) {
    order_.clear();
    position_.clear();
    if (m.outcome != pop3d::MaildropResult::Outcome::ok) return;
    for (size_t i = 0; i < m.messages.size(); ++i) {
      order_.push_back({m.messages[i].uid, m.messages[i].size_octets});
      position_[m.messages[i].uid] = i;
    }
  }

  uint64_t window_bytes() const {
    uint64_t n = 0;
    for (const auto& p : window_) n += p.result.bytes.size();
    return n;
  }

  // Queues one worker job reading order_[from..] (at most the window's limits; the first
  // one always when `must`), returns false if nothing was queued.
  bool read_batch(size_t from, bool must, size_t max_count = kWindowMessages) {
    std::vector<pop3d::Uid> uids;
    uint64_t bytes = window_bytes();
    size_t count = window_.size();
    for (size_t i = from; i < order_.size() && count < kWindowMessages && uids.size() < max_count;
         ++i, ++count) {
      const uint64_t size = order_[i].second;
      if (!(must && uids.empty()) && (size > kWindowBytes || bytes + size > kWindowBytes)) break;
      uids.push_back(order_[i].first);
      bytes += size;
    }
    if (uids.empty()) return false;
    inflight_ = uids;
    next_ = from + uids.size();
    const uint64_t gen = ++window_gen_;
    std::weak_ptr<Pop3Handler> self = weak_from_this();
    push([rt = &rt_, user = user_, uids = std::move(uids), gen, self]() -> std::function<void()> {
      auto got = std::make_shared<std::vector<Prefetched>>();
      got->reserve(uids.size());
      for (pop3d::Uid uid : uids) got->push_back({uid, read_retrieve(rt->store, user, uid)});
      return alive(self, [got, gen](Pop3Handler& h) { h.batch_done(gen, std::move(*got)); });
    });
    return true;
  }

  void batch_done(uint64_t gen, std::vector<Prefetched> got) {
    if (gen != window_gen_) return;  // superseded by a read from elsewhere
    inflight_.clear();
    for (auto& p : got) window_.push_back(std::move(p));
    if (waiting_) {
      auto [id, uid] = *waiting_;
      waiting_.reset();
      if (auto r = take_from_window(uid)) {
        feed_result(pop3d::ActionResult{id, std::move(*r)});
        return;  // apply() topped up
      }
      // Not read after all (cannot happen: the batch held it); answer as a failure.
      feed_result(pop3d::ActionResult{id, pop3d::RetrieveResult{}});
      return;
    }
    top_up();
  }

  // The window's copy of `uid`, dropping what comes before it; nullopt if it is not there.
  std::optional<pop3d::RetrieveResult> take_from_window(pop3d::Uid uid) {
    auto it = std::find_if(window_.begin(), window_.end(),
                           [uid](const Prefetched& p) { return p.uid == uid; });
    if (it == window_.end()) return std::nullopt;
    pop3d::RetrieveResult r = std::move(it->result);
    window_.erase(window_.begin(), it + 1);
    return r;
  }

  // Reads more ahead once the window is half empty (nothing in flight, in TRANSACTION).
  void top_up() {
    if (!session_ || session_->state() != pop3d::State::transaction || !inflight_.empty()) return;
    if (next_ == 0 || next_ >= order_.size()) return;  // nothing retrieved yet, or at the end
    if (window_.size() > kWindowMessages / 2 || window_bytes() > kWindowBytes / 2) return;
    read_batch(next_, false);
  }

  void retrieve(pop3d::ActionId id, pop3d::Uid uid) {
    if (auto r = take_from_window(uid)) {
      immediate_ = pop3d::ActionResult{id, std::move(*r)};  // apply() feeds it back
      return;
    }
    if (std::find(inflight_.begin(), inflight_.end(), uid) != inflight_.end()) {
      waiting_ = {id, uid};  // answered when the batch lands
      return;
    }
    // Outside the window: start over from this message alone, so it is answered after one
    // read; the window fills behind it (a stale batch still in the queue is ignored when it
    // lands).
    window_.clear();
    inflight_.clear();
    auto pos = position_.find(uid);
    if (pos != position_.end() && read_batch(pos->second, true, 1)) {
      waiting_ = {id, uid};
      return;
    }
    // Not in the maildrop as opened (cannot happen: the session only asks for its own).
    ++window_gen_;
    std::weak_ptr<Pop3Handler> self = weak_from_this();
    push([rt = &rt_, user = user_, uid, id, self]() -> std::function<void()> {
      auto r = std::make_shared<pop3d::ActionResult>(
          pop3d::ActionResult{id, read_retrieve(rt->store, user, uid)});
      return alive(self, [r](Pop3Handler& h) { h.feed_result(*r); });
    });
  }

  // Runs one action through the serial queue.
  void run(pop3d::Action action) {
    const pop3d::ActionId id = action.id;
    if (auto* seen = std::get_if<pop3d::MarkSeen>(&action.kind)) return add_seen(std::move(seen->uids));
    if (auto* commit = std::get_if<pop3d::Commit>(&action.kind)) {
      // Messages expunged now need no \Seen: drop them from the batch (the session leaves
      // them out of its MarkSeen already; this covers what was batched before QUIT).
      std::vector<pop3d::Uid> doomed = commit->expunge;
      std::sort(doomed.begin(), doomed.end());
      std::erase_if(seen_batch_, [&](pop3d::Uid u) {
        return std::binary_search(doomed.begin(), doomed.end(), u);
      });
    }
    // Jobs hold the handler weakly only: it must die on the loop thread (its Timer), never as
    // the last reference dropped by a worker.
    std::weak_ptr<Pop3Handler> self = weak_from_this();
    std::visit(
        [&](auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, pop3d::Authenticate>) {
            push([rt = &rt_, ip = ip_, a = std::move(a), id, self]() -> std::function<void()> {
              auth::LoginResult lr;
              if (rt->authenticator)
                lr = rt->authenticator->login(a.user, a.password, ip, "pop3");
              else
                lr.outcome = auth::LoginResult::Outcome::unavailable;
              pop3d::ActionResult r{id, to_auth_result(lr)};
              return alive(self, [r, delay = lr.delay](Pop3Handler& h) {
                h.answer_after(delay, r);
              });
            });
          } else if constexpr (std::is_same_v<A, pop3d::OpenMaildrop>) {
            user_ = a.user;
            push([rt = &rt_, drops = drops_, q = queue_.get(), user = a.user, id,
                  self]() -> std::function<void()> {
              pop3d::ActionResult r{id, pop3d::MaildropResult{}};
              if (rt->store) r.value = open_maildrop(*rt->store, *drops, *q, user);
              return alive(self, [r](Pop3Handler& h) {
                h.remember_maildrop(std::get<pop3d::MaildropResult>(r.value));
                h.feed_result(r);
              });
            });
          } else if constexpr (std::is_same_v<A, pop3d::Retrieve>) {
            ++retr_;
            retrieve(id, a.uid);
          } else if constexpr (std::is_same_v<A, pop3d::MarkSeen>) {
            // Handled by add_seen() above.
          } else if constexpr (std::is_same_v<A, pop3d::Commit>) {
            // RFC 1939 §6 UPDATE: expunge through the store, so IMAP sessions are notified.
            push_after_seen([rt = &rt_, user = user_, uids = std::move(a.expunge), id,
                  self]() -> std::function<void()> {
              pop3d::CommitResult cr;
              size_t removed = 0;
              if (rt->store) {
                std::vector<uint32_t> u32(uids.begin(), uids.end());
                auto ex = rt->store->expunge(user, kInbox, u32);
                cr.ok = ex.ok();
                if (ex) removed = ex->size();
                else spdlog::warn("pop3 update user={} error={}", user, ex.error().message);
              }
              pop3d::ActionResult r{id, cr};
              return alive(self, [r, removed](Pop3Handler& h) {
                h.dele_ = removed;
                h.feed_result(r);
              });
            });
          } else if constexpr (std::is_same_v<A, pop3d::Release>) {
            // Runs after everything queued before it, connection or not.
            push_after_seen([drops = drops_, q = queue_.get()]() -> std::function<void()> {
              if (!q->locked_user.empty()) {
                drops->release(q->locked_user);
                q->locked_user.clear();
              }
              return {};
            });
          }
        },
        action.kind);
  }

  // auth::LoginResult::delay: the answer (good or bad) waits, so timing reveals nothing.
  void answer_after(std::chrono::milliseconds delay, pop3d::ActionResult r) {
    if (delay.count() <= 0) return feed_result(r);
    // The timer belongs to this handler: destroyed with it, so `this` stays valid.
    delay_timer_.start(static_cast<uint64_t>(delay.count()), [this, r] { feed_result(r); });
  }

  Runtime& rt_;
  std::shared_ptr<Pop3Maildrops> drops_;
  bool implicit_tls_;
  std::shared_ptr<ActionQueue> queue_;
  std::shared_ptr<ActionQueue> seen_queue_;  // \Seen flushes; Commit/Release pass through it
  net::Timer delay_timer_;
  net::Timer seen_timer_;
  std::vector<std::pair<pop3d::Uid, uint64_t>> order_;  // maildrop: uid, size
  std::unordered_map<pop3d::Uid, size_t> position_;     // uid -> index in order_
  std::deque<Prefetched> window_;        // read ahead, in maildrop order
  std::vector<pop3d::Uid> inflight_;     // being read by the current batch
  size_t next_ = 0;                      // index in order_ after the last one asked for
  uint64_t window_gen_ = 0;              // bumped when the window starts over
  std::optional<std::pair<pop3d::ActionId, pop3d::Uid>> waiting_;  // a Retrieve for inflight_
  std::optional<pop3d::ActionResult> immediate_;  // answered from the window, see apply()
  std::vector<pop3d::Uid> seen_batch_;  // RETR'd, \Seen not yet handed to the queue
  net::Connection* conn_ = nullptr;
  std::optional<pop3d::Session> session_;
  std::string ip_;
  std::string user_;  // canonical, from OpenMaildrop
  uint64_t retr_ = 0;
  uint64_t dele_ = 0;
  const char* how_ = nullptr;  // how the session ended, for the log; null = QUIT
};

}  // namespace

net::HandlerFactory make_pop3_factory(Runtime& rt, ListenerKind kind) {
  // Called on the loop thread at start-up, once per listener: pop3 and pop3s share the
  // lock table (one maildrop, one POP3 session, whichever port it came in on).
  if (!rt.pop3_maildrops) rt.pop3_maildrops = std::make_shared<Pop3Maildrops>();
  auto drops = rt.pop3_maildrops;
  bool implicit = spec(kind).implicit_tls;
  return [&rt, drops, implicit] { return std::make_shared<Pop3Handler>(rt, drops, implicit); };
}

}  // namespace tern::daemon
