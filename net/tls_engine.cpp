#include "net/tls_engine.h"

#include <arpa/inet.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

namespace tern::net {

namespace {

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string drain_openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<TlsEngine>> TlsEngine::create(SSL_CTX* ctx, Role role,
                                                     const std::string& server_name,
                                                     bool verify_host) {
  std::unique_ptr<TlsEngine> e(new TlsEngine);
  ERR_clear_error();
  e->ssl_ = SSL_new(ctx);
  if (!e->ssl_) return make_error(Errc::internal, "SSL_new: " + drain_openssl_errors());
  e->in_ = BIO_new(BIO_s_mem());
  e->out_ = BIO_new(BIO_s_mem());
  if (!e->in_ || !e->out_) {
    BIO_free(e->in_);
    BIO_free(e->out_);
    e->in_ = e->out_ = nullptr;
    return make_error(Errc::internal, "BIO_new failed");
  }
  // An empty memory BIO means "no data yet", not EOF.
  BIO_set_mem_eof_return(e->in_, -1);
  BIO_set_mem_eof_return(e->out_, -1);
  SSL_set_bio(e->ssl_, e->in_, e->out_);
  if (role == Role::server) {
    SSL_set_accept_state(e->ssl_);
  } else {
    SSL_set_connect_state(e->ssl_);
    if (!server_name.empty() && !is_ip_literal(server_name))
      SSL_set_tlsext_host_name(e->ssl_, server_name.c_str());  // RFC 6066 §3: no IP literals
    (void)verify_host;
    if (!server_name.empty()) {
      if (is_ip_literal(server_name)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(e->ssl_), server_name.c_str());
      } else {
        SSL_set_hostflags(e->ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(e->ssl_, server_name.c_str());
      }
    }
  }
  return e;
}

TlsEngine::~TlsEngine() {
  if (ssl_) SSL_free(ssl_);  // frees both BIOs
}

void TlsEngine::feed(std::string_view ciphertext) {
  if (!ciphertext.empty()) BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
}

std::string TlsEngine::describe_error(int ret) {
  int err = SSL_get_error(ssl_, ret);
  std::string text = drain_openssl_errors();
  if (err == SSL_ERROR_SYSCALL && text.empty()) text = "unexpected end of stream";
  if (text.empty()) text = "SSL error " + std::to_string(err);
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) text += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
  return text;
}

TlsEngine::Step TlsEngine::handshake() {
  if (established_) return Step::done;
  ERR_clear_error();
  int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    established_ = true;
    return Step::done;
  }
  int err = SSL_get_error(ssl_, ret);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Step::more;
  error_ = describe_error(ret);
  return Step::failed;
}

TlsEngine::Step TlsEngine::read(std::string& out) {
  char buf[16384];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      release_drained_bios();
      return Step::more;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return Step::done;
    }
    error_ = describe_error(n);
    return Step::failed;
  }
}

Status TlsEngine::write(std::string_view plain) {
  size_t off = 0;
  while (off < plain.size()) {
    ERR_clear_error();
    size_t chunk = plain.size() - off;
    if (chunk > (1u << 30)) chunk = 1u << 30;
    int n = SSL_write(ssl_, plain.data() + off, static_cast<int>(chunk));
    if (n <= 0) {
      error_ = describe_error(n);
      return make_error(Errc::internal, error_);
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

void TlsEngine::shutdown() {
  ERR_clear_error();
  if (established_) SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsEngine::take_output() {
  std::string out;
  size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return out;
  out.resize(pending);
  int n = BIO_read(out_, out.data(), static_cast<int>(pending));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  if (established_) release_drained_bios();
  return out;
}

namespace {

size_t mem_bio_capacity(BIO* b) {
  BUF_MEM* bm = nullptr;
  BIO_get_mem_ptr(b, &bm);
  return bm ? bm->max : 0;
}

BIO* new_mem_bio() {
  BIO* b = BIO_new(BIO_s_mem());
  if (b) BIO_set_mem_eof_return(b, -1);  // empty means "no data yet", not EOF
  return b;
}

}  // namespace

size_t TlsEngine::bio_capacity() const { return mem_bio_capacity(in_) + mem_bio_capacity(out_); }

void TlsEngine::release_drained_bios() {
  if (BIO_ctrl_pending(in_) == 0 && mem_bio_capacity(in_) > 0) {
    if (BIO* b = new_mem_bio()) {
      SSL_set0_rbio(ssl_, b);  // frees the old one
      in_ = b;
    }
  }
  if (BIO_ctrl_pending(out_) == 0 && mem_bio_capacity(out_) > 0) {
    if (BIO* b = new_mem_bio()) {
      SSL_set0_wbio(ssl_, b);
      out_ = b;
    }
  }
}

bool TlsEngine::has_output() const { return BIO_ctrl_pending(out_) > 0; }

std::string TlsEngine::version() const { return SSL_get_version(ssl_); }

std::string TlsEngine::tls_exporter() const {
  if (SSL_version(ssl_) < TLS1_3_VERSION) return "";
  // RFC 9266 §2: label "EXPORTER-Channel-Binding", empty context, 32 bytes.
  static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
  unsigned char out[32];
  if (SSL_export_keying_material(ssl_, out, sizeof out, kLabel, sizeof kLabel - 1, nullptr, 0, 0) != 1) {
    ERR_clear_error();
    return "";
  }
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

std::string TlsEngine::tls_server_end_point() const {
  X509* cert = SSL_get_certificate(ssl_);
  if (!cert) return "";
  // RFC 5929 §4.1: the hash of the certificate's signature algorithm, but SHA-256 where that
  // is MD5 or SHA-1 (and where it names no single hash, e.g. Ed25519: no binding defined).
  int md_nid = NID_undef, pk_nid = NID_undef;
  if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pk_nid) || md_nid == NID_undef) return "";
  if (md_nid == NID_md5 || md_nid == NID_sha1) md_nid = NID_sha256;
  const EVP_MD* md = EVP_get_digestbynid(md_nid);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!md || X509_digest(cert, md, out, &len) != 1) {
    ERR_clear_error();
    return "";
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string TlsEngine::cipher() const {
  const char* c = SSL_get_cipher_name(ssl_);
  return c ? c : "";
}

}  // namespace tern::net

namespace tern::net {

std::string TlsEngine::peer_common_name() const {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return {};
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  X509_free(cert);
  return buf;
}

}  // namespace tern::net

namespace tern::net {

bool TlsEngine::peer_verified() const {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return false;
  X509_free(cert);
  return SSL_get_verify_result(ssl_) == X509_V_OK;
}

}  // namespace tern::net
