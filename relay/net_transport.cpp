// The real transport: one outbound TCP connection (net::connect) driving an SmtpClient.
#include <map>
#include <utility>
#include <vector>

#include "common/log.h"
#include "net/net.h"
#include "relay/outbound.h"

namespace tern::relay {

namespace {

class ClientHandler : public net::ConnectionHandler {
 public:
  ClientHandler(TransportRequest req, std::function<void(TransportResult)> done)
      : host_(req.host),
        implicit_tls_(req.implicit_tls),
        expected_(req.messages.size()),
        client_(std::move(req.settings), std::move(req.messages)),
        done_(std::move(done)) {}

  std::function<void()> on_opened;  // the transport forgets the connect canceller

  void on_open(net::Connection& conn) override {
    result_.connected = true;
    if (on_opened) std::exchange(on_opened, nullptr)();
    if (implicit_tls_) {
      in_handshake_ = true;
      conn.set_idle_timeout(static_cast<uint64_t>(client_.timeout_seconds()) * 1000);
      conn.start_tls_client(host_);
      return;
    }
    arm();
  }

  void on_data(std::string_view bytes) override { apply(client_.feed(bytes)); }

  void on_tls_ready() override {
    if (implicit_tls_ && in_handshake_ && !client_started_tls_) {
      in_handshake_ = false;
      arm();  // wait for the greeting, now encrypted
      return;
    }
    in_handshake_ = false;
    apply(client_.tls_established());
  }

  void on_timeout() override { apply(client_.timed_out()); }

  // Shutdown: drop the session now (on_close reports what we have).
  void close_now() {
    if (auto* c = connection()) c->close();
  }

  void on_close() override {
    if (!client_.done()) {
      ClientOutput out = in_handshake_ ? client_.tls_failed("handshake failed or connection closed")
                                       : client_.connection_lost();
      collect(out);
    }
    finish();
  }

 private:
  void arm() {
    if (auto* c = connection()) c->set_idle_timeout(static_cast<uint64_t>(client_.timeout_seconds()) * 1000);
  }

  void collect(ClientOutput& out) {
    result_.remote_dsn = client_.capabilities().dsn;
    for (auto& r : out.results) result_.results.push_back(std::move(r));
  }

  void apply(ClientOutput out) {
    collect(out);
    net::Connection* c = connection();
    if (!c) return;
    if (!out.write.empty()) c->write(out.write);
    if (out.start_tls) {
      in_handshake_ = true;
      client_started_tls_ = true;
      c->start_tls_client(host_);  // RFC 3207 §4.2: nothing buffered before it is reused
    }
    if (out.close) {
      c->close();
      return;
    }
    arm();
  }

  void finish() {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    if (result_.results.size() != expected_)
      spdlog::warn("relay transport host={} results={} expected={}", host_, result_.results.size(), expected_);
    done(std::move(result_));
  }

  std::string host_;
  bool implicit_tls_;
  size_t expected_;
  SmtpClient client_;
  std::function<void(TransportResult)> done_;
  TransportResult result_;
  bool in_handshake_ = false;
  bool client_started_tls_ = false;
};

class NetTransport final : public Transport {
 public:
  NetTransport(net::Loop& loop, std::shared_ptr<net::TlsContext> tls,
               std::shared_ptr<net::TlsContext> verifying)
      : loop_(loop), tls_(std::move(tls)), verifying_(std::move(verifying)) {}

  void send(TransportRequest request, std::function<void(TransportResult)> done) override {
    net::ConnectOptions opt;
    opt.name = "relay";
    opt.timeout_ms = static_cast<uint64_t>(std::max(1, request.connect_timeout)) * 1000;
    opt.tls = request.verify_tls ? verifying_ : tls_;
    if (!opt.tls) {
      TransportResult r;
      r.connected = false;
      r.error = "no verifying TLS context (smarthost_ca_file unreadable?)";
      return done(std::move(r));
    }
    Endpoint to = request.address;
    auto shared_done = std::make_shared<std::function<void(TransportResult)>>(std::move(done));
    auto live = live_;
    auto key = std::make_shared<char>();  // identifies this session in live_
    auto handler = std::make_shared<ClientHandler>(std::move(request), [shared_done, live, key](TransportResult r) {
      live->erase(key.get());
      if (*shared_done) {
        auto d = std::move(*shared_done);
        *shared_done = nullptr;
        d(std::move(r));
      }
    });
    (*live_)[key.get()] = handler;
    auto connecting = connecting_;
    auto cancel = net::connect_cancellable(loop_, to, std::move(opt), handler,
                                           [shared_done, live, connecting, key](const Error& e) {
      live->erase(key.get());
      connecting->erase(key.get());
      if (*shared_done) {
        auto d = std::move(*shared_done);
        *shared_done = nullptr;
        TransportResult r;
        r.connected = false;
        r.error = e.message;
        d(std::move(r));
      }
    });
    // Still connecting? Keep the canceller until on_open (the handler drops it) or on_error.
    if (live_->count(key.get())) {
      (*connecting_)[key.get()] = cancel;
      handler->on_opened = [connecting, key] { connecting->erase(key.get()); };
    }
  }

  void close_all() override {
    // Copy first: close() may run on_close (and so erase from live_) before returning.
    std::vector<std::shared_ptr<ClientHandler>> open;
    for (auto& [key, weak] : *live_)
      if (auto h = weak.lock()) open.push_back(std::move(h));
    for (auto& h : open) h->close_now();
    // Connects still in progress have no connection to close: cancel them (their on_error
    // runs from the socket's close callback), or they would hold the loop until
    // connect_timeout.
    std::vector<std::function<void()>> cancels;
    for (auto& [key, cancel] : *connecting_) cancels.push_back(cancel);
    connecting_->clear();
    for (auto& c : cancels) c();
  }

 private:
  net::Loop& loop_;
  std::shared_ptr<net::TlsContext> tls_;
  std::shared_ptr<net::TlsContext> verifying_;
  // Sessions not finished yet (weak: the connection owns its handler).
  std::shared_ptr<std::map<const void*, std::weak_ptr<ClientHandler>>> live_ =
      std::make_shared<std::map<const void*, std::weak_ptr<ClientHandler>>>();
  // Connects in progress: their cancellers (net::connect_cancellable).
  std::shared_ptr<std::map<const void*, std::function<void()>>> connecting_ =
      std::make_shared<std::map<const void*, std::function<void()>>>();
};

}  // namespace

std::shared_ptr<Transport> make_net_transport(net::Loop& loop,
                                              std::shared_ptr<net::TlsContext> client_tls,
                                              std::shared_ptr<net::TlsContext> verifying_tls) {
  return std::make_shared<NetTransport>(loop, std::move(client_tls), std::move(verifying_tls));
}

}  // namespace tern::relay
