// reports (part of reports.h): where a domain's aggregate reports may go (RFC 7489 §6.2,
// §6.4, §7.1). Pure: the glue does the TXT lookup that verify_name asks for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authn/psl.h"
#include "reports/row.h"

namespace tern::reports {

// RFC 7489 §6.2: receivers MUST be able to send to two URIs; we send to at most three.
inline constexpr size_t kMaxDestinations = 3;

struct Destination {
  std::string address;      // local@domain (from the mailto: URI)
  uint64_t max_size = 0;    // the "!size" limit in bytes; 0 = none
  // §7.1: "" when the destination is in the policy domain's organizational domain; else the
  // name whose TXT records must authorise it ("<policy-domain>._report._dmarc.<host>").
  std::string verify_name;
  bool operator==(const Destination&) const = default;
};

// One rua URI (§6.4 dmarc-uri: a URI with an optional "!" size and k/m/g/t unit, powers of
// two). Only mailto: with one plain address; nullopt for anything else.
std::optional<Destination> parse_mailto(std::string_view uri);

// The usable mailto: destinations of the policy's rua=, in order, each address once, at most
// kMaxDestinations, with the §7.1 check each needs.
std::vector<Destination> destinations(const PublishedPolicy& policy, const authn::PublicSuffixList& psl);

// §7.1: the TXT records found at verify_name authorise the destination when one of them is a
// DMARC record ("v=DMARC1" first). No records, or none such: the destination is not used.
bool authorises(const std::vector<std::string>& txt_records);

}  // namespace tern::reports
