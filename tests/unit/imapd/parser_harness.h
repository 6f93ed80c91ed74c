// Drives CommandParser over an input split into chunks and renders every event as a line,
// so the same vectors can be checked whole and trickled byte by byte.
#pragma once

#include <string>
#include <vector>

#include "imapd/imapd.h"

namespace tern::imapd::test {

inline std::string render(const ParseEvent& ev) {
  switch (ev.kind) {
    case ParseEvent::Kind::command: return "CMD " + to_debug_string(ev.command, true);
    case ParseEvent::Kind::error:
      return std::string("ERR ") + to_string(ev.error.kind) + " " + (ev.error.tag ? *ev.error.tag : "-") + " " +
             ev.error.message;
    case ParseEvent::Kind::literal_request:
      return "LIT " + std::to_string(ev.literal.size) + (ev.literal.literal8 ? " lit8" : "") + " " +
             (ev.literal.tag ? *ev.literal.tag : "-") + " " + to_string(ev.literal.name);
    case ParseEvent::Kind::line: return "LINE " + ev.line;
    case ParseEvent::Kind::need_more: return "MORE";
  }
  return "?";
}

// Feeds `input` in chunks of `chunk` bytes (0 = all at once). Literal requests are accepted
// unless their size is in `reject_sizes`.
inline std::vector<std::string> run(const std::string& input, size_t chunk = 0, ParserSettings s = {},
                                    std::vector<uint64_t> reject_sizes = {}) {
  CommandParser p(s);
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    ParseEvent ev = p.next();
    if (ev.kind == ParseEvent::Kind::need_more) {
      if (pos >= input.size()) break;
      size_t n = chunk == 0 ? input.size() - pos : std::min(chunk, input.size() - pos);
      p.feed(std::string_view(input).substr(pos, n));
      pos += n;
      continue;
    }
    out.push_back(render(ev));
    if (ev.kind == ParseEvent::Kind::literal_request) {
      bool reject = false;
      for (uint64_t r : reject_sizes) reject |= r == ev.literal.size;
      if (reject)
        p.reject_literal();
      else
        p.accept_literal();
    }
  }
  if (!p.idle()) out.push_back("PARTIAL");
  return out;
}

}  // namespace tern::imapd::test
