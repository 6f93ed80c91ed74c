#include "ctl/imap_client.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/codec.h"
#include "common/strings.h"

namespace tern::ctl::imap {

namespace {

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  if (e == 0) return std::strerror(errno);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

Result<ServerAddress> parse_server_url(std::string_view url, bool starttls) {
  ServerAddress a;
  std::string_view rest;
  if (url.rfind("imaps://", 0) == 0) {
    if (starttls) return make_error(Errc::syntax, "--starttls goes with imap://, not imaps://");
    rest = url.substr(8);
    a.security = Security::implicit_tls;
    a.port = 993;
  } else if (url.rfind("imap://", 0) == 0) {
    rest = url.substr(7);
    a.security = starttls ? Security::starttls : Security::none;
    a.port = 143;
  } else {
    return make_error(Errc::syntax, "--from must be imaps://user@host[:port] or imap://user@host[:port]");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  size_t at = rest.rfind('@');
  if (at == std::string_view::npos || at == 0) return make_error(Errc::syntax, "--from needs a user: imaps://user@host");
  auto user = percent_decode(rest.substr(0, at));
  if (!user || user->empty()) return make_error(Errc::syntax, "bad user name in --from");
  a.user = *user;
  std::string_view hostport = rest.substr(at + 1);
  std::string_view host = hostport;
  if (!hostport.empty() && hostport.front() == '[') {  // [IPv6]:port
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return make_error(Errc::syntax, "bad host in --from");
    host = hostport.substr(1, close - 1);
    hostport = hostport.substr(close + 1);
    if (!hostport.empty() && hostport.front() != ':') return make_error(Errc::syntax, "bad host in --from");
  } else {
    size_t colon = hostport.rfind(':');
    host = hostport.substr(0, colon);
    hostport = colon == std::string_view::npos ? std::string_view() : hostport.substr(colon);
  }
  if (!hostport.empty()) {
    auto port = parse_u64(hostport.substr(1));
    if (!port || *port == 0 || *port > 65535) return make_error(Errc::syntax, "bad port in --from");
    a.port = static_cast<uint16_t>(*port);
  }
  if (host.empty() || host.find('/') != std::string_view::npos) return make_error(Errc::syntax, "bad host in --from");
  a.host = std::string(host);
  return a;
}

Client::~Client() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Client>> Client::connect(const ServerAddress& address, const TlsOptions& tls,
                                                int timeout_seconds) {
  std::unique_ptr<Client> c(new Client());
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(address.port);
  if (int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return make_error(Errc::temporary, "cannot resolve " + address.host + ": " + ::gai_strerror(rc));
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai && c->fd_ < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    timeval tv{timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      c->fd_ = fd;
    } else {
      last_error = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (c->fd_ < 0)
    return make_error(Errc::temporary, "cannot connect to " + address.host + ":" + port + ": " + last_error);
  if (address.security == Security::implicit_tls)
    if (Status s = c->start_tls(address.host, tls); !s.ok()) return s.error();
  auto greeting = c->read_response();
  if (!greeting) return greeting.error();
  // RFC 9051 §7.1.5: a BYE greeting refuses the connection.
  if (greeting->rfind("* OK", 0) != 0 && greeting->rfind("* PREAUTH", 0) != 0)
    return make_error(Errc::refused, "server refused the connection: " + greeting->substr(0, 200));
  if (address.security == Security::starttls) {
    auto r = c->command("STARTTLS");
    if (!r) return make_error(Errc::refused, "STARTTLS refused: " + r.error().message);
    if (Status s = c->start_tls(address.host, tls); !s.ok()) return s.error();
    c->caps_.clear();  // RFC 9051 §6.2.1: capabilities learnt before TLS are forgotten
  }
  if (Status s = c->read_capabilities_if_missing(); !s.ok()) return s.error();
  return c;
}

Status Client::start_tls(const std::string& host, const TlsOptions& tls) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) return make_error(Errc::internal, "TLS: " + ssl_error_text());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  if (!tls.insecure) {
    if (!tls.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx_, tls.ca_file.c_str(), nullptr) != 1)
        return make_error(Errc::syntax, "cannot load --ca-file " + tls.ca_file + ": " + ssl_error_text());
      // The given file is trusted as is: a self-signed server certificate may be its anchor.
      X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx_), X509_V_FLAG_PARTIAL_CHAIN);
    } else if (SSL_CTX_set_default_verify_paths(ctx_) != 1) {
      return make_error(Errc::internal, "TLS: cannot load the system's certificates");
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  ssl_ = SSL_new(ctx_);
  if (!ssl_) return make_error(Errc::internal, "TLS: " + ssl_error_text());
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, host.c_str());
  if (!tls.insecure) SSL_set1_host(ssl_, host.c_str());
  if (SSL_connect(ssl_) != 1) {
    long v = SSL_get_verify_result(ssl_);
    if (v != X509_V_OK)
      return make_error(Errc::refused, "TLS: certificate of " + host + " not trusted: " +
                                           X509_verify_cert_error_string(v) + " (--ca-file, or --insecure)");
    return make_error(Errc::refused, "TLS handshake with " + host + " failed: " + ssl_error_text());
  }
  return {};
}

Status Client::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n;
    if (ssl_) {
      int w = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), 1 << 20)));
      n = w > 0 ? w : -1;
    } else {
      n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }
    if (n <= 0) return make_error(Errc::temporary, "IMAP server: write failed: " + ssl_error_text());
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<size_t> Client::read_some(char* buf, size_t n) {
  ssize_t got;
  if (ssl_) {
    int r = SSL_read(ssl_, buf, static_cast<int>(n));
    got = r > 0 ? r : (SSL_get_error(ssl_, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
  } else {
    got = ::recv(fd_, buf, n, 0);
  }
  if (got < 0)
    return make_error(Errc::temporary, errno == EAGAIN ? "IMAP server: timed out" : "IMAP server: read failed: " + ssl_error_text());
  if (got == 0) return make_error(Errc::temporary, "IMAP server closed the connection");
  return static_cast<size_t>(got);
}

Result<std::string> Client::read_response() {
  while (true) {
    auto framed = frame_response(buf_);
    // After a framing error nothing more on this connection can be trusted: the caller stops.
    if (!framed) return make_error(Errc::internal, "IMAP server sent a malformed response: " + framed.error().message);
    if (*framed > 0) {
      std::string out = buf_.substr(0, *framed);
      buf_.erase(0, *framed);
      return out;
    }
    char chunk[64 * 1024];
    auto n = read_some(chunk, sizeof chunk);
    if (!n) return n.error();
    buf_.append(chunk, *n);
  }
}

Result<Response> Client::finish(const std::string& tag,
                                const std::function<Status(std::vector<Value>&, std::string_view)>& on_untagged) {
  Response r;
  while (true) {
    auto raw = read_response();
    if (!raw) return raw.error();
    std::string_view line(*raw);
    std::string_view first = line.substr(0, line.find("\r\n"));
    if (line.rfind(tag + " ", 0) == 0) {
      r.tagged = std::string(first.substr(tag.size() + 1));
      if (!r.ok()) return make_error(Errc::refused, r.tagged.substr(0, 300));
      return r;
    }
    if (line.rfind("+", 0) == 0) return make_error(Errc::internal, "IMAP server asked for a continuation unasked");
    if (line.rfind("* BYE", 0) == 0) {
      // RFC 9051 §7.1.5: the server is closing; its tagged answer may never come.
      continue;
    }
    auto values = parse_values(line);
    if (!values) return make_error(Errc::internal, "IMAP server sent a malformed response: " + values.error().message);
    if (!values->empty() && values->size() >= 2 && (*values)[1].is_atom("CAPABILITY")) {
      caps_.clear();
      for (size_t i = 2; i < values->size(); ++i) caps_.push_back((*values)[i].text);
    }
    if (on_untagged) {
      if (Status s = on_untagged(*values, first); !s.ok()) return s.error();
    } else {
      r.untagged.push_back(std::move(*values));
      r.untagged_lines.emplace_back(first);
    }
  }
}

Result<Response> Client::command(std::string_view text,
                                 const std::function<Status(std::vector<Value>&, std::string_view)>& on_untagged) {
  std::string tag = "t" + std::to_string(next_tag_++);
  if (Status s = write_all(tag + " " + std::string(text) + "\r\n"); !s.ok()) return s.error();
  return finish(tag, on_untagged);
}

Status Client::read_capabilities_if_missing() {
  if (!caps_.empty()) return {};
  auto r = command("CAPABILITY");
  if (!r) return r.error();
  return {};
}

bool Client::has_capability(std::string_view cap) const {
  for (const auto& c : caps_)
    if (iequals(c, cap)) return true;
  return false;
}

Status Client::login(std::string_view user, std::string_view password) {
  if (has_capability("LOGINDISABLED") && !ssl_)
    return make_error(Errc::refused, "the server refuses LOGIN without TLS (use imaps:// or --starttls)");
  // Both arguments as quoted strings, or as literals when they hold 8-bit bytes (RFC 9051
  // §4.3): a synchronising literal waits for the server's "+" before its bytes.
  std::string tag = "t" + std::to_string(next_tag_++);
  std::string line = tag + " LOGIN ";
  for (int i = 0; i < 2; ++i) {
    std::string_view arg = i == 0 ? user : password;
    if (i == 1) line += ' ';
    if (auto q = quote(arg)) {
      line += *q;
      continue;
    }
    if (arg.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
      return make_error(Errc::syntax, "user name or password contains CR, LF or NUL");
    line += "{" + std::to_string(arg.size()) + "}\r\n";
    if (Status s = write_all(line); !s.ok()) return s;
    auto cont = read_response();
    if (!cont) return cont.error();
    if (cont->rfind("+", 0) != 0) return make_error(Errc::refused, "LOGIN refused: " + cont->substr(0, 200));
    line = std::string(arg);
  }
  if (Status s = write_all(line + "\r\n"); !s.ok()) return s;
  auto r = finish(tag, {});
  if (!r) return make_error(Errc::refused, "login as " + std::string(user) + " refused: " + r.error().message);
  // RFC 9051 §6.2.3: a server may send new capabilities after login; ask when it did not.
  caps_.clear();
  return read_capabilities_if_missing();
}

void Client::logout() {
  (void)command("LOGOUT");
}

}  // namespace tern::ctl::imap
