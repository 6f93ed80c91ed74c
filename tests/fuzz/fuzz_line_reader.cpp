// LineReader: the same input fed whole and byte by byte must give the same transcript, lines
// never exceed max_line, and buffering stays bounded. A line ending in "{N}" switches to
// byte-count mode for N bytes (like an IMAP literal).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "net/line_reader.h"

namespace {

using tern::net::LineReader;

// Normalised transcript: counted byte runs are merged (their chunking depends on feeding).
std::string run(std::string_view input, size_t max_line, size_t step) {
  LineReader r(max_line);
  std::string out, run_bytes;
  for (size_t off = 0; off < input.size(); off += step) {
    r.feed(input.substr(off, step));
    while (auto item = r.next()) {
      switch (item->kind) {
        case LineReader::Item::Kind::line: {
          size_t term = item->ending == LineReader::Ending::crlf ? 2 : 1;
          if (item->data.size() + term > max_line) std::abort();
          out += "L" + std::to_string(item->data.size()) + ":" + item->data + "\n";
          size_t open = item->data.rfind('{');
          if (open != std::string::npos && !item->data.empty() && item->data.back() == '}') {
            size_t n = std::strtoul(item->data.c_str() + open + 1, nullptr, 10) % 4096;
            r.expect_bytes(n);
          }
          break;
        }
        case LineReader::Item::Kind::too_long:
          out += "T\n";
          break;
        case LineReader::Item::Kind::bytes:
          run_bytes += item->data;
          if (item->last) {
            out += "B" + std::to_string(run_bytes.size()) + ":" + run_bytes + "\n";
            run_bytes.clear();
          }
          break;
      }
    }
    if (r.buffered() > max_line + step) std::abort();
  }
  return out + "P" + run_bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t max_line = 2 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string whole = run(input, max_line, input.size() ? input.size() : 1);
  std::string trickled = run(input, max_line, 1);
  if (whole != trickled) std::abort();
  return 0;
}
