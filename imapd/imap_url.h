// IMAP URLs (RFC 5092) as CATENATE (RFC 4469 §3) uses them: a message, or a section or byte
// range of one, in a mailbox of the authenticated user. Pure parsing; the session looks up
// the message.
//
// Accepted: "imap://[user[;AUTH=...]@]host[:port]/<path>" and the server-relative
// "/<path>" form, where <path> = enc-mailbox [";UIDVALIDITY=" n] "/;UID=" n
// ["/;SECTION=" enc-section] ["/;PARTIAL=" offset ["." length]], keys case-insensitive,
// percent-encoding decoded (the mailbox is UTF-8, RFC 5092 §3.1). Refused (the caller answers
// NO [BADURL]): URLAUTH and its ;EXPIRE= / ;URLAUTH= parts (not offered), a URL naming no
// message (mailbox lists, searches with "?"), relative references.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "imapd/fetch_item.h"

namespace tern::imapd {

struct ImapUrl {
  std::optional<std::string> user;   // from the authority, decoded; nullopt when absent
  std::string mailbox;               // decoded UTF-8; "INBOX" normalised
  std::optional<uint32_t> uidvalidity;
  uint32_t uid = 0;
  std::string section;               // decoded section-text, e.g. "1.MIME"; "" = whole message
  std::optional<Partial> partial;    // ;PARTIAL=offset[.length]; length 0 = to the end
};

Result<ImapUrl> parse_imap_url(std::string_view url);

}  // namespace tern::imapd
