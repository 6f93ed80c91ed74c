// DMARC aggregate reports in ternd (see daemon/dmarc_reports.h).
#include "daemon/dmarc_reports.h"

#include <algorithm>
#include <csignal>
#include <ctime>

#include "common/log.h"
#include "common/strings.h"
#include "daemon/inbound_checks.h"
#include "dns/records.h"
#include "relay/relay.h"
#include "smtpd/types.h"

namespace tern::daemon {

namespace {

constexpr uint64_t kFlushMs = 1000;          // how long rows wait in memory
constexpr size_t kMaxBatch = 10000;          // distinct rows in memory before an early flush
constexpr uint64_t kCheckEveryMs = 60 * 1000;

int64_t now_seconds() { return static_cast<int64_t>(std::time(nullptr)); }

bool has_dkim_key(const std::string& data_dir, const std::string& domain) {
  return !relay::dkim_key_files(data_dir + "/dkim", domain).empty();
}

// One policy domain's report and where it may go.
struct Target {
  reports::DomainReport report;
  std::vector<reports::Destination> destinations;
  std::vector<bool> authorised;
  bool temperror = false;  // a §7.1 lookup failed: keep the rows for the next run
};

}  // namespace

struct DmarcReporter::Private {
  struct Plan {
    int64_t now = 0, today = 0;
    int64_t cutoff = 0;  // the rows of days before this one
    bool requested = false, daily = false;
    std::vector<Target> targets;
    size_t lookups = 0;  // §7.1 answers still missing
  };

  // Worker: records the batch, decides whether anything is due, reads the rows.
  static std::shared_ptr<Plan> plan(reports::ReportStore& store,
                                    std::vector<reports::Aggregator::Entry> batch, int send_hour) {
    auto p = std::make_shared<Plan>();
    p->now = now_seconds();
    p->today = p->now / reports::kDay;
    if (!batch.empty())
      if (auto st = store.add(batch, p->today); !st)
        spdlog::error("dmarc-report: {}", st.error().message);
    auto requested = store.meta(reports::kSendRequested);
    auto last = store.meta(reports::kLastSendDay);
    if (!requested || !last) {
      spdlog::error("dmarc-report: {}", (!requested ? requested.error() : last.error()).message);
      return p;
    }
    p->requested = *requested != 0;
    p->cutoff = reports::report_cutoff(p->now, send_hour, *last, p->requested);
    if (p->cutoff == 0) return p;
    p->daily = !p->requested;
    if (p->requested) (void)store.set_meta(reports::kSendRequested, 0);
    auto pending = store.pending(p->cutoff);
    if (!pending) {
      spdlog::error("dmarc-report: {}", pending.error().message);
      p->requested = p->daily = false;
      return p;
    }
    for (auto& r : *pending) p->targets.push_back(Target{std::move(r), {}, {}, false});
    return p;
  }

  // Worker: builds, queues, deletes.
  static void send(DmarcReporter& self, Plan& p) {
    const Config& c = self.rt_.config;
    for (Target& t : p.targets) {
      const auto& rep = t.report;
      const std::string& domain = rep.policy.domain;
      if (t.temperror) {
        spdlog::warn("dmarc-report deferred domain={} reason=\"DNS temperror in the RFC 7489 7.1 check\"", domain);
        continue;
      }
      bool keep = false;
      if (t.destinations.empty())
        spdlog::info("dmarc-report dropped domain={} reason=\"no usable mailto: rua\"", domain);
      auto counter = self.store_->next(reports::kReportCounter);
      reports::ReportMeta meta;
      meta.org_name = c.dmarc_reports.org_name.empty() ? self.receiver_ : c.dmarc_reports.org_name;
      meta.email = self.from_;
      meta.report_id = std::to_string(rep.first_day * reports::kDay) + "." +
                       std::to_string(counter ? *counter : p.now) + "@" + self.receiver_;
      meta.begin = rep.first_day * reports::kDay;
      meta.end = (rep.last_day + 1) * reports::kDay - 1;
      if (p.requested) meta.end = std::min(meta.end, p.now);
      auto gz = reports::gzip(reports::feedback_xml(meta, rep.policy, rep.rows));
      for (size_t i = 0; gz && i < t.destinations.size(); ++i) {
        const auto& d = t.destinations[i];
        if (!t.authorised[i]) {
          spdlog::info("dmarc-report skipped domain={} to={} reason=\"{} has no v=DMARC1 record "
                       "(RFC 7489 7.1)\"", domain, d.address, d.verify_name);
          continue;
        }
        reports::ReportMessage m;
        m.from = self.from_;
        m.to = d.address;
        m.receiver = self.receiver_;
        m.policy_domain = domain;
        m.meta = meta;
        m.gzipped = *gz;
        m.now = p.now;
        m.boundary = "=_dmarc_" + random_id(24);
        m.message_id = "<" + random_id(20) + "@" + c.hostname + ">";
        std::string message = reports::compose_report(m);
        // RFC 7489 §7.2.1: a report over the URI's size limit is not sent there.
        if (d.max_size && message.size() > d.max_size) {
          spdlog::info("dmarc-report skipped domain={} to={} reason=\"{} bytes over the !size limit of {}\"",
                       domain, d.address, message.size(), d.max_size);
          continue;
        }
        relay::Envelope env;
        env.sender = self.from_;
        env.recipients.push_back({d.address, "", ""});
        auto id = self.rt_.enqueue_remote ? self.rt_.enqueue_remote(env, message)
                                          : Result<std::string>(make_error(Errc::internal, "no relay"));
        if (!id) {
          keep = true;  // queued nowhere: the next run tries again
          spdlog::error("dmarc-report failed domain={} to={} error={}", domain, d.address, id.error().message);
          continue;
        }
        spdlog::info("dmarc-report queued domain={} to={} report_id={} rows={} messages={} size={} id={}",
                     domain, d.address, meta.report_id, rep.rows.size(), rep.messages(),
                     message.size(), *id);
      }
      if (!gz) {
        keep = true;
        spdlog::error("dmarc-report: {}", gz.error().message);
      }
      if (!keep)
        if (auto st = self.store_->remove(domain, p.cutoff); !st)
          spdlog::error("dmarc-report: {}", st.error().message);
    }
    if (p.daily)
      if (auto st = self.store_->set_meta(reports::kLastSendDay, p.today); !st)
        spdlog::error("dmarc-report: {}", st.error().message);
  }
};

std::string default_report_from(const std::string& hostname, const authn::PublicSuffixList& psl) {
  std::string org = psl.organizational_domain(ascii_lower(hostname));
  return "noreply-dmarc@" + (org.empty() ? ascii_lower(hostname) : org);
}

Result<std::shared_ptr<DmarcReporter>> DmarcReporter::start(Runtime& rt) {
  const Config& c = rt.config;
  const auto& cfg = c.dmarc_reports;
  if (cfg.enabled == "false") return std::shared_ptr<DmarcReporter>();
  if (!rt.inbound_checks || rt.inbound_checks->policy().dmarc == CheckMode::off) {
    spdlog::info("dmarc reports off: inbound_auth.dmarc is off");
    return std::shared_ptr<DmarcReporter>();
  }
  std::string from = cfg.from.empty() ? default_report_from(c.hostname, rt.inbound_checks->psl()) : cfg.from;
  std::string domain = from.substr(from.rfind('@') + 1);
  // The issue's default: on when our reports can be DKIM-signed (a receiver ignores unsigned
  // reports from a domain it cannot authenticate).
  if (cfg.enabled == "auto" && !has_dkim_key(c.data_dir, domain)) {
    spdlog::info("dmarc reports off: no DKIM key for {} (dmarc_reports.enabled = \"auto\")", domain);
    return std::shared_ptr<DmarcReporter>();
  }
  auto store = reports::ReportStore::open(c.data_dir + "/dmarc_reports.db", cfg.max_rows_per_domain);
  if (!store) return make_error(store.error().code, c.path + ": dmarc_reports: " + store.error().message);
  std::shared_ptr<DmarcReporter> r(new DmarcReporter(rt, std::move(*store), std::move(from)));
  r->check_timer_->start(5000, [raw = r.get()] { raw->check(); }, kCheckEveryMs);
  // `ternctl dmarc report --send-now` sets the request in the db, then signals (the relay
  // watches SIGUSR1 too: libuv tells every watcher).
  r->sigusr1_ = std::make_unique<net::SignalWatcher>(rt.loop, SIGUSR1, [raw = r.get()] { raw->check(); });
  std::weak_ptr<DmarcReporter> weak = r;
  rt.on_shutdown.push_back([weak] {
    if (auto s = weak.lock()) {
      s->check_timer_->stop();
      s->flush();  // the workers finish queued work before they stop
    }
  });
  rt.dmarc_reports = r;
  spdlog::info("dmarc reports on from={} send_hour_utc={}", r->from_, cfg.send_hour_utc);
  return r;
}

DmarcReporter::DmarcReporter(Runtime& rt, std::unique_ptr<reports::ReportStore> store, std::string from)
    : rt_(rt), store_(std::move(store)), from_(std::move(from)),
      flush_timer_(std::make_unique<net::Timer>(rt.loop)),
      check_timer_(std::make_unique<net::Timer>(rt.loop)) {
  receiver_ = from_.substr(from_.rfind('@') + 1);
}

DmarcReporter::~DmarcReporter() = default;

void DmarcReporter::record(const authn::AuthVerdicts& v, const smtpd::Envelope& e) {
  if (!v.dmarc || !rt_.inbound_checks) return;
  const auto& policy = rt_.inbound_checks->policy();
  reports::MessageFacts f;
  f.client_ip = e.client_ip;
  f.mail_from = e.sender;
  f.rcpt = e.recipients.empty() ? std::string() : e.recipients.front().address;
  f.enforced = policy.dmarc == CheckMode::enforce;
  f.allow_listed = policy.allowed(e.client_ip, e.sender, v.dmarc->from_domain);
  auto o = reports::observe(v, f);
  if (!o) return;
  batch_.add(*o);
  if (batch_.size() >= kMaxBatch) return flush();
  if (!flush_timer_->active()) flush_timer_->start(kFlushMs, [this] { flush(); });
}

void DmarcReporter::flush() {
  flush_timer_->stop();
  if (batch_.empty()) return;
  auto batch = std::make_shared<std::vector<reports::Aggregator::Entry>>(batch_.take());
  const int64_t day = now_seconds() / reports::kDay;
  auto dropped = std::make_shared<std::vector<std::string>>();
  std::weak_ptr<DmarcReporter> weak = weak_from_this();
  rt_.workers.submit(
      [store = store_, batch, day, dropped] {
        auto r = store->add(*batch, day);
        if (!r) spdlog::error("dmarc-report: {} ({} rows lost)", r.error().message, batch->size());
        else *dropped = std::move(*r);
      },
      [weak, dropped, day] {
        auto self = weak.lock();
        if (!self) return;
        // Logged once per domain and day: a flood must not flood the log as well.
        for (const auto& d : *dropped)
          if (self->capped_.emplace(d, day).second)
            spdlog::warn("dmarc-report rows dropped domain={} reason=\"dmarc_reports.max_rows_per_domain "
                         "({}) reached today\"", d, self->rt_.config.dmarc_reports.max_rows_per_domain);
      });
}

void DmarcReporter::check() {
  if (running_) {
    again_ = true;
    return;
  }
  running_ = true;
  flush_timer_->stop();
  auto batch = batch_.take();
  std::weak_ptr<DmarcReporter> weak = weak_from_this();
  auto plan = std::make_shared<std::shared_ptr<Private::Plan>>();
  auto done = [weak] {
    auto self = weak.lock();
    if (!self) return;
    self->running_ = false;
    if (std::exchange(self->again_, false)) self->check();
  };
  bool submitted = rt_.workers.submit(
      [store = store_, batch = std::move(batch), plan, hour = rt_.config.dmarc_reports.send_hour_utc]() mutable {
        *plan = Private::plan(*store, std::move(batch), hour);
      },
      [weak, plan, done] {
        auto self = weak.lock();
        if (!self) return;
        auto p = *plan;
        if (!p || p->targets.empty()) {
          if (p && p->daily) {
            // Nothing to report: the day still counts as done.
            auto store = self->store_;
            self->rt_.workers.submit([store, today = p->today] { (void)store->set_meta(reports::kLastSendDay, today); },
                                     done);
            return;
          }
          return done();
        }
        // §7.1 on the loop (ternd's DNS cache), then the sending on a worker.
        auto send = [weak, p, done] {
          auto self = weak.lock();
          if (!self) return;
          if (!self->rt_.workers.submit([self, p] { Private::send(*self, *p); }, done)) done();
        };
        for (Target& t : p->targets) {
          t.destinations = reports::destinations(t.report.policy, self->rt_.inbound_checks->psl());
          t.authorised.assign(t.destinations.size(), true);
          for (const auto& d : t.destinations) p->lookups += d.verify_name.empty() ? 0 : 1;
        }
        if (p->lookups == 0 || !self->rt_.dns_records) return send();
        for (Target& t : p->targets) {
          for (size_t i = 0; i < t.destinations.size(); ++i) {
            if (t.destinations[i].verify_name.empty()) continue;
            Target* tp = &t;
            self->rt_.dns_records->lookup(
                dns::Question{t.destinations[i].verify_name, dns::RrType::txt},
                [p, tp, i, send](dns::Answer a) {
                  // RFC 7489 §7.1: no record (NXDOMAIN/NODATA) or none with v=DMARC1: not
                  // authorised; a failed lookup: try again next time.
                  tp->authorised[i] = a.rcode == dns::Rcode::ok && reports::authorises(a.records);
                  if (a.rcode == dns::Rcode::temperror) tp->temperror = true;
                  if (--p->lookups == 0) send();
                });
          }
        }
      });
  if (!submitted) running_ = false;
}

}  // namespace tern::daemon
