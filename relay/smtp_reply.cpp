// SMTP client helpers: reply parsing, EHLO capabilities, DATA encoding.
#include <cctype>

#include "common/strings.h"
#include "relay/smtp_client.h"

namespace tern::relay {

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::delivered: return "delivered";
    case Outcome::temporary: return "temporary";
    case Outcome::permanent: return "permanent";
  }
  return "unknown";
}

Outcome classify_reply(int code) {
  // RFC 5321 §4.2.1: 2yz completion, 4yz transient failure, 5yz permanent failure.
  if (code >= 200 && code < 300) return Outcome::delivered;
  if (code >= 500 && code < 600) return Outcome::permanent;
  return Outcome::temporary;
}

std::string SmtpReply::text() const {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += ' ';
    out += l;
  }
  return out;
}

std::string SmtpReply::str() const {
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out += " " + enhanced;
  std::string t = text();
  if (!t.empty()) out += " " + t;
  return out;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3463 §2 / RFC 2034 §4: "class.subject.detail" at the start of the text, class matching
// the reply's first digit. Returns its length (0 when absent).
size_t enhanced_code_length(std::string_view text, int code) {
  if (text.size() < 5 || text[0] != char('0' + code / 100) || text[1] != '.') return 0;
  size_t i = 2, digits = 0;
  while (i < text.size() && is_digit(text[i]) && digits < 3) ++i, ++digits;
  if (digits == 0 || i >= text.size() || text[i] != '.') return 0;
  ++i;
  digits = 0;
  while (i < text.size() && is_digit(text[i]) && digits < 3) ++i, ++digits;
  if (digits == 0) return 0;
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

}  // namespace

ReplyParser::State ReplyParser::next(SmtpReply& out) {
  if (!error_.empty()) return State::error;
  SmtpReply reply;
  size_t pos = 0;
  while (true) {
    size_t lf = buffer_.find('\n', pos);
    if (lf == std::string::npos) {
      if (buffer_.size() - pos > kMaxLine) {
        error_ = "reply line too long";
        return State::error;
      }
      return State::need_more;
    }
    std::string_view line(buffer_.data() + pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLine) {
      error_ = "reply line too long";
      return State::error;
    }
    // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
    //                             Reply-code [ SP textstring ] CRLF
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
        line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      error_ = "malformed reply line";
      return State::error;
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (reply.code != 0 && code != reply.code) {
      error_ = "reply code changed within a multi-line reply";
      return State::error;
    }
    reply.code = code;
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
    if (size_t n = enhanced_code_length(text, code); n > 0) {
      if (reply.enhanced.empty()) reply.enhanced = std::string(text.substr(0, n));
      text.remove_prefix(n);
      if (!text.empty()) text.remove_prefix(1);
    }
    reply.lines.emplace_back(text);
    if (reply.lines.size() > kMaxLines) {
      error_ = "multi-line reply too long";
      return State::error;
    }
    bool last = line.size() == 3 || line[3] == ' ';
    pos = lf + 1;
    if (last) {
      buffer_.erase(0, pos);
      out = std::move(reply);
      return State::reply;
    }
  }
}

Capabilities parse_ehlo_reply(const SmtpReply& reply) {
  Capabilities caps;
  caps.esmtp = true;
  // RFC 5321 §4.1.1.1: the first line is the greeting; each further line is one keyword
  // with optional parameters.
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    auto words = split(trim(reply.lines[i]), ' ');
    if (words.empty()) continue;
    std::string keyword = ascii_upper(words[0]);
    if (keyword == "STARTTLS") caps.starttls = true;
    else if (keyword == "PIPELINING") caps.pipelining = true;
    else if (keyword == "8BITMIME") caps.eightbitmime = true;
    else if (keyword == "SMTPUTF8") caps.smtputf8 = true;
    else if (keyword == "DSN") caps.dsn = true;
    else if (keyword == "SIZE") {
      caps.size_advertised = true;
      if (words.size() > 1) caps.size = parse_u64(words[1]).value_or(0);
    } else if (keyword == "AUTH" || istarts_with(keyword, "AUTH=")) {
      // "AUTH=PLAIN LOGIN" is the pre-standard form some servers still send.
      if (keyword.size() > 5) caps.auth.push_back(keyword.substr(5));
      for (size_t w = 1; w < words.size(); ++w) {
        if (!words[w].empty()) caps.auth.push_back(ascii_upper(words[w]));
      }
    }
  }
  return caps;
}

std::string smtp_data_encode(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 64 + 8);
  bool at_line_start = true;
  for (size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    if (c == '\r' || c == '\n') {
      // RFC 5321 §2.3.8: lines end in CRLF; bare CR and bare LF are sent as CRLF.
      if (c == '\r' && i + 1 < message.size() && message[i + 1] == '\n') ++i;
      out += "\r\n";
      at_line_start = true;
      continue;
    }
    // RFC 5321 §4.5.2: a line starting with "." gets one more ".".
    if (at_line_start && c == '.') out += '.';
    out += c;
    at_line_start = false;
  }
  if (!at_line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace tern::relay
