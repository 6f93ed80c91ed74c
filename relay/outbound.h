// The relay engine: scheduler, routing, transport and DSN generation (part of relay/,
// included by relay/relay.h). See relay/relay.h for the design notes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/result.h"
#include "relay/dkim.h"
#include "relay/queue.h"
#include "relay/smtp_client.h"

namespace tern::dns {
class Resolver;
}
namespace tern::net {
class Loop;
class WorkerPool;
class Timer;
class TlsContext;
}  // namespace tern::net

namespace tern::relay {

// ---- Transport: one SMTP connection carrying several messages ------------------------------

struct TransportRequest {
  std::string host;       // the MX / smarthost name (TLS SNI, logs)
  Endpoint address;       // IP literal and port to connect to
  bool implicit_tls = false;
  bool verify_tls = false;  // check the certificate chain and that it names `host`
  SmtpClientSettings settings;
  std::vector<OutboundMessage> messages;
  int connect_timeout = 30;  // seconds
};

struct TransportResult {
  bool connected = false;   // false: nothing was said to the server (next address/MX)
  std::string error;        // why the connection failed
  std::vector<MessageResult> results;  // when connected: one per message, in request order
  bool remote_dsn = false;  // the server advertised DSN (RFC 3461 §5.2.1 vs §5.2.2)
};

// Loop thread only. `done` is called exactly once, on the loop thread, never from inside send().
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(TransportRequest request, std::function<void(TransportResult)> done) = 0;
  // Loop thread, at shutdown: closes every open session now (each `done` then runs with what
  // it had, the rest temporary). Without it an open connection outlives the loop.
  virtual void close_all() {}
};

// The real transport: net::connect + SmtpClient, TLS with `client_tls` (unverified), or with
// `verifying_tls` for requests with verify_tls (null: such requests fail to connect).
std::shared_ptr<Transport> make_net_transport(net::Loop& loop,
                                              std::shared_ptr<net::TlsContext> client_tls,
                                              std::shared_ptr<net::TlsContext> verifying_tls);

// ---- The relay engine ------------------------------------------------------------------------

struct RelayOptions {
  RelayConfig config;
  std::string hostname = "localhost";  // EHLO name, Reporting-MTA, MAILER-DAEMON@hostname
  std::string data_dir;                // dkim/ keys live under it
  std::function<int64_t()> clock;      // unix seconds; empty = the system clock
  int rescan_seconds = 30;             // queue.db is re-read at least this often (ternctl)
  size_t max_messages_per_connection = 20;
  size_t due_batch = 500;              // messages taken from queue.db per tick
};

// What an address is on this machine (RelayDeps::resolve_local).
struct LocalAddress {
  enum class Kind { not_local, local, unknown_user };
  Kind kind = Kind::not_local;       // unknown_user: one of our domains, nobody by that name
  std::vector<std::string> users;    // local mailboxes (canonical, de-duplicated)
  std::vector<std::string> forwards; // off-site targets of an alias (de-duplicated)
};

struct RelayDeps {
  net::Loop* loop = nullptr;
  net::WorkerPool* workers = nullptr;
  dns::Resolver* resolver = nullptr;   // loop thread
  std::shared_ptr<Transport> transport;
  std::shared_ptr<QueueStore> queue;
  // Worker threads. "Is this address ours, and who gets its mail?" resolved like normal
  // delivery (aliases expanded to every target, de-duplicated); empty function = nobody is
  // local.
  std::function<LocalAddress(std::string_view address)> resolve_local;
  // Worker threads. Delivers a DSN into the user's INBOX (store::Store::deliver, quota
  // applied). Errors: over_quota / temporary / internal are retried, not_found is permanent.
  std::function<Status(const std::string& user, std::string_view message)> deliver_local;
};

// One recipient's outcome of one delivery attempt (after trying every MX that applies).
struct RecipientOutcome {
  std::string message_id;
  QueuedRecipient recipient;  // as it was before the attempt
  int64_t arrival = 0;
  Outcome outcome = Outcome::temporary;
  std::string reply;       // "250 2.0.0 ok", "550 5.1.1 ...", synthesised ones included
  std::string remote_mta;  // host that gave the reply, "" when synthesised without one
  bool remote_dsn = false;
};

struct RelayCounters {
  uint64_t attempts = 0;       // transport sessions started
  uint64_t delivered = 0;
  uint64_t deferred = 0;
  uint64_t failed = 0;
  uint64_t dsn_sent = 0;       // DSNs queued or delivered locally
  uint64_t ticks = 0;
};

class Relay {
 public:
  Relay(RelayOptions options, RelayDeps deps);
  ~Relay();  // loop thread; in-flight attempts are abandoned (their rows stay pending/deferred)
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Loop thread: starts the periodic rescan and runs a first tick (restart resumes here).
  void start();
  // Loop thread: stops timers and dispatching and closes open transport sessions
  // (Transport::close_all); their recipients are recorded as a temporary failure (deferred).
  void stop();
  // Loop thread: re-read queue.db now (SIGUSR1 from `ternctl queue flush`, new mail).
  void rescan();

  // Thread-safe and blocking (worker threads): DKIM-signs (if the From domain has keys),
  // enqueues durably and wakes the scheduler. Returns the queue id. This is what the SMTP
  // submission path calls for non-local recipients, answering 250 only after it returns.
  Result<std::string> enqueue(const Envelope& envelope, std::string_view message);

  // Loop thread. True when no tick, attempt or record is running.
  bool idle() const;
  RelayCounters counters() const;

  struct State;

 private:
  std::shared_ptr<State> s_;
};

// Prepends DKIM-Signature fields for every key of the message's From domain found under
// dkim_dir/<domain>/<selector>.{rsa,ed25519}.pem (none -> message unchanged). Blocking (files).
Result<std::string> dkim_sign_outbound(std::string_view message, const std::string& dkim_dir,
                                       int64_t now);
// The domain of the first address in the From header field, lower-cased ("" if none).
std::string from_header_domain(std::string_view message);
// data_dir/dkim/<domain>/<selector>.rsa.pem or .ed25519.pem (ternctl dkim generate writes it).
std::string dkim_key_file(const std::string& dkim_dir, std::string_view domain,
                          std::string_view selector, DkimAlgorithm algorithm);
// A domain's key files under dkim_dir/<domain>/, sorted by name (the order of its
// signatures): "<selector>.<alg>.pem" gives the selector. None when the folder is missing.
struct DkimKeyFile {
  std::string path;
  std::string selector;
};
std::vector<DkimKeyFile> dkim_key_files(const std::string& dkim_dir, std::string_view domain);

}  // namespace tern::relay
