// pop3d private: turning stored message bytes into POP3 multi-line response bodies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tern::pop3d::detail {

// Appends `message` to `out` as the body of a multi-line response (RFC 1939 §3): bare LF
// repaired to CRLF, a final CRLF added if missing, lines starting with "." byte-stuffed,
// then the ".\r\n" terminator. Returns the number of octets before stuffing (the size
// LIST/STAT/RETR announce; equals wire_size(message)).
uint64_t append_multiline(std::string& out, std::string_view message);

// RFC 1939 §7 TOP: the header section, the blank line, then at most `body_lines` lines of
// the body. Lines end as in `message` (repair happens in append_multiline).
std::string_view top_of(std::string_view message, uint64_t body_lines);

}  // namespace tern::pop3d::detail
