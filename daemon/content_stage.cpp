// The content stage (see daemon/content_stage.h).
#include "daemon/content_stage.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>

#include "auth/auth.h"
#include "bayes/bayes.h"
#include "mime/mime.h"
#include "authn/authn.h"
#include "common/log.h"
#include "common/strings.h"

namespace tern::daemon {

namespace {

// At most this many link domains go to the blocklists: each costs a DNS query per zone.
constexpr size_t kMaxUriDomains = 10;

// One line of printable ASCII for an SMTP reply or a header field.
std::string printable(std::string_view s, size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  return out;
}

std::string score_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

spam::AuthInput auth_input(const authn::AuthVerdicts& v) {
  spam::AuthInput in;
  if (v.spf) in.spf = authn::to_string(v.spf->result);
  for (const auto& d : v.dkim) in.dkim.push_back(authn::to_string(d.result));
  if (v.dmarc) in.dmarc = authn::to_string(v.dmarc->result);
  return in;
}

Result<std::shared_ptr<const ContentStage>> ContentStage::create(const Config& config) {
  std::shared_ptr<ContentStage> s(new ContentStage(config));
  for (const auto& z : config.spam.uribl) {
    size_t colon = z.rfind(':');
    s->zones_.push_back({ascii_lower(z.substr(0, colon)), std::strtod(z.c_str() + colon + 1, nullptr)});
  }
  auto address = [&](const ScannerConfig& c, const char* section,
                     std::optional<spam::ScannerAddress>& out) -> Status {
    if (c.address.empty()) return {};
    auto a = spam::parse_scanner_address(c.address);
    if (!a)
      return make_error(Errc::syntax, config.path + ": " + section + ".address: " + a.error().message);
    out = *a;
    return {};
  };
  if (Status st = address(config.clamav, "clamav", s->clamd_); !st.ok()) return st.error();
  if (Status st = address(config.rspamd, "rspamd", s->rspamd_); !st.ok()) return st.error();
  return std::shared_ptr<const ContentStage>(std::move(s));
}

bool ContentStage::active(bool mx) const {
  if (!mx) return clamd_ && config_.clamav.scan_submission;
  return config_.spam.enabled || clamd_ || rspamd_;
}

spam::Thresholds ContentStage::thresholds_for(const ContentJob& job, auth::AccountDb* accounts) const {
  spam::Thresholds global{config_.spam.junk_threshold, config_.spam.reject_threshold};
  if (!accounts || job.local_users.empty()) return global;
  // Per-user overrides; several recipients share one verdict: the most lenient wins.
  std::optional<spam::Thresholds> out;
  for (const auto& user : job.local_users) {
    spam::Thresholds t = global;
    auto settings = accounts->user_settings(user);
    if (settings)
      t = spam::with_overrides(global, *settings);
    else
      spdlog::warn("spam id={} cannot read the settings of {}: {}", job.queue_id, user,
                   settings.error().message);
    if (!out) out = t;
    out->junk = std::max(out->junk, t.junk);
    out->reject = std::max(out->reject, t.reject);
  }
  return *out;
}

namespace {

// The Bayes probability as a score (issue 17): strong verdicts weigh like a blocklist hit,
// a hammy one pulls the score down; the middle says nothing.
std::optional<spam::Contribution> bayes_rule(const bayes::Verdict& v) {
  struct Band {
    double at_least, score;
    const char* rule;
  };
  static constexpr Band kSpammy[] = {{0.99, 6, "BAYES_99"}, {0.95, 4, "BAYES_95"}, {0.80, 2, "BAYES_80"}};
  static constexpr Band kHammy[] = {{0.99, -4, "BAYES_00"}, {0.95, -2, "BAYES_05"}, {0.80, -1, "BAYES_20"}};
  double p = v.spam_probability;
  std::string detail = "p=" + std::to_string(p).substr(0, 5);
  for (const auto& c : v.clues) detail += " " + c.token;
  for (const Band& b : kSpammy)
    if (p >= b.at_least) return spam::Contribution{b.rule, b.score, printable(detail)};
  for (const Band& b : kHammy)
    if (1 - p >= b.at_least) return spam::Contribution{b.rule, b.score, printable(detail)};
  return std::nullopt;
}

// The address the sender is known by, when the checks vouch for it: the From address when
// DMARC passed (it is aligned with an authenticated domain), else the envelope sender when
// SPF passed for it. "" otherwise: a forged name earns no bonus.
std::string vouched_sender(const ContentJob& job, std::string_view message) {
  if (job.auth.dmarc == "pass") {
    size_t end = message.find("\r\n\r\n");
    auto m = mime::Message::parse(std::string(message.substr(0, end == std::string_view::npos ? message.size() : end + 4)));
    if (const mime::HeaderField* f = m.root().header("From"))
      for (const auto& a : mime::parse_address_list(f->value))
        if (a.mailbox && a.host) return ascii_lower(*a.mailbox + "@" + *a.host);
  }
  if (job.auth.spf == "pass" && !job.sender.empty()) return ascii_lower(job.sender);
  return "";
}

// Each recipient's classifier and correspondents; the lowest (most lenient) per rule counts.
std::vector<spam::Contribution> personal_rules(const ContentJob& job, bayes::Classifier* classifier) {
  if (!classifier || job.local_users.empty()) return {};
  std::vector<spam::Contribution> out;
  std::optional<spam::Contribution> bayes;
  bool every_user_judged = true;
  for (const auto& user : job.local_users) {
    auto v = classifier->classify(user, *job.message);
    std::optional<spam::Contribution> c;
    if (v && *v) c = bayes_rule(**v);
    if (!c) {
      every_user_judged = false;  // untrained (or unsure) for this one: no Bayes rule at all
      break;
    }
    if (!bayes || c->score < bayes->score) bayes = c;
  }
  if (every_user_judged && bayes) out.push_back(*bayes);
  std::string sender = vouched_sender(job, *job.message);
  if (!sender.empty())
    for (const auto& user : job.local_users)
      if (auto known = classifier->is_correspondent(user, sender); known && *known) {
        out.push_back({"KNOWN_CORRESPONDENT", -3, printable(user + " has written to " + sender)});
        break;
      }
  return out;
}

}  // namespace

ContentScan ContentStage::scan(const ContentJob& job, auth::AccountDb* accounts, bayes::Classifier* classifier) const {
  ContentScan r;
  const std::string& message = *job.message;
  // A failing scanner: tempfail stops here (the client retries), accept notes it.
  auto failed = [&](const char* scanner, const ScannerConfig& c, const std::string& why) {
    spdlog::warn("{} id={} unavailable: {} (on_failure={})", scanner, job.queue_id, why, c.on_failure);
    if (c.on_failure == "accept") {
      r.failures.push_back(std::string(scanner) + ": " + printable(why));
      return false;
    }
    r.stop = ContentScan::deferred;
    r.stop_text = std::string(scanner == std::string("clamav") ? "Virus" : "Spam") +
                  " scanner unavailable, try again later";
    return true;
  };
  if (clamd_ && (job.mx || config_.clamav.scan_submission)) {
    auto c = spam::clamd_scan(*clamd_, message, config_.clamav.timeout * 1000);
    if (!c) {
      if (failed("clamav", config_.clamav, c.error().message)) return r;
    } else if (c->status == spam::ClamdResult::infected) {
      r.stop = ContentScan::virus;
      r.stop_text = "Message refused: virus found: " + c->signature;
      return r;
    } else if (c->status == spam::ClamdResult::error) {
      if (failed("clamav", config_.clamav, c->text)) return r;
    }
  }
  if (!job.mx) return r;  // submission: the virus scan only
  if (config_.spam.enabled) {
    r.scored = true;
    auto a = spam::analyse(message, static_cast<int64_t>(std::time(nullptr)),
                           zones_.empty() ? 0 : kMaxUriDomains);
    r.score.add(a.rules);
    r.score.add(spam::auth_rules(job.auth));
    r.score.add(personal_rules(job, classifier));
    r.score.add(job.connection_rules);
    r.domains = std::move(a.domains);
  }
  if (rspamd_) {
    spam::RspamdRequest q{job.sender, job.rcpts, job.client_ip, job.helo, job.queue_id,
                          config_.hostname};
    auto res = spam::rspamd_check(*rspamd_, q, message, config_.rspamd.timeout * 1000);
    if (!res) {
      if (failed("rspamd", config_.rspamd, res.error().message)) return r;
    } else {
      r.scored = true;
      r.rspamd = *res;
    }
  }
  r.thresholds = thresholds_for(job, accounts);
  return r;
}

ContentOutcome ContentStage::conclude(ContentScan scan, const std::vector<spam::Contribution>& uribl,
                                      std::string_view message) const {
  ContentOutcome out;
  if (scan.stop == ContentScan::virus) {
    out.action = ContentOutcome::virus;
    out.reply_text = printable(scan.stop_text);
    out.summary = "virus";
    return out;
  }
  if (scan.stop == ContentScan::deferred) {
    out.action = ContentOutcome::deferred;
    out.reply_text = scan.stop_text;
    out.summary = "scanner unavailable";
    return out;
  }
  if (scan.rspamd && (scan.rspamd->action == "soft reject" || scan.rspamd->action == "greylist")) {
    // rspamd asks for a temporary failure (its rate limits, its own greylisting, which keeps
    // the triplets): 451 and nothing stored, so the sender retries later (RFC 5321 §4.2.5).
    out.action = ContentOutcome::deferred;
    out.reply_text = "Try again later (" + printable(scan.rspamd->action, 40) + ")";
    out.summary = "rspamd " + printable(scan.rspamd->action, 40);
    return out;
  }
  spam::Score score = std::move(scan.score);
  score.add(uribl);
  bool rspamd_reject = false, rspamd_junk = false;
  if (scan.rspamd) {
    const auto& rs = *scan.rspamd;
    spam::Contribution c{"RSPAMD", rs.score, "action=" + printable(rs.action, 40)};
    if (config_.rspamd.mode == "replace") score = spam::Score{};
    score.add(c);
    // rspamd's own action is honoured whatever the sum says: it knows its thresholds.
    rspamd_reject = rs.action == "reject";
    rspamd_junk = rs.action == "add header" || rs.action == "rewrite subject";
  }
  spam::Verdict v = spam::decide(score.total, scan.thresholds);
  if (rspamd_reject) v = spam::Verdict::reject;
  else if (rspamd_junk && v == spam::Verdict::inbox) v = spam::Verdict::junk;
  std::string tests;
  for (const auto& c : score.contributions) tests += (tests.empty() ? "" : ",") + c.rule;
  out.summary = "score=" + score_text(score.total) + " verdict=" + spam::to_string(v) +
                " tests=" + (tests.empty() ? "none" : tests);
  if (scan.scored && v == spam::Verdict::reject) {
    out.action = ContentOutcome::reject;
    out.reply_text = "Message refused as spam (score " + score_text(score.total) + ")";
    return out;
  }
  std::string head;
  for (const auto& f : scan.failures) head += "X-Tern-Scan-Failure: " + f + "\r\n";
  if (!scan.scored) {
    out.message = head + std::string(message);
    return out;
  }
  out.action = v == spam::Verdict::junk ? ContentOutcome::junk : ContentOutcome::inbox;
  head += spam::render_headers(score, scan.thresholds, v);
  std::string body = spam::strip_headers(message);
  out.message.reserve(head.size() + body.size());
  out.message = head;
  out.message += body;
  return out;
}

}  // namespace tern::daemon
