#include "pop3d/message_format.h"

#include "pop3d/pop3d.h"

namespace tern::pop3d {

uint64_t wire_size(std::string_view message) {
  uint64_t n = 0;
  char prev = '\n';
  for (char c : message) {
    if (c == '\n' && prev != '\r') ++n;  // bare LF becomes CRLF
    ++n;
    prev = c;
  }
  if (!message.empty() && !(message.size() >= 2 && message.substr(message.size() - 2) == "\r\n")) {
    // Ends without a line end (+2), or with a bare LF already counted as CRLF (+0), or
    // with a lone CR which gets its LF (+1).
    if (message.back() == '\r') n += 1;
    else if (message.back() != '\n') n += 2;
  }
  return n;
}

namespace detail {

uint64_t append_multiline(std::string& out, std::string_view message) {
  out.reserve(out.size() + message.size() + message.size() / 32 + 8);
  uint64_t sent = 0;
  bool at_line_start = true;
  for (size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    // RFC 1939 §3: a line starting with the termination octet is byte-stuffed.
    if (at_line_start && c == '.') out.push_back('.');
    at_line_start = false;
    if (c == '\n') {
      if (i == 0 || message[i - 1] != '\r') {  // bare LF: send CRLF
        out.push_back('\r');
        ++sent;
      }
      at_line_start = true;
    }
    out.push_back(c);
    ++sent;
  }
  if (!message.empty() && !at_line_start) {  // the terminator must start a line
    if (message.back() != '\r') {
      out.push_back('\r');
      ++sent;
    }
    out.push_back('\n');
    ++sent;
  }
  out.append(".\r\n");
  return sent;
}

std::string_view top_of(std::string_view message, uint64_t body_lines) {
  // Find the end of the header section: the first empty line (CRLF CRLF or LF LF), or the
  // whole message if there is no body.
  size_t pos = 0;
  size_t body_start = std::string_view::npos;
  while (pos < message.size()) {
    size_t eol = message.find('\n', pos);
    if (eol == std::string_view::npos) break;
    std::string_view line = message.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line == "\r") {
      body_start = pos;
      break;
    }
  }
  if (body_start == std::string_view::npos) return message;
  size_t end = body_start;
  for (uint64_t n = 0; n < body_lines && end < message.size(); ++n) {
    size_t eol = message.find('\n', end);
    end = (eol == std::string_view::npos) ? message.size() : eol + 1;
  }
  return message.substr(0, end);
}

}  // namespace detail
}  // namespace tern::pop3d
