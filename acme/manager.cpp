// acme/manager: the ACME thread: decides when to order, runs one attempt, stores the result,
// and waits (interruptibly) until the next renewal or retry.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <algorithm>
#include <atomic>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <thread>

#include "acme/acme.h"
#include "acme/client.h"
#include "acme/storage.h"
#include "common/file.h"

namespace tern::acme {

struct Manager::State {
  Options options;
  CertificatePaths paths;
  NamesFn names;
  std::shared_ptr<AcmeChallenges> challenges;
  InstalledFn installed;

  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> stopping{false};
  std::thread thread;

  // Waits `d`; false when stopping.
  bool sleep(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    return !cv.wait_for(lock, d, [&] { return stopping.load(); });
  }

  // The account key, made once and kept: the account (RFC 8555 §7.3) is the key.
  Result<Pkey> account_key() {
    std::string path = options.dir + "/account.key";
    if (auto pem = read_file(path)) return load_private_key(*pem);
    auto key = generate_p256();
    if (!key) return key.error();
    auto pem = private_key_pem(key->get());
    if (!pem) return pem.error();
    std::error_code ec;
    std::filesystem::create_directories(options.dir, ec);
    if (Status s = write_file_atomic(path, *pem, 0600); !s) return s.error();
    spdlog::info("acme: new account key {}", path);
    return key;
  }

  Status attempt(const std::vector<std::string>& names) {
    auto key = account_key();
    if (!key) return key.error();
    Http http(options.ca_file, &stopping);
    Client client(http, key->get(), options.directory_url,
                  [this](std::chrono::milliseconds d) { return sleep(d); });
    if (Status s = client.open_account(options.contact); !s) return s;
    // A new key for every certificate: a renewal does not keep a key that may have leaked.
    auto cert_key = generate_p256();
    if (!cert_key) return cert_key.error();
    auto chain = client.issue(names, options.challenge, *challenges, cert_key->get());
    if (!chain) return chain.error();
    auto key_pem = private_key_pem(cert_key->get());
    if (!key_pem) return key_pem.error();
    return write_pair(paths, *chain, *key_pem);
  }

  void run() {
    int failures = 0;
    while (!stopping) {
      std::vector<std::string> names = this->names();
      int64_t now = static_cast<int64_t>(std::time(nullptr));
      auto pem = read_file(paths.cert);
      std::string cert = pem ? *pem : std::string();
      if (!names.empty() && !needs_order(cert, names, now, options.test_renew_after)) {
        // Not due: sleep until it is, waking hourly to notice new local domains.
        auto v = certificate_validity(cert);
        int64_t wait = v ? renewal_time(*v, options.test_renew_after) - now : 3600;
        sleep(std::chrono::seconds(std::clamp<int64_t>(wait, 1, 3600)));
        continue;
      }
      Status s = names.empty() ? Status(make_error(Errc::refused, "no names to certify"))
                               : attempt(names);
      if (stopping) break;
      if (s) {
        failures = 0;
        auto stored = read_file(paths.cert);
        auto v = certificate_validity(stored ? *stored : std::string());
        spdlog::info("acme: certificate for {} names stored in {} (renewal due in {} s)",
                     names.size(), paths.cert, v ? renewal_time(*v, options.test_renew_after) - now : 0);
        if (installed) installed(paths);
        continue;
      }
      ++failures;
      int64_t delay = retry_delay(failures, options.retry_base);
      spdlog::error("acme: certificate order failed (attempt {}), retrying in {} s: {}", failures,
                    delay, s.error().message);
      sleep(std::chrono::seconds(delay));
    }
  }
};

std::unique_ptr<Manager> Manager::start(Options options, std::string first_name, NamesFn names,
                                        std::shared_ptr<AcmeChallenges> challenges,
                                        InstalledFn installed) {
  std::unique_ptr<Manager> m(new Manager);
  m->s_ = std::make_unique<State>();
  State& s = *m->s_;
  s.paths = certificate_paths(options.dir, first_name);
  s.options = std::move(options);
  s.names = std::move(names);
  s.challenges = std::move(challenges);
  s.installed = std::move(installed);
  s.thread = std::thread([&s] { s.run(); });
  return m;
}

Manager::~Manager() {
  if (!s_) return;
  {
    std::lock_guard lock(s_->mu);
    s_->stopping = true;
  }
  s_->cv.notify_all();
  if (s_->thread.joinable()) s_->thread.join();
}

}  // namespace tern::acme
