// The records a mail domain needs (see publish/publish.h).
#include <algorithm>

#include "authn/ip.h"
#include "publish/publish.h"

namespace tern::publish {

namespace {

// RFC 1035 §3.3.14: a TXT character-string holds at most 255 octets; longer values (RSA
// DKIM keys) are split into several strings, which readers concatenate.
std::string txt_value(std::string_view text) {
  std::string out;
  size_t i = 0;
  do {
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : text.substr(i, 255)) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
    i += 255;
  } while (i < text.size());
  return out;
}

}  // namespace

const std::vector<std::string>& client_service_names() {
  static const std::vector<std::string> names = {"submissions", "submission", "imaps", "imap", "pop3s", "pop3"};
  return names;
}

std::vector<ServerFacts::Service> client_services(const ListenConfig& listen) {
  std::vector<ServerFacts::Service> out;
  auto add = [&](const char* name, const std::vector<Endpoint>& eps) {
    if (!eps.empty()) out.push_back({name, eps.front().port});
  };
  add("submissions", listen.submissions);
  add("submission", listen.submission);
  add("imaps", listen.imaps);
  add("imap", listen.imap);
  add("pop3s", listen.pop3s);
  add("pop3", listen.pop3);
  return out;
}

std::vector<Record> records_for(const ServerFacts& f) {
  std::vector<Record> out;
  const std::string host = f.hostname + ".";
  const std::string postmaster = "postmaster@" + f.domain;
  out.push_back({f.domain, "MX", "10 " + host, "mail for " + f.domain + " is delivered to this server"});

  // RFC 7208 §5: the addresses themselves when known (no extra lookups for receivers), else
  // "mx": whatever the MX record names.
  std::string spf = "v=spf1";
  for (const auto& a : f.addresses) {
    auto ip = authn::IpAddress::parse(a);
    if (ip) spf += (ip->v6 ? " ip6:" : " ip4:") + ip->str();
  }
  if (spf == "v=spf1") spf += " mx";
  spf += " -all";
  out.push_back({f.domain, "TXT", txt_value(spf), "SPF: only this server sends mail for " + f.domain});

  for (const auto& k : f.dkim)
    out.push_back({k.selector + "._domainkey." + f.domain, "TXT", txt_value(k.record),
                   "DKIM: the public half of data_dir/dkim/" + f.domain + "/" + k.selector + ".*.pem"});

  // RFC 7489 §6.3: quarantine what fails both SPF and DKIM alignment; aggregate reports
  // (§7.2) to the postmaster.
  out.push_back({"_dmarc." + f.domain, "TXT", txt_value("v=DMARC1; p=quarantine; rua=mailto:" + postmaster),
                 "DMARC: receivers put forged mail in spam and send reports to " + postmaster});
  // RFC 8460 §3: senders report TLS failures when delivering to us.
  out.push_back({"_smtp._tls." + f.domain, "TXT", txt_value("v=TLSRPTv1; rua=mailto:" + postmaster),
                 "TLS-RPT: senders report failed TLS deliveries to " + postmaster});

  // RFC 6186 §3: SRV records let mail clients find the servers; target "." says a service
  // is not offered (§3.4), so clients do not try it.
  for (const std::string& name : client_service_names()) {
    auto it = std::find_if(f.services.begin(), f.services.end(),
                           [&](const ServerFacts::Service& s) { return s.name == name; });
    std::string owner = "_" + name + "._tcp." + f.domain;
    if (it == f.services.end())
      out.push_back({owner, "SRV", "0 0 0 .", name + " is not offered"});
    else
      out.push_back({owner, "SRV", "0 1 " + std::to_string(it->port) + " " + host,
                     "mail clients find " + name + " here"});
  }

  if (f.web) {
    // RFC 8461 §3.3: senders fetch https://mta-sts.<domain>/.well-known/mta-sts.txt; the
    // name must reach this server, and its certificate must cover the name.
    out.push_back({"mta-sts." + f.domain, "CNAME", host,
                   "MTA-STS policy host (or A/AAAA of this server); the HTTPS certificate must name it"});
    // RFC 8461 §3.1: the id tells senders to fetch the policy again.
    out.push_back({"_mta-sts." + f.domain, "TXT", txt_value("v=STSv1; id=" + mta_sts_id(f.hostname, f.mta_sts)),
                   "MTA-STS: senders insist on TLS to this server (mode " + f.mta_sts.mode + ")"});
    out.push_back({"autoconfig." + f.domain, "CNAME", host,
                   "Thunderbird and others fetch their settings here (autoconfig)"});
    out.push_back({"autodiscover." + f.domain, "CNAME", host,
                   "Outlook fetches its settings here (Autodiscover)"});
  }

  for (const auto& a : f.addresses) {
    auto ip = authn::IpAddress::parse(a);
    if (!ip) continue;
    out.push_back({f.hostname, ip->v6 ? "AAAA" : "A", ip->str(), "this server's address"});
    // RFC 8601 §3 iprev / FCrDNS: receivers check that the address names this host and the
    // name leads back to the address. Set at whoever owns the address block.
    out.push_back({ip->reverse_name(), "PTR", host, "reverse DNS (set by your provider)"});
  }
  return out;
}

std::string mta_sts_id(const std::string& hostname, const MtaStsConfig& policy) {
  std::string text = hostname + "|" + policy.mode + "|" + std::to_string(policy.max_age);
  for (const auto& mx : policy.mx) text += "|" + mx;
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a: stable across builds and machines
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 60; i >= 0; i -= 4) id += kHex[(h >> i) & 0xf];
  return id;
}

std::string zone_line(const Record& r) { return r.name + ". 3600 IN " + r.type + " " + r.value; }

}  // namespace tern::publish
