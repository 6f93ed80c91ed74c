// http::Session: HTTP/1.1 request framing (RFC 9112) and response serialization.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/codec.h"
#include "common/strings.h"
#include "http/http.h"

namespace tern::http {

namespace {

// RFC 9110 §5.6.2: token characters.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits a comma-separated list field (RFC 9110 §5.6.1), trimmed, empty elements dropped.
std::vector<std::string_view> list_items(std::string_view v) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= v.size()) {
    size_t j = v.find(',', i);
    if (j == std::string_view::npos) j = v.size();
    auto item = trim_ows(v.substr(i, j - i));
    if (!item.empty()) out.push_back(item);
    i = j + 1;
  }
  return out;
}

bool has_token(const Request& r, std::string_view field, std::string_view token) {
  for (const auto& h : r.headers)
    if (h.name == field)
      for (auto item : list_items(h.value))
        if (ascii_lower(item) == token) return true;
  return false;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view lower_name) const {
  for (const auto& h : headers)
    if (h.name == lower_name) return std::string_view(h.value);
  return std::nullopt;
}

std::string Request::host() const {
  auto h = header("host");
  if (!h) return "";
  std::string_view v = *h;
  if (!v.empty() && v.front() == '[') {  // IP-literal (RFC 3986 §3.2.2)
    size_t close = v.find(']');
    return ascii_lower(v.substr(0, close == std::string_view::npos ? v.size() : close + 1));
  }
  return ascii_lower(v.substr(0, v.find(':')));
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string_view q = query;
  size_t i = 0;
  while (i <= q.size()) {
    size_t amp = q.find('&', i);
    if (amp == std::string_view::npos) amp = q.size();
    std::string_view pair = q.substr(i, amp - i);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key == name) {
      std::string raw(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      // application/x-www-form-urlencoded writes a space as '+'.
      std::replace(raw.begin(), raw.end(), '+', ' ');
      auto decoded = percent_decode(raw);
      if (!decoded) return std::nullopt;
      return *decoded;
    }
    i = amp + 1;
  }
  return std::nullopt;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
  }
  return "";
}

Response text_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = body.empty() ? std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n"
                        : std::move(body);
  return r;
}

std::string http_date(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string serialize(const Response& response, std::string_view method, bool keep_alive,
                      int64_t now) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                    std::string(reason_phrase(response.status)) + "\r\n";
  // RFC 9110 §6.6.1: an origin server with a clock sends Date.
  out += "Date: " + http_date(now) + "\r\n";
  if (!response.content_type.empty()) out += "Content-Type: " + response.content_type + "\r\n";
  // RFC 9112 §6.3: the length frames the body, so the connection can carry the next one.
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  for (const auto& h : response.headers) out += h.name + ": " + h.value + "\r\n";
  if (!keep_alive || response.close) out += "Connection: close\r\n";
  out += "\r\n";
  // RFC 9110 §9.3.2: HEAD is GET without the content.
  if (method != "HEAD") out += response.body;
  return out;
}

Session::Session(Limits limits) : limits_(limits) {}

void Session::receive(std::string_view bytes) {
  if (closing_) return;
  buf_.append(bytes);
}

Session::Next Session::fail(int status, std::string why) {
  closing_ = true;
  failed_ = true;
  error_ = text_response(status, std::to_string(status) + " " +
                                     std::string(reason_phrase(status)) + ": " + why + "\n");
  error_.close = true;
  return Next::error;
}

Session::Next Session::next() {
  if (closing_) return failed_ ? Next::error : Next::need_more;
  if (answering_) return Next::need_more;
  if (!have_head_) {
    // RFC 9112 §2.2: empty lines before the request line are ignored.
    while (pos_ < buf_.size() && (buf_[pos_] == '\n' ||
                                  (buf_[pos_] == '\r' && pos_ + 1 < buf_.size() && buf_[pos_ + 1] == '\n')))
      pos_ += buf_[pos_] == '\r' ? 2 : 1;
    std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
    size_t line_end = rest.find('\n');
    // RFC 9112 §3: a request-target longer than we will parse is answered 414.
    if ((line_end == std::string_view::npos ? rest.size() : line_end) > limits_.max_request_line)
      return fail(414, "request line too long");
    // The field section ends at an empty line (CRLF CRLF; a bare LF ends a line too, §2.2).
    size_t head_end = std::string_view::npos;
    for (size_t i = line_end; i != std::string_view::npos; i = rest.find('\n', i + 1)) {
      if (i + 1 < rest.size() && rest[i + 1] == '\n') {
        head_end = i + 2;
        break;
      }
      if (i + 2 < rest.size() && rest[i + 1] == '\r' && rest[i + 2] == '\n') {
        head_end = i + 3;
        break;
      }
    }
    size_t max_head = limits_.max_request_line + limits_.max_header_bytes;
    if (head_end == std::string_view::npos) {
      if (rest.size() > max_head) return fail(431, "header section too large");
      return Next::need_more;
    }
    if (head_end > max_head) return fail(431, "header section too large");
    if (Next n = parse_head(head_end); n != Next::request) return n;
    have_head_ = true;
  }
  // The body: exactly Content-Length bytes after the head (RFC 9112 §6.2).
  if (buffered() < head_len_ + body_len_) return Next::need_more;
  request_.body.assign(buf_, pos_ + head_len_, body_len_);
  pos_ += head_len_ + body_len_;
  buf_.erase(0, pos_);
  pos_ = 0;
  have_head_ = false;
  answering_ = true;
  return Next::request;
}

std::string Session::answer(const Response& response, int64_t now) {
  answering_ = false;
  bool keep = request_.keep_alive && !response.close;
  if (!keep) closing_ = true;
  if (keep && request_.minor_version == 0) {
    // RFC 9112 §9.3: an HTTP/1.0 client asked for keep-alive; say we keep it.
    Response r = response;
    r.headers.push_back({"Connection", "keep-alive"});
    return serialize(r, request_.method, true, now);
  }
  return serialize(response, request_.method, keep, now);
}

std::string Session::error_bytes(int64_t now) const { return serialize(error_, "GET", false, now); }

Session::Next Session::parse_head(size_t head_end) {
  std::string_view head(buf_.data() + pos_, head_end);
  std::vector<std::string_view> lines;
  size_t i = 0;
  while (i < head.size()) {
    size_t nl = head.find('\n', i);
    std::string_view line = head.substr(i, nl - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // RFC 9112 §2.2: a bare CR outside a line ending is invalid.
    if (line.find('\r') != std::string_view::npos) return fail(400, "bare CR");
    lines.push_back(line);
    i = nl + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) return fail(400, "empty request");

  Request r;
  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
  std::string_view rl = lines[0];
  size_t sp1 = rl.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line");
  std::string_view method = rl.substr(0, sp1);
  std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = rl.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "malformed method");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return fail(400, "malformed HTTP version");
  // RFC 9110 §15.6.6: 505 for a major version we do not support.
  if (version[5] != '1') return fail(505, "only HTTP/1.x is served");
  r.minor_version = version[7] - '0';
  if (target.empty()) return fail(400, "empty request target");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return fail(400, "bad character in request target");
  r.method = std::string(method);
  std::string authority;
  // RFC 9112 §3.2.2: a server MUST accept the absolute-form; its authority replaces Host.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() && ascii_lower(target.substr(0, scheme.size())) == scheme) {
      std::string_view after = target.substr(scheme.size());
      size_t slash = after.find_first_of("/?");
      authority = std::string(after.substr(0, slash));
      target = slash == std::string_view::npos ? std::string_view("/") : after.substr(slash);
      break;
    }
  }
  if (target.front() != '/' && !(target == "*" && method == "OPTIONS"))
    return fail(400, "request target must be origin-form");
  r.target = std::string(target);
  size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);

  if (lines.size() - 1 > limits_.max_headers) return fail(431, "too many header fields");
  if (head_end - lines[0].size() > limits_.max_header_bytes)
    return fail(431, "header section too large");
  for (size_t k = 1; k < lines.size(); ++k) {
    std::string_view line = lines[k];
    // RFC 9112 §5.2: obs-fold outside message/http is rejected with 400.
    if (line.empty() || line.front() == ' ' || line.front() == '\t')
      return fail(400, "obsolete line folding");
    size_t colon = line.find(':');
    // RFC 9112 §5.1: no whitespace between the field name and the colon (400).
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
      return fail(400, "malformed header field");
    std::string_view value = trim_ows(line.substr(colon + 1));
    for (char c : value)
      // RFC 9110 §5.5: field values carry no CTL but HTAB (NUL, CR, LF are fatal).
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return fail(400, "bad character in header field");
    r.headers.push_back({ascii_lower(line.substr(0, colon)), std::string(value)});
  }
  if (!authority.empty()) {
    std::erase_if(r.headers, [](const Header& h) { return h.name == "host"; });
    r.headers.push_back({"host", authority});
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with several, gets 400.
  size_t hosts = std::count_if(r.headers.begin(), r.headers.end(),
                               [](const Header& h) { return h.name == "host"; });
  if (hosts > 1 || (hosts == 0 && r.minor_version >= 1)) return fail(400, "missing or repeated Host");

  // RFC 9112 §6.1: we do not decode transfer codings in requests; chunked gets 411 (send a
  // Content-Length), any other coding 501 (RFC 9112 §6.1: "SHOULD respond with 501").
  if (auto te = r.header("transfer-encoding")) {
    auto items = list_items(*te);
    if (!items.empty() && ascii_lower(items.back()) == "chunked")
      return fail(411, "chunked request bodies are not accepted; send Content-Length");
    return fail(501, "transfer coding not implemented");
  }
  uint64_t length = 0;
  bool have_length = false;
  for (const auto& h : r.headers) {
    if (h.name != "content-length") continue;
    // RFC 9112 §6.3 (5): a list of identical values is one value; differing ones are fatal.
    for (auto item : list_items(h.value)) {
      if (item.size() > 15 || !std::all_of(item.begin(), item.end(),
                                           [](char c) { return c >= '0' && c <= '9'; }))
        return fail(400, "bad Content-Length");
      uint64_t v = std::stoull(std::string(item));
      if (have_length && v != length) return fail(400, "conflicting Content-Length");
      length = v;
      have_length = true;
    }
    if (!have_length) return fail(400, "bad Content-Length");
  }
  // RFC 9110 §15.5.14: 413 for content larger than we are willing to process.
  if (length > limits_.max_body) return fail(413, "request body too large");

  r.keep_alive = r.minor_version >= 1 ? !has_token(r, "connection", "close")
                                      : has_token(r, "connection", "keep-alive");
  request_ = std::move(r);
  head_len_ = head_end;
  body_len_ = static_cast<size_t>(length);
  return Next::request;
}

}  // namespace tern::http
