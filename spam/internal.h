// spam (private): pieces shared by the rules' files and their unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::mime {
class Message;
}  // namespace tern::mime

namespace tern::spam {

// RFC 5322 §3.3 date-time (and the obsolete forms of §4.3 that clients still write: no day
// name, two-digit years, zone names such as GMT/UT/EST) -> unix seconds; nullopt when
// unreadable.
std::optional<int64_t> parse_date(std::string_view text);

// The link host names of the message's text parts, appended to `out` (up to `max`).
void collect_domains(const mime::Message& msg, std::vector<std::string>& out, size_t max);

}  // namespace tern::spam
