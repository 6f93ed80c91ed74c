#include "authn/iprev.h"

namespace tern::authn {

IprevCheck::IprevCheck(IpAddress ip) : ip_(ip) { step(); }

std::vector<Question> IprevCheck::questions() { return done_ ? std::vector<Question>{} : needed_; }

void IprevCheck::answer(const Question& question, const Answer& answer) {
  if (done_) return;
  memo_[question] = answer;
  step();
}

void IprevCheck::step() {
  needed_.clear();
  IprevVerdict v;
  v.ip = ip_.str();
  auto finish = [&](IprevResult r, std::string reason) {
    v.result = r;
    v.reason = std::move(reason);
    verdict_ = std::move(v);
    done_ = true;
  };
  Question ptr_q{ip_.reverse_name(), RrType::ptr};
  auto ptr = memo_.find(ptr_q);
  if (ptr == memo_.end()) {
    needed_.push_back(ptr_q);
    return;
  }
  const Answer& p = ptr->second;
  // RFC 8601 §2.7.3: a transient DNS failure is temperror; no PTR data is permerror.
  if (p.rcode == Rcode::temperror) return finish(IprevResult::temperror, "PTR lookup failed");
  if (p.rcode != Rcode::ok || p.records.empty()) return finish(IprevResult::permerror, "no PTR record");
  v.name = p.records.front();
  RrType type = ip_.v6 ? RrType::aaaa : RrType::a;
  size_t n = std::min(p.records.size(), kMaxNames);
  bool missing = false;
  for (size_t i = 0; i < n; ++i) {
    Question q{normalize_domain(p.records[i]), type};
    if (!memo_.count(q)) {
      needed_.push_back(q);
      missing = true;
    }
  }
  if (missing) return;  // all forward lookups go out together
  bool temp = false;
  for (size_t i = 0; i < n; ++i) {
    const Answer& a = memo_.at(Question{normalize_domain(p.records[i]), type});
    if (a.rcode == Rcode::temperror) temp = true;
    if (a.rcode != Rcode::ok) continue;
    for (const auto& addr : a.records) {
      auto ip = IpAddress::parse(addr);
      if (ip && *ip == ip_) {
        v.name = normalize_domain(p.records[i]);
        return finish(IprevResult::pass, "");
      }
    }
  }
  // RFC 8601 §2.7.3: forward lookups that answered but do not lead back are fail; if one of
  // them failed transiently the match may have been there: temperror.
  if (temp) return finish(IprevResult::temperror, "forward lookup failed");
  finish(IprevResult::fail, "no PTR name resolves back to " + v.ip);
}

const char* to_string(IprevResult r) {
  switch (r) {
    case IprevResult::pass: return "pass";
    case IprevResult::fail: return "fail";
    case IprevResult::temperror: return "temperror";
    case IprevResult::permerror: return "permerror";
  }
  return "?";
}

}  // namespace tern::authn
