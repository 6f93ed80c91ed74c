// Private to net/: one TLS session driven through memory BIOs. The engine never sees a socket:
// ciphertext from the peer goes in with feed(), ciphertext to send comes out with
// take_output(). Unit tests connect a client and a server engine back to back.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace tern::net {

class TlsEngine {
 public:
  enum class Role { server, client };
  enum class Step { done, more, failed };

  // Takes its own reference on ctx. For clients, server_name is sent as SNI (if not an IP
  // literal) and checked against the certificate: the handshake fails on a mismatch only
  // when the context verifies; otherwise peer_verified() reports it.
  static Result<std::unique_ptr<TlsEngine>> create(SSL_CTX* ctx, Role role,
                                                   const std::string& server_name = {},
                                                   bool verify_host = false);
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  void feed(std::string_view ciphertext);
  // Advances the handshake with what has been fed. failed: error() says why.
  Step handshake();
  bool established() const { return established_; }
  // Appends available plaintext to out. Returns failed on a TLS error; peer_closed() tells
  // whether close_notify arrived.
  Step read(std::string& out);
  bool peer_closed() const { return peer_closed_; }
  Status write(std::string_view plain);
  // Queues close_notify.
  void shutdown();
  // Ciphertext to send (handshake records, application data, alerts).
  std::string take_output();
  bool has_output() const;
  // Bytes the memory BIOs hold allocated (used or not). The engine hands a drained BIO's
  // buffer back after every read() and take_output(), so an idle connection holds 0 here;
  // with SSL_MODE_RELEASE_BUFFERS (tls_context.cpp) OpenSSL's own record buffers go too.
  size_t bio_capacity() const;

  std::string version() const;
  std::string cipher() const;
  // Channel bindings of a finished server handshake (binary; "" when not defined):
  // RFC 9266 tls-exporter (TLS 1.3 only: in TLS 1.2 without extended master secret it does
  // not bind the connection) and RFC 5929 §4.1 tls-server-end-point (the hash of our own
  // certificate, the one SNI chose).
  std::string tls_exporter() const;
  std::string tls_server_end_point() const;
  // CN of the peer's certificate ("" if none): logs, tests.
  std::string peer_common_name() const;
  // The peer presented a certificate that chains to a trusted CA and (clients) matches the
  // server name. Meaningful even when the context does not enforce verification.
  bool peer_verified() const;
  const std::string& error() const { return error_; }

 private:
  TlsEngine() = default;
  std::string describe_error(int ret);
  // Replaces a drained memory BIO that holds a buffer with a fresh, empty one: a mem BIO
  // keeps its largest buffer forever (a 64 KiB read or a big FETCH would stay per connection).
  void release_drained_bios();
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // peer -> us (owned by ssl_)
  BIO* out_ = nullptr;  // us -> peer (owned by ssl_)
  bool established_ = false;
  bool peer_closed_ = false;
  std::string error_;
};

}  // namespace tern::net
