// DSN composition (RFC 3464), NOTIFY interpretation (RFC 3461) and the retry schedule.
#include "relay/dsn.h"

#include <algorithm>
#include <cctype>

#include "common/strings.h"

namespace tern::relay {

int64_t retry_delay(const std::vector<int>& schedule, int attempts) {
  constexpr int64_t kDefault = 300;
  if (schedule.empty()) return kDefault;
  size_t i = attempts <= 1 ? 0 : static_cast<size_t>(attempts - 1);
  if (i >= schedule.size()) i = schedule.size() - 1;  // the last value repeats
  return std::max<int64_t>(1, schedule[i]);
}

int64_t next_attempt_time(const std::vector<int>& schedule, int attempts, int64_t now,
                          int64_t arrival, int64_t lifetime) {
  int64_t next = now + retry_delay(schedule, attempts);
  return std::min(next, arrival + lifetime);
}

bool notify_allows(std::string_view notify, DsnKind kind) {
  if (notify.empty()) return kind != DsnKind::success;  // RFC 3461 §4.1: default FAILURE (+DELAY)
  bool failure = false, delay = false, success = false;
  for (auto word : split(notify, ',')) {
    word = trim(word);
    if (iequals(word, "NEVER")) return false;  // RFC 3461 §4.1: NEVER stands alone
    if (iequals(word, "FAILURE")) failure = true;
    if (iequals(word, "DELAY")) delay = true;
    if (iequals(word, "SUCCESS")) success = true;
  }
  switch (kind) {
    case DsnKind::failure: return failure;
    case DsnKind::delay: return delay;
    case DsnKind::success: return success;
  }
  return false;
}

std::string status_from_reply(std::string_view reply, std::string_view fallback) {
  if (reply.size() < 3 || reply[0] < '2' || reply[0] > '5' || !std::isdigit(static_cast<unsigned char>(reply[1])) ||
      !std::isdigit(static_cast<unsigned char>(reply[2])))
    return std::string(fallback);
  char cls = reply[0];
  std::string_view rest = trim(reply.substr(3));
  size_t sp = rest.find(' ');
  std::string_view word = rest.substr(0, sp);
  // RFC 3463 §2: class.subject.detail, the class matching the reply's first digit.
  auto parts = split(word, '.');
  if (parts.size() == 3 && !word.empty() && word[0] == cls) {
    bool ok = true;
    for (auto p : parts) {
      if (p.empty() || p.size() > 3 || !parse_u64(p)) ok = false;
    }
    if (ok) return std::string(word);
  }
  if (cls == '3') return std::string(fallback);
  return std::string(1, cls) + ".0.0";
}

ReturnContent choose_return_content(std::string_view ret, DsnKind kind, uint64_t size,
                                    uint64_t full_limit) {
  // RFC 3461 §4.3: RET only governs failure DSNs.
  if (kind != DsnKind::failure) return ReturnContent::headers;
  if (iequals(ret, "HDRS")) return ReturnContent::headers;
  if (iequals(ret, "FULL")) return ReturnContent::full;
  return size <= full_limit ? ReturnContent::full : ReturnContent::headers;
}

std::string_view message_headers(std::string_view message) {
  size_t pos = 0;
  while (pos < message.size()) {
    size_t eol = message.find('\n', pos);
    if (eol == std::string_view::npos) return message;
    std::string_view line = message.substr(pos, eol - pos);
    if (line.empty() || line == "\r") return message.substr(0, eol + 1);
    pos = eol + 1;
  }
  return message;
}

namespace {

// Normalises line ends to CRLF (the DSN is stored and sent as CRLF text).
void append_crlf(std::string& out, std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += c;
  }
  if (!text.empty() && text.back() != '\n') out += "\r\n";
}

// Header field values we build from remote replies: no CR/LF, no control characters.
std::string field_safe(std::string_view text) {
  std::string out;
  for (unsigned char c : text) out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
  return out;
}

bool any_8bit(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace

std::string compose_dsn(const DsnRequest& r) {
  const std::string action = r.recipients.empty() ? "failed" : r.recipients.front().action;
  std::string subject, intro;
  if (action == "delayed") {
    subject = "Delayed Mail (still being retried)";
    intro = "This is the mail system at " + r.reporting_mta +
            ".\r\n\r\nYour message has not been delivered yet to the recipients listed below.\r\n"
            "Delivery will be retried; you do not need to resend it.\r\n";
  } else if (action == "delivered" || action == "relayed") {
    subject = "Successful Mail Delivery Report";
    intro = "This is the mail system at " + r.reporting_mta +
            ".\r\n\r\nYour message was " + (action == "relayed" ? "relayed (passed on to a server "
            "that does not report delivery)" : "delivered") + " to the recipients listed below.\r\n";
  } else {
    subject = "Undelivered Mail Returned to Sender";
    intro = "This is the mail system at " + r.reporting_mta +
            ".\r\n\r\nYour message could not be delivered to one or more recipients.\r\n"
            "It is attached below.\r\n";
  }

  std::string out;
  out += "From: Mail Delivery System <" + r.from + ">\r\n";
  out += "To: <" + r.to + ">\r\n";
  out += "Subject: " + subject + "\r\n";
  out += "Date: " + rfc5322_date(r.now) + "\r\n";
  out += "Message-ID: " + r.message_id + "\r\n";
  out += "Auto-Submitted: auto-replied\r\n";  // RFC 3834 §5: never auto-answered in turn
  out += "MIME-Version: 1.0\r\n";
  // RFC 3464 §2 / RFC 6522: multipart/report with report-type=delivery-status.
  out += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" +
         r.boundary + "\"\r\n";
  out += "\r\nThis is a MIME-encapsulated delivery status notification.\r\n\r\n";

  // Part 1: human-readable.
  out += "--" + r.boundary + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Description: Notification\r\n\r\n";
  out += intro + "\r\n";
  for (const auto& rc : r.recipients) {
    out += "<" + field_safe(rc.final_recipient) + ">";
    if (!rc.diagnostic.empty()) {
      out += ": ";
      if (!rc.remote_mta.empty()) out += field_safe(rc.remote_mta) + " said: ";
      out += field_safe(rc.diagnostic);
    }
    out += "\r\n";
  }
  out += "\r\n";

  // Part 2: message/delivery-status (RFC 3464 §2.1: per-message fields, then per-recipient).
  out += "--" + r.boundary + "\r\n";
  out += "Content-Type: message/delivery-status\r\n";
  out += "Content-Description: Delivery report\r\n\r\n";
  out += "Reporting-MTA: dns; " + r.reporting_mta + "\r\n";  // RFC 3464 §2.2.2
  if (!r.envid.empty()) out += "Original-Envelope-Id: " + field_safe(r.envid) + "\r\n";  // §2.2.1
  if (r.arrival > 0) out += "Arrival-Date: " + rfc5322_date(r.arrival) + "\r\n";  // §2.2.5
  for (const auto& rc : r.recipients) {
    out += "\r\n";  // RFC 3464 §2.1: each recipient block preceded by a blank line
    if (!rc.original_recipient.empty())
      out += "Original-Recipient: rfc822; " + field_safe(rc.original_recipient) + "\r\n";
    out += "Final-Recipient: rfc822; " + field_safe(rc.final_recipient) + "\r\n";
    out += "Action: " + rc.action + "\r\n";
    out += "Status: " + rc.status + "\r\n";
    if (!rc.remote_mta.empty()) out += "Remote-MTA: dns; " + field_safe(rc.remote_mta) + "\r\n";
    if (!rc.diagnostic.empty()) out += "Diagnostic-Code: smtp; " + field_safe(rc.diagnostic) + "\r\n";
    if (rc.last_attempt > 0) out += "Last-Attempt-Date: " + rfc5322_date(rc.last_attempt) + "\r\n";
    if (rc.will_retry_until > 0)
      out += "Will-Retry-Until: " + rfc5322_date(rc.will_retry_until) + "\r\n";
  }
  out += "\r\n";

  // Part 3: the original message or its headers (RFC 3464 §2: third part optional).
  out += "--" + r.boundary + "\r\n";
  if (r.content == ReturnContent::full) {
    out += "Content-Type: message/rfc822\r\n";
    if (r.original_8bit || any_8bit(r.original)) out += "Content-Transfer-Encoding: 8bit\r\n";
    out += "Content-Description: Undelivered message\r\n\r\n";
    append_crlf(out, r.original);
  } else {
    std::string_view headers = message_headers(r.original);
    out += "Content-Type: text/rfc822-headers\r\n";  // RFC 6522 §4
    if (any_8bit(headers)) out += "Content-Transfer-Encoding: 8bit\r\n";
    out += "Content-Description: Headers of the message\r\n\r\n";
    append_crlf(out, headers);
  }
  out += "\r\n--" + r.boundary + "--\r\n";
  return out;
}

}  // namespace tern::relay
