// RelayService: relay::Relay wired into ternd (see daemon/relay_service.h and relay/relay.h).
#include "daemon/relay_service.h"

#include <csignal>
#include <ctime>

#include "auth/auth.h"
#include "authn/srs.h"
#include "common/log.h"
#include "common/strings.h"
#include "daemon/metrics.h"
#include "dns/dns.h"
#include "relay/relay.h"
#include "store/store.h"

namespace tern::daemon {

class RelayService {
 public:
  std::shared_ptr<relay::QueueStore> queue;
  std::unique_ptr<dns::CaresResolver> resolver;
  std::unique_ptr<relay::Relay> relay;
  std::unique_ptr<net::SignalWatcher> sigusr1;

  ~RelayService() {
    if (relay) relay->stop();
    relay.reset();
    sigusr1.reset();
  }
};

Result<std::shared_ptr<RelayService>> start_relay_service(Runtime& rt) {
  const Config& c = rt.config;
  auto svc = std::make_shared<RelayService>();
  auto q = relay::QueueStore::open(c.data_dir);
  if (!q) return make_error(q.error().code, c.path + ": data_dir: " + q.error().message);
  svc->queue = std::shared_ptr<relay::QueueStore>(std::move(*q));
  // MX lookups go through ternd's DNS layer ([dns] servers) unless relay.dns overrides it.
  if (!c.relay.dns.empty() || !rt.dns) {
    dns::CaresOptions dns_opt;
    dns_opt.servers = c.relay.dns.empty() ? c.dns.servers : c.relay.dns;
    auto res = dns::CaresResolver::create(rt.loop.raw(), dns_opt);
    if (!res) return make_error(res.error().code, c.path + ": relay.dns: " + res.error().message);
    svc->resolver = std::move(*res);
  }
  // Opportunistic STARTTLS: no certificate verification (RFC 7435); require_tls_domains only
  // insist on encryption.
  auto tls = net::TlsContext::client(net::ClientTlsOptions{});
  if (!tls) return make_error(tls.error().code, "relay: client TLS: " + tls.error().message);

  relay::RelayOptions opt;
  opt.config = c.relay;
  opt.hostname = c.hostname;
  opt.data_dir = c.data_dir;
  relay::RelayDeps deps;
  deps.loop = &rt.loop;
  deps.workers = &rt.workers;
  deps.resolver = svc->resolver ? static_cast<dns::Resolver*>(svc->resolver.get()) : rt.dns;
  // The smarthost gets our credentials: its certificate is verified (smarthost_verify).
  std::shared_ptr<net::TlsContext> verifying;
  if (c.relay.smarthost.verify && !c.relay.smarthost.address.host.empty()) {
    auto v = net::TlsContext::client(net::ClientTlsOptions{true, c.relay.smarthost.ca_file});
    if (!v) return make_error(v.error().code, c.path + ": relay.smarthost_ca_file: " + v.error().message);
    verifying = std::move(*v);
  }
  deps.transport = relay::make_net_transport(rt.loop, *tls, verifying);
  deps.queue = svc->queue;
  auth::AccountDb* accounts = rt.accounts;
  store::Store* store = rt.store;
  // A bounce is delivered like any mail to its address: every target of an alias
  // (de-duplicated by resolve_recipient), quota applied.
  deps.resolve_local = [accounts, srs = rt.srs, srs_domain = c.srs.domain](
                           std::string_view address) -> relay::LocalAddress {
    relay::LocalAddress out;
    if (!accounts) return out;
    // A DSN about a forward we SRS-rewrote is addressed to the SRS sender: it goes straight
    // to the original sender (as a bounce arriving on the MX would), not out and back in.
    if (auto to = parse_mail_address(address);
        srs && to && authn::Srs::looks_like_srs(to->local)) {
      auto ours = accounts->is_local_domain(to->domain);
      if ((ours && *ours) || to->domain == srs_domain) {
        auto back = srs->reverse(to->local, static_cast<int64_t>(std::time(nullptr)));
        if (back.verdict == authn::Srs::Verdict::ok) {
          out.kind = relay::LocalAddress::Kind::local;
          out.forwards.push_back(std::move(back.address));
          return out;
        }
      }
    }
    auto r = accounts->resolve_recipient(address);
    if (!r) {
      // A database error must not send our own users' mail to the MX: keep it local (the
      // delivery then fails temporarily and is retried).
      spdlog::warn("relay resolve failed address={} error={}", address, r.error().message);
      out.kind = relay::LocalAddress::Kind::local;
      out.users.emplace_back(address);
      return out;
    }
    switch (r->kind) {
      case auth::Recipient::Kind::not_local_domain: out.kind = relay::LocalAddress::Kind::not_local; break;
      case auth::Recipient::Kind::unknown_user: out.kind = relay::LocalAddress::Kind::unknown_user; break;
      case auth::Recipient::Kind::local: out.kind = relay::LocalAddress::Kind::local; break;
    }
    out.users = std::move(r->local_users);
    out.forwards = std::move(r->forwards);
    return out;
  };
  deps.deliver_local = [store, accounts](const std::string& user, std::string_view message) -> Status {
    if (!store || !accounts) return make_error(Errc::internal, "no store");
    auto quota = accounts->quota_of(user);
    if (!quota) return quota.error();  // not_found: the user is gone
    store::DeliveryRequest req;
    req.targets.push_back(store::DeliveryTarget{user, "INBOX", *quota});
    req.message = message;
    auto out = store->deliver(req);
    if (!out) return out.error();
    if (out->empty()) return make_error(Errc::internal, "store: no outcome");
    return out->front().status;
  };
  svc->relay = std::make_unique<relay::Relay>(std::move(opt), std::move(deps));
  relay::Relay* engine = svc->relay.get();
  rt.enqueue_remote = [engine](const relay::Envelope& e, std::string_view message) -> Result<std::string> {
    if (e.recipients.empty()) return std::string();
    return engine->enqueue(e, message);
  };
  // `ternctl queue flush|bounce` signals us to look at queue.db now.
  svc->sigusr1 = std::make_unique<net::SignalWatcher>(rt.loop, SIGUSR1, [engine] {
    spdlog::info("relay rescan requested by SIGUSR1");
    engine->rescan();
  });
  // /metrics: the engine's outcome counters (loop thread) and the queue's size (queue.db).
  if (rt.metrics)
    rt.metrics->loop_sources.push_back([weak = std::weak_ptr<RelayService>(svc)](Metrics::LoopSnapshot& s) {
      auto self = weak.lock();
      if (!self || !self->relay) return;
      relay::RelayCounters c = self->relay->counters();
      s.relay_delivered = c.delivered;
      s.relay_deferred = c.deferred;
      s.relay_failed = c.failed;
    });
  rt.queue_gauge = [queue = svc->queue]() -> Result<std::pair<uint64_t, int64_t>> {
    auto all = queue->list();
    if (!all) return all.error();
    int64_t oldest = 0;
    for (const auto& m : *all)
      if (oldest == 0 || m.arrival < oldest) oldest = m.arrival;
    return std::pair<uint64_t, int64_t>{all->size(), oldest};
  };
  std::weak_ptr<RelayService> weak = svc;
  rt.on_shutdown.push_back([weak] {
    if (auto s = weak.lock()) s->relay->stop();
  });
  engine->start();
  spdlog::info("relay started smtp_port={} smarthost={}", c.relay.smtp_port,
               c.relay.smarthost.address.host.empty() ? "-" : c.relay.smarthost.address.str());
  return svc;
}

}  // namespace tern::daemon
