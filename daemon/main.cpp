// ternd: loads the configuration, binds every listener, drops privileges and runs the loop.
// Start-up errors are one line on stderr naming the file and key, and exit status 1.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <malloc.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <vector>

#include "acme/acme.h"
#include "auth/auth.h"
#include "common/acme_challenges.h"
#include "common/common.h"
#include "common/privileges.h"
#include "authn/srs.h"
#include "daemon/acme_service.h"
#include "daemon/content_stage.h"
#include "daemon/dmarc_reports.h"
#include "daemon/inbound_checks.h"
#include "daemon/metrics.h"
#include "daemon/screen_glue.h"
#include "daemon/relay_service.h"
#include "daemon/service_manager.h"
#include "daemon/services.h"
#include "daemon/user_ip_limiter.h"
#include "mime/mime.h"
#include "net/net.h"
#include "pop3d/uidl_format.h"
#include "bayes/bayes.h"
#include "store/store.h"

namespace tern::daemon {
namespace {

struct StartupError {
  std::string message;
};

std::string errno_text(int e) { return std::strerror(e); }

// tls.cert/tls.key: valid when set; required by implicit-TLS listeners unless [acme] provides
// the certificate. Without any, STARTTLS is simply not offered (and logins on plain ports need
// allow_plaintext_without_tls). `acme`: the ACME pair (daemon/acme_service.h), the default
// certificate once it exists.
Result<std::shared_ptr<net::TlsContext>> load_tls(const Config& c,
                                                  const std::optional<acme::CertificatePaths>& acme) {
  const std::string& file = c.path;
  const ListenerSpec* needs = nullptr;
  bool any_listener = false;
  for (const auto& s : listener_specs()) {
    if ((c.listen.*s.endpoints).empty()) continue;
    any_listener = true;
    if (s.implicit_tls && !needs) needs = &s;
  }
  // ternd --check writes nothing: before the first start the ACME pair may not exist yet.
  bool acme_ready = acme && std::filesystem::exists(acme->cert) && std::filesystem::exists(acme->key);
  if (c.tls.cert.empty() && c.tls.key.empty() && !acme_ready) {
    if (needs && !acme)
      return make_error(Errc::syntax, file + ": tls.cert: required by listen." + needs->name);
    if (any_listener && !acme)
      spdlog::warn("no tls.cert/tls.key configured: STARTTLS will not be offered");
    return std::shared_ptr<net::TlsContext>();
  }
  if (c.tls.cert.empty() && !c.tls.key.empty()) return make_error(Errc::syntax, file + ": tls.cert: required when tls.key is set");
  if (c.tls.key.empty() && !c.tls.cert.empty()) return make_error(Errc::syntax, file + ": tls.key: required when tls.cert is set");
  // The ACME pair, once there, is the default (RFC 6066 §3: also for clients without SNI);
  // tls.cert and the [[tls.sni]] ones answer the names it does not cover.
  std::vector<net::CertificateFiles> certs;
  std::vector<std::string> keys;  // the config key naming each pair, for messages
  if (acme_ready) {
    certs.push_back({acme->cert, acme->key});
    keys.push_back("acme: ");
  }
  if (!c.tls.cert.empty()) {
    certs.push_back({c.tls.cert, c.tls.key});
    keys.push_back("tls.");
  }
  for (size_t i = 0; i < c.tls.sni.size(); ++i) {
    certs.push_back({c.tls.sni[i].cert, c.tls.sni[i].key});
    keys.push_back("tls.sni[" + std::to_string(i) + "].");
  }
  auto ctx = net::TlsContext::server(std::move(certs));
  // The net layer names the pair as "cert: ..." / "key: ..." (the first) or "sni[N].cert: ..."
  // (the N+1-th): say which configuration key that is.
  if (!ctx) {
    std::string m = ctx.error().message;
    size_t index = 0;
    if (m.rfind("sni[", 0) == 0) {
      size_t close = m.find("].");
      index = std::stoul(m.substr(4, close - 4)) + 1;
      m = m.substr(close + 2);
    }
    return make_error(ctx.error().code, file + ": " + keys.at(index) + m);
  }
  return *ctx;
}

// One ternd per data_dir: an exclusive flock held for the life of the process. The fd is
// intentionally never closed (the kernel drops the lock when we exit, even on a crash).
Result<int> lock_data_dir(const std::string& data_dir) {
  std::string path = data_dir + "/ternd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return make_error(Errc::internal, "cannot open " + path + ": " + errno_text(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char buf[32] = {0};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (e == EWOULDBLOCK) {
      std::string pid = n > 0 ? std::string(trim(std::string_view(buf, static_cast<size_t>(n)))) : "?";
      return make_error(Errc::temporary,
                        "data_dir " + data_dir + " is in use by another ternd (pid " + pid + ")");
    }
    return make_error(Errc::internal, "cannot lock " + path + ": " + errno_text(e));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0)
    spdlog::warn("cannot write pid to {}: {}", path, errno_text(errno));
  return fd;
}

Status drop_privileges(const Config& c) {
  auto user = lookup_service_user(c.user);
  if (!user) return make_error(Errc::not_found, c.path + ": " + user.error().message);
  if (!*user) {
    if (::geteuid() == 0) spdlog::warn("running as root: set `user` to drop privileges");
    return {};
  }
  const ServiceUser& u = **user;
  if (::geteuid() != 0) {
    if (u.uid != ::geteuid())
      spdlog::warn("not started as root: cannot switch to user {} (running as uid {})", c.user,
                   ::geteuid());
    return {};
  }
  // Whatever root created in data_dir (ternctl before the first start, a restored backup, an
  // older version) must be writable by the service user, or it cannot open accounts.db.
  auto changed = chown_tree(c.data_dir, u);
  if (!changed) return make_error(Errc::internal, c.path + ": data_dir: " + changed.error().message);
  if (*changed) spdlog::info("data_dir: {} entries given to user {}", *changed, c.user);
  if (Status s = become_user(u); !s) return s.error();
  spdlog::info("running as user={} uid={} gid={}", c.user, u.uid, u.gid);
  // The certificate was read as root; a SIGHUP reload reads it as the service user.
  std::vector<std::string> files{c.tls.cert, c.tls.key};
  for (const auto& extra : c.tls.sni) files.insert(files.end(), {extra.cert, extra.key});
  for (const std::string& f : files)
    if (!f.empty() && ::access(f.c_str(), R_OK) != 0)
      spdlog::warn("{} is not readable by user {}: a SIGHUP certificate reload will fail", f,
                   c.user);
  return {};
}

uint64_t idle_timeout_ms(const Config& c, Protocol p) {
  switch (p) {
    case Protocol::smtp: return static_cast<uint64_t>(c.smtp.command_timeout) * 1000;
    case Protocol::imap: return static_cast<uint64_t>(c.imap.idle_timeout) * 1000;
    case Protocol::pop3: return static_cast<uint64_t>(c.pop3.idle_timeout) * 1000;
    case Protocol::http: return 60'000;  // a browser or mail client's idle keep-alive
  }
  return 300'000;
}

// Services move whole messages (up to megabytes) through strings built on any of the worker
// threads. With glibc's defaults every worker thread gets its own arena and the mmap threshold
// climbs after the first big free, so freed message buffers stay in the arenas: an idle ternd
// kept ~38 MB after an IMAP FETCH burst. Fixed thresholds bound what the two arenas keep:
// buffers of 1 MiB and up are mmapped and go straight back to the OS, and an arena whose free
// top passes 512 KiB gives it back. Below that, message buffers are reused from the arenas: a
// 64 KiB threshold (as before) meant an mmap + munmap per message-sized buffer, and each
// munmap of a multi-threaded process is a TLB shootdown on every core (a third of ternd's CPU
// in 500 full-body IMAP FETCHes). The trim threshold stays small because what an arena keeps
// is counted against idle connections (2 MiB cost ~4 KiB each over 1,000). Services also call
// malloc_trim after large responses.
void tune_allocator() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 512 * 1024);
  mallopt(M_ARENA_MAX, 2);
#endif
}

int run(const std::vector<std::string>& config_paths, bool check_only) {
  tune_allocator();
  auto loaded = load_config(config_paths);
  if (!loaded) {
    std::cerr << loaded.error().message << "\n";
    return 1;
  }
  const Config& config = *loaded;
  init_logging(config.log_level);

  if (auto uidl = pop3d::UidlFormat::parse(config.pop3.uidl_format); !uidl) {
    std::cerr << config.path << ": pop3.uidl_format: " << uidl.error().message << "\n";
    return 1;
  }
  // Mail is private: nothing we create is readable by "other".
  ::umask(027);
  auto acme_pair = prepare_acme(config, check_only);
  if (!acme_pair) {
    std::cerr << acme_pair.error().message << "\n";
    return 1;
  }
  auto tls = load_tls(config, *acme_pair);
  if (!tls) {
    std::cerr << tls.error().message << "\n";
    return 1;
  }
  if (check_only) {
    // `ternd --check`: the configuration parses and the certificate and key load (ExecStartPre,
    // or before a SIGHUP); nothing is bound or opened.
    std::cout << "ternd: " << config.path << ": configuration OK\n";
    return 0;
  }

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    std::cerr << config.path << ": data_dir: cannot create " << config.data_dir << ": "
              << ec.message() << "\n";
    return 1;
  }
  auto lock = lock_data_dir(config.data_dir);
  if (!lock) {
    std::cerr << lock.error().message << "\n";
    return 1;
  }

  net::Loop loop;
  net::WorkerPool workers(loop, config.limits.worker_threads);
  net::ServerLimits limits;
  limits.max_connections = config.limits.max_connections;
  net::Server server(loop, limits);
  Runtime rt{.config = config, .loop = loop, .workers = workers, .tls = *tls};
  rt.user_ips = UserIpLimiter::create(config.limits.max_user_ip_connections);
  // /metrics counters, and the ACME challenges the HTTP listener answers (HTTP-01).
  Metrics metrics;
  metrics.loop_sources.push_back(
      [&server](Metrics::LoopSnapshot& s) { s.open_connections = server.connection_count(); });
  rt.metrics = &metrics;
  // Written by the ACME thread, read by the TLS layer (TLS-ALPN-01) and the HTTP listener.
  auto acme_challenges = std::make_shared<AcmeChallenges>();
  rt.acme_challenges = acme_challenges.get();
  // [dns] and [inbound_auth]: one resolver and cache for every lookup; the MX sender checks.
  auto inbound_checks = start_inbound_checks(rt);
  if (!inbound_checks) {
    std::cerr << inbound_checks.error().message << "\n";
    return 1;
  }
  auto content_stage = ContentStage::create(config);
  if (!content_stage) {
    std::cerr << content_stage.error().message << "\n";
    return 1;
  }
  rt.content_stage = *content_stage;
  // [screen]: blocklists, rate limits, greylisting on the MX listener (after the DNS layer).
  auto screening = start_screening(rt);
  if (!screening) {
    std::cerr << screening.error().message << "\n";
    return 1;
  }

  // Signals first: a SIGTERM that arrives while we bind is handled once the loop runs.
  bool stopping = false;
  auto begin_shutdown = [&](const char* why) {
    if (stopping) {
      spdlog::warn("{} again: closing every connection now", why);
      server.close_all();
      loop.stop();
      return;
    }
    stopping = true;
    notify_stopping();
    spdlog::info("shutdown requested by {}", why);
    for (auto& fn : rt.on_shutdown) fn();
    server.shutdown(std::chrono::seconds(config.limits.shutdown_grace), [&] { loop.stop(); });
  };
  net::SignalWatcher sigterm(loop, SIGTERM, [&] { begin_shutdown("SIGTERM"); });
  net::SignalWatcher sigint(loop, SIGINT, [&] { begin_shutdown("SIGINT"); });
  // Re-reads every certificate (tls.cert, [[tls.sni]], the ACME pair); new connections get
  // the new ones. Loop thread: SIGHUP, and the ACME thread after a new certificate.
  auto reload_certificates = [&](const char* why) {
    if (!rt.tls) {
      spdlog::info("{}: no certificate configured, nothing to reload", why);
      return false;
    }
    if (auto st = rt.tls->reload(); st) {
      spdlog::info("{}: certificate reloaded from {} (and {} offered by server name{})", why,
                   config.tls.cert.empty() ? "the ACME pair" : config.tls.cert,
                   config.tls.sni.size(), *acme_pair ? ", and the ACME pair" : "");
      return true;
    } else {
      spdlog::error("{}: certificate reload failed, keeping the old one: tls.{}", why,
                    st.error().message);
      return false;
    }
  };
  net::SignalWatcher sighup(loop, SIGHUP, [&] {
    notify_reloading();
    if (!rt.tls) {
      reload_certificates("SIGHUP");
      notify_reloaded("serving; nothing to reload");
    } else if (reload_certificates("SIGHUP")) {
      notify_reloaded("serving; certificate reloaded");
    } else {
      notify_reloaded("serving; certificate reload failed, old one kept");
    }
  });
  // [acme]: the challenge answers the ACME thread publishes; TLS-ALPN-01 (RFC 8737) is
  // answered by every TLS listener (only a ClientHello offering exactly acme-tls/1 sees it).
  if (*acme_pair && rt.tls) rt.tls->answer_acme_tls_alpn(acme_challenges);

  for (const auto& s : listener_specs()) {
    for (const Endpoint& ep : config.listen.*s.endpoints) {
      net::ListenerOptions lo;
      lo.name = s.name;
      lo.implicit_tls = s.implicit_tls;
      lo.tls = rt.tls;
      lo.idle_timeout_ms = idle_timeout_ms(config, s.protocol);
      lo.busy_reply = busy_reply(s.protocol);
      if (s.kind == ListenerKind::smtp) {
        // The MX listener: peers' MTAs, never logged in; counted on their own.
        lo.ip_pool = "mx";
        lo.max_per_ip = config.limits.smtp_max_connections_per_ip;
      } else if (s.protocol == Protocol::http) {
        // Autoconfig, MTA-STS, ACME, /metrics: never logged in; counted on their own.
        lo.ip_pool = "http";
        lo.max_per_ip = config.limits.max_unauthenticated_per_ip;
      } else {
        // IMAP, POP3 and submission: one count per address for clients that have not logged
        // in yet; each service releases the slot at login (daemon/user_ip_limiter.h).
        lo.ip_pool = "login";
        lo.max_per_ip = config.limits.max_unauthenticated_per_ip;
      }
      lo.factory = [inner = make_factory(rt, s.kind), &metrics, p = s.protocol] {
        metrics.connection_opened(p);
        return inner();
      };
      auto bound = server.listen(ep, std::move(lo));
      if (!bound) {
        std::cerr << config.path << ": listen." << s.name << ": " << bound.error().message << "\n";
        return 1;
      }
    }
  }
  if (auto st = drop_privileges(config); !st) {
    std::cerr << st.error().message << "\n";
    return 1;
  }

  // Opened after dropping privileges, so every file they create belongs to `user`. The store's
  // open() also reconciles each Maildir with the index (crash recovery) before we serve.
  auth::AccountDb::Options account_options;
  account_options.postmaster = config.postmaster;
  account_options.hostname = config.hostname;
  account_options.verified_cache_ttl = std::chrono::seconds(config.auth.credential_cache_ttl);
  if (config.postmaster.empty())
    spdlog::warn("postmaster is not set: mail to postmaster@<domain> is refused unless a user or "
                 "alias defines it (RFC 5321 4.5.1 requires it to be accepted)");
  auto accounts = auth::AccountDb::open(config.data_dir + "/accounts.db", account_options);
  if (!accounts) {
    std::cerr << config.path << ": data_dir: " << accounts.error().message << "\n";
    return 1;
  }
  auth::Authenticator authenticator(**accounts, config.auth);
  store::StoreOptions store_options;
  store_options.data_dir = config.data_dir;
  store_options.hostname = config.hostname;
  // Issue 20: mail stops short of a full disk (store/free_space.h); the queue counts too.
  store_options.min_free_bytes = config.store.min_free_space;
  store_options.reserve_file_bytes = config.store.reserve_file_size;
  store_options.space_paths.push_back(config.data_dir + "/queue");
  // Issue 18: SEARCH TEXT/BODY through the full-text index (store/fts_index.h).
  store_options.fts_text = mime::search_document;
  auto message_store = store::Store::open(store_options);
  if (!message_store) {
    std::cerr << config.path << ": data_dir: " << message_store.error().message << "\n";
    return 1;
  }
  // [srs]: the key lives in data_dir (made once, 0600) so bounces verify across restarts.
  if (config.srs.enabled) {
    auto key = authn::load_srs_key(config.data_dir + "/srs.key");
    if (!key) {
      std::cerr << config.path << ": srs: " << key.error().message << "\n";
      return 1;
    }
    rt.srs = std::make_shared<const authn::Srs>(std::move(*key), config.srs.max_age);
  }
  rt.accounts = accounts->get();
  rt.authenticator = &authenticator;
  rt.store = message_store->get();
  auto classifier = bayes::Classifier::open(config.data_dir + "/classifier.db");
  if (!classifier) {
    std::cerr << config.path << ": data_dir: " << classifier.error().message << "\n";
    return 1;
  }
  rt.classifier = classifier->get();
  // The relay service must outlive loop.run() and workers.shutdown(): its queue work runs on
  // the workers and its engine on the loop.
  auto relay_service = start_relay_service(rt);
  if (!relay_service) {
    std::cerr << relay_service.error().message << "\n";
    return 1;
  }

  // [dmarc_reports]: after the relay, which carries the reports.
  auto dmarc_reports = DmarcReporter::start(rt);
  if (!dmarc_reports) {
    std::cerr << dmarc_reports.error().message << "\n";
    return 1;
  }

  // [acme]: its own thread (acme/acme.h); a new certificate is reloaded on the loop at once.
  std::unique_ptr<acme::Manager> acme_manager;
  if (*acme_pair)
    acme_manager = start_acme(config, rt.accounts, acme_challenges, [&loop, &reload_certificates] {
      loop.post([&reload_certificates] { reload_certificates("acme"); });
    });

  spdlog::info("ternd ready pid={} hostname={} data_dir={}", ::getpid(), config.hostname,
               config.data_dir);
  // The listeners are bound and the store recovered; connections already waiting in the
  // backlog are served as soon as the loop runs.
  notify_ready("serving " + config.hostname);
  loop.run();
  acme_manager.reset();  // joins the ACME thread (an HTTP request in flight is aborted)
  // Transactions already handed to workers finish; their completions find no connection.
  workers.shutdown();
  server.close_all();
  // One more turn: close callbacks (handlers' on_close) and posted completions run while the
  // Runtime they may use still exists.
  loop.run_until([] { return false; }, std::chrono::milliseconds(20));
  spdlog::info("ternd stopped");
  return 0;
}

}  // namespace
}  // namespace tern::daemon

int main(int argc, char** argv) {
  CLI::App app{"ternd: the Tern mail server"};
  std::vector<std::string> config_paths;
  app.add_option("-c,--config", config_paths,
                 "configuration file (TOML); repeat to layer overrides (later files win)")
      ->required();
  bool check_only = false;
  app.add_flag("--check", check_only,
               "only check the configuration and the TLS files, then exit (0: usable)");
  CLI11_PARSE(app, argc, argv);
  return tern::daemon::run(config_paths, check_only);
}
