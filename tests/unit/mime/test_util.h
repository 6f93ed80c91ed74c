// Helpers for the mime unit tests.
#pragma once

#include <string>
#include <string_view>

namespace mime_test {

// Test messages are written with "\n"; real mail has CRLF.
inline std::string crlf(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

}  // namespace mime_test
