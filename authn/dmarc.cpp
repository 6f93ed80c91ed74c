// DMARC record parsing, policy discovery and alignment (RFC 7489 §3, §6; DMARCbis np=, t=).
#include "authn/dmarc.h"

#include <algorithm>

#include "common/strings.h"
#include "mime/mime.h"

namespace tern::authn {

namespace {

std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::optional<DmarcPolicy> parse_policy(std::string_view v) {
  if (iequals(v, "none")) return DmarcPolicy::none;
  if (iequals(v, "quarantine")) return DmarcPolicy::quarantine;
  if (iequals(v, "reject")) return DmarcPolicy::reject;
  return std::nullopt;
}

std::optional<DmarcAlignment> parse_alignment(std::string_view v) {
  if (iequals(v, "r")) return DmarcAlignment::relaxed;
  if (iequals(v, "s")) return DmarcAlignment::strict;
  return std::nullopt;
}

std::vector<std::string> parse_uris(std::string_view v) {
  // RFC 7489 §6.4: dmarc-uri *(*WSP "," *WSP dmarc-uri); a URI needs a scheme.
  std::vector<std::string> out;
  for (auto part : split(v, ',')) {
    part = trim_wsp(part);
    size_t colon = part.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    out.emplace_back(part);
  }
  return out;
}

// RFC 7489 §6.6.4: a message not selected by pct= gets the next less strict policy.
DmarcPolicy downgrade(DmarcPolicy p) {
  return p == DmarcPolicy::reject ? DmarcPolicy::quarantine : DmarcPolicy::none;
}

}  // namespace

bool is_dmarc_record(std::string_view txt) {
  txt = trim_wsp(txt);
  size_t semi = txt.find(';');
  std::string_view first = trim_wsp(txt.substr(0, semi));
  size_t eq = first.find('=');
  if (eq == std::string_view::npos) return false;
  // RFC 7489 §6.4: dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31 (exact case).
  return trim_wsp(first.substr(0, eq)) == "v" && trim_wsp(first.substr(eq + 1)) == "DMARC1";
}

Result<DmarcRecord> parse_dmarc_record(std::string_view txt) {
  if (!is_dmarc_record(txt)) return make_error(Errc::syntax, "not a DMARC record");
  DmarcRecord rec;
  bool have_p = false;
  bool first = true;
  for (auto part : split(txt, ';')) {
    part = trim_wsp(part);
    if (first) {
      first = false;
      continue;  // the version tag
    }
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;  // not a tag: ignored like an unknown one
    std::string name = ascii_lower(trim_wsp(part.substr(0, eq)));
    std::string_view value = trim_wsp(part.substr(eq + 1));
    if (name == "p") {
      if (auto p = parse_policy(value)) {
        rec.p = *p;
        have_p = true;
      }
    } else if (name == "sp") {
      rec.sp = parse_policy(value);
    } else if (name == "np") {
      rec.np = parse_policy(value);
    } else if (name == "adkim") {
      if (auto a = parse_alignment(value)) rec.adkim = *a;
    } else if (name == "aspf") {
      if (auto a = parse_alignment(value)) rec.aspf = *a;
    } else if (name == "pct") {
      auto n = value.size() <= 3 ? parse_u64(value) : std::nullopt;
      if (n && *n <= 100) rec.pct = static_cast<int>(*n);
    } else if (name == "t") {
      rec.testing = iequals(value, "y");
    } else if (name == "rua") {
      rec.rua = parse_uris(value);
    } else if (name == "ruf") {
      rec.ruf = parse_uris(value);
    } else if (name == "fo") {
      rec.fo = std::string(value);
    }
  }
  if (!have_p) {
    // RFC 7489 §6.6.3: without a valid p=, act as p=none if rua= names a valid URI, else
    // apply no DMARC processing.
    if (rec.rua.empty()) return make_error(Errc::syntax, "DMARC record without a valid p=");
    rec.p = DmarcPolicy::none;
  }
  return rec;
}

bool dmarc_aligned(std::string_view a, std::string_view b, DmarcAlignment mode, const PublicSuffixList& psl) {
  std::string x = normalize_domain(a), y = normalize_domain(b);
  if (x.empty() || y.empty()) return false;
  if (mode == DmarcAlignment::strict) return x == y;
  return psl.organizational_domain(x) == psl.organizational_domain(y);
}

std::vector<std::string> from_domains(const std::vector<std::string>& header_fields) {
  std::vector<std::string> out;
  for (const auto& f : header_fields) {
    size_t colon = f.find(':');
    if (colon == std::string::npos || !iequals(trim(std::string_view(f).substr(0, colon)), "from")) continue;
    for (const auto& addr : mime::parse_address_list(std::string_view(f).substr(colon + 1))) {
      if (!addr.host || addr.host->empty()) continue;
      std::string d = normalize_domain(*addr.host);
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    }
  }
  return out;
}

DmarcCheck::DmarcCheck(DmarcInput input, const PublicSuffixList& psl) : input_(std::move(input)), psl_(psl) {
  step();
}

std::vector<Question> DmarcCheck::questions() { return done_ ? std::vector<Question>{} : needed_; }

void DmarcCheck::answer(const Question& question, const Answer& answer) {
  if (done_) return;
  memo_[question] = answer;
  step();
}

const Answer* DmarcCheck::get(const std::string& name, RrType type) {
  Question q{normalize_domain(name), type};
  auto it = memo_.find(q);
  if (it != memo_.end()) return &it->second;
  needed_.push_back(q);
  return nullptr;
}

void DmarcCheck::step() {
  needed_.clear();
  DmarcVerdict v;
  v.from_domain = normalize_domain(input_.from_domain);
  auto finish = [&](DmarcResult r, std::string reason) {
    v.result = r;
    v.reason = std::move(reason);
    verdict_ = std::move(v);
    done_ = true;
  };
  if (!valid_spf_domain(v.from_domain)) return finish(DmarcResult::permerror, "no usable RFC5322.From domain");
  // RFC 7489 §6.6.3: the From domain's own record, else the organizational domain's.
  enum class Found { none, one, many, error };
  auto lookup = [&](const std::string& domain, std::optional<DmarcRecord>& rec) -> std::optional<Found> {
    const Answer* a = get("_dmarc." + domain, RrType::txt);
    if (!a) return std::nullopt;
    if (a->rcode == Rcode::temperror) return Found::error;
    std::vector<std::string_view> recs;
    for (const auto& r : a->records) {
      if (is_dmarc_record(r)) recs.push_back(r);
    }
    if (recs.size() > 1) return Found::many;
    if (recs.empty()) return Found::none;
    auto parsed = parse_dmarc_record(recs[0]);
    if (!parsed) return Found::none;
    rec = std::move(*parsed);
    return Found::one;
  };
  std::optional<DmarcRecord> rec;
  std::string org = psl_.organizational_domain(v.from_domain);
  auto at_from = lookup(v.from_domain, rec);
  if (!at_from) return;
  if (*at_from == Found::error) return finish(DmarcResult::temperror, "DNS error looking up _dmarc." + v.from_domain);
  if (*at_from == Found::many) return finish(DmarcResult::none, "more than one DMARC record for " + v.from_domain);
  v.record_domain = v.from_domain;
  if (*at_from == Found::none && org != v.from_domain) {
    auto at_org = lookup(org, rec);
    if (!at_org) return;
    if (*at_org == Found::error) return finish(DmarcResult::temperror, "DNS error looking up _dmarc." + org);
    if (*at_org == Found::many) return finish(DmarcResult::none, "more than one DMARC record for " + org);
    v.record_domain = org;
  }
  if (!rec) {
    v.record_domain.clear();
    return finish(DmarcResult::none, "no DMARC record for " + v.from_domain);
  }
  v.record = rec;

  // RFC 7489 §3.1.2: SPF aligns when it passed for a domain aligned with From (the MAIL FROM
  // domain, or HELO for a null reverse-path, §4.1).
  v.spf_aligned = input_.spf.result == SpfResult::pass && dmarc_aligned(input_.spf.domain, v.from_domain, rec->aspf, psl_);
  // RFC 7489 §3.1.1: any passing DKIM signature whose d= aligns.
  for (const auto& d : input_.dkim) {
    if (d.result == DkimResult::pass && dmarc_aligned(d.domain, v.from_domain, rec->adkim, psl_)) {
      v.dkim_aligned = true;
      v.dkim_domain = d.domain;
      break;
    }
  }

  // Which tag applies: p= for the domain that published it, sp= (default p=) for its
  // subdomains, DMARCbis np= for subdomains that do not exist.
  v.policy_tag = "p";
  v.policy = rec->p;
  if (v.record_domain != v.from_domain) {
    if (rec->sp) {
      v.policy_tag = "sp";
      v.policy = *rec->sp;
    }
    bool pass = v.spf_aligned || v.dkim_aligned;
    if (rec->np && !pass) {
      // DMARCbis: a non-existent domain has no A, AAAA or MX records. Only asked when the
      // answer matters (the message failed); a DNS error counts as "exists".
      const Answer* a = get(v.from_domain, RrType::a);
      const Answer* aaaa = get(v.from_domain, RrType::aaaa);
      const Answer* mx = get(v.from_domain, RrType::mx);
      if (!a || !aaaa || !mx) return;
      auto absent = [](const Answer* x) { return x->rcode == Rcode::nxdomain || x->rcode == Rcode::nodata; };
      if (absent(a) && absent(aaaa) && absent(mx)) {
        v.policy_tag = "np";
        v.policy = *rec->np;
      }
    }
  }
  if (v.spf_aligned || v.dkim_aligned) {
    v.disposition = DmarcPolicy::none;
    return finish(DmarcResult::pass, v.dkim_aligned ? "DKIM aligned (d=" + v.dkim_domain + ")" : "SPF aligned");
  }
  v.disposition = v.policy;
  // RFC 7489 §6.6.4 (pct=) and DMARCbis t=y: apply the next less strict policy.
  if (v.policy != DmarcPolicy::none &&
      (rec->testing || input_.sample >= static_cast<uint32_t>(rec->pct))) {
    v.sampled_out = true;
    v.disposition = downgrade(v.policy);
  }
  std::string why = "no aligned SPF or DKIM pass; " + v.record_domain + " " + v.policy_tag + "=" + to_string(v.policy);
  if (v.sampled_out) why += rec->testing ? " (t=y)" : " (not sampled by pct=" + std::to_string(rec->pct) + ")";
  finish(DmarcResult::fail, why);
}

const char* to_string(DmarcPolicy p) {
  switch (p) {
    case DmarcPolicy::none: return "none";
    case DmarcPolicy::quarantine: return "quarantine";
    case DmarcPolicy::reject: return "reject";
  }
  return "?";
}

const char* to_string(DmarcResult r) {
  switch (r) {
    case DmarcResult::none: return "none";
    case DmarcResult::pass: return "pass";
    case DmarcResult::fail: return "fail";
    case DmarcResult::temperror: return "temperror";
    case DmarcResult::permerror: return "permerror";
  }
  return "?";
}

}  // namespace tern::authn
