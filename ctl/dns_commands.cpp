// ternctl dns DOMAIN / ternctl check DOMAIN: the DNS records a local domain needs, and what
// the world sees of them (publish/publish.h does the work; this file gathers the facts).
#include <uv.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <optional>

#include "authn/ip.h"
#include "common/file.h"
#include "common/strings.h"
#include "ctl/commands.h"
#include "ctl/policy_fetch.h"
#include "dns/dns.h"
#include "publish/publish.h"
#include "relay/dkim.h"
#include "relay/outbound.h"

namespace tern::ctl {

namespace {

struct Args {
  std::string domain;
  std::vector<std::string> addresses;
  std::string ca_file;        // check: verifies the MTA-STS policy host (empty: system CAs)
  uint16_t https_port = 443;  // check: where mta-sts.<domain> answers HTTPS
};

// What the server knows about itself: host name, the addresses given, its DKIM keys for the
// domain (data_dir/dkim/<domain>/<selector>.<alg>.pem) and the client services it listens on.
Result<publish::ServerFacts> facts_for(Context& c, const Args& a) {
  auto cfg = c.config();
  if (!cfg) return cfg.error();
  auto db = c.accounts();
  if (!db) return db.error();
  publish::ServerFacts f;
  f.domain = ascii_lower(a.domain);
  auto local = (*db)->is_local_domain(f.domain);
  if (!local) return local.error();
  if (!*local) return make_error(Errc::not_found, f.domain + " is not a local domain (ternctl domain add " + f.domain + ")");
  f.hostname = ascii_lower((*cfg)->hostname);
  f.web = !(*cfg)->listen.http.empty() || !(*cfg)->listen.https.empty();
  f.mta_sts = (*cfg)->mta_sts;
  for (const auto& ip : a.addresses) {
    if (!authn::IpAddress::parse(ip)) return make_error(Errc::syntax, "--ip: not an IP address: " + ip);
    f.addresses.push_back(ip);
  }
  for (const auto& file : relay::dkim_key_files((*cfg)->data_dir + "/dkim", f.domain)) {
    auto pem = read_file(file.path);
    if (!pem) return pem.error();
    auto key = relay::DkimKey::from_pem(*pem);
    if (!key) return make_error(key.error().code, file.path + ": " + key.error().message);
    f.dkim.push_back({file.selector, relay::dkim_dns_txt_record(*key)});
  }
  f.services = publish::client_services((*cfg)->listen);
  f.now = static_cast<int64_t>(std::time(nullptr));
  return f;
}

// c-ares on a private loop, answering each lookup before lookup() returns (what
// publish::check_domain asks for). The cache joins the repeated questions of SPF and iprev.
class BlockingResolver final : public dns::RecordResolver {
 public:
  static Result<std::unique_ptr<BlockingResolver>> create(const std::vector<Endpoint>& servers) {
    std::unique_ptr<BlockingResolver> r(new BlockingResolver());
    dns::CaresOptions opt;
    opt.servers = servers;
    opt.timeout_ms = 3000;
    opt.tries = 2;
    auto cares = dns::CaresResolver::create(&r->loop_, opt);
    if (!cares) return cares.error();
    r->cares_ = std::move(*cares);
    dns::CacheOptions cache;
    uv_loop_t* loop = &r->loop_;
    cache.now_ms = [loop] { return uv_now(loop); };
    r->cache_ = std::make_unique<dns::CachingResolver>(*r->cares_, cache);
    return r;
  }

  ~BlockingResolver() override {
    cache_.reset();
    cares_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // lets the closed handles go
    uv_loop_close(&loop_);
  }

  void lookup(const dns::Question& q, dns::AnswerCallback cb) override {
    auto got = std::make_shared<std::optional<dns::Answer>>();
    cache_->lookup(q, [got](dns::Answer a) { *got = std::move(a); });
    while (!*got && uv_run(&loop_, UV_RUN_ONCE) != 0) {
    }
    if (!*got) {
      dns::Answer a;
      a.detail = "the resolver gave no answer";
      return cb(std::move(a));
    }
    cb(std::move(**got));
  }

 private:
  BlockingResolver() { uv_loop_init(&loop_); }
  uv_loop_t loop_{};
  std::unique_ptr<dns::CaresResolver> cares_;
  std::unique_ptr<dns::CachingResolver> cache_;
};

}  // namespace

void register_dns_commands(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<Args>();
  CLI::App* dns = app.add_subcommand("dns", "print the DNS records a local domain needs, as zone-file lines");
  dns->add_option("DOMAIN", a->domain, "a local domain")->required();
  dns->add_option("--ip", a->addresses, "this server's public address (IPv4 or IPv6; repeatable)");
  dns->callback([&ctx, a] {
    ctx.action = [a](Context& c) {
      auto f = facts_for(c, *a);
      if (!f) return fail(f.error());
      std::cout << "; DNS records for " << f->domain << " served by " << f->hostname << "\n";
      if (f->addresses.empty())
        std::cout << "; (give --ip ADDRESS for this server's A/AAAA, PTR and an exact SPF record)\n";
      for (const auto& r : publish::records_for(*f))
        std::cout << "; " << r.purpose << "\n" << publish::zone_line(r) << "\n";
      if (!f->web)
        std::cout << "; (no MTA-STS or autoconfig names: listen.http/listen.https are not configured)\n";
      return kExitOk;
    };
  });

  auto b = std::make_shared<Args>();
  CLI::App* check = app.add_subcommand("check", "look up a local domain's DNS records and say what is missing or wrong");
  check->add_option("DOMAIN", b->domain, "a local domain")->required();
  check->add_option("--ip", b->addresses, "this server's public address (default: its host name's A/AAAA)");
  check->add_option("--cafile", b->ca_file, "CA bundle that verifies the MTA-STS policy host (default: the system's)");
  check->add_option("--https-port", b->https_port, "port of mta-sts.DOMAIN's HTTPS (default 443, what senders use)")
      ->check(CLI::Range(1, 65535));
  check->callback([&ctx, b] {
    ctx.action = [b](Context& c) {
      auto f = facts_for(c, *b);
      if (!f) return fail(f.error());
      auto cfg = c.config();
      auto resolver = BlockingResolver::create((*cfg)->dns.servers);
      if (!resolver) return fail(resolver.error());
      CurlPolicyFetcher fetcher(b->ca_file, b->https_port);
      auto findings = publish::check_domain(*f, (*cfg)->screen.dnsbl, **resolver, &fetcher);
      int failures = 0;
      for (const auto& x : findings) {
        std::cout << publish::to_string(x.severity) << "\t" << x.text << "\n";
        failures += x.severity == publish::Severity::fail;
      }
      std::cout << (failures ? std::to_string(failures) + " problem(s) found\n" : std::string("no problems found\n"));
      return failures ? kExitFailed : kExitOk;
    };
  });
}

}  // namespace tern::ctl
