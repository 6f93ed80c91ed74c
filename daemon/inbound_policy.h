// daemon (private): what the sender checks' verdicts do to a message on the MX listener, from
// the [inbound_auth] modes and allow lists. Pure (no DNS, no I/O): daemon/inbound_checks.h
// runs the checks and calls decide(); tests/unit/daemon/inbound_policy_test.cpp covers it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "authn/auth_results.h"
#include "authn/ip.h"
#include "common/config.h"

namespace tern::daemon {

enum class CheckMode { off, record, enforce };
CheckMode parse_check_mode(const std::string& text);  // config already validated it

// What the verdicts do to one message (pure; unit-tested).
struct InboundPolicy {
  CheckMode spf = CheckMode::enforce, dkim = CheckMode::enforce, dmarc = CheckMode::enforce,
            iprev = CheckMode::enforce;
  bool spf_temperror_tempfail = false;     // inbound_auth.spf_temperror = "tempfail"
  std::vector<std::string> allow_senders;  // lower-case "local@domain" or "domain"
  std::vector<std::pair<authn::IpAddress, int>> allow_ips;

  static InboundPolicy from_config(const InboundAuthConfig& c);
  bool any_on() const;
  bool allowed(const std::string& client_ip, const std::string& mail_from,
               const std::string& from_domain) const;
};

struct InboundDecision {
  // tempfail: 451 4.4.3, nothing stored (the client retries when DNS may answer).
  enum Action { inbox, junk, reject, tempfail } action = inbox;
  std::string reason;       // for the log ("dmarc p=reject example.com", "spf fail", ...)
  std::string reply_text;   // reject: the 550 5.7.1 text; tempfail: the 451 4.4.3 text
};
const char* to_string(InboundDecision::Action a);

// The verdicts with the clauses of checks that are off removed (what the A-R reports).
authn::AuthVerdicts reported_verdicts(const InboundPolicy& policy, authn::AuthVerdicts v);
// Local overrides first (allow-listed sender or client), then an SPF temperror when it is to
// be deferred (and DMARC did not pass), then DMARC's disposition, then
// SPF fail / every DKIM signature failing / iprev fail or permerror (each only when DMARC
// did not pass).
InboundDecision decide(const InboundPolicy& policy, const authn::AuthVerdicts& v,
                       bool allow_listed);

}  // namespace tern::daemon
