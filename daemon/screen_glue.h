// daemon (private): the MX listener's connection and envelope stage ([screen], issue 17),
// wired to one connection. The rules are screen/ (pure or blocking, unit-tested) and
// smtpd/ (early talkers, pipelining); this file only says when each runs:
//
//   accept         connection rate (421 4.7.0 instead of the greeting); the blocklist
//                  lookups start (their DNS overlaps the dialogue); greet_delay_ms before
//                  the 220, input meanwhile is an early talker (554 5.5.1)
//   MAIL           message rate (451 4.7.1), through SessionSettings::may_start_message
//   RCPT           recipient rate (451 4.7.1); then, when a reject score or greylisting needs
//                  the blocklist answers, waits for them (at most dnsbl_wait seconds);
//                  dnsbl_reject_score reached: 550 5.7.1 naming the zone; when greylisting
//                  applies, the SPF verdict (same bound); on the worker,
//                  after the recipient resolved as local: greylisting (451 4.7.1)
//   end of DATA    hits(): the blocklist records {rule, score, detail} for the scorer
//
// Exempt: allow_ips (everything), authenticated clients and the submission listeners (the
// glue makes no ClientScreen for them); from greylisting also greylist_allow_senders, a
// client an allowlist zone (negative weight) lists, and a sender whose SPF already passed
// for a domain the recipient has sent mail to (SPF starts at the first RCPT: an RCPT that
// would be greylisted waits for its verdict, at most dnsbl_wait seconds).
//
// Threading: Screening and ClientScreen live on the loop thread, except the Greylist and the
// correspondents (bayes::Classifier, recorded by the submission path), which are blocking
// and run on workers (greylist_recipient).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authn/ip.h"
#include "common/result.h"
#include "daemon/delivery_policy.h"
#include "daemon/runtime.h"
#include "screen/screen.h"

namespace tern::net {
class Timer;
}
namespace tern::bayes {
class Classifier;
}

namespace tern::daemon {

// ternd-wide: the allow list, the rate table, the greylist database.
class Screening {
 public:
  const ScreenConfig& config() const { return config_; }
  bool allow_listed(const authn::IpAddress& ip) const;
  bool sender_allow_listed(const std::string& reverse_path) const;
  screen::RateLimiter& rates() { return rates_; }
  std::shared_ptr<screen::Greylist> greylist() const { return greylist_; }  // null: off

 private:
  friend Result<std::shared_ptr<Screening>> start_screening(Runtime& rt);
  explicit Screening(const ScreenConfig& c) : config_(c), rates_(c.rate_limit_entries) {}
  const ScreenConfig& config_;
  std::vector<std::pair<authn::IpAddress, int>> allow_ips_;
  screen::RateLimiter rates_;
  std::shared_ptr<screen::Greylist> greylist_;
};

// Opens data_dir/greylist.db when greylisting is on; sets rt.screen. Loop thread, at start.
Result<std::shared_ptr<Screening>> start_screening(Runtime& rt);

// What the worker needs to greylist one recipient (made on the loop thread).
struct GreyQuery {
  std::shared_ptr<screen::Greylist> greylist;
  bayes::Classifier* correspondents = nullptr;  // who our users write to (may be null)
  screen::Triplet triplet;
  std::string spf_pass_domain;  // the MAIL FROM domain when its SPF passed already, else ""
  int64_t now = 0;
};
// Worker: greylists an accepted local recipient (d.result becomes policy_deferred).
void greylist_recipient(const GreyQuery& q, RecipientDecision& d);

// One MX connection from an unauthenticated client.
class ClientScreen {
 public:
  ClientScreen(Runtime& rt, std::shared_ptr<Screening> screening, const std::string& ip);
  ~ClientScreen();

  bool exempt() const { return exempt_; }  // allow_ips: no screening at all
  bool connection_allowed();  // counts this connection (call once, at accept)
  int greet_delay_ms() const;
  bool message_allowed();     // MAIL: counts one message
  // RCPT: `next` runs (on the loop thread, maybe inside this call) with a refusal to answer,
  // or nullopt to go on (then grey_query()). Never after this ClientScreen died.
  void recipient(std::function<void(std::optional<smtpd::RecipientResult>)> next);
  // Whether this RCPT may be greylisted (on, and nothing exempts the client or sender).
  bool greylisting_applies(const std::string& reverse_path) const;
  std::optional<GreyQuery> grey_query(const std::string& reverse_path, const std::string& rcpt,
                                      std::string spf_pass_domain) const;
  // subscribe(wake) asks for wake() when something is ready; then() runs once, at the first
  // wake() or after dnsbl_wait seconds, and never after this ClientScreen died.
  void bounded_wait(const std::function<void(std::function<void()>)>& subscribe,
                    std::function<void()> then);
  // The blocklist records so far (complete once the lookups ended), for the content stage.
  std::vector<screen::ScoreRecord> hits() const;

 private:
  bool blocklist_needed_at_rcpt() const;
  std::optional<smtpd::RecipientResult> blocklist_verdict() const;

  Runtime& rt_;
  std::shared_ptr<Screening> s_;
  std::optional<authn::IpAddress> ip_;
  std::string ip_text_, rate_key_;
  bool exempt_ = false;
  std::shared_ptr<screen::DnsblLookup> dnsbl_;  // null: no zones, or exempt
  std::unique_ptr<net::Timer> wait_;
  std::shared_ptr<bool> alive_;
};

}  // namespace tern::daemon
