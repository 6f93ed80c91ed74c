// Delivery status notifications (RFC 3464 format, RFC 3461 semantics) and the retry schedule:
// pure functions, no clock or I/O (part of relay/, included by relay/relay.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::relay {

// ---- Retry schedule ----------------------------------------------------------------------

// Seconds to wait after the `attempts`-th failed attempt (1-based): schedule[attempts-1], the
// last value repeating. An empty schedule means 300 s.
int64_t retry_delay(const std::vector<int>& schedule, int attempts);
// When to try next after a temporary failure at `now`: now + retry_delay, but never past
// arrival + lifetime (so expiry is noticed on time).
int64_t next_attempt_time(const std::vector<int>& schedule, int attempts, int64_t now,
                          int64_t arrival, int64_t lifetime);

// ---- NOTIFY (RFC 3461 §4.1) -----------------------------------------------------------------

enum class DsnKind { failure, delay, success };
// Whether a DSN of that kind is wanted for a recipient with this NOTIFY value. Absent NOTIFY
// means FAILURE (RFC 3461 §4.1: "the MTA ... MAY send a delay DSN" too; we do send one).
bool notify_allows(std::string_view notify, DsnKind kind);

// ---- Replies -> status ----------------------------------------------------------------------

// From a reply string as stored ("550 5.1.1 text", or "" when there was none): the RFC 3463
// status: the enhanced code when its class matches the reply class, else derived from the
// reply class (2.0.0 / 4.0.0 / 5.0.0); `fallback` when the reply has no code at all.
std::string status_from_reply(std::string_view reply, std::string_view fallback);

// ---- DSN message (RFC 3464) -----------------------------------------------------------------

struct DsnRecipientReport {
  std::string original_recipient;  // ORCPT address, "" = omit (RFC 3464 §2.3.1)
  std::string final_recipient;     // §2.3.2
  std::string action;              // failed | delayed | delivered | relayed (§2.3.3)
  std::string status;              // x.y.z (§2.3.4)
  std::string remote_mta;          // host name, "" = omit (§2.3.5)
  std::string diagnostic;          // the remote reply, "" = omit (§2.3.6)
  int64_t last_attempt = 0;        // unix seconds, 0 = omit (§2.3.7)
  int64_t will_retry_until = 0;    // delayed only, 0 = omit (§2.3.8)
};

enum class ReturnContent { full, headers };

struct DsnRequest {
  std::string reporting_mta;   // our host name (Reporting-MTA: dns; ...)
  std::string from;            // MAILER-DAEMON@<host>
  std::string to;              // the original envelope sender
  std::string envid;           // Original-Envelope-Id, "" = omit
  int64_t arrival = 0;         // Arrival-Date
  int64_t now = 0;             // Date of the report
  std::string message_id;      // "<...>" for the report itself
  std::string boundary;        // MIME boundary (caller makes it unique)
  std::vector<DsnRecipientReport> recipients;  // all with the same kind of action
  std::string_view original;   // the original message
  ReturnContent content = ReturnContent::headers;
  bool original_8bit = false;
};

// Which part of the original to return: RET=FULL -> full, RET=HDRS -> headers; RET absent:
// RFC 3461 §4.3 leaves it to us: full for failures of messages up to `full_limit` bytes,
// headers otherwise (and always headers for delay/success reports, which RET does not cover).
ReturnContent choose_return_content(std::string_view ret, DsnKind kind, uint64_t size,
                                    uint64_t full_limit = 256 * 1024);

// The complete RFC 5322 message: multipart/report; report-type=delivery-status with a
// human-readable part, message/delivery-status, and message/rfc822 or text/rfc822-headers.
std::string compose_dsn(const DsnRequest& request);

// The header block of a message (up to and including the empty line, or all of it).
std::string_view message_headers(std::string_view message);

}  // namespace tern::relay
