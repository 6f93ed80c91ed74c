// daemon/acme_service: ternd's side of [acme]: which names to certify, the certificate pair
// the TLS context serves, and the ACME thread whose new certificates are reloaded on the loop.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acme/acme.h"
#include "common/acme_challenges.h"
#include "common/config.h"
#include "common/result.h"

namespace tern::auth {
class AccountDb;
}

namespace tern::daemon {

// The names [acme] certifies: acme.names, or else the hostname and mta-sts./autoconfig. of
// every local domain (`domains`).
std::vector<std::string> acme_names(const Config& c, const std::vector<std::string>& domains);

// [acme] enabled: the pair the TLS context serves (data_dir/acme/<first name>/), with a
// self-signed placeholder written there first unless `check_only` (ternd --check writes
// nothing). Disabled: nullopt.
Result<std::optional<acme::CertificatePaths>> prepare_acme(const Config& c, bool check_only);

// Starts the ACME thread. `accounts` (blocking, thread-safe) gives the local domains;
// `installed` runs on the ACME thread after a new certificate is stored.
std::unique_ptr<acme::Manager> start_acme(const Config& c, auth::AccountDb* accounts,
                                          std::shared_ptr<AcmeChallenges> challenges,
                                          std::function<void()> installed);

}  // namespace tern::daemon
