// rua= destinations and the external destination check (see reports/destination.h).
#include "reports/destination.h"

#include <cctype>

#include "authn/dmarc.h"
#include "common/codec.h"
#include "common/strings.h"

namespace tern::reports {

namespace {

// RFC 7489 §6.4: size = 1*DIGIT [ "k" / "m" / "g" / "t" ], units in powers of two.
std::optional<uint64_t> parse_size(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int shift = 0;
  switch (std::tolower(static_cast<unsigned char>(s.back()))) {
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: break;
  }
  if (shift) s.remove_suffix(1);
  if (s.empty() || s.size() > 12) return std::nullopt;
  auto n = parse_u64(s);
  if (!n) return std::nullopt;
  return *n << shift;
}

}  // namespace

std::optional<Destination> parse_mailto(std::string_view uri) {
  uri = trim(uri);
  constexpr std::string_view scheme = "mailto:";
  if (uri.size() <= scheme.size() || !iequals(uri.substr(0, scheme.size()), scheme)) return std::nullopt;
  uri.remove_prefix(scheme.size());
  Destination d;
  // §6.4: "!" is not valid in a URI, so it always starts the size (a literal one is %21).
  if (size_t bang = uri.find('!'); bang != std::string_view::npos) {
    auto size = parse_size(uri.substr(bang + 1));
    if (!size) return std::nullopt;
    d.max_size = *size;
    uri = uri.substr(0, bang);
  }
  // RFC 6068: hfields after "?" (a subject, say) are not ours to honour.
  if (size_t q = uri.find('?'); q != std::string_view::npos) uri = uri.substr(0, q);
  auto address = percent_decode(uri);
  // One plain address: RFC 6068 allows a list, §6.2 wants one report per URI.
  if (!address || address->find_first_of(",;<> \t\r\n\"") != std::string::npos) return std::nullopt;
  auto parsed = parse_mail_address(*address);
  if (!parsed || parsed->local.empty() || parsed->domain.empty() ||
      parsed->domain.find('.') == std::string::npos || parsed->local.find('@') != std::string::npos)
    return std::nullopt;
  d.address = parsed->local + "@" + parsed->domain;
  return d;
}

std::vector<Destination> destinations(const PublishedPolicy& policy, const authn::PublicSuffixList& psl) {
  std::vector<Destination> out;
  const std::string policy_org = psl.organizational_domain(ascii_lower(policy.domain));
  for (const auto& uri : policy.rua) {
    if (out.size() >= kMaxDestinations) break;
    auto d = parse_mailto(uri);
    if (!d) continue;
    bool seen = false;
    for (const auto& o : out) seen = seen || iequals(o.address, d->address);  // one report per mailbox
    if (seen) continue;
    const std::string host = d->address.substr(d->address.rfind('@') + 1);
    // RFC 7489 §7.1: a destination outside the policy domain's organizational domain must
    // publish "<policy-domain>._report._dmarc.<destination host>" agreeing to receive them.
    if (psl.organizational_domain(host) != policy_org)
      d->verify_name = ascii_lower(policy.domain) + "._report._dmarc." + host;
    out.push_back(std::move(*d));
  }
  return out;
}

bool authorises(const std::vector<std::string>& txt_records) {
  // §7.1: "v=DMARC1" alone is enough; a rua= in it (redirecting the reports) is not honoured
  // (DMARCbis drops that option).
  for (const auto& t : txt_records)
    if (authn::is_dmarc_record(t)) return true;
  return false;
}

}  // namespace tern::reports
