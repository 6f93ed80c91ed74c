// Server: listening sockets, connection limits, graceful shutdown.
#include <uv.h>

#include <cstring>
#include <map>
#include <set>

#include "common/log.h"
#include "net/connection_impl.h"

namespace tern::net {

namespace {
constexpr int kBacklog = 511;
}

struct Server::State {
  struct Listener {
    uv_tcp_t tcp;  // first member: the handle's address is the Listener's
    ListenerOptions options;
    State* server;
  };

  Loop& loop;
  ServerLimits limits;
  std::vector<Listener*> listeners;
  std::set<ConnImpl*> conns;  // counted connections
  std::set<ConnImpl*> busy;   // being refused
  std::map<std::string, int> per_ip;  // "<pool> <ip>" -> connections counted there
  bool shutting_down = false;
  std::function<void()> shutdown_done;
  Timer grace_timer;

  State(Loop& l, ServerLimits lim) : loop(l), limits(lim), grace_timer(l) {}

  void close_listeners() {
    for (Listener* l : listeners)
      uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp),
               [](uv_handle_t* h) { delete reinterpret_cast<Listener*>(h); });
    listeners.clear();
  }

  void on_conn_closed(ConnImpl* c) {
    if (busy.erase(c) == 0) {
      c->release_ip_slot();
      conns.erase(c);
    }
    maybe_finish_shutdown();
  }

  void release_slot(const std::string& slot) {
    auto it = per_ip.find(slot);
    if (it != per_ip.end() && --it->second <= 0) per_ip.erase(it);
  }

  void maybe_finish_shutdown() {
    if (!shutting_down || !conns.empty() || !busy.empty() || !shutdown_done) return;
    grace_timer.stop();
    auto done = std::move(shutdown_done);
    shutdown_done = nullptr;
    done();
  }

  void abort_all() {
    // Copies: abort() only schedules the close, but be safe against re-entrancy.
    for (ConnImpl* c : std::vector<ConnImpl*>(conns.begin(), conns.end())) c->abort();
    for (ConnImpl* c : std::vector<ConnImpl*>(busy.begin(), busy.end())) c->abort();
  }

  void accept(Listener* l) {
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(loop.raw(), tcp);
    if (uv_accept(reinterpret_cast<uv_stream_t*>(&l->tcp), reinterpret_cast<uv_stream_t*>(tcp)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(tcp),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      return;
    }
    std::string ip;
    uint16_t port = 0;
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
      format_sockaddr(&ss, ip, port);

    ConnSettings settings;
    settings.name = l->options.name;
    settings.idle_timeout_ms = l->options.idle_timeout_ms;
    settings.handshake_timeout_ms = l->options.handshake_timeout_ms;
    settings.write_high_water = limits.write_high_water;
    settings.tls = l->options.tls;

    const ListenerOptions& o = l->options;
    const std::string slot = (o.ip_pool.empty() ? o.name : o.ip_pool) + " " + ip;
    auto held = per_ip.find(slot);
    const int from_ip = held == per_ip.end() ? 0 : held->second;
    const char* refusal = nullptr;
    if (shutting_down) refusal = "shutting-down";
    else if (static_cast<int>(conns.size()) >= limits.max_connections) refusal = "max_connections";
    else if (o.max_per_ip > 0 && from_ip >= o.max_per_ip) refusal = "max_per_ip";
    if (refusal) {
      spdlog::warn("conn refused proto={} ip={} port={} reason={}", l->options.name, ip, port,
                   refusal);
      auto* c = new ConnImpl(loop, tcp, std::move(settings), nullptr,
                             [this](ConnImpl* c) { on_conn_closed(c); });
      busy.insert(c);
      // An implicit-TLS client cannot read a clear-text reply: just close.
      c->start_busy(l->options.implicit_tls ? std::string() : l->options.busy_reply);
      return;
    }

    std::shared_ptr<ConnectionHandler> handler = l->options.factory ? l->options.factory() : nullptr;
    if (!handler) {
      spdlog::error("conn refused proto={} ip={} reason=no-handler", l->options.name, ip);
      uv_close(reinterpret_cast<uv_handle_t*>(tcp),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      return;
    }
    ++per_ip[slot];
    auto* c = new ConnImpl(loop, tcp, std::move(settings), std::move(handler),
                           [this](ConnImpl* c) { on_conn_closed(c); });
    c->set_slot_release([this, slot] { release_slot(slot); });
    conns.insert(c);
    c->start(l->options.implicit_tls);
  }
};

Server::Server(Loop& loop, ServerLimits limits) : s_(std::make_unique<State>(loop, limits)) {}

Server::~Server() { close_all(); }

Result<Endpoint> Server::listen(const Endpoint& where, ListenerOptions options) {
  if (options.implicit_tls && !options.tls)
    return make_error(Errc::internal, options.name + ": implicit TLS needs a TLS context");
  sockaddr_storage addr{};
  bool v6 = where.host.find(':') != std::string::npos;
  int rc = v6 ? uv_ip6_addr(where.host.c_str(), where.port, reinterpret_cast<sockaddr_in6*>(&addr))
              : uv_ip4_addr(where.host.c_str(), where.port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) return make_error(Errc::syntax, "bad address " + where.str() + ": " + uv_strerror(rc));

  auto* l = new State::Listener;
  l->options = std::move(options);
  l->server = s_.get();
  uv_tcp_init_ex(s_->loop.raw(), &l->tcp, v6 ? AF_INET6 : AF_INET);
  l->tcp.data = l;
  // "::" IPv6-only, so that "0.0.0.0:25" and "[::]:25" can both be configured.
  rc = uv_tcp_bind(&l->tcp, reinterpret_cast<sockaddr*>(&addr), v6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->tcp), kBacklog,
                   [](uv_stream_t* s, int status) {
                     auto* listener = static_cast<State::Listener*>(s->data);
                     if (status < 0) {
                       spdlog::warn("accept error proto={}: {}", listener->options.name,
                                    uv_strerror(status));
                       return;
                     }
                     listener->server->accept(listener);
                   });
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp),
             [](uv_handle_t* h) { delete reinterpret_cast<State::Listener*>(h); });
    return make_error(Errc::temporary, "cannot listen on " + where.str() + ": " + uv_strerror(rc));
  }
  Endpoint bound = where;
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getsockname(&l->tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    format_sockaddr(&ss, bound.host, bound.port);
  spdlog::info("listening proto={} addr={}", l->options.name, bound.str());
  bound_.push_back(BoundListener{l->options.name, bound});
  s_->listeners.push_back(l);
  return bound;
}

size_t Server::connection_count() const { return s_->conns.size(); }

void Server::shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  s_->shutting_down = true;
  s_->shutdown_done = std::move(done);
  s_->close_listeners();
  spdlog::info("shutdown: {} connection(s) to finish, grace {} ms", s_->conns.size(),
               grace.count());
  for (ConnImpl* c : std::vector<ConnImpl*>(s_->conns.begin(), s_->conns.end()))
    c->notify_shutdown();
  for (ConnImpl* c : std::vector<ConnImpl*>(s_->busy.begin(), s_->busy.end())) c->abort();
  if (s_->conns.empty() && s_->busy.empty()) {
    // Keep `done` asynchronous, like the non-empty case.
    s_->grace_timer.start(0, [st = s_.get()] { st->maybe_finish_shutdown(); });
    return;
  }
  s_->grace_timer.start(static_cast<uint64_t>(grace.count()), [st = s_.get()] {
    spdlog::warn("shutdown: grace period over, closing {} connection(s)", st->conns.size());
    st->abort_all();
  });
}

void Server::close_all() {
  s_->close_listeners();
  for (ConnImpl* c : s_->conns) c->detach_owner();
  for (ConnImpl* c : s_->busy) c->detach_owner();
  s_->abort_all();
  s_->conns.clear();
  s_->busy.clear();
  s_->per_ip.clear();
}

}  // namespace tern::net
