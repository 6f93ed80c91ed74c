// SPF check_host() (RFC 7208 §4-§6) as a replayed evaluation over memoised DNS answers.
#include <algorithm>

#include "authn/spf.h"
#include "common/strings.h"

namespace tern::authn {

namespace {

constexpr int kMaxDnsMechanisms = 10;  // RFC 7208 §4.6.4
constexpr int kMaxVoidLookups = 2;     // RFC 7208 §4.6.4
constexpr size_t kMaxNames = 10;       // RFC 7208 §4.6.4: MX names, PTR names

// One step's outcome: `pending` means a DNS answer is missing (listed in Eval::need).
struct Outcome {
  bool pending = false;
  SpfResult result = SpfResult::none;
  std::string mechanism;
  std::string problem;
  std::string explanation;
};

enum class Match { pending, yes, no, temperror, permerror };

struct Eval {
  const SpfRequest& req;
  const std::map<Question, Answer>& memo;
  std::vector<Question> need;
  int dns_terms = 0;
  int voids = 0;
  std::string problem;
  std::string sender, local, sender_domain;

  const Answer* get(const std::string& name, RrType type) {
    Question q{normalize_domain(name), type};
    auto it = memo.find(q);
    if (it != memo.end()) return &it->second;
    if (std::find(need.begin(), need.end(), q) == need.end()) need.push_back(q);
    return nullptr;
  }

  RrType addr_type() const { return req.ip.v6 ? RrType::aaaa : RrType::a; }

  bool count_term(std::string_view text) {
    // RFC 7208 §4.6.4: at most 10 terms that cause DNS queries.
    if (++dns_terms > kMaxDnsMechanisms) {
      problem = "more than 10 DNS-querying terms (at " + std::string(text) + ")";
      return false;
    }
    return true;
  }

  bool count_void(std::string_view text) {
    // RFC 7208 §4.6.4: more than two void lookups -> permerror.
    if (++voids > kMaxVoidLookups) {
      problem = "more than 2 void lookups (at " + std::string(text) + ")";
      return false;
    }
    return true;
  }

  bool address_matches(const std::vector<std::string>& addrs, int cidr4, int cidr6) const {
    for (const auto& a : addrs) {
      auto ip = IpAddress::parse(a);
      if (ip && req.ip.in(*ip, req.ip.v6 ? cidr6 : cidr4)) return true;
    }
    return false;
  }

  // RFC 7208 §5.5 / §7.3: the names of the PTR records of the client whose forward lookup
  // gives the client address back. nullopt: answers missing.
  std::optional<std::vector<std::string>> validated_names() {
    const Answer* ptr = get(req.ip.reverse_name(), RrType::ptr);
    if (!ptr) return std::nullopt;
    std::vector<std::string> names;
    if (ptr->rcode != Rcode::ok) return names;  // §5.5: a DNS error on PTR: no match
    bool missing = false;
    size_t n = std::min(ptr->records.size(), kMaxNames);  // §4.6.4: first 10 names only
    std::vector<const Answer*> forward(n);
    for (size_t i = 0; i < n; ++i) {
      forward[i] = get(ptr->records[i], addr_type());
      if (!forward[i]) missing = true;
    }
    if (missing) return std::nullopt;
    for (size_t i = 0; i < n; ++i) {
      // §5.5: a forward lookup error skips that name.
      if (forward[i]->rcode == Rcode::ok && address_matches(forward[i]->records, 32, 128)) {
        names.push_back(normalize_domain(ptr->records[i]));
      }
    }
    return names;
  }

  static bool is_sub_or_same(std::string_view name, std::string_view domain) {
    if (iequals(name, domain)) return true;
    return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
           iequals(name.substr(name.size() - domain.size()), domain);
  }

  // Expands a domain-spec; nullopt with problem set when a %{p} lookup is missing (pending
  // = true) or the expansion failed.
  std::optional<std::string> expand(std::string_view spec, const std::string& domain, bool explanation,
                                    bool& pending) {
    SpfMacroContext ctx{sender, local, sender_domain, domain, req.ip, {}, req.helo, req.receiver, req.now};
    if (uses_p_macro(spec)) {
      auto names = validated_names();
      if (!names) {
        pending = true;
        return std::nullopt;
      }
      // §7.3 p: prefer <domain> itself, then a subdomain of it, then any validated name.
      ctx.validated = "unknown";
      for (const auto& n : *names) {
        if (iequals(n, domain)) { ctx.validated = n; break; }
      }
      if (ctx.validated == "unknown") {
        for (const auto& n : *names) {
          if (is_sub_or_same(n, domain)) { ctx.validated = n; break; }
        }
      }
      if (ctx.validated == "unknown" && !names->empty()) ctx.validated = names->front();
    }
    auto r = expand_spf_macros(spec, ctx, explanation);
    if (!r) {
      problem = r.error().message;
      return std::nullopt;
    }
    std::string out = std::move(*r);
    if (!explanation) {
      if (!out.empty() && out.back() == '.') out.pop_back();
      // §7.3: a name over 253 characters loses labels from the left until it fits.
      while (out.size() > 253) {
        size_t dot = out.find('.');
        if (dot == std::string::npos) break;
        out.erase(0, dot + 1);
      }
    }
    return out;
  }

  Match mechanism(const SpfMechanism& m, const std::string& domain, int depth) {
    bool pending = false;
    auto target_of = [&](std::optional<std::string>& target) {
      target = m.domain_spec.empty() ? domain : expand(m.domain_spec, domain, false, pending);
    };
    std::optional<std::string> target;
    switch (m.kind) {
      case SpfMechanismKind::all: return Match::yes;
      case SpfMechanismKind::ip4:
      case SpfMechanismKind::ip6:
        return req.ip.in(m.network, m.network.v6 ? m.cidr6 : m.cidr4) ? Match::yes : Match::no;
      case SpfMechanismKind::a:
      case SpfMechanismKind::exists: {
        if (!count_term(m.text)) return Match::permerror;
        target_of(target);
        if (pending) return Match::pending;
        if (!target) return Match::permerror;
        // §5.7: exists always looks up A, whatever the client's family.
        RrType type = m.kind == SpfMechanismKind::exists ? RrType::a : addr_type();
        const Answer* a = get(*target, type);
        if (!a) return Match::pending;
        if (a->rcode == Rcode::temperror) {
          problem = "DNS error looking up " + *target;
          return Match::temperror;
        }
        if (a->rcode != Rcode::ok || a->records.empty()) return count_void(m.text) ? Match::no : Match::permerror;
        if (m.kind == SpfMechanismKind::exists) return Match::yes;
        return address_matches(a->records, m.cidr4, m.cidr6) ? Match::yes : Match::no;
      }
      case SpfMechanismKind::mx: {
        if (!count_term(m.text)) return Match::permerror;
        target_of(target);
        if (pending) return Match::pending;
        if (!target) return Match::permerror;
        const Answer* mx = get(*target, RrType::mx);
        if (!mx) return Match::pending;
        if (mx->rcode == Rcode::temperror) {
          problem = "DNS error looking up MX " + *target;
          return Match::temperror;
        }
        if (mx->rcode != Rcode::ok || mx->mx.empty()) return count_void(m.text) ? Match::no : Match::permerror;
        // §4.6.4: more than 10 MX records is a permerror.
        if (mx->mx.size() > kMaxNames) {
          problem = "more than 10 MX records for " + *target;
          return Match::permerror;
        }
        std::vector<const Answer*> addrs;
        bool missing = false;
        for (const auto& rr : mx->mx) {
          addrs.push_back(rr.exchange.empty() ? nullptr : get(rr.exchange, addr_type()));
          if (!rr.exchange.empty() && !addrs.back()) missing = true;
        }
        if (missing) return Match::pending;
        for (const auto* a : addrs) {
          if (!a) continue;
          if (a->rcode == Rcode::temperror) {
            problem = "DNS error looking up an MX host of " + *target;
            return Match::temperror;
          }
          if (a->rcode == Rcode::ok && address_matches(a->records, m.cidr4, m.cidr6)) return Match::yes;
        }
        return Match::no;
      }
      case SpfMechanismKind::ptr: {
        if (!count_term(m.text)) return Match::permerror;
        target_of(target);
        if (pending) return Match::pending;
        if (!target) return Match::permerror;
        const Answer* ptr = get(req.ip.reverse_name(), RrType::ptr);
        if (!ptr) return Match::pending;
        if (ptr->rcode == Rcode::nxdomain || ptr->rcode == Rcode::nodata ||
            (ptr->rcode == Rcode::ok && ptr->records.empty())) {
          return count_void(m.text) ? Match::no : Match::permerror;
        }
        auto names = validated_names();
        if (!names) return Match::pending;
        for (const auto& n : *names) {
          if (is_sub_or_same(n, *target)) return Match::yes;
        }
        return Match::no;
      }
      case SpfMechanismKind::include: {
        if (!count_term(m.text)) return Match::permerror;
        target_of(target);
        if (pending) return Match::pending;
        if (!target) return Match::permerror;
        Outcome inner = check_host(*target, depth + 1, true);
        if (inner.pending) return Match::pending;
        // RFC 7208 §5.2 table.
        switch (inner.result) {
          case SpfResult::pass: return Match::yes;
          case SpfResult::fail:
          case SpfResult::softfail:
          case SpfResult::neutral: return Match::no;
          case SpfResult::temperror: problem = inner.problem; return Match::temperror;
          case SpfResult::permerror: problem = inner.problem; return Match::permerror;
          case SpfResult::none:
            problem = "include:" + *target + " has no SPF record";
            return Match::permerror;
        }
        return Match::permerror;
      }
    }
    return Match::permerror;
  }

  static SpfResult qualified(SpfQualifier q) {
    switch (q) {
      case SpfQualifier::pass: return SpfResult::pass;
      case SpfQualifier::fail: return SpfResult::fail;
      case SpfQualifier::softfail: return SpfResult::softfail;
      case SpfQualifier::neutral: return SpfResult::neutral;
    }
    return SpfResult::neutral;
  }

  Outcome error(SpfResult r, std::string why) {
    Outcome o;
    o.result = r;
    o.problem = std::move(why);
    return o;
  }

  // RFC 7208 §4: check_host(<ip>, <domain>, <sender>). `for_include`: the exp= of this record
  // is not used (§6.2).
  Outcome check_host(const std::string& domain, int depth, bool for_include) {
    Outcome pending_outcome;
    pending_outcome.pending = true;
    // §4.3: a malformed or single-label domain gives none.
    if (!valid_spf_domain(domain)) return error(SpfResult::none, "not a valid domain: " + domain);
    const Answer* txt = get(domain, RrType::txt);
    if (!txt) return pending_outcome;
    // §4.4: a DNS error -> temperror; NXDOMAIN -> none.
    if (txt->rcode == Rcode::temperror) return error(SpfResult::temperror, "DNS error looking up TXT " + domain);
    std::vector<std::string_view> spf;
    if (txt->rcode == Rcode::ok) {
      for (const auto& r : txt->records) {
        if (is_spf_record(r)) spf.push_back(r);
      }
    }
    // §4.5: no record -> none; more than one -> permerror.
    if (spf.empty()) return error(SpfResult::none, "no SPF record at " + domain);
    if (spf.size() > 1) return error(SpfResult::permerror, "more than one SPF record at " + domain);
    auto rec = parse_spf_record(spf[0]);
    // §4.6: any syntax error -> permerror.
    if (!rec) return error(SpfResult::permerror, domain + ": " + rec.error().message);

    for (const auto& m : rec->mechanisms) {
      Match r = mechanism(m, domain, depth);
      if (r == Match::pending) return pending_outcome;
      if (r == Match::temperror) return error(SpfResult::temperror, problem);
      if (r == Match::permerror) return error(SpfResult::permerror, problem);
      if (r == Match::no) continue;
      Outcome o;
      o.result = qualified(m.qualifier);
      o.mechanism = m.text;
      if (o.result == SpfResult::fail && rec->exp && !for_include) {
        bool p = false;
        auto exp = explanation(*rec->exp, domain, p);
        if (p) return pending_outcome;
        o.explanation = std::move(exp);
      }
      return o;
    }
    if (rec->redirect) {
      // §6.1: redirect counts as a DNS-querying term; its target must have a record.
      if (!count_term("redirect=" + *rec->redirect)) return error(SpfResult::permerror, problem);
      bool p = false;
      auto target = expand(*rec->redirect, domain, false, p);
      if (p) return pending_outcome;
      if (!target) return error(SpfResult::permerror, problem);
      Outcome o = check_host(*target, depth + 1, for_include);
      if (o.pending) return o;
      if (o.result == SpfResult::none) {
        return error(SpfResult::permerror, "redirect=" + *target + " has no SPF record");
      }
      return o;
    }
    // §4.7: no match and no redirect -> neutral.
    Outcome o;
    o.result = SpfResult::neutral;
    o.mechanism = "default";
    return o;
  }

  // §6.2: the explanation; any failure leaves it empty (never changes the result).
  std::string explanation(const std::string& spec, const std::string& domain, bool& pending) {
    std::string saved = problem;
    auto name = expand(spec, domain, false, pending);
    problem = saved;
    if (pending || !name || !valid_spf_domain(*name)) return {};
    const Answer* txt = get(*name, RrType::txt);
    if (!txt) {
      pending = true;
      return {};
    }
    if (txt->rcode != Rcode::ok || txt->records.size() != 1) return {};
    auto text = expand(txt->records[0], domain, true, pending);
    problem = saved;
    if (pending || !text) return {};
    for (char c : *text) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return {};
    }
    return *text;
  }
};

}  // namespace

SpfCheck::SpfCheck(SpfRequest request, SpfIdentity identity)
    : request_(std::move(request)), identity_(identity) {
  replay();
}

std::vector<Question> SpfCheck::questions() { return done_ ? std::vector<Question>{} : needed_; }

void SpfCheck::answer(const Question& question, const Answer& answer) {
  if (done_) return;
  memo_[question] = answer;
  replay();
}

void SpfCheck::replay() {
  Eval ev{request_, memo_, {}, 0, 0, {}, {}, {}, {}};
  verdict_ = SpfVerdict{};
  verdict_.identity = identity_;
  std::string domain;
  if (identity_ == SpfIdentity::helo || request_.mail_from.empty()) {
    // RFC 7208 §2.3 (HELO) and §2.4 (null reverse-path): check "postmaster@<helo>".
    domain = normalize_domain(request_.helo);
    ev.local = "postmaster";
  } else {
    auto at = request_.mail_from.rfind('@');
    // §4.3: a sender without a local-part uses "postmaster".
    ev.local = at == std::string::npos || at == 0 ? "postmaster" : request_.mail_from.substr(0, at);
    domain = normalize_domain(at == std::string::npos ? request_.mail_from : request_.mail_from.substr(at + 1));
  }
  ev.sender_domain = domain;
  ev.sender = ev.local + "@" + domain;
  verdict_.domain = domain;
  verdict_.sender = ev.sender;
  Outcome o = ev.check_host(domain, 0, false);
  verdict_.dns_lookups = ev.dns_terms;
  if (o.pending) {
    needed_ = std::move(ev.need);
    return;
  }
  needed_.clear();
  done_ = true;
  verdict_.result = o.result;
  verdict_.mechanism = o.mechanism;
  verdict_.problem = o.problem;
  verdict_.explanation = o.explanation;
}

}  // namespace tern::authn
