// Checking what a mail domain publishes (see publish/publish.h).
#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "authn/dkim.h"
#include "authn/dmarc.h"
#include "authn/iprev.h"
#include "authn/spf.h"
#include "common/strings.h"
#include "publish/publish.h"
#include "screen/dnsbl.h"

namespace tern::publish {

namespace {

using dns::Answer;
using dns::Rcode;
using dns::RrType;

class Checker {
 public:
  Checker(ServerFacts facts, dns::RecordResolver& resolver, PolicyFetcher* fetcher)
      : f_(std::move(facts)), r_(resolver), fetcher_(fetcher) {}

  std::vector<Finding> run(const std::vector<DnsblZone>& blocklists) {
    mx();
    addresses();
    for (const auto& a : f_.addresses) {
      auto ip = authn::IpAddress::parse(a);
      if (!ip) {
        add(Severity::fail, a + " is not an IP address");
        continue;
      }
      reverse(*ip);
      spf(*ip);
      listed(*ip, blocklists);
    }
    dkim();
    dmarc();
    tls_rpt();
    client_srv();
    if (f_.web) {
      reaches_here("autoconfig." + f_.domain, "Thunderbird and other clients cannot fetch their settings from this server");
      reaches_here("autodiscover." + f_.domain, "Outlook cannot fetch its settings from this server");
      mta_sts();
    }
    return std::move(out_);
  }

 private:
  void add(Severity s, std::string text) { out_.push_back({s, std::move(text)}); }

  // The resolver answers synchronously (the contract of check_domain); an answer that does
  // not come at once counts as a failed lookup.
  Answer ask(const std::string& name, RrType type) {
    auto got = std::make_shared<std::optional<Answer>>();
    r_.lookup({ascii_lower(name), type}, [got](Answer a) { *got = std::move(a); });
    if (*got) return std::move(**got);
    Answer a;
    a.detail = "no answer";
    return a;
  }

  bool failed_lookup(const Answer& a, const std::string& what) {
    if (a.rcode != Rcode::temperror) return false;
    add(Severity::warn, "could not look up " + what + (a.detail.empty() ? "" : " (" + a.detail + ")") +
                            ": try again, or check [dns] servers");
    return true;
  }

  // The TXT records at `name` that `wanted` accepts; nullopt (and a warning) when the lookup
  // failed.
  template <class Pred>
  std::optional<std::vector<std::string>> txt_records(const std::string& name, Pred wanted) {
    Answer a = ask(name, RrType::txt);
    if (failed_lookup(a, name)) return std::nullopt;
    std::vector<std::string> out;
    if (a.rcode == Rcode::ok)
      for (const auto& t : a.records)
        if (wanted(t)) out.push_back(t);
    return out;
  }

  void mx() {
    Answer a = ask(f_.domain, RrType::mx);
    if (failed_lookup(a, "the MX of " + f_.domain)) return;
    if (a.rcode != Rcode::ok || a.mx.empty()) {
      add(Severity::fail, f_.domain + " has no MX record: mail to it cannot find this server (publish " +
                              f_.domain + ". MX 10 " + f_.hostname + ".)");
      return;
    }
    std::vector<std::string> names;
    for (const auto& m : a.mx) names.push_back(m.exchange.empty() ? "." : m.exchange);
    bool ours = std::any_of(a.mx.begin(), a.mx.end(), [&](const dns::MxAnswer& m) { return m.exchange == f_.hostname; });
    if (ours)
      add(Severity::ok, "MX of " + f_.domain + " names this server (" + f_.hostname + ")");
    else
      add(Severity::fail, "MX of " + f_.domain + " points to " + join(names, ", ") + ", not to this server (" +
                              f_.hostname + ")");
  }

  void addresses() {
    std::vector<std::string> found;
    bool lookup_failed = false;
    for (RrType t : {RrType::a, RrType::aaaa}) {
      Answer a = ask(f_.hostname, t);
      lookup_failed |= failed_lookup(a, std::string(dns::to_string(t)) + " of " + f_.hostname);
      if (a.rcode == Rcode::ok) found.insert(found.end(), a.records.begin(), a.records.end());
    }
    if (f_.addresses.empty()) {
      if (found.empty() && !lookup_failed)
        add(Severity::fail, f_.hostname + " has no A or AAAA record: nobody can reach this server by name");
      else if (!found.empty())
        add(Severity::ok, f_.hostname + " has the address" + (found.size() > 1 ? "es " : " ") + join(found, ", "));
      f_.addresses = found;
      return;
    }
    for (const auto& want : f_.addresses) {
      auto ip = authn::IpAddress::parse(want);
      bool has = ip && std::any_of(found.begin(), found.end(), [&](const std::string& s) {
                   auto other = authn::IpAddress::parse(s);
                   return other && *other == *ip;
                 });
      if (has)
        add(Severity::ok, f_.hostname + " has the address " + want);
      else if (!lookup_failed)
        add(Severity::fail, f_.hostname + " does not resolve to " + want + " (publish " + f_.hostname + ". " +
                                (ip && ip->v6 ? "AAAA " : "A ") + want + ")");
    }
  }

  // RFC 8601 §3 (iprev): the address's PTR names a host whose addresses include it; many
  // receivers refuse or penalise mail from addresses without it.
  void reverse(const authn::IpAddress& ip) {
    auto check = std::make_shared<authn::IprevCheck>(ip);
    authn::drive(r_, check, [] {});
    const auto& v = check->verdict();
    const std::string addr = ip.str();
    if (v.result == authn::IprevResult::temperror) {
      add(Severity::warn, "could not look up the reverse DNS of " + addr + (v.reason.empty() ? "" : " (" + v.reason + ")"));
    } else if (v.result != authn::IprevResult::pass) {
      add(Severity::fail, "reverse DNS of " + addr + " does not lead back to it" +
                              (v.reason.empty() ? "" : " (" + v.reason + ")") + ": ask your provider for PTR " +
                              f_.hostname);
    } else if (ascii_lower(v.name) != f_.hostname) {
      add(Severity::warn, "reverse DNS of " + addr + " is " + v.name + ", not " + f_.hostname +
                              " (the name this server says in HELO)");
    } else {
      add(Severity::ok, "reverse DNS of " + addr + " is " + f_.hostname + " and leads back to it");
    }
  }

  // RFC 7208: what a receiver concludes for mail from postmaster@domain sent from `ip`.
  void spf(const authn::IpAddress& ip) {
    authn::SpfRequest req{ip, f_.hostname, "postmaster@" + f_.domain, f_.hostname, f_.now};
    auto check = std::make_shared<authn::SpfCheck>(req, authn::SpfIdentity::mailfrom);
    authn::drive(r_, check, [] {});
    const auto& v = check->verdict();
    const std::string addr = ip.str();
    const std::string mech = std::string(ip.v6 ? "ip6:" : "ip4:") + addr;
    switch (v.result) {
      case authn::SpfResult::pass:
        add(Severity::ok, "SPF of " + f_.domain + " passes for " + addr + " (" + v.mechanism + ")");
        break;
      case authn::SpfResult::none:
        add(Severity::fail, f_.domain + " publishes no SPF record: publish \"v=spf1 " + mech + " -all\"");
        break;
      case authn::SpfResult::temperror:
        add(Severity::warn, "could not evaluate the SPF of " + f_.domain + " (" + v.problem + ")");
        break;
      case authn::SpfResult::permerror:
        add(Severity::fail, "SPF of " + f_.domain + " is broken (" + v.problem + "): receivers treat it as an error");
        break;
      default:
        add(Severity::fail, "SPF of " + f_.domain + " gives " + authn::to_string(v.result) + " for " + addr +
                                ", the address this server sends from: add " + mech + " (or mx)");
    }
  }

  void listed(const authn::IpAddress& ip, const std::vector<DnsblZone>& zones) {
    if (zones.empty()) return;
    auto lookup = screen::DnsblLookup::start(r_, ip, zones);
    lookup->give_up();  // synchronous answers are all in; anything else counts as not listed
    for (const auto& hit : lookup->hits()) {
      if (hit.score < 0) continue;  // an allowlist
      add(Severity::fail, ip.str() + " is listed on " + hit.rule.substr(6) + " (" + hit.detail +
                              "): receivers using that list refuse its mail");
    }
    if (lookup->hits().empty()) add(Severity::ok, ip.str() + " is on none of the " + std::to_string(zones.size()) + " configured blocklists");
  }

  void dkim() {
    if (f_.dkim.empty()) {
      add(Severity::warn, "no DKIM key for " + f_.domain + ": run `ternctl dkim generate " + f_.domain +
                              "` and publish its record (DMARC then passes even for forwarded mail)");
      return;
    }
    for (const auto& k : f_.dkim) {
      const std::string name = k.selector + "._domainkey." + f_.domain;
      Answer a = ask(name, RrType::txt);
      if (failed_lookup(a, name)) continue;
      auto ours = authn::parse_dkim_key(k.record);
      bool found = false, same = false;
      if (a.rcode == Rcode::ok) {
        for (const auto& txt : a.records) {
          auto theirs = authn::parse_dkim_key(txt);
          if (!theirs) continue;
          found = true;
          same |= ours && theirs->public_key == ours->public_key && theirs->key_type == ours->key_type;
        }
      }
      if (same)
        add(Severity::ok, "DKIM key " + name + " matches data_dir");
      else if (found)
        add(Severity::fail, "DKIM record " + name + " holds another key than data_dir: mail signed by this server fails DKIM");
      else
        add(Severity::fail, "DKIM record " + name + " is missing: mail signed by this server fails DKIM");
    }
  }

  void dmarc() {
    const std::string name = "_dmarc." + f_.domain;
    auto found = txt_records(name, [](const std::string& t) { return authn::is_dmarc_record(t); });
    if (!found) return;
    std::vector<std::string> records = std::move(*found);
    // RFC 7489 §6.6.3: none, or more than one, means no DMARC policy at all.
    if (records.size() != 1) {
      add(Severity::warn, records.empty() ? "no DMARC record at " + name + ": receivers cannot tell forged mail from yours"
                                          : name + " has " + std::to_string(records.size()) +
                                                " DMARC records: receivers ignore them all");
      return;
    }
    auto rec = authn::parse_dmarc_record(records.front());
    if (!rec) {
      add(Severity::fail, "DMARC record at " + name + " is broken: " + rec.error().message);
      return;
    }
    if (rec->p == authn::DmarcPolicy::none)
      add(Severity::warn, "DMARC policy of " + f_.domain + " is p=none: forged mail is still delivered");
    else
      add(Severity::ok, std::string("DMARC policy of ") + f_.domain + " is p=" + authn::to_string(rec->p));
  }

  void tls_rpt() {
    const std::string name = "_smtp._tls." + f_.domain;
    Answer a = ask(name, RrType::txt);
    if (failed_lookup(a, name)) return;
    bool has = a.rcode == Rcode::ok && std::any_of(a.records.begin(), a.records.end(), [](const std::string& t) {
                 return t.starts_with("v=TLSRPTv1");
               });
    if (has)
      add(Severity::ok, "TLS-RPT record at " + name);
    else
      add(Severity::warn, "no TLS-RPT record at " + name + " (optional: senders would report TLS failures)");
  }

  // RFC 6186 §3: clients look up _<service>._tcp.<domain>; an offered service should point
  // here, and one this server does not offer should not point anywhere (target ".").
  void client_srv() {
    for (const std::string& name : client_service_names()) {
      const std::string owner = "_" + name + "._tcp." + f_.domain;
      auto offered = std::find_if(f_.services.begin(), f_.services.end(),
                                  [&](const ServerFacts::Service& s) { return s.name == name; });
      Answer a = ask(owner, RrType::srv);
      if (failed_lookup(a, owner)) continue;
      std::vector<dns::SrvAnswer> real;
      if (a.rcode == Rcode::ok)
        for (const auto& s : a.srv)
          if (!s.target.empty()) real.push_back(s);
      if (offered == f_.services.end()) {
        for (const auto& s : real)
          add(Severity::warn, owner + " points to " + s.target + ":" + std::to_string(s.port) + ", but this server does not offer " +
                                  name + " (publish " + owner + ". SRV 0 0 0 .)");
        continue;
      }
      const std::string want = f_.hostname + ":" + std::to_string(offered->port);
      const std::string publish = owner + ". SRV 0 1 " + std::to_string(offered->port) + " " + f_.hostname + ".";
      bool here = std::any_of(real.begin(), real.end(), [&](const dns::SrvAnswer& s) {
        return s.target == f_.hostname && s.port == offered->port;
      });
      if (here) {
        add(Severity::ok, owner + " points to " + want);
      } else if (a.rcode != Rcode::ok || a.srv.empty()) {
        add(Severity::warn, "no SRV record " + owner + ": clients that look for one (RFC 6186) do not find " + name +
                                " (publish " + publish + ")");
      } else if (real.empty()) {
        add(Severity::fail, owner + " says " + name + " is not offered, but this server offers it on port " +
                                std::to_string(offered->port) + " (publish " + publish + ")");
      } else {
        std::vector<std::string> got;
        for (const auto& s : real) got.push_back(s.target + ":" + std::to_string(s.port));
        add(Severity::fail, owner + " points to " + join(got, ", ") + ", not to this server (" + want + ")");
      }
    }
  }

  // Whether `name` resolves (through CNAMEs, as resolvers answer) to one of this server's
  // addresses; says so either way, with severity `missing` when it does not.
  bool reaches_here(const std::string& name, const std::string& otherwise, Severity missing = Severity::warn) {
    std::vector<std::string> found;
    bool lookup_failed = false;
    for (RrType t : {RrType::a, RrType::aaaa}) {
      Answer a = ask(name, t);
      lookup_failed |= failed_lookup(a, std::string(dns::to_string(t)) + " of " + name);
      if (a.rcode == Rcode::ok) found.insert(found.end(), a.records.begin(), a.records.end());
    }
    if (lookup_failed) return false;
    const std::string publish = " (publish " + name + ". CNAME " + f_.hostname + ".)";
    if (found.empty()) {
      add(missing, name + " does not exist: " + otherwise + publish);
      return false;
    }
    auto ours = std::find_if(found.begin(), found.end(), [&](const std::string& s) { return is_ours(s); });
    if (ours == found.end()) {
      add(missing, name + " resolves to " + join(found, ", ") + ", not to this server: " + otherwise + publish);
      return false;
    }
    here_[name] = *ours;
    add(Severity::ok, name + " reaches this server (" + *ours + ")");
    return true;
  }

  bool is_ours(const std::string& address) const {
    auto ip = authn::IpAddress::parse(address);
    return ip && std::any_of(f_.addresses.begin(), f_.addresses.end(), [&](const std::string& mine) {
             auto m = authn::IpAddress::parse(mine);
             return m && *m == *ip;
           });
  }

  // RFC 8461: the _mta-sts TXT record announces a policy, which senders fetch over HTTPS from
  // mta-sts.<domain> (§3.3) with a certificate valid for that name.
  void mta_sts() {
    const std::string name = "_mta-sts." + f_.domain;
    auto found = txt_records(name, [](const std::string& t) { return t.starts_with("v=STSv1"); });
    if (!found) return;
    std::vector<std::string> records = std::move(*found);
    const std::string current = mta_sts_id(f_.hostname, f_.mta_sts);
    if (records.empty()) {
      add(Severity::warn, "no MTA-STS record at " + name + " (optional: senders would insist on TLS to this server; publish " +
                              name + ". TXT \"v=STSv1; id=" + current + "\")");
      return;
    }
    // §3.1: more than one record, or one that does not parse, means no policy.
    if (records.size() > 1) {
      add(Severity::fail, name + " has " + std::to_string(records.size()) + " MTA-STS records: senders ignore them all");
      return;
    }
    auto id = mta_sts_record_id(records.front());
    if (!id) {
      add(Severity::fail, "MTA-STS record at " + name + " is broken (\"" + records.front() +
                              "\"): senders ignore it; publish \"v=STSv1; id=" + current + "\"");
      return;
    }
    if (*id != current)
      add(Severity::warn, "MTA-STS record at " + name + " has id=" + *id + ", not the served policy's id " + current +
                              ": senders that cached an older policy keep it (publish id=" + current + ")");
    else
      add(Severity::ok, "MTA-STS record at " + name + " has the served policy's id");

    const std::string host = "mta-sts." + f_.domain;
    if (!reaches_here(host, "senders cannot fetch the MTA-STS policy", Severity::fail) || !fetcher_) return;
    const std::string url = "https://" + host + "/.well-known/mta-sts.txt";
    auto body = fetcher_->fetch(host, here_[host]);
    if (!body) {
      add(Severity::fail, "could not fetch " + url + " (" + body.error().message + "): senders treat the domain as having no policy");
      return;
    }
    auto policy = parse_mta_sts_policy(*body);
    if (!policy) {
      add(Severity::fail, "the policy at " + url + " is broken (" + policy.error().message + "): senders ignore it");
      return;
    }
    // §4.1: a sender enforcing the policy refuses an MX that no mx line matches.
    bool names_us = std::any_of(policy->mx.begin(), policy->mx.end(),
                                [&](const std::string& p) { return mta_sts_mx_matches(p, f_.hostname); });
    if (!names_us && policy->mode != "none") {
      add(policy->mode == "enforce" ? Severity::fail : Severity::warn,
          "the policy at " + url + " (mode " + policy->mode + ") lists mx " + join(policy->mx, ", ") + ", not this server (" +
              f_.hostname + ")" + (policy->mode == "enforce" ? ": senders enforcing it refuse to deliver here" : ""));
      return;
    }
    if (policy->mode != f_.mta_sts.mode || policy->max_age != f_.mta_sts.max_age)
      add(Severity::warn, "the policy at " + url + " says mode " + policy->mode + ", max_age " + std::to_string(policy->max_age) +
                              ", but ternd serves mode " + f_.mta_sts.mode + ", max_age " + std::to_string(f_.mta_sts.max_age) +
                              ": another server answers for " + host + "?");
    else
      add(Severity::ok, "MTA-STS policy at " + url + " is mode " + policy->mode + " and names this server");
  }

  static std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
  }

  ServerFacts f_;
  dns::RecordResolver& r_;
  PolicyFetcher* fetcher_;
  std::map<std::string, std::string> here_;  // name -> the address of ours it resolved to
  std::vector<Finding> out_;
};

}  // namespace

const char* to_string(Severity s) {
  switch (s) {
    case Severity::ok: return "ok";
    case Severity::warn: return "warn";
    case Severity::fail: return "FAIL";
  }
  return "?";
}

std::vector<Finding> check_domain(ServerFacts facts, const std::vector<DnsblZone>& blocklists,
                                  dns::RecordResolver& resolver, PolicyFetcher* fetcher) {
  facts.domain = ascii_lower(facts.domain);
  facts.hostname = ascii_lower(facts.hostname);
  return Checker(std::move(facts), resolver, fetcher).run(blocklists);
}

}  // namespace tern::publish
