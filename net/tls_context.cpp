// TlsContext: server and client SSL_CTX set-up and certificate reload.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <mutex>

#include "common/file.h"
#include "net/net.h"

namespace tern::net {

struct TlsContext::State {
  mutable std::mutex mu;
  SSL_CTX* ctx = nullptr;
  ~State() {
    if (ctx) SSL_CTX_free(ctx);
  }
};

namespace {

std::string openssl_reason() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += r ? r : "unknown OpenSSL error";
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// Reads a whole PEM file; the message names which one and the errno text.
Result<std::string> read_pem(const std::string& which, const std::string& path) {
  auto data = read_file(path);
  if (!data) return make_error(data.error().code, which + ": " + data.error().message);
  return data;
}

// Builds a fresh server SSL_CTX from the two files.
Result<SSL_CTX*> build_server_ctx(const std::string& cert_file, const std::string& key_file) {
  auto cert_pem = read_pem("cert", cert_file);
  if (!cert_pem) return cert_pem.error();
  auto key_pem = read_pem("key", key_file);
  if (!key_pem) return key_pem.error();

  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return make_error(Errc::internal, "cert: SSL_CTX_new: " + openssl_reason());
  auto fail = [&](const std::string& msg) -> Result<SSL_CTX*> {
    SSL_CTX_free(ctx);
    return make_error(Errc::syntax, msg);
  };

  // RFC 8996 retires TLS 1.0/1.1; RFC 9325 §4.1: TLS 1.2 minimum.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // RFC 9325 §4.2: forward secrecy + AEAD only for TLS 1.2; TLS 1.3 suites are all AEAD.
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL") != 1)
    return fail("cert: cannot set cipher list: " + openssl_reason());
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);  // idle connections hold no buffers

  // Certificate chain: first PEM block is the leaf, the rest are intermediates.
  BIO* bio = BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size()));
  X509* leaf = PEM_read_bio_X509_AUX(bio, nullptr, nullptr, nullptr);
  if (!leaf) {
    BIO_free(bio);
    ERR_clear_error();
    return fail("cert: " + cert_file + ": no PEM certificate found");
  }
  int ok = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (ok != 1) {
    BIO_free(bio);
    return fail("cert: " + cert_file + ": " + openssl_reason());
  }
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      BIO_free(bio);
      return fail("cert: " + cert_file + ": bad chain certificate: " + openssl_reason());
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"
  BIO_free(bio);

  bio = BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!pkey) {
    ERR_clear_error();
    return fail("key: " + key_file + ": no PEM private key found");
  }
  ok = SSL_CTX_use_PrivateKey(ctx, pkey);
  EVP_PKEY_free(pkey);
  if (ok != 1)  // in practice: the key is not the certificate's
    return fail("key: " + key_file + " does not match the certificate " + cert_file + " (" +
                openssl_reason() + ")");
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return fail("key: " + key_file + " does not match the certificate " + cert_file);
  }
  return ctx;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::server(const std::string& cert_file,
                                                       const std::string& key_file) {
  auto ctx = build_server_ctx(cert_file, key_file);
  if (!ctx) return ctx.error();
  std::shared_ptr<TlsContext> t(new TlsContext);
  t->server_ = true;
  t->cert_file_ = cert_file;
  t->key_file_ = key_file;
  t->s_ = std::make_unique<State>();
  t->s_->ctx = *ctx;
  return t;
}

Result<std::shared_ptr<TlsContext>> TlsContext::client(const ClientTlsOptions& options) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return make_error(Errc::internal, "SSL_CTX_new: " + openssl_reason());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // The CA store is loaded even for opportunistic TLS so that the connection can report
  // whether the peer would have verified (ConnectionInfo::tls_peer_verified).
  int ok = options.ca_file.empty()
               ? SSL_CTX_set_default_verify_paths(ctx)
               : SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
  if (ok != 1) {
    std::string why = openssl_reason();
    if (options.verify || !options.ca_file.empty()) {
      SSL_CTX_free(ctx);
      return make_error(Errc::not_found,
                        "ca: cannot load " +
                            (options.ca_file.empty() ? "default CA paths" : options.ca_file) +
                            ": " + why);
    }
  }
  // verify: abort the handshake on a bad chain or name. Otherwise opportunistic TLS
  // (RFC 7435): encrypt even when the certificate cannot be verified.
  SSL_CTX_set_verify(ctx, options.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  std::shared_ptr<TlsContext> t(new TlsContext);
  t->server_ = false;
  t->client_options_ = options;
  t->s_ = std::make_unique<State>();
  t->s_->ctx = ctx;
  return t;
}

TlsContext::~TlsContext() = default;

Status TlsContext::reload() {
  if (!server_) return make_error(Errc::refused, "reload: not a server context");
  auto ctx = build_server_ctx(cert_file_, key_file_);
  if (!ctx) return ctx.error();
  std::lock_guard<std::mutex> lock(s_->mu);
  // Connections still using the old SSL_CTX hold their own references (SSL_new up-refs it).
  SSL_CTX_free(s_->ctx);
  s_->ctx = *ctx;
  return {};
}

SSL_CTX* TlsContext::acquire() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  SSL_CTX_up_ref(s_->ctx);
  return s_->ctx;
}

}  // namespace tern::net
