// authn/spf.h: SPF (RFC 7208) for the HELO and MAIL FROM identities.
//
// parse_spf_record() is pure and fuzzed. SpfCheck is a sans-I/O Check (authn/resolver.h): it
// evaluates check_host() (RFC 7208 §4) by replaying the evaluation over the answers it has
// memoised so far; at the first answer it lacks it stops and lists the question(s) it needs.
// Replay keeps the evaluator a straight transcription of the RFC (recursion for include and
// redirect, ordered mechanisms) while staying resumable. Its cost is O(q^2) small steps for q
// DNS answers; q is bounded by the §4.6.4 limits (10 DNS mechanisms, 10 MX or PTR names each),
// so a replay is microseconds against milliseconds of DNS.
//
// Limits (RFC 7208 §4.6.4): more than 10 DNS-querying terms (include, a, mx, ptr, exists,
// redirect) -> permerror, which also ends include and redirect loops; more than 2 void
// lookups (NXDOMAIN or empty answer) -> permerror; more than 10 MX records -> permerror;
// only the first 10 PTR names are considered.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authn/ip.h"
#include "authn/resolver.h"
#include "common/result.h"

namespace tern::authn {

// RFC 7208 §2.6.
enum class SpfResult { none, neutral, pass, fail, softfail, temperror, permerror };
const char* to_string(SpfResult r);

enum class SpfIdentity { mailfrom, helo };
const char* to_string(SpfIdentity i);  // "mailfrom" / "helo" (the RFC 8601 ptype.property)

// ---- Record syntax (RFC 7208 §4.5, §5, §6, §12) --------------------------------------------

enum class SpfQualifier : char { pass = '+', fail = '-', softfail = '~', neutral = '?' };
enum class SpfMechanismKind { all, include, a, mx, ptr, ip4, ip6, exists };

struct SpfMechanism {
  SpfQualifier qualifier = SpfQualifier::pass;
  SpfMechanismKind kind = SpfMechanismKind::all;
  std::string domain_spec;  // macro-string; empty: the current domain (a, mx, ptr)
  IpAddress network;        // ip4 / ip6
  int cidr4 = 32;           // ip4, a, mx
  int cidr6 = 128;          // ip6, a, mx
  std::string text;         // the term as written, for verdicts and logs
};

struct SpfRecord {
  std::vector<SpfMechanism> mechanisms;
  std::optional<std::string> redirect;  // domain-spec
  std::optional<std::string> exp;       // domain-spec
};

// True when the TXT record is an SPF record: "v=spf1" followed by SP or its end (§4.5).
bool is_spf_record(std::string_view txt);
// Parses a whole record ("v=spf1 ..."). Any syntax error anywhere is Errc::syntax, which the
// caller turns into permerror (§4.6).
Result<SpfRecord> parse_spf_record(std::string_view txt);

// ---- Macros (RFC 7208 §7) -------------------------------------------------------------------

struct SpfMacroContext {
  std::string sender;       // s (local-part@domain)
  std::string local;        // l
  std::string sender_domain;// o
  std::string domain;       // d
  IpAddress ip;             // i, c, v
  std::string validated;    // p ("unknown" when none); computed by the caller
  std::string helo;         // h
  std::string receiver;     // r
  int64_t now = 0;          // t
};
// Checks macro-string syntax; `explanation` allows c, r, t and SP (§7.2, §6.2).
bool valid_macro_string(std::string_view s, bool explanation);
// Does the macro string use %{p}?
bool uses_p_macro(std::string_view s);
// Expands a syntactically valid macro string.
Result<std::string> expand_spf_macros(std::string_view s, const SpfMacroContext& ctx, bool explanation);

// ---- Evaluation -----------------------------------------------------------------------------

struct SpfRequest {
  IpAddress ip;           // the SMTP client
  std::string helo;       // the EHLO/HELO argument as given
  std::string mail_from;  // the reverse-path without <>; empty for the null sender
  std::string receiver;   // our host name (%{r})
  int64_t now = 0;        // unix seconds (%{t})
};

struct SpfVerdict {
  SpfResult result = SpfResult::none;
  SpfIdentity identity = SpfIdentity::mailfrom;
  std::string domain;       // the checked domain: MAIL FROM's, or HELO's (also for <>)
  std::string sender;       // the identity checked: local@domain ("postmaster@helo" for <>)
  std::string mechanism;    // the matching term ("-all", "include:x"), or "default"
  std::string explanation;  // fail only: the expanded exp= text (RFC 7208 §6.2), if any
  std::string problem;      // temperror/permerror/none: why
  int dns_lookups = 0;      // DNS-querying terms evaluated (for tests and logs)
};

class SpfCheck final : public Check {
 public:
  // identity mailfrom with an empty mail_from checks "postmaster@<helo>" (RFC 7208 §2.4).
  SpfCheck(SpfRequest request, SpfIdentity identity);

  std::vector<Question> questions() override;
  void answer(const Question& question, const Answer& answer) override;
  bool done() const override { return done_; }
  const SpfVerdict& verdict() const { return verdict_; }

 private:
  void replay();

  SpfRequest request_;
  SpfIdentity identity_;
  std::map<Question, Answer> memo_;
  std::vector<Question> needed_;
  SpfVerdict verdict_;
  bool done_ = false;
};

// RFC 7208 §4.3: a syntactically valid, multi-label domain (labels 1..63, total <= 253).
bool valid_spf_domain(std::string_view domain);

}  // namespace tern::authn
