// daemon/acme_service: [acme] wiring (see acme_service.h).
#include "daemon/acme_service.h"

#include <spdlog/spdlog.h>

#include "auth/auth.h"

namespace tern::daemon {
namespace {

std::string first_name(const Config& c) {
  return c.acme.names.empty() ? c.hostname : c.acme.names.front();
}

}  // namespace

std::vector<std::string> acme_names(const Config& c, const std::vector<std::string>& domains) {
  if (!c.acme.names.empty()) return c.acme.names;
  // The hostname (IMAP/SMTP clients connect to it), and per local domain the names the HTTP
  // listener answers for: the MTA-STS policy host (RFC 8461 §3.3 requires a valid
  // certificate there) and Thunderbird's autoconfig host.
  std::vector<std::string> names{c.hostname};
  for (const auto& d : domains)
    for (const char* prefix : {"mta-sts.", "autoconfig."}) names.push_back(prefix + d);
  return names;
}

Result<std::optional<acme::CertificatePaths>> prepare_acme(const Config& c, bool check_only) {
  if (!c.acme.enabled) return std::optional<acme::CertificatePaths>();
  auto paths = acme::certificate_paths(c.data_dir + "/acme", first_name(c));
  if (!check_only)
    if (Status s = acme::ensure_placeholder(paths, {first_name(c)}); !s)
      return make_error(s.error().code, c.path + ": acme: " + s.error().message);
  return std::optional<acme::CertificatePaths>(paths);
}

std::unique_ptr<acme::Manager> start_acme(const Config& c, auth::AccountDb* accounts,
                                          std::shared_ptr<AcmeChallenges> challenges,
                                          std::function<void()> installed) {
  acme::Options o;
  o.directory_url = c.acme.directory;
  o.contact = c.acme.contact;
  o.ca_file = c.acme.ca_file;
  o.challenge = c.acme.challenge;
  o.dir = c.data_dir + "/acme";
  o.test_renew_after = c.acme.test_renew_after;
  if (c.acme.test_renew_after > 0) o.retry_base = 1;  // tests retry within seconds
  spdlog::info("acme: directory={} challenge={}", o.directory_url, o.challenge);
  auto names = [&c, accounts] {
    std::vector<std::string> domains;
    if (c.acme.names.empty() && accounts) {
      auto listed = accounts->list_domains();
      if (listed) domains = std::move(*listed);
      else spdlog::error("acme: cannot list local domains: {}", listed.error().message);
    }
    return acme_names(c, domains);
  };
  return acme::Manager::start(std::move(o), first_name(c), std::move(names), std::move(challenges),
                              [installed = std::move(installed)](const acme::CertificatePaths&) {
                                installed();
                              });
}

}  // namespace tern::daemon
