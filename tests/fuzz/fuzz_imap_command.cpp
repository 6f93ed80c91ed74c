// Fuzzes the IMAP command parser: any bytes, fed in chunks whose sizes come from the input,
// must yield commands, literal requests or errors, never a crash, leak or hang. Also checks
// that whole-input and byte-by-byte feeding agree, and that parsed commands render.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/codec.h"
#include "imapd/imapd.h"

namespace {

using namespace tern::imapd;

std::vector<std::string> drive(std::string_view input, size_t chunk, const ParserSettings& s) {
  CommandParser p(s);
  std::vector<std::string> out;
  size_t pos = 0;
  // Bounded: every iteration either consumes input or emits an event that consumes it.
  for (int guard = 0; guard < 1000000; ++guard) {
    ParseEvent ev = p.next();
    if (ev.kind == ParseEvent::Kind::need_more) {
      if (pos >= input.size()) break;
      size_t n = std::min(chunk, input.size() - pos);
      p.feed(input.substr(pos, n));
      pos += n;
      continue;
    }
    switch (ev.kind) {
      case ParseEvent::Kind::command: out.push_back(to_debug_string(ev.command, true)); break;
      case ParseEvent::Kind::error: out.push_back("E" + ev.error.message + (ev.error.tag ? *ev.error.tag : "")); break;
      case ParseEvent::Kind::literal_request:
        out.push_back("L" + std::to_string(ev.literal.size));
        // Reject odd sizes to exercise both paths deterministically.
        if (ev.literal.size % 2) p.reject_literal(); else p.accept_literal();
        break;
      default: break;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ParserSettings s;
  s.max_line_length = 256;
  s.max_literal_size = 1024;
  s.max_command_size = 4096;
  s.literal_plus = size % 2 == 0;
  auto whole = drive(input, input.size() + 1, s);
  auto trickled = drive(input, 1, s);
  if (whole != trickled) __builtin_trap();
  // The standalone grammar and the string helpers on arbitrary bytes.
  (void)parse_command(input);
  (void)tern::mutf7_decode(input);
  if (auto enc = tern::mutf7_encode(input)) {
    auto dec = tern::mutf7_decode(*enc);
    if (!dec || *dec != input) __builtin_trap();
  }
  return 0;
}
