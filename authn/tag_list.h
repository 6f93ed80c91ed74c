// authn/tag_list.h: the "tag=value; ..." syntax of DKIM-Signature fields and DKIM key
// records (RFC 6376 §3.2), also used, more leniently, for DMARC records (RFC 7489 §6.4).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace tern::authn {

struct Tag {
  std::string name;   // as written (DKIM tag names are case-sensitive, RFC 6376 §3.2)
  std::string value;  // FWS around it removed; FWS inside kept as written
};

// Errc::syntax on: a tag without "=", a bad tag name, a value character outside VALCHAR /
// FWS, an empty tag-spec between two ";", and (RFC 6376 §3.2) a duplicated tag name.
Result<std::vector<Tag>> parse_tag_list(std::string_view text);

// Deletes every FWS character (SP, HTAB, CR, LF): for base64 values (b=, bh=, p=) and h=.
std::string strip_fws(std::string_view s);

}  // namespace tern::authn
