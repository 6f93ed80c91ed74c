// ConnImpl: one socket, optionally TLS, with output backpressure and idle/handshake timers.
#include <uv.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <atomic>

#include "common/log.h"
#include "net/connection_impl.h"

namespace tern::net {

namespace {

std::atomic<uint64_t> next_connection_id{1};

// Grace for close(): a peer that does not take our last words within this is cut off.
constexpr uint64_t kCloseLingerMs = 10'000;

struct WriteReq {
  uv_write_t req;
  std::string data;
  ConnImpl* conn;
};

void alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) {
  // libuv calls read_cb right after alloc_cb on the same thread, so one buffer suffices.
  thread_local char buffer[64 * 1024];
  buf->base = buffer;
  buf->len = sizeof buffer;
}

void read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  static_cast<ConnImpl*>(s->data)->on_read(static_cast<long>(nread), buf->base);
}

void write_cb(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  ConnImpl* conn = w->conn;
  size_t n = w->data.size();
  delete w;
  conn->on_write_done(n, status);
}

void close_cb(uv_handle_t* h) {
  auto* conn = static_cast<ConnImpl*>(h->data);
  delete reinterpret_cast<uv_tcp_t*>(h);
  conn->on_closed();
}

}  // namespace

void format_sockaddr(const void* sa, std::string& ip, uint16_t& port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  const auto* s = static_cast<const sockaddr*>(sa);
  if (s->sa_family == AF_INET6) {
    const auto* s6 = static_cast<const sockaddr_in6*>(sa);
    uv_ip6_name(s6, buf, sizeof buf);
    port = ntohs(s6->sin6_port);
  } else {
    const auto* s4 = static_cast<const sockaddr_in*>(sa);
    uv_ip4_name(s4, buf, sizeof buf);
    port = ntohs(s4->sin_port);
  }
  ip = buf;
}

void ConnectionHandler::on_timeout() {
  if (conn_) conn_->close();
}

void ConnectionHandler::on_shutdown() {
  if (conn_) conn_->close();
}

ConnImpl::ConnImpl(Loop& loop, uv_tcp_t* tcp, ConnSettings settings,
                   std::shared_ptr<ConnectionHandler> handler, ClosedHook closed)
    : loop_(loop),
      tcp_(tcp),
      settings_(std::move(settings)),
      handler_(std::move(handler)),
      closed_hook_(std::move(closed)),
      idle_timer_(loop),
      handshake_timer_(loop),
      idle_ms_(settings_.idle_timeout_ms),
      opened_at_(loop.now_ms()) {
  tcp_->data = this;
  info_.id = next_connection_id++;
  info_.listener = settings_.name;
  info_.outbound = settings_.outbound;
  info_.tls_available = settings_.tls != nullptr;
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    format_sockaddr(&ss, info_.peer_ip, info_.peer_port);
  len = sizeof ss;
  if (uv_tcp_getsockname(tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    format_sockaddr(&ss, info_.local_ip, info_.local_port);
  uv_tcp_nodelay(tcp_, 1);
}

ConnImpl::~ConnImpl() = default;

void ConnImpl::start(bool implicit_tls) {
  if (settings_.outbound)
    spdlog::debug("conn open proto={} ip={} port={} outbound", info_.listener, info_.peer_ip,
                  info_.peer_port);
  else
    spdlog::info("conn open proto={} ip={} port={}", info_.listener, info_.peer_ip,
                 info_.peer_port);
  if (handler_) ConnectionAccess::attach(*handler_, this);
  touch_idle();
  update_reading();
  if (implicit_tls) {
    open_after_tls_ = true;
    begin_tls(TlsEngine::Role::server, {});
    return;
  }
  opened_ = true;
  if (handler_) handler_->on_open(*this);
}

void ConnImpl::start_busy(const std::string& reply) {
  busy_ = true;
  want_read_ = false;
  if (!reply.empty()) raw_write(reply);
  close();
}

void ConnImpl::notify_shutdown() {
  if (closing_) return;
  if (opened_ && handler_) handler_->on_shutdown();
  else abort();
}

// ---------------------------------------------------------------------------------------------
// Input

void ConnImpl::on_read(long nread, const char* data) {
  if (nread == 0) return;  // EAGAIN
  if (nread < 0) {
    if (nread != UV_EOF && nread != UV_ECONNRESET)
      spdlog::debug("conn read error proto={} ip={} error={}", info_.listener, info_.peer_ip,
                    uv_strerror(static_cast<int>(nread)));
    // The peer is gone or half-closed: flush what we have and close.
    if (nread == UV_EOF) close();
    else abort();
    return;
  }
  if (closing_) return;
  touch_idle();
  ack_now();
  std::string_view bytes(data, static_cast<size_t>(nread));
  if (tls_) {
    tls_->feed(bytes);
    process_tls();
  } else {
    deliver(bytes);
  }
}

void ConnImpl::ack_now() {
#ifdef TCP_QUICKACK
  // A client with Nagle on that writes an IMAP literal and then its CRLF (or a message and
  // then the final "." line) separately holds the small write until this side ACKs the big
  // one, and Linux delays that ACK by up to 40 ms when it has nothing to send back, which it
  // has not until the command is complete: 40 ms per APPEND with Python's imaplib. ACK at
  // once instead. TCP_QUICKACK is not sticky, so it is set again after every read.
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(tcp_), &fd) == 0) {
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  }
#endif
}

void ConnImpl::deliver(std::string_view plain) {
  if (closing_ || !handler_ || plain.empty()) return;
  if (!deflate_) {
    handler_->on_data(plain);
    return;
  }
  // Inflated in pieces: a few compressed bytes may stand for megabytes, and the handler
  // judges its input as it comes (a line too long, a literal over the limit).
  auto st = deflate_->decompress(plain, 64 * 1024, [&](std::string_view piece) {
    if (closing_ || !handler_) return false;
    handler_->on_data(piece);
    return !closing_ && handler_ != nullptr;
  });
  if (!st) {
    spdlog::info("conn compress error proto={} ip={} reason=\"{}\"", info_.listener, info_.peer_ip,
                 st.error().message);
    abort();
  }
}

void ConnImpl::touch_idle() {
  if (closing_) return;
  if (idle_ms_ == 0) {
    idle_timer_.stop();
    return;
  }
  idle_timer_.start(idle_ms_, [this] {
    if (closing_) return;
    spdlog::debug("conn idle timeout proto={} ip={}", info_.listener, info_.peer_ip);
    if (opened_ && handler_) {
      handler_->on_timeout();
      touch_idle();  // a handler that chose not to close gets another period
    } else {
      abort();
    }
  });
}

void ConnImpl::set_idle_timeout(uint64_t ms) {
  idle_ms_ = ms;
  touch_idle();
}

void ConnImpl::set_reading(bool on) {
  want_read_ = on;
  update_reading();
}

void ConnImpl::update_reading() {
  if (closed_) return;
  bool paused_for_output = over_mark_ && settings_.pause_reading_on_output;
  bool want = !closing_ && want_read_ && !paused_for_output;
  auto* stream = reinterpret_cast<uv_stream_t*>(tcp_);
  if (want && !reading_) {
    if (uv_read_start(stream, alloc_cb, read_cb) == 0) reading_ = true;
  } else if (!want && reading_) {
    uv_read_stop(stream);
    reading_ = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Output

void ConnImpl::write(std::string_view bytes) {
  if (closing_ || bytes.empty()) return;
  if (!deflate_) return write_layered(bytes);
  std::string compressed;
  if (auto st = deflate_->compress(bytes, compressed); !st) {
    spdlog::warn("conn compress error proto={} ip={} error={}", info_.listener, info_.peer_ip,
                 st.error().message);
    abort();
    return;
  }
  write_layered(compressed);
}

bool ConnImpl::start_compress() {
  if (deflate_ || closing_) return false;
  auto d = DeflateStream::create();
  if (!d) return false;
  deflate_ = std::move(*d);
  return true;
}

void ConnImpl::write_layered(std::string_view bytes) {
  if (tls_ && !tls_->established()) {
    pending_plain_.append(bytes.data(), bytes.size());
    return;
  }
  if (tls_) {
    if (auto st = tls_->write(bytes); !st) {
      spdlog::warn("conn tls write error proto={} ip={} error={}", info_.listener, info_.peer_ip,
                   st.error().message);
      abort();
      return;
    }
    flush_tls();
    return;
  }
  raw_write(std::string(bytes));
}

void ConnImpl::write_owned(std::string bytes) {
  if (tls_ || deflate_) return write(bytes);  // new bytes anyway
  if (closing_ || bytes.empty()) return;
  raw_write(std::move(bytes));
}

void ConnImpl::raw_write(std::string data) {
  if (closed_ || data.empty()) return;
  if (queued_ == 0) {
    // Straight into the socket when nothing is queued (uv_try_write refuses otherwise, so
    // order is kept). Besides a queued request, uv_write's completion re-arms the poll
    // watcher: one epoll_ctl per answer, for nothing.
    uv_buf_t now = uv_buf_init(data.data(), static_cast<unsigned>(data.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(tcp_), &now, 1);
    if (n == static_cast<int>(data.size())) return;
    if (n > 0) data.erase(0, static_cast<size_t>(n));
    else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      spdlog::debug("conn write error proto={} ip={} error={}", info_.listener, info_.peer_ip,
                    uv_strerror(n));
      abort();
      return;
    }
  }
  auto* w = new WriteReq;
  w->data = std::move(data);
  w->conn = this;
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(tcp_), &buf, 1, write_cb);
  if (rc != 0) {
    delete w;
    spdlog::debug("conn write error proto={} ip={} error={}", info_.listener, info_.peer_ip,
                  uv_strerror(rc));
    abort();
    return;
  }
  queued_ += buf.len;
  if (!over_mark_ && queued_ > settings_.write_high_water) {
    // Backpressure: the peer is not taking our output; stop taking its input.
    over_mark_ = true;
    update_reading();
  }
}

void ConnImpl::on_write_done(size_t bytes, int status) {
  queued_ -= bytes;
  if (status < 0 && status != UV_ECANCELED && !closed_) {
    spdlog::debug("conn write error proto={} ip={} error={}", info_.listener, info_.peer_ip,
                  uv_strerror(status));
    abort();
    return;
  }
  if (closed_) return;
  if (closing_) {
    if (queued_ == 0) really_close();
    return;
  }
  if (over_mark_ && queued_ <= settings_.write_high_water / 2) {
    over_mark_ = false;
    update_reading();
    if (handler_) handler_->on_writable();
  }
}

// ---------------------------------------------------------------------------------------------
// TLS

void ConnImpl::begin_tls(TlsEngine::Role role, const std::string& server_name) {
  if (tls_ || closing_) return;
  if (!settings_.tls) {
    spdlog::error("conn tls unavailable proto={} ip={}: no TLS context", info_.listener,
                  info_.peer_ip);
    close();
    return;
  }
  SSL_CTX* ctx = settings_.tls->acquire();
  auto engine = TlsEngine::create(ctx, role, server_name,
                                  role == TlsEngine::Role::client && settings_.tls->verify());
  SSL_CTX_free(ctx);
  if (!engine) {
    spdlog::error("conn tls setup failed proto={} ip={}: {}", info_.listener, info_.peer_ip,
                  engine.error().message);
    close();
    return;
  }
  tls_ = std::move(*engine);
  handshake_timer_.start(settings_.handshake_timeout_ms, [this] {
    spdlog::info("conn tls handshake timeout proto={} ip={}", info_.listener, info_.peer_ip);
    abort();
  });
  // A client speaks first; a server has nothing to say until the ClientHello arrives.
  if (role == TlsEngine::Role::client) process_tls();
}

void ConnImpl::start_tls() {
  // Our earlier plaintext writes are already in libuv's queue, ahead of any TLS record.
  set_reading(true);
  begin_tls(TlsEngine::Role::server, {});
}

void ConnImpl::start_tls_client(const std::string& server_name) {
  set_reading(true);
  begin_tls(TlsEngine::Role::client, server_name);
}

void ConnImpl::flush_tls() {
  if (tls_ && tls_->has_output()) raw_write(tls_->take_output());
}

void ConnImpl::process_tls() {
  if (!tls_->established()) {
    auto step = tls_->handshake();
    flush_tls();  // handshake records, or the alert on failure
    if (step == TlsEngine::Step::failed) {
      spdlog::info("conn tls handshake failed proto={} ip={} reason=\"{}\"", info_.listener,
                   info_.peer_ip, tls_->error());
      close();
      return;
    }
    if (step == TlsEngine::Step::more) return;
    handshake_finished();
    if (closing_) return;
  }
  std::string plain;
  auto step = tls_->read(plain);
  flush_tls();  // TLS 1.3 post-handshake messages, key updates
  deliver(plain);
  if (step == TlsEngine::Step::failed) {
    spdlog::info("conn tls error proto={} ip={} reason=\"{}\"", info_.listener, info_.peer_ip,
                 tls_->error());
    abort();
  } else if (tls_->peer_closed()) {
    close();
  }
}

void ConnImpl::handshake_finished() {
  handshake_timer_.stop();
  info_.tls = true;
  info_.tls_version = tls_->version();
  info_.tls_cipher = tls_->cipher();
  info_.tls_peer_verified = tls_->peer_verified();
  if (!info_.outbound) {
    info_.tls_exporter = tls_->tls_exporter();
    info_.tls_server_end_point = tls_->tls_server_end_point();
  }
  spdlog::debug("conn tls established proto={} ip={} version={} cipher={}", info_.listener,
                info_.peer_ip, info_.tls_version, info_.tls_cipher);
  if (!pending_plain_.empty()) {
    std::string pending;
    pending.swap(pending_plain_);
    write(pending);
  }
  if (!handler_) return;
  if (open_after_tls_) {
    open_after_tls_ = false;
    opened_ = true;
    handler_->on_open(*this);
  } else {
    handler_->on_tls_ready();
  }
}

// ---------------------------------------------------------------------------------------------
// Closing

void ConnImpl::close() {
  if (closing_) return;
  closing_ = true;
  update_reading();
  handshake_timer_.stop();
  if (tls_ && tls_->established()) {
    tls_->shutdown();  // RFC 8446 §6.1: close_notify before closing the write side
    flush_tls();
  }
  if (closed_) return;
  if (queued_ == 0) {
    really_close();
    return;
  }
  idle_timer_.start(kCloseLingerMs, [this] { abort(); });
}

void ConnImpl::abort() {
  closing_ = true;
  really_close();
}

void ConnImpl::really_close() {
  if (closed_) return;
  closed_ = true;
  reading_ = false;
  idle_timer_.stop();
  handshake_timer_.stop();
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_), close_cb);
}

void ConnImpl::on_closed() {
  uint64_t duration = loop_.now_ms() - opened_at_;
  if (busy_) {
    // Refusals are logged by the listener.
  } else if (settings_.outbound) {
    spdlog::debug("conn close proto={} ip={} duration_ms={} outbound", info_.listener,
                  info_.peer_ip, duration);
  } else {
    spdlog::info("conn close proto={} ip={} duration_ms={}", info_.listener, info_.peer_ip,
                 duration);
  }
  std::shared_ptr<ConnectionHandler> handler = std::move(handler_);
  if (handler) {
    if (opened_) handler->on_close();
    ConnectionAccess::attach(*handler, nullptr);
  }
  handler.reset();  // normally the last reference: the handler dies here
  if (closed_hook_) closed_hook_(this);
  delete this;
}

}  // namespace tern::net
