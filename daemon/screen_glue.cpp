// The MX listener's connection and envelope stage on one connection (see daemon/screen_glue.h).
#include "daemon/screen_glue.h"

#include <ctime>
#include <filesystem>

#include "common/log.h"
#include "bayes/bayes.h"
#include "common/strings.h"
#include "dns/records.h"
#include "net/net.h"

namespace tern::daemon {

namespace {

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;

std::string domain_of(const std::string& address) {
  size_t at = address.rfind('@');
  return at == std::string::npos ? std::string() : ascii_lower(address.substr(at + 1));
}

std::string render_hits(const std::vector<screen::ScoreRecord>& hits) {
  std::string out;
  for (const auto& h : hits)
    out += (out.empty() ? "" : ",") + h.rule + ":" + std::to_string(h.score) + "(" + h.detail + ")";
  return out.empty() ? "none" : out;
}

}  // namespace

// ---- ternd-wide --------------------------------------------------------------------------

bool Screening::allow_listed(const authn::IpAddress& ip) const {
  for (const auto& [net, prefix] : allow_ips_)
    if (ip.in(net, prefix)) return true;
  return false;
}

bool Screening::sender_allow_listed(const std::string& reverse_path) const {
  const std::string path = ascii_lower(reverse_path);
  const std::string domain = domain_of(path);
  for (const auto& who : config_.greylist_allow_senders) {
    const std::string w = ascii_lower(who);
    if (w == path || (w.find('@') == std::string::npos && w == domain)) return true;
  }
  return false;
}

Result<std::shared_ptr<Screening>> start_screening(Runtime& rt) {
  const Config& c = rt.config;
  std::shared_ptr<Screening> s(new Screening(c.screen));
  for (const auto& text : c.screen.allow_ips) {
    size_t slash = text.find('/');
    auto ip = authn::IpAddress::parse(text.substr(0, slash));
    if (!ip) continue;  // config.cpp validated it
    int prefix = ip->v6 ? 128 : 32;
    if (slash != std::string::npos) prefix = std::stoi(text.substr(slash + 1));
    s->allow_ips_.emplace_back(*ip, prefix);
  }
  if (c.screen.greylist) {
    screen::GreylistSettings g;
    g.delay = c.screen.greylist_delay;
    g.retry_window = c.screen.greylist_retry_window;
    g.pass_ttl = c.screen.greylist_pass_ttl;
    g.max_entries = c.screen.greylist_max_entries;
    // Once, before the listeners start: the loop does not serve anyone yet.
    auto db = screen::Greylist::open(c.data_dir + "/greylist.db", g);
    if (!db) return make_error(db.error().code, c.path + ": screen.greylist: " + db.error().message);
    s->greylist_ = std::move(*db);
  }
  rt.screen = s;
  return s;
}

void greylist_recipient(const GreyQuery& q, RecipientDecision& d) {
  using R = smtpd::RecipientResult;
  if (d.result.status != R::local || d.result.users.empty() || !q.greylist) return;
  if (!q.spf_pass_domain.empty() && q.correspondents) {
    // The recipient wrote to this domain, and SPF says the sender is that domain's: a reply.
    for (const auto& user : d.result.users) {
      auto known = q.correspondents->has_correspondent_at(user, q.spf_pass_domain);
      if (known && *known) return;
    }
  }
  auto decision = q.greylist->check(q.triplet, q.now);
  if (!decision) {
    // Greylisting is a nicety: a database problem must not stop mail.
    spdlog::warn("greylist: {} (recipient accepted)", decision.error().message);
    return;
  }
  spdlog::info("greylist net={} from=<{}> to=<{}> result={} reason={}", q.triplet.net,
               q.triplet.sender, q.triplet.rcpt, decision->pass ? "pass" : "defer",
               screen::to_string(decision->reason));
  if (decision->pass) return;
  // RFC 6647 §2.1: a temporary failure; a real MTA comes back after the delay.
  d.result = R{};
  d.result.status = R::policy_deferred;
  d.result.text = "Greylisted, please try again in " + std::to_string(decision->wait) + " seconds";
  d.forwards.clear();
  d.quotas.clear();
}

// ---- one connection ----------------------------------------------------------------------

ClientScreen::ClientScreen(Runtime& rt, std::shared_ptr<Screening> screening, const std::string& ip)
    : rt_(rt), s_(std::move(screening)), ip_(authn::IpAddress::parse(ip)), ip_text_(ip),
      alive_(std::make_shared<bool>(true)) {
  if (!ip_) return;
  rate_key_ = screen::rate_key(*ip_);
  exempt_ = s_->allow_listed(*ip_);
  const auto& zones = s_->config().dnsbl;
  if (exempt_ || zones.empty() || !rt_.dns_records) return;
  // Asked now, so the answers arrive while the client says EHLO and MAIL.
  dnsbl_ = screen::DnsblLookup::start(*rt_.dns_records, *ip_, zones);
  dnsbl_->when_done([weak = std::weak_ptr<screen::DnsblLookup>(dnsbl_), ip] {
    if (auto d = weak.lock())
      spdlog::info("screen dnsbl ip={} score={} hits={}", ip, d->score(), render_hits(d->hits()));
  });
}

ClientScreen::~ClientScreen() { *alive_ = false; }

bool ClientScreen::connection_allowed() {
  if (exempt_ || rate_key_.empty()) return true;
  return s_->rates().allow("conn", rate_key_, s_->config().connections_per_minute, kMinuteMs,
                           static_cast<int64_t>(rt_.loop.now_ms()));
}

int ClientScreen::greet_delay_ms() const { return exempt_ ? 0 : s_->config().greet_delay_ms; }

bool ClientScreen::message_allowed() {
  if (exempt_ || rate_key_.empty()) return true;
  return s_->rates().allow("msg", rate_key_, s_->config().messages_per_hour, kHourMs,
                           static_cast<int64_t>(rt_.loop.now_ms()));
}

bool ClientScreen::blocklist_needed_at_rcpt() const {
  return dnsbl_ && (s_->config().dnsbl_reject_score > 0 || s_->greylist());
}

std::optional<smtpd::RecipientResult> ClientScreen::blocklist_verdict() const {
  const int threshold = s_->config().dnsbl_reject_score;
  if (!dnsbl_ || threshold <= 0 || dnsbl_->score() < threshold) return std::nullopt;
  smtpd::RecipientResult r;
  r.status = smtpd::RecipientResult::policy_refused;
  // RFC 5782 §2.1 leaves the text to us: name the list, so the sender knows where to go.
  r.text = "Client address " + ip_text_ + " listed by " + dnsbl_->worst_zone();
  return r;
}

void ClientScreen::recipient(std::function<void(std::optional<smtpd::RecipientResult>)> next) {
  if (exempt_) return next(std::nullopt);
  if (!rate_key_.empty() &&
      !s_->rates().allow("rcpt", rate_key_, s_->config().recipients_per_hour, kHourMs,
                         static_cast<int64_t>(rt_.loop.now_ms()))) {
    spdlog::info("rcpt deferred reason=recipient-rate ip={}", ip_text_);
    smtpd::RecipientResult r;
    r.status = smtpd::RecipientResult::policy_deferred;
    r.text = "Too many recipients from your address, try again later";
    return next(r);
  }
  if (!blocklist_needed_at_rcpt() || dnsbl_->done()) return next(blocklist_verdict());
  // The answers are late (a slow list): wait a little, then go on without the missing ones.
  bounded_wait([d = dnsbl_](std::function<void()> wake) { d->when_done(std::move(wake)); },
               [this, next = std::move(next)] {
                 dnsbl_->give_up();  // timed out, or done already (then a no-op)
                 next(blocklist_verdict());
               });
}

void ClientScreen::bounded_wait(const std::function<void(std::function<void()>)>& subscribe,
                                std::function<void()> then) {
  if (!wait_) wait_ = std::make_unique<net::Timer>(rt_.loop);
  auto fired = std::make_shared<bool>(false);
  auto go = [this, alive = std::weak_ptr<bool>(alive_), fired, then = std::move(then)] {
    if (*fired || alive.expired()) return;
    *fired = true;
    wait_->stop();
    then();
  };
  wait_->start(static_cast<uint64_t>(s_->config().dnsbl_wait) * 1000, go);
  subscribe(go);
}

bool ClientScreen::greylisting_applies(const std::string& reverse_path) const {
  if (!s_->greylist() || exempt_ || !ip_) return false;
  if (dnsbl_ && dnsbl_->allow_listed()) return false;  // a DNSWL zone vouches for it
  return !s_->sender_allow_listed(reverse_path);
}

std::optional<GreyQuery> ClientScreen::grey_query(const std::string& reverse_path,
                                                  const std::string& rcpt,
                                                  std::string spf_pass_domain) const {
  if (!greylisting_applies(reverse_path)) return std::nullopt;
  GreyQuery q;
  q.greylist = s_->greylist();
  q.correspondents = rt_.classifier;
  q.triplet = screen::Triplet{screen::greylist_net(*ip_), ascii_lower(reverse_path), ascii_lower(rcpt)};
  q.spf_pass_domain = std::move(spf_pass_domain);
  q.now = static_cast<int64_t>(std::time(nullptr));
  return q;
}

std::vector<screen::ScoreRecord> ClientScreen::hits() const {
  return dnsbl_ ? dnsbl_->hits() : std::vector<screen::ScoreRecord>{};
}

}  // namespace tern::daemon
