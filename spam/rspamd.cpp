// rspamd's HTTP protocol, POST /checkv2 (see spam/scanners.h).
#include <cctype>
#include <cstdlib>

#include "common/strings.h"
#include "spam/scanners.h"

namespace tern::spam {

namespace {

// Header values come from the envelope: no line breaks may reach the request.
std::string clean(std::string_view v) {
  std::string out;
  for (char c : v)
    if (c != '\r' && c != '\n') out += c;
  return out;
}

// ---- a minimal reader for the top level of a JSON object (RFC 8259) ----------------------

struct Json {
  std::string_view s;
  size_t i = 0;
  bool ok = true;
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string string() {
    std::string out;
    if (!eat('"')) {
      ok = false;
      return out;
    }
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) {
        ++i;
        char e = s[i];
        if (e == 'u') {
          i += 4;  // rspamd's action words are ASCII: a \u escape is kept as '?'
          out += '?';
        } else {
          out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        }
        ++i;
        continue;
      }
      out += s[i++];
    }
    if (i >= s.size()) ok = false;
    ++i;
    return out;
  }
  // Skips any value; its text is returned for scalars.
  std::string_view value(int depth = 0) {
    ws();
    if (i >= s.size() || depth > 64) {
      ok = false;
      return {};
    }
    size_t start = i;
    char c = s[i];
    if (c == '"') {
      string();
      return s.substr(start, i - start);
    }
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++i;
      if (eat(close)) return {};
      while (ok) {
        if (c == '{') {
          string();
          if (!eat(':')) ok = false;
        }
        value(depth + 1);
        if (eat(close)) break;
        if (!eat(',')) ok = false;
      }
      return {};
    }
    while (i < s.size() && std::string_view(",}] \t\r\n").find(s[i]) == std::string_view::npos) ++i;
    if (i == start) ok = false;
    return s.substr(start, i - start);
  }
};

size_t header_end(std::string_view r) {
  size_t e = r.find("\r\n\r\n");
  return e == std::string_view::npos ? e : e + 4;
}

std::optional<size_t> content_length(std::string_view head) {
  for (std::string_view line : split(head, '\n')) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (!iequals(trim(line.substr(0, colon)), "Content-Length")) continue;
    if (auto n = parse_u64(trim(line.substr(colon + 1)))) return static_cast<size_t>(*n);
  }
  return std::nullopt;
}

bool http_complete(std::string_view r) {
  size_t he = header_end(r);
  if (he == std::string_view::npos) return false;
  auto len = content_length(r.substr(0, he));
  return len && r.size() >= he + *len;  // without Content-Length: read to EOF
}

}  // namespace

std::string rspamd_http_request(const RspamdRequest& r, std::string_view message,
                                std::string_view host_header) {
  std::string out = "POST /checkv2 HTTP/1.1\r\nHost: " + clean(host_header) +
                    "\r\nConnection: close\r\nContent-Length: " + std::to_string(message.size()) +
                    "\r\n";
  // rspamd's protocol headers: the envelope it cannot read from the message.
  out += "From: " + clean(r.from) + "\r\n";
  for (const auto& rc : r.rcpts) out += "Rcpt: " + clean(rc) + "\r\n";
  if (!r.ip.empty()) out += "IP: " + clean(r.ip) + "\r\n";
  if (!r.helo.empty()) out += "Helo: " + clean(r.helo) + "\r\n";
  if (!r.queue_id.empty()) out += "Queue-Id: " + clean(r.queue_id) + "\r\n";
  if (!r.hostname.empty()) out += "Hostname: " + clean(r.hostname) + "\r\n";
  out += "\r\n";
  out.append(message);
  return out;
}

Result<RspamdResult> parse_rspamd_response(std::string_view response) {
  size_t he = header_end(response);
  if (response.rfind("HTTP/1.", 0) != 0 || he == std::string_view::npos)
    return make_error(Errc::syntax, "rspamd: not an HTTP response");
  size_t sp = response.find(' ');
  auto status = parse_u64(response.substr(sp + 1, 3));
  std::string_view body = response.substr(he);
  if (auto len = content_length(response.substr(0, he)); len && *len <= body.size())
    body = body.substr(0, *len);
  if (!status || *status != 200)
    return make_error(Errc::temporary, "rspamd: HTTP status " +
                                           std::string(response.substr(sp + 1, 3)) + ": " +
                                           std::string(body.substr(0, 200)));
  Json j{body};
  if (!j.eat('{')) return make_error(Errc::syntax, "rspamd: the reply is not a JSON object");
  RspamdResult r;
  bool have_action = false, have_score = false;
  if (!j.eat('}')) {
    while (j.ok) {
      std::string key = j.string();
      if (!j.eat(':')) j.ok = false;
      if (!j.ok) break;
      if (key == "action") {
        j.ws();
        if (j.i < body.size() && body[j.i] == '"') {
          r.action = j.string();
          have_action = true;
        } else {
          j.value();
        }
      } else if (key == "score" || key == "required_score") {
        std::string_view v = j.value();
        char* end = nullptr;
        std::string text(v);
        double d = std::strtod(text.c_str(), &end);
        if (end != text.c_str()) {
          (key == "score" ? r.score : r.required) = d;
          if (key == "score") have_score = true;
        }
      } else {
        j.value();
      }
      if (j.eat('}')) break;
      if (!j.eat(',')) j.ok = false;
    }
  }
  if (!j.ok) return make_error(Errc::syntax, "rspamd: malformed JSON reply");
  if (!have_action || !have_score)
    return make_error(Errc::syntax, "rspamd: the reply has no action or score");
  return r;
}

Result<RspamdResult> rspamd_check(const ScannerAddress& address, const RspamdRequest& r,
                                  std::string_view message, int timeout_ms) {
  std::string host = address.unix_path.empty() ? address.host : "localhost";
  auto reply = exchange(address, rspamd_http_request(r, message, host), timeout_ms, http_complete);
  if (!reply) return reply.error();
  return parse_rspamd_response(*reply);
}

}  // namespace tern::spam
