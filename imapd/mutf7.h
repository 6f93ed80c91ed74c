// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), used with IMAP4rev1 clients that have
// not enabled UTF8=ACCEPT (RFC 6855) or IMAP4rev2 (RFC 9051 §5.1 uses UTF-8 names).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::imapd {

// Strict UTF-8 check (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s);

// UTF-8 -> modified UTF-7. Errc::syntax when the input is not valid UTF-8.
Result<std::string> mutf7_encode(std::string_view utf8);

// Modified UTF-7 -> UTF-8, strict: rejects 8-bit or control bytes, unterminated or empty
// shift sequences (other than "&-"), characters outside the modified base64 alphabet,
// non-zero or over-long padding bits, odd byte counts, unpaired surrogates, printable
// ASCII encoded in base64, and two adjacent shift sequences (which must have been one).
Result<std::string> mutf7_decode(std::string_view mutf7);

}  // namespace tern::imapd
