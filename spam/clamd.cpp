// clamd's INSTREAM protocol (see spam/scanners.h).
#include <arpa/inet.h>

#include <cstring>

#include "common/strings.h"
#include "spam/scanners.h"

namespace tern::spam {

std::string clamd_instream_request(std::string_view data, size_t chunk) {
  if (chunk == 0) chunk = 64 * 1024;
  std::string out;
  out.reserve(data.size() + 16 + 4 * (data.size() / chunk + 2));
  // The "z" form: the command and the reply end with NUL rather than a newline (clamd(8)).
  out.append("zINSTREAM", 9);
  out.push_back('\0');
  auto length = [&out](uint32_t n) {
    uint32_t be = htonl(n);
    char b[4];
    std::memcpy(b, &be, 4);
    out.append(b, 4);
  };
  for (size_t pos = 0; pos < data.size(); pos += chunk) {
    size_t n = std::min(chunk, data.size() - pos);
    length(static_cast<uint32_t>(n));
    out.append(data.substr(pos, n));
  }
  length(0);  // the end of the stream
  return out;
}

ClamdResult parse_clamd_reply(std::string_view reply) {
  while (!reply.empty() && (reply.back() == '\0' || reply.back() == '\n' || reply.back() == '\r'))
    reply.remove_suffix(1);
  ClamdResult r;
  // "stream: OK", "stream: Eicar-Signature FOUND", "INSTREAM size limit exceeded. ERROR"
  std::string_view body = reply;
  if (size_t colon = body.find(": "); colon != std::string_view::npos) body = body.substr(colon + 2);
  body = trim(body);
  auto ends_with = [&](std::string_view s) {
    return body.size() >= s.size() && body.substr(body.size() - s.size()) == s;
  };
  if (body == "OK") {
    r.status = ClamdResult::clean;
  } else if (ends_with(" FOUND")) {
    r.status = ClamdResult::infected;
    r.signature = std::string(trim(body.substr(0, body.size() - 6)));
    // The name goes into an SMTP reply: printable ASCII only.
    for (char& c : r.signature)
      if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) c = '_';
  } else {
    r.status = ClamdResult::error;
    r.text = std::string(reply.empty() ? "empty reply" : reply);
  }
  return r;
}

namespace {
bool clamd_complete(std::string_view reply) { return reply.find('\0') != std::string_view::npos; }
}  // namespace

Result<ClamdResult> clamd_scan(const ScannerAddress& address, std::string_view message,
                               int timeout_ms) {
  auto reply = exchange(address, clamd_instream_request(message), timeout_ms, clamd_complete);
  if (!reply) return reply.error();
  return parse_clamd_reply(*reply);
}

}  // namespace tern::spam
