// The HTTP service: http::Session and http::Router on the http (plain) and https (implicit
// TLS, SNI certificates of [tls]) listeners. See http/http.h for the protocol side.
//
// Implementation notes
// - One request at a time per connection: reading pauses from a complete request until its
//   answer is written (pipelined requests wait in the session's buffer).
// - Routing runs on a worker: Autoconfig, Autodiscover and MTA-STS ask accounts.db whether a
//   domain is local, /healthz asks the databases, /metrics reads queue.db. The relay's
//   counters live on the loop thread, so /metrics snapshots them before the job is submitted.
// - The Site (hostname, ports, MTA-STS policy) is built once per listener from the config.
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "auth/auth.h"
#include "authn/ip.h"
#include "common/acme_challenges.h"
#include "common/log.h"
#include "daemon/metrics.h"
#include "daemon/services.h"
#include "http/http.h"
#include "store/store.h"

namespace tern::daemon {

namespace {

// What every connection of one listener shares; immutable.
struct HttpShared {
  http::Router router;
  std::vector<std::pair<authn::IpAddress, int>> metrics_allow;
};

// The ports clients should use, best first per protocol: implicit TLS (RFC 8314 §3), then
// STARTTLS when a certificate is configured, then plain.
http::Site site_from(const Runtime& rt) {
  const Config& c = rt.config;
  http::Site site;
  site.hostname = c.hostname;
  site.mta_sts_mode = c.mta_sts.mode;
  site.mta_sts_max_age = c.mta_sts.max_age;
  site.mta_sts_mx = c.mta_sts.mx;
  const std::pair<ListenerKind, const char*> order[] = {
      {ListenerKind::imaps, "imap"},        {ListenerKind::imap, "imap"},
      {ListenerKind::pop3s, "pop3"},        {ListenerKind::pop3, "pop3"},
      {ListenerKind::submissions, "smtp"},  {ListenerKind::submission, "smtp"}};
  for (const auto& [kind, protocol] : order) {
    const ListenerSpec& s = spec(kind);
    const auto& endpoints = c.listen.*s.endpoints;
    if (endpoints.empty()) continue;
    site.endpoints.push_back({protocol, endpoints.front().port, s.implicit_tls,
                              !s.implicit_tls && rt.tls != nullptr});
  }
  return site;
}

// The router's view of ternd. Runs on a worker.
class DaemonBackend final : public http::Backend {
 public:
  DaemonBackend(const Runtime& rt, Metrics::LoopSnapshot loop) : rt_(rt), loop_(loop) {}

  bool is_local_domain(std::string_view domain) override {
    if (!rt_.accounts) return false;
    auto r = rt_.accounts->is_local_domain(domain);
    return r && *r;
  }
  std::string health() override {
    if (!rt_.accounts || !rt_.store) return "starting";
    if (auto d = rt_.accounts->list_domains(); !d) return "accounts.db: " + d.error().message;
    if (!rt_.store->has_room()) return "store: free space below store.min_free_space";
    return "";
  }
  std::string metrics_text() override {
    return rt_.metrics ? rt_.metrics->render(rt_, loop_) : std::string();
  }
  std::optional<std::string> acme_http01(std::string_view token) override {
    if (!rt_.acme_challenges) return std::nullopt;
    return rt_.acme_challenges->http01(token);
  }

 private:
  const Runtime& rt_;
  Metrics::LoopSnapshot loop_;
};

int64_t now_seconds() { return static_cast<int64_t>(std::time(nullptr)); }

class HttpHandler final : public net::ConnectionHandler,
                          public std::enable_shared_from_this<HttpHandler> {
 public:
  HttpHandler(Runtime& rt, std::shared_ptr<const HttpShared> shared)
      : rt_(rt), shared_(std::move(shared)) {}

  void on_open(net::Connection& conn) override {
    conn_ = &conn;
    if (auto ip = authn::IpAddress::parse(conn.info().peer_ip))
      for (const auto& [net, bits] : shared_->metrics_allow)
        if (ip->in(net, bits)) peer_.metrics_allowed = true;
  }

  void on_data(std::string_view bytes) override {
    session_.receive(bytes);
    pump();
  }

  void on_shutdown() override {
    shutting_down_ = true;
    if (!pending_ && conn_) conn_->close();
  }

  void on_close() override { conn_ = nullptr; }

 private:
  void pump() {
    while (conn_ && !pending_) {
      switch (session_.next()) {
        case http::Session::Next::need_more: return;
        case http::Session::Next::error:
          spdlog::info("http ip={} status={} (bad request)", conn_->info().peer_ip, session_.error_status());
          conn_->write(session_.error_bytes(now_seconds()));
          conn_->close();
          return;
        case http::Session::Next::request: dispatch(); break;
      }
    }
  }

  void dispatch() {
    pending_ = true;
    conn_->set_reading(false);
    auto request = std::make_shared<const http::Request>(session_.request());
    Metrics::LoopSnapshot loop;
    if (rt_.metrics && request->path == "/metrics") loop = rt_.metrics->loop_snapshot();
    auto response = std::make_shared<http::Response>();
    bool queued = rt_.workers.submit(
        [rt = &rt_, shared = shared_, request, response, loop, peer = peer_] {
          DaemonBackend backend(*rt, loop);
          *response = shared->router.route(*request, peer, backend);
        },
        net::if_alive(shared_from_this(), [request, response](HttpHandler& h) { h.answer(*request, *response); }));
    // ternd is stopping and the pool takes no more work.
    if (!queued) answer(*request, http::text_response(503));
  }

  void answer(const http::Request& request, const http::Response& response) {
    pending_ = false;
    if (!conn_) return;
    spdlog::info("http ip={} method={} path={} host={} status={}", conn_->info().peer_ip,
                 request.method, request.path.substr(0, 200), request.host(), response.status);
    conn_->write(session_.answer(response, now_seconds()));
    if (session_.closing() || shutting_down_) {
      conn_->close();
      return;
    }
    conn_->set_reading(true);
    pump();
  }

  Runtime& rt_;
  std::shared_ptr<const HttpShared> shared_;
  net::Connection* conn_ = nullptr;
  http::Session session_;
  http::Peer peer_;
  bool pending_ = false;
  bool shutting_down_ = false;
};

}  // namespace

net::HandlerFactory make_http_factory(Runtime& rt, ListenerKind kind) {
  (void)kind;  // http and https serve the same resources
  auto shared = std::make_shared<HttpShared>(HttpShared{http::Router(site_from(rt)), {}});
  for (const auto& text : rt.config.http.metrics_allow)
    if (auto p = authn::IpAddress::parse_prefix(text)) shared->metrics_allow.push_back(*p);
  return [&rt, shared = std::shared_ptr<const HttpShared>(shared)] {
    return std::make_shared<HttpHandler>(rt, shared);
  };
}

}  // namespace tern::daemon
