// spam: the content stage of the MX listener (issue 17): a score made of contributions, the
// built-in rules, the verdict, the X-Spam-* header fields, and the clients of the external
// scanners (clamd, rspamd; spam/scanners.h).
//
// A Score is a sum of Contributions {rule, score, detail}. Every source adds to the same list:
// the built-in rules here (pure: bytes and verdicts in, contributions out), the URI blocklists
// (DNS answers in), rspamd, and later the per-user classifier and the connection stage's IP
// blocklists (each just appends its Contribution). decide() turns the sum into a Verdict with
// the thresholds; render_headers() writes it into the message and parse_headers() reads it
// back for `ternctl spam explain`.
//
// Depends on common/, mime/ (parsing, RFC 2047/2231 decoding) and dns/records.h (the
// RecordResolver interface, for the URI blocklists; c-ares stays in daemon/).
//
// Threading: everything here is pure and thread-safe, except lookup_uribl() (on the thread
// that owns the resolver: ternd's loop thread) and the scanner clients (blocking: workers).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "dns/records.h"

namespace tern::spam {

struct Contribution {
  std::string rule;    // upper-case word, e.g. "DMARC_FAIL" (no spaces, no commas)
  double score = 0;    // may be negative
  std::string detail;  // one line of free text for humans ("" when the rule says it all)
  bool operator==(const Contribution&) const = default;
};

struct Score {
  double total = 0;
  std::vector<Contribution> contributions;
  void add(Contribution c);
  void add(const std::vector<Contribution>& cs);
};

struct Thresholds {
  double junk = 5.0;     // >= junk: the Junk folder with $Junk
  double reject = 15.0;  // >= reject: 550 5.7.1 at the end of DATA, nothing stored
};

// Per-user overrides (auth::AccountDb user settings, `ternctl spam set`): these keys, each a
// number as parse_threshold() reads it.
inline constexpr const char* kUserJunkThreshold = "spam.junk_threshold";
inline constexpr const char* kUserRejectThreshold = "spam.reject_threshold";
std::optional<double> parse_threshold(const std::string& text);  // -1000 .. 1000000
// `t` with the overrides found in `settings` applied.
Thresholds with_overrides(Thresholds t, const std::map<std::string, std::string>& settings);

enum class Verdict { inbox, junk, reject };
const char* to_string(Verdict v);
Verdict decide(double total, const Thresholds& t);

// ---- built-in rules (pure) --------------------------------------------------------------

// The inbound-auth verdicts as words (authn's result names: "pass", "fail", "softfail",
// "none", "temperror", ...); "" when the check did not run. The daemon converts.
struct AuthInput {
  std::string spf;                 // MAIL FROM identity
  std::vector<std::string> dkim;   // one per signature
  std::string dmarc;
};
std::vector<Contribution> auth_rules(const AuthInput& in);

// Header sanity, attachments and GTUBE over the whole message (headers and body). `now` is
// unix seconds (for a Date in the future).
std::vector<Contribution> message_rules(std::string_view message, int64_t now);

// message_rules and body_domains over one parse of the message (what the daemon calls).
struct Analysis {
  std::vector<Contribution> rules;
  std::vector<std::string> domains;  // empty unless asked for
};
Analysis analyse(std::string_view message, int64_t now, size_t max_domains);

// The pieces of message_rules, usable alone.
std::vector<Contribution> header_rules(std::string_view message, int64_t now);
std::vector<Contribution> attachment_rules(std::string_view message);
bool contains_gtube(std::string_view message);
// A file name's risk: "" (fine), "EXECUTABLE", "MACRO_DOC" or "DOUBLE_EXT".
std::string risky_filename(std::string_view name);

// The score GTUBE alone gives: above any sane reject threshold.
inline constexpr double kGtubeScore = 1000.0;

// ---- URI blocklists ---------------------------------------------------------------------

struct UriblZone {
  std::string zone;     // e.g. "dbl.example.org"
  double weight = 0;    // the contribution of one listed domain
};

// Host names of the http(s)/www links in the message's text parts (decoded), lower-case,
// without "www.", de-duplicated, at most `max`.
std::vector<std::string> body_domains(std::string_view message, size_t max = 16);

// Queries every (domain, zone) pair as "<domain>.<zone> A"; a 127.0.0.0/8 answer other than
// 127.255.255.x (the lists' "query refused" codes) lists the domain. `done` runs once with one
// contribution per (zone) that listed something (URIBL_<n>, detail names domains and zone);
// synchronous resolvers finish inside the call. Lookup failures count as not listed. The
// returned function ends the wait (a deadline): `done` runs at once with what was listed so
// far (if it has not run yet); answers after that are ignored.
std::function<void()> lookup_uribl(dns::RecordResolver& resolver, const std::vector<std::string>& domains,
                  const std::vector<UriblZone>& zones,
                  std::function<void(std::vector<Contribution>)> done);
// One answer's meaning (pure; for tests).
bool uribl_listed(const dns::Answer& answer);

// ---- X-Spam-* header fields --------------------------------------------------------------
//
//   X-Spam-Score: 7.5
//   X-Spam-Status: Yes, score=7.5 junk=5.0 reject=15.0 verdict=junk
//   	tests=DMARC_FAIL:3.0,MISSING_DATE:1.5,...
//   X-Spam-Report: DMARC_FAIL 3.0 "dmarc=fail example.com"
//   	MISSING_DATE 1.5 ""
// Status says Yes for junk and reject; the report holds every contribution with its detail
// (quoted, '"' and '\' escaped, control bytes dropped), one a folded line.
std::string render_headers(const Score& score, const Thresholds& t, Verdict v);

struct Explanation {
  double total = 0;
  std::string status;  // "Yes" / "No"
  std::string verdict;
  Thresholds thresholds;
  std::vector<Contribution> contributions;
};
// The first X-Spam-Status / X-Spam-Report of the header block; not_found when absent.
Result<Explanation> parse_headers(std::string_view message);
std::string format_explanation(const Explanation& e);  // for ternctl (lines, '\n')

// The message with every X-Spam-Score/-Status/-Report field of its header block removed: a
// sender must not preset ours (the same reason RFC 8601 §5 gives for A-R).
std::string strip_headers(std::string_view message);

}  // namespace tern::spam
