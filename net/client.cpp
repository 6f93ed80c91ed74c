// Outbound TCP connections (relay): connect with a timeout, then hand the socket to ConnImpl.
#include <uv.h>

#include "common/log.h"
#include "net/connection_impl.h"

namespace tern::net {

namespace {

struct PendingConnect {
  uv_connect_t req;
  uv_tcp_t* tcp = nullptr;
  std::unique_ptr<Timer> timer;
  Loop* loop = nullptr;
  Endpoint to;
  ConnectOptions options;
  std::shared_ptr<ConnectionHandler> handler;
  std::function<void(const Error&)> on_error;
  std::string error;  // set once the attempt failed
  // Points back at this attempt until it is deleted; connect_cancellable()'s canceller
  // holds it (loop thread only, so no locking).
  std::shared_ptr<PendingConnect*> self = std::make_shared<PendingConnect*>(nullptr);
  ~PendingConnect() { *self = nullptr; }
};

// Closes the socket; the error is reported from the close callback so that every failure is
// reported asynchronously and after the handle is gone.
void fail(PendingConnect* p, std::string why) {
  if (!p->error.empty()) return;
  p->error = std::move(why);
  p->timer.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(p->tcp), [](uv_handle_t* h) {
    auto* p = static_cast<PendingConnect*>(h->data);
    delete reinterpret_cast<uv_tcp_t*>(h);
    auto on_error = std::move(p->on_error);
    Error e = make_error(Errc::temporary, p->to.str() + ": " + p->error);
    delete p;
    if (on_error) on_error(e);
  });
}

}  // namespace

void connect(Loop& loop, const Endpoint& to, ConnectOptions options,
             std::shared_ptr<ConnectionHandler> handler,
             std::function<void(const Error&)> on_error) {
  (void)connect_cancellable(loop, to, std::move(options), std::move(handler), std::move(on_error));
}

std::function<void()> connect_cancellable(Loop& loop, const Endpoint& to, ConnectOptions options,
                                          std::shared_ptr<ConnectionHandler> handler,
                                          std::function<void(const Error&)> on_error) {
  auto* p = new PendingConnect;
  *p->self = p;
  std::function<void()> cancel = [token = p->self] {
    if (PendingConnect* pending = *token) fail(pending, "connect cancelled");
  };
  p->loop = &loop;
  p->to = to;
  p->options = std::move(options);
  p->handler = std::move(handler);
  p->on_error = std::move(on_error);
  p->tcp = new uv_tcp_t;
  uv_tcp_init(loop.raw(), p->tcp);
  p->tcp->data = p;
  p->req.data = p;

  sockaddr_storage addr{};
  bool v6 = to.host.find(':') != std::string::npos;
  int rc = v6 ? uv_ip6_addr(to.host.c_str(), to.port, reinterpret_cast<sockaddr_in6*>(&addr))
              : uv_ip4_addr(to.host.c_str(), to.port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc == 0)
    rc = uv_tcp_connect(&p->req, p->tcp, reinterpret_cast<sockaddr*>(&addr),
                        [](uv_connect_t* req, int status) {
                          auto* p = static_cast<PendingConnect*>(req->data);
                          if (!p->error.empty()) return;  // timed out; close cb reports
                          if (status < 0) return fail(p, uv_strerror(status));
                          p->timer.reset();
                          ConnSettings s;
                          s.name = p->options.name;
                          s.outbound = true;
                          s.pause_reading_on_output = false;
                          s.idle_timeout_ms = p->options.idle_timeout_ms;
                          s.handshake_timeout_ms = p->options.handshake_timeout_ms;
                          s.write_high_water = p->options.write_high_water;
                          s.tls = p->options.tls;
                          auto* c = new ConnImpl(*p->loop, p->tcp, std::move(s),
                                                 std::move(p->handler), nullptr);
                          delete p;
                          c->start(false);
                        });
  if (rc != 0) {
    fail(p, uv_strerror(rc));
    return cancel;
  }
  p->timer = std::make_unique<Timer>(loop);
  p->timer->start(p->options.timeout_ms, [p] { fail(p, "connection timed out"); });
  return cancel;
}

}  // namespace tern::net
