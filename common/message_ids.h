// Message identifiers of an RFC 5322 message: the msg-ids of a Message-ID / In-Reply-To /
// References value, and the raw value of a field in a message's top-level header. Shared by
// imapd (THREAD=REFERENCES, RFC 5256 §4) and store (RFC 8474 THREADID), which may not use
// mime/: a plain scan of the header block, no decoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern {

// Message-ids ("<...>", white space and line breaks removed) in a References / In-Reply-To /
// Message-ID value, in order; "<>" and ids holding a second '<' are skipped.
std::vector<std::string> message_ids(std::string_view value);

// The unfolded value (RFC 5322 §2.2.3) of the first field called `name` (case-insensitive) in
// the header block at the start of `message` (up to its first empty line, CRLF or LF), or
// nullopt. Reads at most max_header bytes.
std::optional<std::string> header_field(std::string_view message, std::string_view name,
                                        size_t max_header = 256 * 1024);

}  // namespace tern
