#include "daemon/metrics.h"

#include <ctime>

#include "auth/auth.h"
#include "http/http.h"
#include "store/store.h"

namespace tern::daemon {

void Metrics::delivery_latency(std::chrono::steady_clock::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  if (us < 0) us = 0;
  latency_sum_us_.fetch_add(static_cast<uint64_t>(us), std::memory_order_relaxed);
  double seconds = static_cast<double>(us) / 1e6;
  for (size_t i = 0; i < kLatencyBounds.size(); ++i)
    if (seconds <= kLatencyBounds[i]) return count(latency_[i]);
  count(latency_overflow_);
}

Metrics::LoopSnapshot Metrics::loop_snapshot() const {
  LoopSnapshot s;
  for (const auto& source : loop_sources) source(s);
  return s;
}

std::string Metrics::render(const Runtime& rt, const LoopSnapshot& loop) const {
  http::MetricsWriter w;
  auto n = [](const std::atomic<uint64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  w.family("tern_connections_total", "counter", "Connections accepted, by protocol.");
  constexpr const char* kProtoNames[kProtocols] = {"smtp", "imap", "pop3", "http"};
  for (size_t p = 0; p < kProtocols; ++p) w.sample("tern_connections_total", {{"proto", kProtoNames[p]}}, n(connections_[p]));
  w.family("tern_connections_open", "gauge", "Connections open now, every listener.");
  w.sample("tern_connections_open", static_cast<double>(loop.open_connections));

  w.family("tern_messages_received_total", "counter",
           "Messages at the end of SMTP DATA, by listener kind and outcome.");
  constexpr const char* kOutcomes[3] = {"delivered", "tempfail", "rejected"};
  for (int sub = 0; sub < 2; ++sub)
    for (size_t o = 0; o < 3; ++o)
      w.sample("tern_messages_received_total", {{"listener", sub ? "submission" : "mx"}, {"outcome", kOutcomes[o]}},
               n(received_[sub][o]));

  if (rt.store) {
    auto st = rt.store->stats();
    w.family("tern_store_delivered_total", "counter", "Messages committed to mailboxes.");
    w.sample("tern_store_delivered_total", static_cast<double>(st.delivered));
    // Batch size = delivered / batches over any interval (rate() of both).
    w.family("tern_store_commit_batches_total", "counter", "Group commits of deliveries (one SQLite transaction each).");
    w.sample("tern_store_commit_batches_total", static_cast<double>(st.delivery_batches));
    w.family("tern_store_index_commits_total", "counter", "SQLite write transactions of the mail index.");
    w.sample("tern_store_index_commits_total", static_cast<double>(st.index_commits));
  }

  w.family("tern_relay_recipients_total", "counter", "Outbound delivery attempts' outcomes, per recipient.");
  w.sample("tern_relay_recipients_total", {{"outcome", "delivered"}}, static_cast<double>(loop.relay_delivered));
  w.sample("tern_relay_recipients_total", {{"outcome", "deferred"}}, static_cast<double>(loop.relay_deferred));
  w.sample("tern_relay_recipients_total", {{"outcome", "failed"}}, static_cast<double>(loop.relay_failed));
  if (rt.queue_gauge) {
    if (auto q = rt.queue_gauge(); q) {
      w.family("tern_queue_messages", "gauge", "Messages in the outbound queue.");
      w.sample("tern_queue_messages", static_cast<double>(q->first));
      int64_t age = q->second > 0 ? static_cast<int64_t>(std::time(nullptr)) - q->second : 0;
      w.family("tern_queue_oldest_age_seconds", "gauge", "Age of the oldest queued message (0: empty).");
      w.sample("tern_queue_oldest_age_seconds", static_cast<double>(age < 0 ? 0 : age));
    }
  }

  if (rt.authenticator) {
    w.family("tern_auth_failures_total", "counter", "Failed logins (bad credentials, locked out, disabled, errors).");
    w.sample("tern_auth_failures_total", static_cast<double>(rt.authenticator->failures()));
  }

  std::vector<double> bounds(kLatencyBounds.begin(), kLatencyBounds.end());
  std::vector<uint64_t> counts;
  for (const auto& c : latency_) counts.push_back(c.load(std::memory_order_relaxed));
  w.histogram("tern_delivery_latency_seconds",
              "End of SMTP DATA to the final reply (checks, scanning, durable commit).", bounds, counts,
              latency_overflow_.load(std::memory_order_relaxed),
              static_cast<double>(latency_sum_us_.load(std::memory_order_relaxed)) / 1e6);
  return w.text();
}

}  // namespace tern::daemon
