// The DNS layer and the MX sender checks (see daemon/inbound_checks.h).
#include "daemon/inbound_checks.h"

#include <ctime>

#include "common/log.h"
#include "common/strings.h"
#include "daemon/frontend/serial_executor.h"
#include "dns/dns.h"
#include "net/net.h"

namespace tern::daemon {

namespace {

// The message without its first header field (our own Received:, which the session wrote):
// what the client sent is what a signer signed.
std::string_view without_first_field(std::string_view message) {
  size_t pos = 0;
  while (true) {
    size_t eol = message.find("\r\n", pos);
    if (eol == std::string_view::npos) return message;
    pos = eol + 2;
    if (pos >= message.size() || (message[pos] != ' ' && message[pos] != '\t'))
      return message.substr(pos);
  }
}

}  // namespace

// ---- ternd-wide state ------------------------------------------------------------------

InboundChecks::~InboundChecks() {
  // The cache first: it drops the callbacks waiting on c-ares without calling them.
  cache_.reset();
  cares_.reset();
}

authn::Resolver& InboundChecks::resolver() { return *cache_; }

Result<std::shared_ptr<InboundChecks>> start_inbound_checks(Runtime& rt) {
  const Config& c = rt.config;
  std::shared_ptr<InboundChecks> out(new InboundChecks());
  out->policy_ = InboundPolicy::from_config(c.inbound_auth);
  dns::CaresOptions opt;
  opt.servers = c.dns.servers;
  // Each try is bounded; inbound_auth.timeout bounds the whole wait of a message anyway.
  opt.timeout_ms = 3000;
  opt.tries = 2;
  auto cares = dns::CaresResolver::create(rt.loop.raw(), opt);
  if (!cares) return make_error(cares.error().code, c.path + ": dns.servers: " + cares.error().message);
  out->cares_ = std::move(*cares);
  dns::CacheOptions cache_opt;
  net::Loop* loop = &rt.loop;
  cache_opt.now_ms = [loop] { return loop->now_ms(); };
  out->cache_ = std::make_unique<dns::CachingResolver>(*out->cares_, cache_opt);
  if (out->policy_.any_on()) {
    // RFC 7489 §3.2: organizational domains from the Public Suffix List (Debian's package).
    auto psl = authn::PublicSuffixList::load_default();
    if (!psl)
      return make_error(psl.error().code, c.path + ": inbound_auth: the Public Suffix List (package "
                                          "publicsuffix) is needed: " + psl.error().message);
    out->psl_ = std::move(*psl);
  }
  rt.dns = out->cares_.get();
  rt.dns_records = out->cache_.get();
  rt.inbound_checks = out;
  return out;
}

// ---- one MX connection -----------------------------------------------------------------

MxAuth::MxAuth(Runtime& rt, std::shared_ptr<InboundChecks> checks, std::string client_ip)
    : rt_(rt), checks_(std::move(checks)), client_ip_(std::move(client_ip)) {
  if (!checks_ || !checks_->policy().any_on()) return;
  auto ip = authn::IpAddress::parse(client_ip_);
  if (!ip) return;
  authn::InboundSettings settings;
  settings.authserv_id = rt_.config.hostname;
  settings.dkim_keys = checks_->dkim_keys();
  // DKIM canonicalisation and hashing on the worker pool, one job at a time per connection
  // (the executor keeps them in order); the continuations come back to the loop, where
  // InboundAuth drops them once the transaction or the connection is gone. A pool that
  // refuses (shutting down) gets the work done on the loop instead, so DATA always ends.
  // Chunks under 32 KiB (most messages, whole) hash inline: tens of microseconds of CPU,
  // less than the wake-ups of a hop to a worker and back. Bigger chunks still go out.
  settings.offload_min_bytes = 32 * 1024;
  auto hasher = SerialExecutor::create(rt_.loop, rt_.workers);
  settings.offload = [hasher](std::function<void()> work, std::function<void()> then) {
    auto job = std::make_shared<std::function<void()>>(std::move(work));
    hasher->push([job, then]() -> SerialExecutor::Continuation {
                   (*job)();
                   return then;
                 },
                 [job, then] {
                   (*job)();
                   then();
                 });
  };
  auto random = dns::default_random_source();
  auth_ = std::make_unique<authn::InboundAuth>(
      checks_->resolver(), checks_->psl(), std::move(settings),
      [] { return static_cast<int64_t>(std::time(nullptr)); },
      [random] { return random(100); });
  // RFC 8601 §3: iprev runs while the client says EHLO and MAIL.
  auth_->connected(*ip, rt_.config.hostname);
}

MxAuth::~MxAuth() = default;

void MxAuth::transaction(const std::string& helo, const std::string& reverse_path) {
  if (!auth_) return;
  // Body bytes already fed belong to a transaction that ended without a message (a refused
  // DATA, BDAT then RSET): this is a new one.
  if (txn_started_ && fed_ == 0 && helo == txn_helo_ && reverse_path == txn_path_) return;
  txn_started_ = true;
  fed_ = 0;
  txn_helo_ = helo;
  txn_path_ = reverse_path;
  // RFC 7208 §2.4: MAIL FROM, or HELO for the null reverse-path; started now so its DNS
  // overlaps RCPT and DATA.
  auth_->mail_from(helo, reverse_path);
}

std::string MxAuth::spf_pass_domain() const {
  if (!auth_ || checks_->policy().spf == CheckMode::off) return {};
  auto v = auth_->mail_from_spf();
  if (!v || v->result != authn::SpfResult::pass || v->identity != authn::SpfIdentity::mailfrom)
    return {};
  return ascii_lower(v->domain);
}

void MxAuth::when_spf_known(std::function<void()> fn) {
  if (!auth_ || checks_->policy().spf == CheckMode::off) return fn();
  auth_->when_mail_from_spf(std::move(fn));
}

void MxAuth::data(std::string_view body_so_far) {
  if (!auth_ || !txn_started_ || body_so_far.size() <= fed_) return;
  auth_->data(body_so_far.substr(fed_));
  fed_ = body_so_far.size();
}

void MxAuth::finish(const std::string& helo, const std::string& reverse_path, std::string message,
                    const std::string& queue_id, std::function<void(Result)> done) {
  const std::string& host = rt_.config.hostname;
  if (!auth_) {
    // Nothing checked, but a field claiming our authserv-id is still a forgery (RFC 8601 §5).
    done(Result{{}, authn::strip_authentication_results(message, host)});
    return;
  }
  auto body = std::make_shared<std::string>(std::move(message));
  std::string_view sent = without_first_field(*body);  // the client's bytes
  if (txn_started_ && fed_ > sent.size()) txn_started_ = false;  // not this message's bytes
  if (!txn_started_ || helo != txn_helo_ || reverse_path != txn_path_) {
    txn_started_ = false;
    transaction(helo, reverse_path);
  }
  // What did not stream yet (at least the end: the session hands over the body and ends
  // DATA in the same feed) goes with the end of the message, in one hashing job.
  std::string_view rest = sent.substr(fed_);
  fed_ = 0;
  auto waiting = std::make_shared<bool>(true);
  auth_->end_of_data(rest, [this, waiting, body, queue_id, reverse_path,
                            done = std::move(done)](authn::AuthOutcome o) {
    *waiting = false;
    if (deadline_) deadline_->stop();
    txn_started_ = false;
    fed_ = 0;
    const auto& policy = checks_->policy();
    const std::string from_domain = o.verdicts.dmarc ? o.verdicts.dmarc->from_domain : "";
    const bool allow = policy.allowed(client_ip_, reverse_path, from_domain);
    Result r;
    r.decision = decide(policy, o.verdicts, allow);
    auto reported = reported_verdicts(policy, o.verdicts);
    r.verdicts = reported;
    const std::string& host = rt_.config.hostname;
    std::string header = authn::render_authentication_results(host, reported);
    std::string stripped = authn::strip_authentication_results(*body, host);
    r.message.reserve(header.size() + stripped.size());
    r.message = header;
    r.message += stripped;
    auto name = [](const auto& opt) -> std::string {
      return opt ? authn::to_string(opt->result) : "-";
    };
    std::string dkim = o.verdicts.dkim.empty() ? "none" : "";
    for (const auto& d : o.verdicts.dkim)
      dkim += (dkim.empty() ? "" : ",") + std::string(authn::to_string(d.result));
    spdlog::info("inbound-auth id={} ip={} from=<{}> spf={} dkim={} dmarc={} iprev={} action={}{}",
                 queue_id, client_ip_, reverse_path, name(o.verdicts.spf), dkim,
                 name(o.verdicts.dmarc), name(o.verdicts.iprev), to_string(r.decision.action),
                 r.decision.reason.empty() ? "" : " reason=\"" + r.decision.reason + "\"");
    done(std::move(r));
  });
  if (!*waiting) return;
  // The deadline: DNS still missing becomes temperror and the callback above runs at once.
  if (!deadline_) deadline_ = std::make_unique<net::Timer>(rt_.loop);
  deadline_->start(static_cast<uint64_t>(rt_.config.inbound_auth.timeout) * 1000,
                   [this] { auth_->give_up(); });
}

}  // namespace tern::daemon
