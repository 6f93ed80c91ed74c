// bayes (private): the words a message is judged by. Pure.
//
// Header tokens carry the field's name ("subject:", "from:", "fromdomain:", "replyto:"),
// so "free" in a Subject and "free" in the body count apart. The body is the decoded text of
// every text part (HTML without its markup) up to kMaxTextBytes; words are runs of letters,
// digits and UTF-8 bytes, ASCII lower-cased, 3 to 24 bytes long (a longer run gives one
// "long:<first letter><length/8>" token, as random strings are themselves a sign). Links give
// "url:<host>"; attachments give "ext:<extension>" and "type:<type/subtype>". Each token
// appears once (a set): Robinson's method counts messages, not occurrences.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::bayes {

inline constexpr size_t kMaxTextBytes = 256 * 1024;
inline constexpr size_t kMaxTokens = 3000;  // per message, in order of first appearance

std::vector<std::string> tokenize(std::string_view message);
// Stable across runs and builds (FNV-1a, 64 bits): the database keeps only these.
uint64_t token_hash(std::string_view token);

}  // namespace tern::bayes
