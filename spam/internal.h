// spam (private): pieces shared by the rules' files and their unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tern::spam {

// RFC 5322 §3.3 date-time (and the obsolete forms of §4.3 that clients still write: no day
// name, two-digit years, zone names such as GMT/UT/EST) -> unix seconds; nullopt when
// unreadable.
std::optional<int64_t> parse_date(std::string_view text);

}  // namespace tern::spam
