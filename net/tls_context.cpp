// TlsContext: server and client SSL_CTX set-up and certificate reload.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/file.h"
#include "net/net.h"

namespace tern::net {

struct TlsContext::State {
  mutable std::mutex mu;
  // [0]: the default certificate (tls.cert); the rest are offered by server name (SNI).
  std::vector<SSL_CTX*> ctxs;
  // Pending ACME TLS-ALPN-01 answers (RFC 8737); null: not answering.
  std::shared_ptr<const AcmeChallenges> acme;
  ~State() { release(ctxs); }

  static void release(std::vector<SSL_CTX*>& v) {
    for (SSL_CTX* c : v) SSL_CTX_free(c);
    v.clear();
  }

  // The context whose certificate names `host` (subjectAltName, wildcards; RFC 6125 via
  // X509_check_host): the default one when it does, else the first SNI one that does; null
  // when none does (the default stays).
  std::shared_ptr<const AcmeChallenges> acme_challenges() const {
    std::lock_guard<std::mutex> lock(mu);
    return acme;
  }

  SSL_CTX* for_name(const char* host) const {
    std::lock_guard<std::mutex> lock(mu);
    for (SSL_CTX* c : ctxs) {
      X509* leaf = SSL_CTX_get0_certificate(c);
      if (leaf && X509_check_host(leaf, host, 0, 0, nullptr) == 1) return c;
    }
    return nullptr;
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

// Marks an SSL that answers an ACME TLS-ALPN-01 validation (set in the ClientHello callback).
int acme_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// RFC 8737 §3 / RFC 7301 §3.1: the ALPN extension body is a 2-octet list length followed by
// length-prefixed names; a validation offers exactly one, "acme-tls/1".
constexpr unsigned char kAcmeOnly[] = {0x00, 0x0b, 0x0a, 'a', 'c', 'm', 'e', '-',
                                      't',  'l',  's',  '/', '1'};

bool offers_only_acme(SSL* ssl) {
  const unsigned char* ext = nullptr;
  size_t len = 0;
  return SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
                                   &len) == 1 &&
         len == sizeof kAcmeOnly && std::memcmp(ext, kAcmeOnly, len) == 0;
}

// RFC 6066 §3: server_name list (2-octet length), entries of type 0 (host_name) with a
// 2-octet length. The first host name, lower-cased; empty when absent or malformed.
std::string client_hello_server_name(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 5) return {};
  size_t list = (size_t{p[0]} << 8) | p[1];
  if (list + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name) return {};
  size_t n = (size_t{p[3]} << 8) | p[4];
  if (n + 5 > len) return {};
  std::string name(reinterpret_cast<const char*>(p + 5), n);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// RFC 8737 §3: a ClientHello offering only "acme-tls/1" for a name with a pending challenge
// is answered with that challenge's self-signed certificate instead of ours. Runs before the
// servername and ALPN callbacks, which see the mark.
int on_client_hello(SSL* ssl, int* /*alert*/, void* arg) {
  auto acme = static_cast<const TlsContext::State*>(arg)->acme_challenges();
  if (!acme || !offers_only_acme(ssl)) return SSL_CLIENT_HELLO_SUCCESS;
  auto answer = acme->alpn(client_hello_server_name(ssl));
  if (!answer) return SSL_CLIENT_HELLO_SUCCESS;  // the ALPN callback refuses the protocol
  BIO* bio = BIO_new_mem_buf(answer->cert_pem.data(), static_cast<int>(answer->cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  bio = BIO_new_mem_buf(answer->key_pem.data(), static_cast<int>(answer->key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  bool ok = cert && key && SSL_use_certificate(ssl, cert) == 1 &&
            SSL_use_PrivateKey(ssl, key) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (ok) SSL_set_ex_data(ssl, acme_index(), const_cast<unsigned char*>(kAcmeOnly));
  return SSL_CLIENT_HELLO_SUCCESS;
}

// RFC 7301 §3.2: we speak no application protocol of our own, so ALPN is only ever
// "acme-tls/1" for a validation (RFC 8737 §4); an acme-tls/1-only offer we cannot answer is
// refused with no_application_protocol, anything else is ignored as before.
int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void* /*arg*/) {
  if (SSL_get_ex_data(ssl, acme_index())) {
    *out = kAcmeOnly + 3;
    *outlen = kAcmeOnly[2];
    return SSL_TLSEXT_ERR_OK;
  }
  if (inlen + 2 == sizeof kAcmeOnly && std::memcmp(in, kAcmeOnly + 2, inlen) == 0)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_NOACK;
}

// RFC 6066 §3: the client names the host it wants; switch the handshake to the certificate
// for that name. No name, or one no certificate covers: the default certificate answers
// (mail clients that do not send SNI still get one).
int choose_certificate(SSL* ssl, int* /*alert*/, void* arg) {
  if (SSL_get_ex_data(ssl, acme_index())) return SSL_TLSEXT_ERR_OK;  // keeps the ACME answer
  const char* host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!host) return SSL_TLSEXT_ERR_OK;
  SSL_CTX* chosen = static_cast<const TlsContext::State*>(arg)->for_name(host);
  if (chosen && chosen != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, chosen);
  return SSL_TLSEXT_ERR_OK;
}

// One SSL_CTX per pair, in order; errors name the pair: "cert: ..." for the first,
// "sni[N].cert: ..." for the others (the daemon prefixes "tls.").
Result<std::vector<SSL_CTX*>> build_all(const std::vector<CertificateFiles>& certs) {
  std::vector<SSL_CTX*> out;
  for (size_t i = 0; i < certs.size(); ++i) {
    auto ctx = build_server_ctx(certs[i].cert, certs[i].key);
    if (!ctx) {
      TlsContext::State::release(out);
      Error e = ctx.error();
      if (i > 0) e.message = "sni[" + std::to_string(i - 1) + "]." + e.message;
      return e;
    }
    out.push_back(*ctx);
  }
  if (out.empty()) return make_error(Errc::syntax, "cert: no certificate");
  return out;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::server(const std::string& cert_file,
                                                       const std::string& key_file) {
  return server(std::vector<CertificateFiles>{{cert_file, key_file}});
}

Result<std::shared_ptr<TlsContext>> TlsContext::server(std::vector<CertificateFiles> certs) {
  auto ctxs = build_all(certs);
  if (!ctxs) return ctxs.error();
  std::shared_ptr<TlsContext> t(new TlsContext);
  t->server_ = true;
  t->certs_ = std::move(certs);
  t->s_ = std::make_unique<State>();
  t->install(std::move(*ctxs));
  return t;
}

void TlsContext::install(std::vector<SSL_CTX*> ctxs) {
  if (ctxs.size() > 1) {
    SSL_CTX_set_tlsext_servername_callback(ctxs[0], choose_certificate);
    SSL_CTX_set_tlsext_servername_arg(ctxs[0], s_.get());
  }
  // Every handshake starts on ctxs[0]; the ALPN callback of whichever context ends up chosen
  // runs, so each gets it.
  SSL_CTX_set_client_hello_cb(ctxs[0], on_client_hello, s_.get());
  for (SSL_CTX* c : ctxs) SSL_CTX_set_alpn_select_cb(c, on_alpn, nullptr);
  std::lock_guard<std::mutex> lock(s_->mu);
  // Connections still using an old SSL_CTX hold their own references (SSL_new up-refs it).
  State::release(s_->ctxs);
  s_->ctxs = std::move(ctxs);
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
  t->s_->ctxs = {ctx};
  return t;
}

TlsContext::~TlsContext() = default;

Status TlsContext::reload() {
  if (!server_) return make_error(Errc::refused, "reload: not a server context");
  auto ctxs = build_all(certs_);
  if (!ctxs) return ctxs.error();
  install(std::move(*ctxs));
  return {};
}

void TlsContext::answer_acme_tls_alpn(std::shared_ptr<const AcmeChallenges> challenges) {
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->acme = std::move(challenges);
}

SSL_CTX* TlsContext::acquire() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  SSL_CTX_up_ref(s_->ctxs[0]);
  return s_->ctxs[0];
}

}  // namespace tern::net
