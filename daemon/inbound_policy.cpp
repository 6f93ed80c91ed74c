// What the sender checks' verdicts do to a message (see daemon/inbound_policy.h).
#include "daemon/inbound_policy.h"

#include "common/strings.h"

namespace tern::daemon {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// One line of printable ASCII for an SMTP reply (RFC 5321 §4.2: text is printable US-ASCII).
std::string reply_safe(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c >= 0x20 && c < 0x7f) out += c;
  return out;
}

bool dkim_all_failed(const std::vector<authn::DkimVerdict>& dkim) {
  bool failed = false;
  for (const auto& d : dkim) {
    if (d.result == authn::DkimResult::pass) return false;
    // RFC 8301 §3.1: rsa-sha1 is reported as policy; a failure like any other here.
    if (d.result == authn::DkimResult::fail || d.result == authn::DkimResult::policy)
      failed = true;
  }
  return failed;
}

}  // namespace

CheckMode parse_check_mode(const std::string& text) {
  if (text == "off") return CheckMode::off;
  if (text == "record") return CheckMode::record;
  return CheckMode::enforce;
}

const char* to_string(InboundDecision::Action a) {
  switch (a) {
    case InboundDecision::inbox: return "inbox";
    case InboundDecision::junk: return "junk";
    case InboundDecision::reject: return "reject";
    case InboundDecision::tempfail: return "tempfail";
  }
  return "?";
}

InboundPolicy InboundPolicy::from_config(const InboundAuthConfig& c) {
  InboundPolicy p;
  p.spf = parse_check_mode(c.spf);
  p.dkim = parse_check_mode(c.dkim);
  p.dmarc = parse_check_mode(c.dmarc);
  p.iprev = parse_check_mode(c.iprev);
  p.spf_temperror_tempfail = c.spf_temperror == "tempfail";
  for (const auto& s : c.allow_senders) {
    std::string e = lower(s);
    if (!e.empty() && e.front() == '@') e.erase(0, 1);
    p.allow_senders.push_back(std::move(e));
  }
  for (const auto& text : c.allow_ips) {  // syntax checked by the config loader
    size_t slash = text.find('/');
    auto ip = authn::IpAddress::parse(text.substr(0, slash));
    if (!ip) continue;
    int bits = ip->v6 ? 128 : 32;
    if (slash != std::string::npos)
      if (auto n = parse_u64(std::string_view(text).substr(slash + 1)); n && *n <= 128u)
        bits = static_cast<int>(*n);
    p.allow_ips.emplace_back(*ip, bits);
  }
  return p;
}

bool InboundPolicy::any_on() const {
  return spf != CheckMode::off || dkim != CheckMode::off || dmarc != CheckMode::off ||
         iprev != CheckMode::off;
}

bool InboundPolicy::allowed(const std::string& client_ip, const std::string& mail_from,
                            const std::string& from_domain) const {
  if (auto ip = authn::IpAddress::parse(client_ip))
    for (const auto& [net, bits] : allow_ips)
      if (ip->in(net, bits)) return true;
  std::string sender = lower(mail_from);
  std::string sender_domain = sender.substr(sender.rfind('@') + 1);
  std::string from = lower(from_domain);
  for (const auto& a : allow_senders) {
    if (a.find('@') != std::string::npos) {
      if (!sender.empty() && sender == a) return true;
    } else if ((!sender.empty() && sender_domain == a) || from == a) {
      return true;
    }
  }
  return false;
}

authn::AuthVerdicts reported_verdicts(const InboundPolicy& policy, authn::AuthVerdicts v) {
  if (policy.iprev == CheckMode::off) v.iprev.reset();
  if (policy.spf == CheckMode::off) {
    v.spf.reset();
    v.spf_helo.reset();
  }
  if (policy.dkim == CheckMode::off) {
    v.dkim.clear();
    v.dkim_checked = false;
  }
  if (policy.dmarc == CheckMode::off) v.dmarc.reset();
  return v;
}

InboundDecision decide(const InboundPolicy& policy, const authn::AuthVerdicts& v,
                       bool allow_listed) {
  using authn::DmarcPolicy;
  InboundDecision d;
  const bool dmarc_pass = v.dmarc && v.dmarc->result == authn::DmarcResult::pass;
  // RFC 7208 §8.6: a temperror MAY be answered 451 4.4.3; only when asked, only for an
  // enforced SPF, and not when an aligned DKIM signature already settled DMARC.
  if (policy.spf_temperror_tempfail && policy.spf == CheckMode::enforce && !dmarc_pass &&
      !allow_listed && v.spf && v.spf->result == authn::SpfResult::temperror) {
    d.action = InboundDecision::tempfail;
    d.reason = "spf temperror " + v.spf->domain;
    d.reply_text = reply_safe("SPF check of " + v.spf->domain +
                              " failed temporarily (DNS), try again later");
    return d;
  }
  if (policy.dmarc == CheckMode::enforce && v.dmarc &&
      v.dmarc->result == authn::DmarcResult::fail) {
    const auto& m = *v.dmarc;
    // RFC 7489 §6.6.4/§6.7: the disposition already has pct= and t=y applied.
    std::string what = m.policy_tag + "=" + authn::to_string(m.policy) + " of " + m.record_domain;
    if (m.disposition == DmarcPolicy::reject) {
      d.action = InboundDecision::reject;
      d.reason = "dmarc " + what;
      d.reply_text = reply_safe("Message refused: the DMARC policy " + what +
                                " rejects mail from " + m.from_domain +
                                " that fails authentication");
    } else if (m.disposition == DmarcPolicy::quarantine) {
      d.action = InboundDecision::junk;
      d.reason = "dmarc " + what;
    }
  }
  // A DMARC pass (an aligned DKIM signature or SPF) outweighs the other checks: forwarding
  // breaks SPF, mailing lists break some signatures.
  if (d.action == InboundDecision::inbox && !dmarc_pass) {
    if (policy.spf == CheckMode::enforce && v.spf && v.spf->result == authn::SpfResult::fail) {
      d.action = InboundDecision::junk;
      d.reason = "spf fail " + v.spf->domain;
    } else if (policy.dkim == CheckMode::enforce && dkim_all_failed(v.dkim)) {
      d.action = InboundDecision::junk;
      d.reason = "dkim fail";
    } else if (policy.iprev == CheckMode::enforce && v.iprev &&
               (v.iprev->result == authn::IprevResult::fail ||
                v.iprev->result == authn::IprevResult::permerror)) {
      // RFC 8601 §3: no PTR record (permerror) or none leading back (fail).
      d.action = InboundDecision::junk;
      d.reason = std::string("iprev ") + authn::to_string(v.iprev->result);
    }
  }
  if (d.action != InboundDecision::inbox && allow_listed) {
    d.reason += " (allow-listed)";
    d.action = InboundDecision::inbox;
    d.reply_text.clear();
  }
  return d;
}

}  // namespace tern::daemon
