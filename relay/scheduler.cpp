// The relay scheduler: ticks (queue.db maintenance + due recipients), dispatch under the
// concurrency limits, recording outcomes. Loop thread, except what runs on workers.
#include <algorithm>

#include "common/log.h"
#include "net/net.h"
#include "relay/dsn.h"
#include "relay/engine_impl.h"

namespace tern::relay {

Relay::Relay(RelayOptions options, RelayDeps deps) : s_(std::make_shared<State>()) {
  s_->opt = std::move(options);
  s_->deps = std::move(deps);
}

Relay::~Relay() {
  s_->stopped = true;
  s_->timer.reset();  // the Timer belongs to the loop thread: destroy it here, not in a worker
}

void Relay::start() {
  State& s = *s_;
  if (s.started) return;
  s.started = true;
  s.timer = std::make_unique<net::Timer>(*s.deps.loop);
  s.request_tick();
}

void Relay::stop() {
  s_->stopped = true;
  if (s_->timer) s_->timer->stop();
  // A session waiting on a slow remote would otherwise keep its connection (and this State)
  // alive past the loop: close it; the attempt then finishes as a temporary failure.
  if (s_->deps.transport) s_->deps.transport->close_all();
}

void Relay::rescan() { s_->request_tick(); }

bool Relay::idle() const {
  return !s_->tick_running && s_->active_total == 0 && s_->records_running == 0;
}

RelayCounters Relay::counters() const {
  RelayCounters c = s_->counters;
  c.dsn_sent = s_->dsn_sent.load();
  return c;
}

Result<std::string> Relay::enqueue(const Envelope& envelope, std::string_view message) {
  auto id = s_->enqueue_durably(envelope, message);
  if (id) {
    // Wake the scheduler (Loop::post is thread-safe); it goes away quietly with the relay.
    std::weak_ptr<State> weak = s_;
    s_->deps.loop->post([weak] {
      if (auto s = weak.lock()) s->request_tick();
    });
  }
  return id;
}

Result<std::string> Relay::State::enqueue_durably(const Envelope& envelope, std::string_view message) {
  int64_t t = now();
  // DKIM at enqueue time: the signature is computed once over exactly the bytes every retry
  // sends, and t= is the submission time.
  auto signed_message = dkim_sign_outbound(message, dkim_dir(), t);
  std::string_view bytes = signed_message ? std::string_view(*signed_message) : message;
  if (!signed_message) spdlog::warn("relay dkim: {}", signed_message.error().message);
  auto id = deps.queue->enqueue(envelope, bytes, t);
  if (id)
    spdlog::info("relay queued id={} from=<{}> rcpts={} size={}", *id, envelope.sender,
                 envelope.recipients.size(), bytes.size());
  return id;
}

void Relay::State::request_tick() {
  if (stopped || !started) return;
  if (tick_running) {
    tick_again = true;
    return;
  }
  tick_running = true;
  tick_again = false;
  recently_recorded.clear();
  counters.ticks++;
  int64_t t = now();
  struct Out {
    std::vector<QueuedMessage> due;
    std::optional<int64_t> next;
  };
  auto out = std::make_shared<Out>();
  auto self = shared_from_this();
  bool ok = deps.workers->submit(
      [self, out, t] {
        State& s = *self;
        QueueStore& q = *s.deps.queue;
        const RelayConfig& c = s.opt.config;
        // 1. Expiry: past max_queue_lifetime, pending/deferred recipients fail (bounce).
        if (auto n = q.expire(t - c.max_queue_lifetime, t); n && *n > 0)
          spdlog::info("relay expired recipients={}", *n);
        // 2. One delayed DSN per message after delay_warning_after (RFC 3461 §5.2.5).
        if (c.delay_warning_after > 0 && c.delay_warning_after < c.max_queue_lifetime) {
          if (auto cands = q.delay_candidates(t - c.delay_warning_after)) {
            for (const auto& m : *cands) {
              std::vector<int64_t> rows;
              if (m.kind == MessageKind::normal && !m.sender.empty()) {
                for (const auto& r : m.recipients)
                  if (r.state == RcptState::deferred && notify_allows(r.notify, DsnKind::delay))
                    rows.push_back(r.row);
              }
              (void)q.mark_delay_dsn(m.id, rows);
            }
          }
        }
        // 3. DSNs marked by attempts, expiry, delay warnings or ternctl.
        s.dsn_sent += static_cast<uint64_t>(generate_dsns(s, t));
        // 4. Finished messages leave the queue.
        if (auto ids = q.purge_finished(); ids && !ids->empty())
          for (const auto& id : *ids) spdlog::debug("relay removed id={}", id);
        // 5. What is due now, and when the next one is.
        if (auto due = q.due(t, s.opt.due_batch)) out->due = std::move(*due);
        else spdlog::error("relay queue: {}", due.error().message);
        if (auto next = q.next_due_after(t)) out->next = *next;
      },
      [self, out, t] { self->tick_done(std::move(out->due), out->next, t); });
  if (!ok) tick_running = false;
}

void Relay::State::tick_done(std::vector<QueuedMessage> due, std::optional<int64_t> next, int64_t at) {
  tick_running = false;
  if (stopped) return;
  dispatch(due);
  arm_timer(next, at);
  if (tick_again) request_tick();
}

void Relay::State::arm_timer(std::optional<int64_t> next, int64_t at) {
  if (!timer) return;
  int64_t wake = at + std::max(1, opt.rescan_seconds);
  if (next && *next < wake) wake = *next;
  int64_t delay_s = std::max<int64_t>(0, wake - now());
  std::weak_ptr<State> weak = shared_from_this();
  timer->start(static_cast<uint64_t>(delay_s) * 1000 + 50, [weak] {
    if (auto s = weak.lock()) s->request_tick();
  });
}

void Relay::State::dispatch(const std::vector<QueuedMessage>& due) {
  // destination -> message id -> the message with only that destination's due rows
  std::map<std::string, std::vector<QueuedMessage>> by_dest;
  for (const auto& m : due) {
    std::map<std::string, QueuedMessage> parts;
    for (const auto& r : m.recipients) {
      if (inflight.count(r.row) || recently_recorded.count(r.row)) continue;
      std::string dest = smarthost() ? std::string("[smarthost]") : r.domain;
      auto& part = parts[dest];
      if (part.id.empty()) {
        part = m;
        part.recipients.clear();
      }
      part.recipients.push_back(r);  // RFC 5321 §5.1: one transaction per domain, many RCPTs
    }
    for (auto& [dest, part] : parts) by_dest[dest].push_back(std::move(part));
  }
  const RelayConfig& c = opt.config;
  for (auto& [dest, msgs] : by_dest) {
    size_t i = 0;
    while (i < msgs.size()) {
      if (active_total >= std::max(1, c.max_concurrency)) return;
      if (active_per_dest[dest] >= std::max(1, c.max_per_destination)) break;
      std::vector<AttemptJob> jobs;
      // Several messages on one connection to the same destination.
      for (; i < msgs.size() && jobs.size() < std::max<size_t>(1, opt.max_messages_per_connection); ++i)
        jobs.push_back(AttemptJob{std::move(msgs[i]), {}, false});
      start_attempt(dest, std::move(jobs));
    }
  }
}

void Relay::State::start_attempt(const std::string& dest, std::vector<AttemptJob> jobs) {
  std::vector<int64_t> rows;
  for (const auto& j : jobs)
    for (const auto& r : j.message.recipients) rows.push_back(r.row);
  for (int64_t r : rows) inflight.insert(r);
  active_total++;
  active_per_dest[dest]++;
  counters.attempts++;
  auto shared_jobs = std::make_shared<std::vector<AttemptJob>>(std::move(jobs));
  auto self = shared_from_this();
  auto finish = [self, dest, rows](std::vector<RecipientOutcome> outcomes) {
    State& s = *self;
    s.active_total--;
    if (--s.active_per_dest[dest] <= 0) s.active_per_dest.erase(dest);
    s.record(dest, rows, std::move(outcomes));
  };
  // Message bodies are read on a worker (file I/O), DSNs for local mailboxes delivered there
  // too, then the attempt runs on the loop for the rest.
  auto local = std::make_shared<std::vector<RecipientOutcome>>();
  bool ok = deps.workers->submit(
      [self, shared_jobs, local] {
        for (auto& j : *shared_jobs) {
          auto body = self->deps.queue->read_message(j.message.id);
          if (body) {
            j.body = std::move(*body);
            j.loaded = true;
          }
        }
        *local = deliver_local_rows(*self, *shared_jobs);
      },
      [self, dest, shared_jobs, finish, local] {
        if (self->stopped) {
          finish(std::move(*local));
          return;
        }
        run_attempt(self, dest, shared_jobs, [finish, local](std::vector<RecipientOutcome> out) {
          for (auto& o : *local) out.push_back(std::move(o));
          finish(std::move(out));
        });
      });
  if (!ok) finish({});
}

void Relay::State::record(const std::string& dest, std::vector<int64_t> rows,
                          std::vector<RecipientOutcome> outcomes) {
  int64_t t = now();
  const RelayConfig& c = opt.config;
  std::vector<RecipientUpdate> updates;
  for (const auto& o : outcomes) {
    RecipientUpdate u;
    u.row = o.recipient.row;
    u.attempts = o.recipient.attempts + 1;
    u.last_attempt = t;
    u.last_reply = o.reply;
    u.remote_mta = o.remote_mta;
    const std::string& id = o.message_id;
    const std::string& rcpt = o.recipient.address;
    switch (o.outcome) {
      case Outcome::delivered:
        u.state = RcptState::delivered;
        // RFC 3461 §5.2.1: a DSN-capable server got NOTIFY and reports success itself;
        // §5.2.2: past a server without DSN we report "relayed" when SUCCESS was asked for.
        if (!o.remote_dsn && notify_allows(o.recipient.notify, DsnKind::success) &&
            !o.recipient.notify.empty())
          u.dsn_action = "relayed";
        counters.delivered++;
        spdlog::info("relay delivered id={} rcpt={} mx={} reply=\"{}\"", id, rcpt, o.remote_mta, o.reply);
        break;
      case Outcome::permanent:
        u.state = RcptState::failed;
        u.dsn_action = "failed";
        counters.failed++;
        spdlog::info("relay failed id={} rcpt={} mx={} reply=\"{}\"", id, rcpt, o.remote_mta, o.reply);
        break;
      case Outcome::temporary:
        u.state = RcptState::deferred;
        u.next_attempt = next_attempt_time(c.retry_schedule, u.attempts, t, o.arrival,
                                           c.max_queue_lifetime);
        counters.deferred++;
        spdlog::info("relay deferred id={} rcpt={} mx={} attempts={} next_in={}s reply=\"{}\"", id,
                     rcpt, o.remote_mta, u.attempts, u.next_attempt - t, o.reply);
        break;
    }
    updates.push_back(std::move(u));
  }
  records_running++;
  auto self = shared_from_this();
  auto shared_updates = std::make_shared<std::vector<RecipientUpdate>>(std::move(updates));
  auto done = [self, rows] {
    State& s = *self;
    s.records_running--;
    for (int64_t r : rows) {
      s.inflight.erase(r);
      s.recently_recorded.insert(r);
    }
    s.request_tick();
  };
  bool ok = deps.workers->submit(
      [self, shared_updates] {
        if (shared_updates->empty()) return;
        if (Status st = self->deps.queue->update_recipients(*shared_updates); !st)
          spdlog::error("relay queue: cannot record attempt: {}", st.error().message);
      },
      done);
  if (!ok) done();
}

}  // namespace tern::relay
