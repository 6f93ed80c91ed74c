// spam/scanners.h: the external scanners' protocols, each a pure codec plus a blocking
// client.
//
// - clamd INSTREAM (clamd(8)): "zINSTREAM\0", then chunks each prefixed with its length as
//   a 4-byte big-endian integer, a zero-length chunk ends the stream; the reply is
//   "stream: OK\0", "stream: <Signature> FOUND\0" or "... ERROR\0".
// - rspamd's HTTP protocol: POST /checkv2 with the message as the body and the envelope in
//   request headers (From, Rcpt (one per recipient), IP, Helo, Queue-Id, Hostname); the
//   reply is a JSON object with "action" ("reject", "add header", "rewrite subject",
//   "greylist", "soft reject", "no action") and "score".
//
// Why blocking sockets on the worker pool rather than a libuv client on the loop: the
// exchange is one request and one reply of a message the worker already holds, poll()
// bounds every step by the configured timeout, and a worker is the place ternd already
// waits on disks; a loop client would need its own HTTP/1.1 parser state machine for the
// same result. The cost is one worker tied up for at most `timeout` per message while a
// scanner is slow, which the timeout (and the tempfail answer) bounds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tern::spam {

// "unix:/run/clamav/clamd.ctl", "/run/clamav/clamd.ctl" or "host:port" ("[v6]:port").
struct ScannerAddress {
  std::string unix_path;  // non-empty: a unix socket
  std::string host;
  uint16_t port = 0;
};
Result<ScannerAddress> parse_scanner_address(std::string_view text);

// ---- clamd ------------------------------------------------------------------------------

// The request bytes for `data` (chunks of at most `chunk` bytes).
std::string clamd_instream_request(std::string_view data, size_t chunk = 64 * 1024);

struct ClamdResult {
  enum Status { clean, infected, error } status = error;
  std::string signature;  // infected: the signature name
  std::string text;       // error: clamd's words, or ours
};
ClamdResult parse_clamd_reply(std::string_view reply);

// Connects, streams `message`, reads the reply; every step bounded by `timeout_ms` in total.
// A transport failure (refused, timeout, reset) is an error Result; clamd's own ERROR reply
// is a ClamdResult with status error.
Result<ClamdResult> clamd_scan(const ScannerAddress& address, std::string_view message,
                               int timeout_ms);

// ---- rspamd -----------------------------------------------------------------------------

struct RspamdRequest {
  std::string from;                 // MAIL FROM ("" for <>)
  std::vector<std::string> rcpts;
  std::string ip, helo, queue_id, hostname;
};
std::string rspamd_http_request(const RspamdRequest& r, std::string_view message,
                                std::string_view host_header);

struct RspamdResult {
  std::string action;  // as rspamd wrote it: "reject", "add header", "no action", ...
  double score = 0;
  double required = 0;  // rspamd's own reject score ("required_score"), 0 when absent
};
// A complete HTTP/1.x response (status line, headers, body; Content-Length or to EOF).
Result<RspamdResult> parse_rspamd_response(std::string_view response);

Result<RspamdResult> rspamd_check(const ScannerAddress& address, const RspamdRequest& r,
                                  std::string_view message, int timeout_ms);

// ---- the blocking transport (shared) ----------------------------------------------------

// Sends `request`, then reads until the peer closes or `complete(reply)` says the reply is
// whole; everything within `timeout_ms`.
Result<std::string> exchange(const ScannerAddress& address, std::string_view request,
                             int timeout_ms, bool (*complete)(std::string_view reply));

}  // namespace tern::spam
