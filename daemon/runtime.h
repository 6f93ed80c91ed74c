// daemon: what ternd shares with the protocol services.
//
// A protocol service (daemon/<proto>_service.cpp) is a Frontend (daemon/frontend/frontend.h)
// driving its sans-I/O session; its factory is listed in the table in daemon/services.cpp.
// Runtime is what they share: configuration, the loop and worker pool, the account db and
// store, the relay seam, and the ternd-wide tables (POP3 locks, per-user limits, DNS).
//
// Threading: the factory is called on the loop thread when a connection is accepted; the
// handlers it makes live on the loop thread (see net/net.h for ownership and if_alive()).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "net/net.h"

namespace tern::auth {
class AccountDb;
class Authenticator;
}  // namespace tern::auth
namespace tern::store {
class Store;
}  // namespace tern::store
namespace tern::relay {
struct Envelope;
}  // namespace tern::relay
namespace tern::authn {
class Srs;
}  // namespace tern::authn
namespace tern::bayes {
class Classifier;
}  // namespace tern::bayes
namespace tern {
class AcmeChallenges;  // common/acme_challenges.h
}  // namespace tern
namespace tern::dns {
class CaresResolver;
class RecordResolver;
}  // namespace tern::dns

namespace tern::daemon {

class Pop3Maildrops;  // daemon/pop3/maildrops.h
class UserIpLimiter;  // daemon/user_ip_limiter.h
class InboundChecks;  // daemon/inbound_checks.h
class ContentStage;   // daemon/content_stage.h
class Screening;      // daemon/screen_glue.h
class DmarcReporter;  // daemon/dmarc_reports.h
class Metrics;        // daemon/metrics.h

// The configured listener sections ([listen] keys).
enum class ListenerKind { smtp, submission, submissions, imap, imaps, pop3, pop3s, http, https };
enum class Protocol { smtp, imap, pop3, http };

struct ListenerSpec {
  ListenerKind kind;
  const char* name;   // the [listen] key, also the log "proto=" word
  Protocol protocol;
  bool implicit_tls;  // RFC 8314 §3: submissions/imaps/pop3s start with TLS
  std::vector<Endpoint> ListenConfig::*endpoints;
};
const std::vector<ListenerSpec>& listener_specs();
const ListenerSpec& spec(ListenerKind kind);

// Shared state every service may use. Owned by main(); outlives every connection.
struct Runtime {
  const Config& config;
  net::Loop& loop;
  net::WorkerPool& workers;
  std::shared_ptr<net::TlsContext> tls;  // null when no certificate is configured

  // Run (on the loop thread) when shutdown begins, before connections are told to finish:
  // stop queue runners, timers, outbound connections.
  std::vector<std::function<void()>> on_shutdown{};

  // Accounts and the message store, opened by main() before the listeners start. Both are
  // thread-safe and BLOCKING: call them from rt.workers only, never on the loop thread.
  auth::AccountDb* accounts = nullptr;
  auth::Authenticator* authenticator = nullptr;
  store::Store* store = nullptr;

  // The relay seam (set by start_relay_service; empty = no relay, and SMTP answers remote
  // recipients 451 4.3.2). Durably queues `message` for the envelope's recipients and
  // returns the queue id ("" when there are none); "250" follows only after it returns. The
  // envelope is the relay's own (relay/queue.h: sender, recipients with their RFC 3461
  // parameters), so the relay knows nothing of the front ends. Blocking: workers only.
  std::function<Result<std::string>(const relay::Envelope& envelope, std::string_view message)>
      enqueue_remote{};

  // POP3 maildrop locks (IN-USE) and wire-size cache, shared by the pop3 and pop3s
  // listeners; created by make_pop3_factory.
  std::shared_ptr<Pop3Maildrops> pop3_maildrops = nullptr;

  // Connections per user and client address after login (limits.max_user_ip_connections);
  // thread-safe. Null: no per-user limit.
  std::shared_ptr<UserIpLimiter> user_ips = nullptr;

  // The DNS layer ([dns] servers), set by start_inbound_checks before the listeners start:
  // c-ares on the loop, and its TTL cache for record lookups. Loop thread only.
  dns::CaresResolver* dns = nullptr;
  dns::RecordResolver* dns_records = nullptr;
  // The MX listener's sender checks ([inbound_auth]; daemon/inbound_checks.h).
  std::shared_ptr<InboundChecks> inbound_checks = nullptr;
  // [srs]: the forwarding sender rewriter, keyed by data_dir/srs.key (null: srs.enabled off).
  // Immutable, any thread.
  std::shared_ptr<const authn::Srs> srs = nullptr;
  // The content stage ([spam], [clamav], [rspamd]; daemon/content_stage.h). Thread-safe.
  std::shared_ptr<const ContentStage> content_stage = nullptr;
  // The MX listener's connection and envelope stage ([screen]; daemon/screen_glue.h).
  std::shared_ptr<Screening> screen = nullptr;

  // Each user's junk classifier (bayes/bayes.h, data_dir/classifier.db): taught over IMAP,
  // asked at delivery. Thread-safe and BLOCKING: workers only. Null: no learning.
  bayes::Classifier* classifier = nullptr;

  // DMARC aggregate reports ([dmarc_reports]; daemon/dmarc_reports.h). Loop thread. Null: off.
  std::shared_ptr<DmarcReporter> dmarc_reports = nullptr;

  // The counters /metrics shows (daemon/metrics.h); thread-safe. Null: not counted.
  Metrics* metrics = nullptr;
  // ACME challenges in flight (the ACME client writes, the HTTP listener answers HTTP-01).
  // Thread-safe. Null: every challenge URL is 404.
  const AcmeChallenges* acme_challenges = nullptr;
  // The relay's queue for /metrics: messages waiting and the oldest one's arrival (unix
  // seconds, 0 when empty). BLOCKING (queue.db): workers only. Set by start_relay_service.
  std::function<Result<std::pair<uint64_t, int64_t>>()> queue_gauge{};
};

}  // namespace tern::daemon
