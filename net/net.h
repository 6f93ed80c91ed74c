// net: the event loop, TCP listeners and outbound connections, TLS, and the worker pool.
//
// Implementation notes
// - Threading. One `Loop` runs every socket, timer, TLS engine and protocol handler on ONE
//   thread (the loop thread). Everything in this header must be used from that thread, except
//   `Loop::post`, `Loop::stop` and `WorkerPool::submit`, which are thread-safe. Blocking work
//   (fsync, SQLite, password hashing) goes to `WorkerPool`: `work` runs on a worker thread,
//   `done` is posted back to the loop thread.
// - Ownership. A `Connection` is owned by the net layer and lives until its socket is closed;
//   it owns its `ConnectionHandler` through a std::shared_ptr. When the socket closes the
//   handler gets `on_close()` and the net layer drops its reference, so the handler normally
//   dies right there. A worker completion must therefore never hold a plain reference to a
//   handler or a Connection: capture a std::weak_ptr to the handler (see `if_alive` below) and
//   the completion quietly does nothing when the client went away in the meantime. Because
//   completions run on the loop thread, "alive" cannot change while the completion runs.
//   A handler may keep `Connection&` from on_open() until on_close(); not after.
// - Backpressure. Output is queued; when a connection's queued output exceeds the listener's
//   high-water mark the connection stops reading from its socket until the queue drains
//   below half of it (then `on_writable()` is called). A peer that does not read our answers
//   therefore cannot make us buffer without bound: at most one read's worth of answers past
//   the mark. (Accepted connections only: outbound ones keep reading, see ConnectOptions.) Handlers may also pause input themselves (`set_reading(false)`) while an
//   action is pending on a worker.
// - TLS. OpenSSL 3 with memory BIOs: the engine never touches the socket, so TLS and plain TCP
//   share one read/write path. Server contexts: TLS 1.2 minimum, ECDHE + AEAD ciphers for
//   1.2, TLS 1.3 defaults. Several certificates: one SSL_CTX each; the default one's
//   servername callback switches a handshake to the first certificate covering the SNI name
//   (`SSL_set_SSL_CTX`). `TlsContext::reload()` swaps them all for new connections;
//   existing ones keep theirs (OpenSSL reference-counts the old SSL_CTX).
//   ACME TLS-ALPN-01 (RFC 8737): once `answer_acme_tls_alpn()` is called, a ClientHello
//   whose ALPN list is exactly "acme-tls/1" for a name with a pending challenge gets that
//   challenge's certificate and the protocol "acme-tls/1"; every other handshake is as before.
//   STARTTLS: bytes the handler received before calling start_tls() are the handler's to
//   discard (RFC 3207 §4.2: nothing sent before the handshake may be acted on afterwards);
//   everything the socket delivers afterwards goes to the TLS engine.
// - Logging. Every accepted connection logs `conn open proto=.. ip=.. port=..` and
//   `conn close proto=.. ip=.. duration_ms=..`; refusals log `conn refused ... reason=..`.
// - No global mutable state: everything hangs off a Loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/acme_challenges.h"
#include "common/config.h"
#include "common/result.h"
#include "net/line_reader.h"

struct uv_loop_s;
typedef struct ssl_ctx_st SSL_CTX;

namespace tern::net {

// ---------------------------------------------------------------------------------------------
// Loop, timers, signals

class Loop {
 public:
  Loop();
  ~Loop();  // runs pending close callbacks; handles still open at that point are a bug (logged)
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs until stop(). Loop thread only.
  void run();
  // Thread-safe: makes run() return soon.
  void stop();
  // Thread-safe: fn runs on the loop thread, in posting order. Functions posted after the
  // loop stopped running are destroyed without running when the Loop is destroyed.
  void post(std::function<void()> fn);
  // Runs the loop until pred() is true or the timeout passes; returns pred(). For tests and
  // tools without a long-lived loop.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  bool in_loop_thread() const;
  uint64_t now_ms() const;  // the loop's cached monotonic clock
  uv_loop_s* raw() { return loop_; }

  struct Posted;  // implementation detail

 private:
  uv_loop_s* loop_;
  std::unique_ptr<Posted> posted_;
};

// A one-shot or repeating timer. RAII: destroying it stops it. Loop thread only. The Loop must
// outlive it.
class Timer {
 public:
  explicit Timer(Loop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)starts: cb fires after ms, then every repeat_ms if repeat_ms > 0.
  void start(uint64_t ms, std::function<void()> cb, uint64_t repeat_ms = 0);
  void stop();
  bool active() const;

 private:
  struct Handle;
  Handle* h_;
};

// Calls cb on the loop thread whenever the process receives signum. RAII.
class SignalWatcher {
 public:
  SignalWatcher(Loop& loop, int signum, std::function<void()> cb);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  struct Handle;
  Handle* h_;
};

// ---------------------------------------------------------------------------------------------
// Worker pool

class WorkerPool {
 public:
  // threads: limits.worker_threads. Workers mostly block in fsync/SQLite, so many is right.
  WorkerPool(Loop& loop, int threads);
  ~WorkerPool();  // shutdown()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Thread-safe. `work` runs on a worker; then `done` (may be empty) is posted to the loop
  // thread. After shutdown() began, submit() runs nothing and returns false.
  bool submit(std::function<void()> work, std::function<void()> done = {});
  // Finishes the queued work, then joins the threads. Their `done`s are posted to the loop
  // (they run if the loop runs again). Idempotent. Not from a worker thread.
  void shutdown();
  size_t pending() const;  // queued + running
  int threads() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// ---------------------------------------------------------------------------------------------
// TLS

struct ClientTlsOptions {
  bool verify = false;  // verify the peer chain and host name (SNI); off = opportunistic
  std::string ca_file;  // empty = system default paths
};

// A certificate chain and its private key, as PEM files.
struct CertificateFiles {
  std::string cert;
  std::string key;
};

class TlsContext {
 public:
  // Server context from PEM files. Errors name the file in the form "<which>: <problem>",
  // which being "cert" or "key", e.g. "cert: cannot read /x/y.pem: No such file or directory"
  // or "key: /x/k.pem does not match the certificate" (the daemon prefixes "tls.").
  static Result<std::shared_ptr<TlsContext>> server(const std::string& cert_file,
                                                    const std::string& key_file);
  // Several certificates: the first is the default; each handshake whose server name
  // (SNI, RFC 6066 §3) one of the others covers, and the default does not, gets that one.
  // Errors of the N-th extra pair read "sni[N].cert: ..." / "sni[N].key: ...".
  static Result<std::shared_ptr<TlsContext>> server(std::vector<CertificateFiles> certs);
  static Result<std::shared_ptr<TlsContext>> client(const ClientTlsOptions& options = {});
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Server contexts: re-reads the same files. On success new connections use the new
  // certificates; on failure the old ones stay in use and the error says why.
  Status reload();
  bool is_server() const { return server_; }
  bool verify() const { return client_options_.verify; }
  // The current SSL_CTX with a reference taken for the caller (SSL_CTX_free it).
  SSL_CTX* acquire() const;
  // Server contexts: answer RFC 8737 validations from `challenges` (the ACME client fills it).
  void answer_acme_tls_alpn(std::shared_ptr<const AcmeChallenges> challenges);

  struct State;  // private to net/ (the SNI callback reads it)

 private:
  TlsContext() = default;
  void install(std::vector<SSL_CTX*> ctxs);

  bool server_ = false;
  std::vector<CertificateFiles> certs_;
  ClientTlsOptions client_options_;
  std::unique_ptr<State> s_;
};

// ---------------------------------------------------------------------------------------------
// Connections

struct ConnectionInfo {
  uint64_t id = 0;  // unique in the process, for logs
  std::string listener;  // "smtp", "imaps", ... or the ConnectOptions name for outbound
  bool outbound = false;
  std::string peer_ip, local_ip;
  uint16_t peer_port = 0, local_port = 0;
  bool tls_available = false;  // a TLS context exists: STARTTLS may be offered
  bool tls = false;            // TLS is active
  std::string tls_version;     // "TLSv1.3"
  std::string tls_cipher;      // "TLS_AES_256_GCM_SHA384"
  // Server side: the channel bindings SCRAM-SHA-256-PLUS checks (TlsEngine; binary, "" when
  // not defined for this connection).
  std::string tls_exporter, tls_server_end_point;
  // Outbound: the server's certificate chains to a trusted CA and matches the name given to
  // start_tls_client() (whether or not the context enforces verification).
  bool tls_peer_verified = false;
};

// The socket side of one session, as the handler sees it. Implemented by the net layer;
// protocol adapters can be tested against a fake.
class Connection {
 public:
  virtual ~Connection() = default;

  // Queues bytes (encrypted when TLS is active). Ignored once closing.
  virtual void write(std::string_view bytes) = 0;
  // The same, taking the buffer: a plain connection queues it as it is instead of copying it
  // (large FETCH and RETR responses).
  virtual void write_owned(std::string bytes) { write(bytes); }
  // Server STARTTLS: everything already written goes out in clear first, then the handshake
  // runs; on success on_tls_ready(), on failure the connection closes (on_close()).
  virtual void start_tls() = 0;
  // RFC 4978 (IMAP COMPRESS=DEFLATE): from now on what is written is DEFLATE-compressed
  // (inside TLS, when TLS is active) and what is read is inflated; everything written before
  // goes out as it was. As with STARTTLS, input the handler received before the call is the
  // handler's to discard. False when compression cannot start (it is then not active).
  virtual bool start_compress() { return false; }
  // Client-side upgrade (relay): sends ClientHello with SNI `server_name`; on_tls_ready() or
  // close as above. Needs ConnectOptions::tls.
  virtual void start_tls_client(const std::string& server_name) = 0;
  // Graceful: stop reading, flush queued output (and TLS close_notify), then close. A peer
  // that does not take the output within a few seconds is cut off.
  virtual void close() = 0;
  // Immediate: pending output is dropped.
  virtual void abort() = 0;
  // Resets on every input; on expiry the handler's on_timeout() runs. 0 disables.
  virtual void set_idle_timeout(uint64_t ms) = 0;
  // Pause/resume reading (while an action is pending, say). Output backpressure also pauses.
  virtual void set_reading(bool on) = 0;
  virtual size_t write_queue_bytes() const = 0;
  virtual const ConnectionInfo& info() const = 0;
  // The connection stops counting against its listener's per-address limit
  // (ListenerOptions::max_per_ip); called by services once the client has logged in, when
  // per-user limits take over. Idempotent.
  virtual void release_ip_slot() {}
};

// Implemented by protocol services (daemon/*_service.cpp) and by the relay. All calls happen
// on the loop thread.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // The connection is ready for the greeting (implicit TLS: after the handshake).
  virtual void on_open(Connection& conn) = 0;
  virtual void on_data(std::string_view bytes) = 0;
  virtual void on_tls_ready() {}
  // Idle timeout: typically write a goodbye and close(). Default: close().
  virtual void on_timeout();
  // Daemon shutdown: finish the current transaction, then close(). Default: close().
  virtual void on_shutdown();
  // Queued output fell below the low-water mark after having been above the high one.
  virtual void on_writable() {}
  // Peer closed, error, or close()/abort() completed. Last call; drop Connection& here.
  virtual void on_close() {}

 protected:
  // Set by the net layer before on_open(); cleared after on_close().
  Connection* connection() const { return conn_; }

 private:
  friend class ConnectionAccess;
  Connection* conn_ = nullptr;
};

using HandlerFactory = std::function<std::shared_ptr<ConnectionHandler>()>;

// The weak_ptr pattern for worker completions:
//   pool.submit([req] { result = store.deliver(req); },
//               if_alive(shared_from_this(), [result](Session& s) { s.delivered(result); }));
// f runs (on the loop thread) only if the handler still exists.
template <class H, class F>
std::function<void()> if_alive(const std::shared_ptr<H>& handler, F f) {
  return [weak = std::weak_ptr<H>(handler), f = std::move(f)]() mutable {
    if (auto strong = weak.lock()) f(*strong);
  };
}

// ---------------------------------------------------------------------------------------------
// Listeners

struct ListenerOptions {
  std::string name;                  // protocol name for logs: "smtp", "imaps", ...
  bool implicit_tls = false;         // handshake before on_open (needs tls)
  std::shared_ptr<TlsContext> tls;   // server context; enables start_tls()
  uint64_t idle_timeout_ms = 300'000;
  uint64_t handshake_timeout_ms = 30'000;
  HandlerFactory factory;
  // Written (in clear) to connections over a limit before closing them, e.g.
  // "421 4.7.0 Too many connections\r\n". Implicit-TLS listeners just close.
  std::string busy_reply;
  // Per client address: connections of every listener with the same `ip_pool` (default: the
  // listener's name) count together, and a new one is refused once the pool holds
  // `max_per_ip` from that address (0: no per-address limit). A connection leaves the count
  // early when its handler calls Connection::release_ip_slot() (after a login, so that
  // only unauthenticated connections are limited per address).
  std::string ip_pool;
  int max_per_ip = 0;
};

struct ServerLimits {
  int max_connections = 1000;        // limits.max_connections (per-address limits: ListenerOptions)
  size_t write_high_water = 256 * 1024;  // per-connection output backpressure mark
};

struct BoundListener {
  std::string name;
  Endpoint endpoint;  // the actual address (port 0 resolved)
};

class Server {
 public:
  Server(Loop& loop, ServerLimits limits);
  ~Server();  // aborts remaining connections
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. "::" is bound IPv6-only so "0.0.0.0" and "::" can both be listed.
  // Logs `listening proto=NAME addr=IP:PORT`.
  Result<Endpoint> listen(const Endpoint& where, ListenerOptions options);
  const std::vector<BoundListener>& listeners() const { return bound_; }
  size_t connection_count() const;

  // Graceful shutdown: stop accepting, on_shutdown() on every handler, wait until all
  // connections closed or `grace` passed (then abort the rest); then `done` on the loop thread.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> done);
  // Stops accepting and aborts every connection now.
  void close_all();

 private:
  struct State;
  std::unique_ptr<State> s_;
  std::vector<BoundListener> bound_;
};

// ---------------------------------------------------------------------------------------------
// Outbound connections (relay)

struct ConnectOptions {
  std::string name = "out";            // for logs and ConnectionInfo::listener
  uint64_t timeout_ms = 30'000;        // TCP connect
  uint64_t idle_timeout_ms = 300'000;
  uint64_t handshake_timeout_ms = 30'000;
  std::shared_ptr<TlsContext> tls;     // client context, for start_tls_client()
  // on_writable() threshold. Outbound connections never stop reading because of their own
  // output (we are the ones writing; pausing both ways could deadlock).
  size_t write_high_water = 256 * 1024;
};

// Connects to an IP literal endpoint. On success the handler gets on_open(); on failure
// (refused, unreachable, timeout) `on_error` runs instead and the handler is dropped.
// The connection owns itself like an accepted one; close it before destroying the Loop.
void connect(Loop& loop, const Endpoint& to, ConnectOptions options,
             std::shared_ptr<ConnectionHandler> handler,
             std::function<void(const Error&)> on_error);

// Like connect(), and returns a canceller (loop thread only): while the connect is still in
// progress it closes the socket and `on_error` then runs (asynchronously) with "connect
// cancelled"; once on_open() or on_error has run it does nothing. Shutdown uses it so that a
// connect to a silent host does not hold the loop for the whole timeout.
std::function<void()> connect_cancellable(Loop& loop, const Endpoint& to, ConnectOptions options,
                                          std::shared_ptr<ConnectionHandler> handler,
                                          std::function<void(const Error&)> on_error);

}  // namespace tern::net
