// http: ternd's small HTTP/1.1 server side (RFC 9110, RFC 9112): a sans-I/O session, the
// router of the few resources ternd serves, and the Prometheus text writer.
//
// Implementation notes
// - Why our own parser: docs/http.md (no Debian library fits a sans-I/O session on our libuv
//   loop and TlsEngine; the surface we need is small).
// - Session takes bytes and hands out one Request at a time; the caller answers it with
//   answer(), which returns the bytes to write. Pipelined requests wait in the buffer until
//   the one before was answered (RFC 9112 §9.3.2: responses in request order). Bad input
//   yields a final error response (400, 411, 413, 414, 431, 501, 505) and the session closes:
//   after a framing error the rest of the stream cannot be trusted (RFC 9112 §6.3).
// - Request bodies: Content-Length only, up to Limits::max_body. Transfer-Encoding (chunked
//   included) is refused with 411 (chunked) or 501 (anything else); no route needs a
//   streamed upload.
// - The Router is pure: it reads a Site (built from the config by the daemon) and asks a
//   Backend for what lives elsewhere (local domains, health, metrics, ACME tokens). Backend
//   calls may block (SQLite): the daemon runs route() on a worker thread.
// - No clock, no sockets, no global state: the caller passes the time for Date.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::http {

// ---- Messages ----------------------------------------------------------------------------

struct Header {
  std::string name;  // lower-case (field names are case-insensitive, RFC 9110 §5.1)
  std::string value;  // leading/trailing whitespace removed (RFC 9112 §5.1)
};

struct Request {
  std::string method;  // case-sensitive token (RFC 9110 §9.1)
  std::string target;  // origin-form as sent: "/path?query"
  std::string path;    // before '?', percent-encoding kept
  std::string query;   // after '?', "" when none
  int minor_version = 1;  // HTTP/1.x
  std::vector<Header> headers;
  std::string body;
  bool keep_alive = true;  // after this request (version and Connection header)

  // The first value of a field, by lower-case name.
  std::optional<std::string_view> header(std::string_view lower_name) const;
  // The Host header without port, lower-case ("" when absent).
  std::string host() const;
  // A query parameter, percent-decoded ('+' as space, as forms send it); nullopt when absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<Header> headers;  // extra fields (Allow, Cache-Control...)
  bool close = false;           // close the connection after it
};

// The standard reason phrase of the status codes ternd sends ("" otherwise).
std::string_view reason_phrase(int status);
// A short text/plain answer "<status> <reason>\n" (error pages).
Response text_response(int status, std::string body = {});

struct Limits {
  size_t max_request_line = 8192;    // RFC 9112 §3: at least 8000 octets recommended
  size_t max_header_bytes = 16384;   // the whole field section
  size_t max_headers = 100;
  size_t max_body = 64 * 1024;       // Autodiscover requests are a few hundred bytes
};

// ---- Session ------------------------------------------------------------------------------

class Session {
 public:
  explicit Session(Limits limits = {});

  // Bytes from the peer (any split).
  void receive(std::string_view bytes);

  enum class Next { need_more, request, error };
  // What to do now. `request`: request() holds the next request; answer it with answer()
  // before calling next() again. `error`: write error_bytes() and close. need_more: read on.
  Next next();
  const Request& request() const { return request_; }
  // The serialized response to request(), with Date (unix seconds `now`), Content-Length,
  // Connection; HEAD gets the header section only (RFC 9110 §9.3.2).
  std::string answer(const Response& response, int64_t now);
  std::string error_bytes(int64_t now) const;
  int error_status() const { return failed_ ? error_.status : 0; }
  // No more requests are read: the last answer said "Connection: close", or an error.
  bool closing() const { return closing_; }
  // Bytes received and not yet consumed (the service stops reading past a bound).
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  Next fail(int status, std::string why);
  Next parse_head(size_t head_end);

  Limits limits_;
  std::string buf_;
  size_t pos_ = 0;
  bool have_head_ = false;   // request_ holds a parsed head; its body is awaited
  size_t head_len_ = 0, body_len_ = 0;
  bool answering_ = false;   // request() was handed out and not answered yet
  bool closing_ = false;
  bool failed_ = false;
  Request request_;
  Response error_;
};

// Serializes a response (status line, fields, body) for a request of `method`.
std::string serialize(const Response& response, std::string_view method, bool keep_alive,
                      int64_t now);
// RFC 9110 §5.6.7 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(int64_t unix_seconds);

// ---- Resources ----------------------------------------------------------------------------

// One mail service as clients should be configured for it.
struct MailEndpoint {
  std::string protocol;  // "imap", "pop3", "smtp"
  uint16_t port = 0;
  bool implicit_tls = false;  // SSL/TLS from the first byte (RFC 8314)
  bool starttls = false;      // else STARTTLS is offered (a certificate is configured)
};

// What the resources say, derived from the config by the daemon.
struct Site {
  std::string hostname;                // the name clients connect to, and our MX
  std::vector<MailEndpoint> endpoints; // incoming and outgoing, best first per protocol
  // RFC 8461 §3.2 policy: mode "enforce" | "testing" | "none", max_age seconds, mx patterns.
  std::string mta_sts_mode = "testing";
  int64_t mta_sts_max_age = 604800;
  std::vector<std::string> mta_sts_mx;  // empty: just the hostname
  std::string display_name = "Tern";
};

// What the router asks for that is not in the config. Methods may block (worker thread).
class Backend {
 public:
  virtual ~Backend() = default;
  virtual bool is_local_domain(std::string_view domain) = 0;
  // The store answers (for /healthz): empty when fine, else a one-line reason.
  virtual std::string health() = 0;
  virtual std::string metrics_text() = 0;
  virtual std::optional<std::string> acme_http01(std::string_view token) = 0;
};

struct Peer {
  bool metrics_allowed = false;  // the client address is in http.metrics_allow
};

class Router {
 public:
  explicit Router(Site site) : site_(std::move(site)) {}
  Response route(const Request& request, const Peer& peer, Backend& backend) const;
  const Site& site() const { return site_; }

 private:
  Site site_;
};

// The documents themselves (router.cpp picks; client_config.cpp writes them).
std::string autoconfig_xml(const Site& site, std::string_view email, std::string_view domain);
std::string autodiscover_xml(const Site& site, std::string_view email);
std::string apple_mobileconfig(const Site& site, std::string_view email, std::string_view domain);
std::string mta_sts_policy(const Site& site);
// The EMailAddress element of an Autodiscover request body ("" when there is none).
std::string autodiscover_request_email(std::string_view body);

// ---- Prometheus text exposition format 0.0.4 ----------------------------------------------

class MetricsWriter {
 public:
  // One family: "# HELP" and "# TYPE" lines (type: counter, gauge, histogram).
  void family(std::string_view name, std::string_view type, std::string_view help);
  // A sample of the last family; labels as {{"proto","smtp"}}; values escaped here.
  void sample(std::string_view name,
              const std::vector<std::pair<std::string_view, std::string_view>>& labels,
              double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  // A histogram family from cumulative-ready bucket counts: bounds[i] pairs with counts[i]
  // (non-cumulative counts; the writer sums them), plus the +Inf count, sum and count.
  void histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& counts, uint64_t overflow, double sum);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

}  // namespace tern::http
