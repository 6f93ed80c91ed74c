// Report rows from the sender checks' verdicts, and their aggregation (see reports/row.h).
#include "reports/row.h"

#include "common/strings.h"

namespace tern::reports {

namespace {

std::string domain_of(std::string_view address) {
  size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : ascii_lower(address.substr(at + 1));
}

// Values go into a tab/newline separated text; neither may appear inside one.
std::string field(std::string_view v) {
  std::string out(v);
  for (char& c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

std::optional<Observation> observe(const authn::AuthVerdicts& v, const MessageFacts& facts) {
  using authn::DmarcResult;
  if (!v.dmarc || !v.dmarc->record) return std::nullopt;
  const authn::DmarcVerdict& d = *v.dmarc;
  // RFC 7489 §7.2: only messages evaluated against a policy (pass or fail) are reported;
  // a temperror/permerror applied no policy.
  if (d.result != DmarcResult::pass && d.result != DmarcResult::fail) return std::nullopt;
  const authn::DmarcRecord& rec = *d.record;
  if (rec.rua.empty() || d.record_domain.empty()) return std::nullopt;

  Observation o;
  PublishedPolicy& p = o.policy;
  p.domain = ascii_lower(d.record_domain);
  p.adkim = rec.adkim == authn::DmarcAlignment::strict ? "s" : "r";
  p.aspf = rec.aspf == authn::DmarcAlignment::strict ? "s" : "r";
  p.p = authn::to_string(rec.p);
  if (rec.sp) p.sp = authn::to_string(*rec.sp);
  if (rec.np) p.np = authn::to_string(*rec.np);
  p.pct = rec.pct;
  p.fo = rec.fo;
  p.rua = rec.rua;

  Row& r = o.row;
  r.source_ip = facts.client_ip;
  r.header_from = ascii_lower(d.from_domain);
  r.envelope_from = domain_of(facts.mail_from);
  r.envelope_to = domain_of(facts.rcpt);
  r.dkim = d.dkim_aligned ? "pass" : "fail";
  r.spf = d.spf_aligned ? "pass" : "fail";
  if (d.result == DmarcResult::fail) {
    // RFC 7489 §7.2.1 / Appendix C: the disposition *applied*, with the reason when it is
    // not the one the policy asked for.
    if (!facts.enforced || facts.allow_listed) {
      if (d.policy != authn::DmarcPolicy::none) r.reason = "local_policy";
    } else {
      r.disposition = authn::to_string(d.disposition);
      if (d.sampled_out) r.reason = "sampled_out";
    }
  }
  for (const auto& k : v.dkim)
    if (!k.domain.empty())
      r.dkim_results.push_back({ascii_lower(k.domain), k.selector, authn::to_string(k.result)});
  if (v.spf)
    r.spf_results.push_back({ascii_lower(v.spf->domain),
                             v.spf->identity == authn::SpfIdentity::helo ? "helo" : "mfrom",
                             authn::to_string(v.spf->result)});
  return o;
}

std::string encode_auth(const Row& row) {
  std::string out;
  for (const auto& k : row.dkim_results)
    out += "dkim\t" + field(k.domain) + "\t" + field(k.selector) + "\t" + field(k.result) + "\n";
  for (const auto& s : row.spf_results)
    out += "spf\t" + field(s.domain) + "\t" + field(s.scope) + "\t" + field(s.result) + "\n";
  return out;
}

void decode_auth(std::string_view text, Row& row) {
  row.dkim_results.clear();
  row.spf_results.clear();
  for (auto line : split(text, '\n')) {
    auto f = split(line, '\t');
    if (f.size() != 4) continue;
    if (f[0] == "dkim") row.dkim_results.push_back({std::string(f[1]), std::string(f[2]), std::string(f[3])});
    else if (f[0] == "spf") row.spf_results.push_back({std::string(f[1]), std::string(f[2]), std::string(f[3])});
  }
}

void Aggregator::add(const Observation& o, int64_t count) {
  policies_[o.policy.domain] = o.policy;
  rows_[{o.policy.domain, o.row}] += count;
}

std::vector<Aggregator::Entry> Aggregator::take() {
  std::vector<Entry> out;
  out.reserve(rows_.size());
  for (auto& [key, count] : rows_) out.push_back({policies_[key.first], key.second, count});
  rows_.clear();
  policies_.clear();
  return out;
}

}  // namespace tern::reports
