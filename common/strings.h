// Small string helpers shared by the protocol modules. Pure functions, no allocation surprises.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern {

// ASCII-only case folding: protocol keywords and domain names are ASCII (RFC 5321 §2.4).
std::string ascii_lower(std::string_view s);
// Text for XML content and attribute values: & < > " ' as entities, and the C0 controls XML
// 1.0 §2.2 does not allow (all but TAB, LF, CR) dropped.
std::string xml_escape(std::string_view s);
std::string ascii_upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);

std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);

std::optional<uint64_t> parse_u64(std::string_view s);

// An email address split at its last '@'. The domain is lower-cased; the local part is kept
// as given (RFC 5321 §2.4: local parts may be case-sensitive; we match them case-insensitively
// in auth/, which is what users expect).
struct MailAddress {
  std::string local;
  std::string domain;
  std::string str() const { return local + "@" + domain; }
};
std::optional<MailAddress> parse_mail_address(std::string_view addr);

// RFC 5322 §3.3 date-time, e.g. "Sun, 22 Nov 2026 12:43:52 +0000", for a unix time.
std::string rfc5322_date(int64_t unix_seconds);

// A random identifier of n characters from [0-9A-Za-z] (libsodium randombytes); used for
// queue ids and Maildir unique names.
std::string random_id(size_t n);

}  // namespace tern
