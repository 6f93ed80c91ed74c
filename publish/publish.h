// publish: the DNS records a mail domain served by this ternd needs, and whether what the
// world sees is right (issue 14: `ternctl dns DOMAIN`, `ternctl check DOMAIN`).
//
// records_for() is pure: from what the server knows about itself (host name, public
// addresses, DKIM keys, the client services it offers) it lists MX, SPF, DKIM, DMARC,
// TLS-RPT, the RFC 6186/8314 SRV records for mail clients, and the A/AAAA and PTR the server's
// own name and addresses need. check_domain() looks the same things up through a resolver
// and says, in words an admin acts on, what is missing or wrong; it reuses authn's SPF and
// reverse-DNS evaluation, so "SPF passes" means what ternd's own MX check would conclude.
//
// check_domain() also looks up the RFC 6186 SRV records, whether the autoconfig/autodiscover
// and mta-sts names reach this server, the _mta-sts TXT record, and fetches the policy over
// HTTPS as a sender would.
//
// MTA-STS (RFC 8461 §3) and the autoconfig/autodiscover names are listed only when ternd
// serves their documents (a listen.http or listen.https listener): publishing them before
// would point senders and clients at nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/result.h"
#include "dns/records.h"

namespace tern::publish {

struct ServerFacts {
  std::string domain;                  // the mail domain, lower-case
  std::string hostname;                // this server's name: MX target, HELO, PTR
  std::vector<std::string> addresses;  // its public IPv4/IPv6 addresses; may be empty
  struct Dkim {
    std::string selector;
    std::string record;  // "v=DKIM1; k=rsa; p=..."
  };
  std::vector<Dkim> dkim;
  struct Service {
    std::string name;  // "submissions", "submission", "imaps", "imap", "pop3s", "pop3"
    uint16_t port = 0;
  };
  std::vector<Service> services;  // the client services this server offers
  // listen.http/listen.https are configured: ternd answers for mta-sts.<domain> and
  // autoconfig.<domain> (http/http.h), so their names and the _mta-sts record are listed.
  bool web = false;
  MtaStsConfig mta_sts;  // the served policy; its id changes whenever the policy does
  int64_t now = 0;                // unix seconds (SPF %{t})
};

struct Record {
  std::string name;     // owner name, no trailing dot
  std::string type;     // "MX", "TXT", "SRV", "CNAME", "A", "AAAA", "PTR"
  std::string value;    // as written in a zone file (TXT quoted and split)
  std::string purpose;  // one line: why it is needed
};

std::vector<Record> records_for(const ServerFacts& facts);
// "name. 3600 IN TYPE value".
std::string zone_line(const Record& r);
// RFC 8461 §3.1: the policy id of the _mta-sts TXT record (1-32 alphanumerics), derived from
// everything the served policy says, so that it changes exactly when the policy changes.
std::string mta_sts_id(const std::string& hostname, const MtaStsConfig& policy);

// The six client services of RFC 6186 §3.1 and RFC 8314 §5.1, in the order they are listed.
const std::vector<std::string>& client_service_names();
// The services ternd's [listen] table offers to mail clients (RFC 6186, RFC 8314).
std::vector<ServerFacts::Service> client_services(const ListenConfig& listen);

enum class Severity { ok, warn, fail };
const char* to_string(Severity s);

struct Finding {
  Severity severity = Severity::ok;
  std::string text;
};

// RFC 8461 §3.2: an MTA-STS policy as a sender reads it.
struct MtaStsPolicy {
  std::string version;
  std::string mode;             // "enforce", "testing" or "none"
  std::vector<std::string> mx;  // patterns, lower-case
  int64_t max_age = 0;
};
Result<MtaStsPolicy> parse_mta_sts_policy(std::string_view text);
// RFC 8461 §4.1: whether `host` matches an mx pattern ("mail.example.net", "*.example.net").
bool mta_sts_mx_matches(std::string_view pattern, std::string_view host);
// RFC 8461 §3.1: the id of a "v=STSv1; id=..." TXT record; nullopt when it is not one.
std::optional<std::string> mta_sts_record_id(std::string_view txt);

// Fetches https://<host>/.well-known/mta-sts.txt as a sender would (RFC 8461 §3.3): TCP to
// `address`, the certificate verified for `host`, no redirects; the body of a 200, or why not.
class PolicyFetcher {
 public:
  virtual ~PolicyFetcher() = default;
  virtual Result<std::string> fetch(const std::string& host, const std::string& address) = 0;
};

// Looks every record up through `resolver`, which must answer synchronously (from inside
// lookup(); ternctl wraps c-ares in a loop that runs until the answer is in). With no
// facts.addresses, the host name's A/AAAA records are taken as the server's addresses.
// `blocklists`: the DNS blocklists of [screen] (the server's own addresses are looked up
// there too, as receivers would).
// With facts.web, the MTA-STS policy is fetched through `fetcher` (none: not fetched).
std::vector<Finding> check_domain(ServerFacts facts, const std::vector<DnsblZone>& blocklists,
                                  dns::RecordResolver& resolver, PolicyFetcher* fetcher = nullptr);

}  // namespace tern::publish
