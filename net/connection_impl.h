// Private to net/: the libuv + TLS implementation of Connection, shared by the listener
// (server.cpp) and outbound connects (client.cpp).
//
// Lifetime: heap-allocated, owns its uv_tcp_t; deletes itself in the tcp close callback after
// telling the handler (on_close) and its owner (the `closed` hook). Nothing else deletes it.
#pragma once

#include <memory>
#include <string>

#include "net/deflate_stream.h"
#include "net/net.h"
#include "net/tls_engine.h"

struct uv_tcp_s;

namespace tern::net {

class ConnectionAccess {
 public:
  static void attach(ConnectionHandler& h, Connection* c) { h.conn_ = c; }
};

struct ConnSettings {
  std::string name;
  bool outbound = false;
  uint64_t idle_timeout_ms = 300'000;
  uint64_t handshake_timeout_ms = 30'000;
  size_t write_high_water = 256 * 1024;
  // Inbound: stop reading while output is over the mark. Outbound connections keep reading
  // (two peers that both stop reading while their output is stuck would deadlock).
  bool pause_reading_on_output = true;
  std::shared_ptr<TlsContext> tls;
};

// Fills ip/port from a sockaddr (AF_INET or AF_INET6).
void format_sockaddr(const void* sockaddr, std::string& ip, uint16_t& port);

class ConnImpl final : public Connection {
 public:
  using ClosedHook = std::function<void(ConnImpl*)>;

  // tcp: initialised and connected; ownership passes to the ConnImpl.
  ConnImpl(Loop& loop, uv_tcp_s* tcp, ConnSettings settings,
           std::shared_ptr<ConnectionHandler> handler, ClosedHook closed);

  // Starts reading. implicit_tls: handshake first, then on_open; else on_open now.
  void start(bool implicit_tls);
  // Over a limit: write `reply` (may be empty) and close; the handler is never involved.
  void start_busy(const std::string& reply);
  // Graceful daemon shutdown: on_shutdown() for opened handlers, abort otherwise.
  void notify_shutdown();
  void detach_owner() {
    closed_hook_ = nullptr;
    slot_release_ = nullptr;
  }
  // What release_ip_slot() runs (once): set by the server for connections it counts per address.
  void set_slot_release(std::function<void()> release) { slot_release_ = std::move(release); }
  void release_ip_slot() override {
    if (!slot_release_) return;
    auto release = std::move(slot_release_);
    slot_release_ = nullptr;
    release();
  }
  bool opened() const { return opened_; }

  void write(std::string_view bytes) override;
  void write_owned(std::string bytes) override;
  void start_tls() override;
  void start_tls_client(const std::string& server_name) override;
  bool start_compress() override;
  void close() override;
  void abort() override;
  void set_idle_timeout(uint64_t ms) override;
  void set_reading(bool on) override;
  size_t write_queue_bytes() const override { return queued_; }
  const ConnectionInfo& info() const override { return info_; }

  // libuv callbacks (public for the C trampolines).
  void on_read(long nread, const char* data);
  void on_write_done(size_t bytes, int status);
  void on_closed();

 private:
  ~ConnImpl() override;
  void write_layered(std::string_view bytes);  // below compression: TLS or the socket
  void raw_write(std::string data);
  void flush_tls();
  void process_tls();
  void handshake_finished();
  void ack_now();  // TCP_QUICKACK: the pending ACK goes out now (see connection.cpp)
  void deliver(std::string_view plain);
  void update_reading();
  void touch_idle();
  void really_close();
  void begin_tls(TlsEngine::Role role, const std::string& server_name);

  Loop& loop_;
  uv_tcp_s* tcp_;
  ConnSettings settings_;
  std::shared_ptr<ConnectionHandler> handler_;
  ClosedHook closed_hook_;
  std::function<void()> slot_release_;
  ConnectionInfo info_;
  Timer idle_timer_;
  Timer handshake_timer_;
  uint64_t idle_ms_;
  uint64_t opened_at_;
  std::unique_ptr<TlsEngine> tls_;
  std::unique_ptr<DeflateStream> deflate_;  // COMPRESS=DEFLATE active (above TLS)
  std::string pending_plain_;  // written while the handshake runs
  size_t queued_ = 0;
  bool busy_ = false;
  bool opened_ = false;         // on_open() was called
  bool open_after_tls_ = false; // implicit TLS: on_open once the handshake is done
  bool closing_ = false;
  bool closed_ = false;         // uv_close called
  bool want_read_ = true;
  bool reading_ = false;
  bool over_mark_ = false;  // queued output above write_high_water (until below half)
};

}  // namespace tern::net
