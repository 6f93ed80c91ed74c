#include "common/message_ids.h"

#include "common/strings.h"

namespace tern {

std::vector<std::string> message_ids(std::string_view value) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = value.find('<', pos)) != std::string_view::npos) {
    size_t end = value.find('>', pos);
    if (end == std::string_view::npos) break;
    std::string id;
    for (char c : value.substr(pos, end - pos + 1))
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') id += c;
    // "<>" or an id holding '<' (a broken one): not a msg-id.
    if (id.size() > 2 && id.find('<', 1) == std::string::npos) out.push_back(std::move(id));
    pos = end + 1;
  }
  return out;
}

std::optional<std::string> header_field(std::string_view message, std::string_view name,
                                        size_t max_header) {
  std::string_view h = message.substr(0, max_header);
  size_t pos = 0;
  while (pos < h.size()) {
    size_t eol = h.find('\n', pos);
    size_t next = eol == std::string_view::npos ? h.size() : eol + 1;
    std::string_view line = h.substr(pos, next - pos);
    if (line == "\n" || line == "\r\n") break;  // the empty line ends the header
    size_t colon = line.find(':');
    // RFC 5322 §2.2: field-name ":" ...; a continuation line (leading WSP) belongs to the
    // field before it and is skipped here.
    if (colon != std::string_view::npos && line[0] != ' ' && line[0] != '\t' &&
        iequals(trim(line.substr(0, colon)), name)) {
      std::string value(line.substr(colon + 1));
      // RFC 5322 §2.2.3: unfolding removes the CRLF before each continuation's WSP.
      while (next < h.size() && (h[next] == ' ' || h[next] == '\t')) {
        size_t e = h.find('\n', next);
        size_t n = e == std::string_view::npos ? h.size() : e + 1;
        value += h.substr(next, n - next);
        next = n;
      }
      std::string unfolded;
      for (char c : value)
        if (c != '\r' && c != '\n') unfolded += c;
      return std::string(trim(unfolded));
    }
    pos = next;
  }
  return std::nullopt;
}

}  // namespace tern
