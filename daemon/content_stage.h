// daemon (private): the content stage (issue 17) between the sender checks and the store, at
// the end of DATA: clamd, the built-in score (spam/), rspamd and the URI blocklists, then the
// verdict and the X-Spam-* fields.
//
// Flow for one message (daemon/smtp_service.cpp drives it; docs/flow.md has the picture):
//   MX, after MxAuth::finish   scan() on a worker: clamd INSTREAM (virus -> 554 5.7.1 naming
//                              the signature), the built-in rules over one MIME parse, the
//                              auth verdicts, rspamd /checkv2, the recipients' thresholds
//                              (account db); blocking sockets, each bounded by its timeout
//   loop thread                the URI blocklist lookups through ternd's resolver (bounded
//                              by spam.dns_timeout), then conclude(): the verdict and the
//                              message with X-Spam-Score/-Status/-Report prepended
//   (no URI blocklists and every copy local: scan, conclude and the store's queueing run
//    in the same worker job, SmtpHandler::scan_and_deliver)
//   submission                 clamd only, and only with clamav.scan_submission
// A scanner that fails (down, slow, garbage) answers 451 4.7.1 (on_failure = "tempfail") or
// lets the message through with an X-Tern-Scan-Failure field (on_failure = "accept").
//
// Several local recipients share one copy of the message, so one verdict: each threshold is
// the highest (most lenient) of theirs, so that nobody's override loses mail another would
// keep. Likewise the personal rules (each recipient's Bayes classifier, bayes/bayes.h, and
// their correspondents): the lowest of the recipients' contributions counts. Per-user overrides live in the account db (ternctl spam set).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authn/auth_results.h"
#include "common/config.h"
#include "common/result.h"
#include "spam/scanners.h"
#include "spam/spam.h"

namespace tern::auth {
class AccountDb;
}  // namespace tern::auth
namespace tern::bayes {
class Classifier;
}  // namespace tern::bayes

namespace tern::daemon {

struct ContentJob {
  std::shared_ptr<const std::string> message;  // after MxAuth: A-R and Received: on top
  bool mx = true;                              // false: authenticated/submission mail
  std::string sender, helo, client_ip, queue_id;
  std::vector<std::string> rcpts;        // envelope recipients
  std::vector<std::string> local_users;  // whose thresholds apply
  spam::AuthInput auth;
  // The connection stage's findings about the client (its DNS blocklist hits, [screen]).
  std::vector<spam::Contribution> connection_rules;
};

// What scan() found; conclude() makes the answer.
struct ContentScan {
  enum Stop { none, virus, deferred } stop = none;
  std::string stop_text;              // virus / deferred: the reply text
  bool scored = false;                // built-in rules or rspamd ran: X-Spam-* fields go in
  spam::Score score;
  spam::Thresholds thresholds;
  std::vector<std::string> domains;   // for the URI blocklists
  std::optional<spam::RspamdResult> rspamd;
  std::vector<std::string> failures;  // "clamav: ..." for X-Tern-Scan-Failure (accept mode)
};

struct ContentOutcome {
  enum Action { inbox, junk, reject, virus, deferred } action = inbox;
  std::string reply_text;
  std::string message;  // inbox/junk: what to store
  std::string summary;  // for the log: "score=7.5 verdict=junk tests=..."
};

// The verdicts of the sender checks as the scorer's words.
spam::AuthInput auth_input(const authn::AuthVerdicts& v);

class ContentStage {
 public:
  static Result<std::shared_ptr<const ContentStage>> create(const Config& config);

  // Anything to do for this kind of mail?
  bool active(bool mx) const;
  bool wants_uribl() const { return !zones_.empty(); }
  const std::vector<spam::UriblZone>& zones() const { return zones_; }
  int dns_timeout_ms() const { return config_.spam.dns_timeout * 1000; }

  // Blocking (sockets, SQLite): a worker thread. `accounts` may be null (no overrides).
  // `classifier` (may be null): the recipients' own junk classifiers and correspondents.
  ContentScan scan(const ContentJob& job, auth::AccountDb* accounts, bayes::Classifier* classifier) const;
  // Pure: the verdict and the message to store; `uribl` are the blocklist contributions.
  ContentOutcome conclude(ContentScan scan, const std::vector<spam::Contribution>& uribl,
                          std::string_view message) const;

 private:
  explicit ContentStage(const Config& config) : config_(config) {}
  spam::Thresholds thresholds_for(const ContentJob& job, auth::AccountDb* accounts) const;

  const Config& config_;
  std::vector<spam::UriblZone> zones_;
  std::optional<spam::ScannerAddress> clamd_, rspamd_;
};

}  // namespace tern::daemon
