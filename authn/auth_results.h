// authn/auth_results.h: the Authentication-Results header field (RFC 8601), rendered from the
// verdicts, and the removal of fields that claim our authserv-id (RFC 8601 §5). Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authn/dkim.h"
#include "authn/dmarc.h"
#include "authn/iprev.h"
#include "authn/spf.h"

namespace tern::authn {

struct AuthVerdicts {
  std::optional<IprevVerdict> iprev;
  std::optional<SpfVerdict> spf_helo;   // the HELO identity, when checked on its own
  std::optional<SpfVerdict> spf;        // the MAIL FROM identity (HELO for <>)
  std::vector<DkimVerdict> dkim;        // empty: dkim=none
  bool dkim_checked = false;            // false: no dkim clause at all
  std::optional<DmarcVerdict> dmarc;
};

// "Authentication-Results: <authserv-id>;\r\n\t<method>=<result> ...;\r\n\t...\r\n", one
// resinfo per line, in the order iprev, spf (helo, mailfrom), dkim, dmarc; "none" alone when
// nothing was checked (RFC 8601 §2.2 no-result). Values that are not RFC 2045 tokens are
// quoted; free text goes in comments with ( ) and \ escaped and control bytes dropped.
std::string render_authentication_results(std::string_view authserv_id, const AuthVerdicts& v);

// The authserv-id of one Authentication-Results field ("Name: value" with folds), or nullopt
// when the field is not Authentication-Results or has no parsable authserv-id.
std::optional<std::string> authserv_id_of(std::string_view field);

// RFC 8601 §5: the message with every Authentication-Results field of its header section that
// claims `authserv_id` (compared case-insensitively) removed; every other byte unchanged.
std::string strip_authentication_results(std::string_view message, std::string_view authserv_id);

}  // namespace tern::authn
