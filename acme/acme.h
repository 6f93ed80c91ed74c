// acme: the RFC 8555 client that gets and renews ternd's certificate from an ACME CA.
//
// Implementation notes:
// - Owns data_dir/acme/: account.key (the ES256 account key, P-256, PEM, made once) and
//   <first-name>/cert.pem + key.pem (the chain as the CA sent it, and the certificate's own
//   P-256 key). Every file is written atomically: a temporary file, fsync, rename, fsync of
//   the directory; a crash leaves the old pair or the new one, never half of one.
// - Before the first issuance the pair is a self-signed placeholder (ensure_placeholder), so
//   the TLS listeners have a certificate from the first start; a self-signed cert.pem is
//   always replaced at once.
// - Threading: Manager runs ONE thread of its own. Everything blocking (libcurl, key
//   generation, file writes, the polling waits) happens there, never on the loop thread. It
//   talks to the rest of ternd through three things only: AcmeChallenges (the answers the
//   listeners serve while a challenge is pending), the `names` callback, and the `installed`
//   callback that the daemon turns into a certificate reload on the loop.
// - Schedule: a certificate is renewed at two thirds of its lifetime (notBefore + 2/3 of
//   notAfter - notBefore); a failed attempt is retried after retry_delay(n), doubling from one
//   minute to a day.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/acme_challenges.h"
#include "common/result.h"

namespace tern::acme {

struct Options {
  std::string directory_url;  // the CA's directory (RFC 8555 §7.1.1)
  std::string contact;        // an email address, sent as "mailto:..." (§7.3)
  std::string ca_file;        // CA bundle for the ACME server's own HTTPS; empty: system's
  std::string challenge = "http-01";  // or "tls-alpn-01" (RFC 8737)
  std::string dir;                    // data_dir/acme
  // Test only: renew this many seconds after notBefore instead of at 2/3 of the lifetime
  // (0: off). Pebble's certificates live five years; tests need a renewal within seconds.
  int64_t test_renew_after = 0;
  // Seconds of the first retry after a failure (doubles each time, capped at a day).
  int64_t retry_base = 60;
};

// Where the certificate for `first_name` lives under `dir` (data_dir/acme).
struct CertificatePaths {
  std::string cert;  // chain, leaf first
  std::string key;
};
CertificatePaths certificate_paths(const std::string& dir, const std::string& first_name);

// Writes a self-signed certificate for `names` (and its key) at `paths` unless a certificate
// is already there, so that TLS listeners can start before the first issuance.
Status ensure_placeholder(const CertificatePaths& paths, const std::vector<std::string>& names);

// A certificate's validity window, seconds since the epoch.
struct Validity {
  int64_t not_before = 0;
  int64_t not_after = 0;
};
// The first certificate of a PEM chain: its validity.
Result<Validity> certificate_validity(std::string_view pem);

// When to renew: two thirds into the lifetime (or test_renew_after seconds after notBefore).
int64_t renewal_time(const Validity& v, int64_t test_renew_after = 0);
// Seconds to wait after the n-th consecutive failure (n >= 1): base, 2 base, 4 base ... <= 1 day.
int64_t retry_delay(int failures, int64_t base = 60);

// Does the chain at `cert_pem` need a new order now: missing, unreadable, self-signed (the
// placeholder), not covering every name, or past its renewal time?
bool needs_order(std::string_view cert_pem, const std::vector<std::string>& names, int64_t now,
                 int64_t test_renew_after = 0);

class Manager {
 public:
  // The names to cover; called on the ACME thread before each attempt (it may block).
  using NamesFn = std::function<std::vector<std::string>()>;
  // A new certificate is on disk; called on the ACME thread.
  using InstalledFn = std::function<void(const CertificatePaths&)>;

  // Starts the thread. `first_name` fixes the directory (certificate_paths) for this run.
  static std::unique_ptr<Manager> start(Options options, std::string first_name, NamesFn names,
                                        std::shared_ptr<AcmeChallenges> challenges,
                                        InstalledFn installed);
  ~Manager();  // stops and joins the thread (an HTTP request in flight ends within seconds)
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  struct State;

 private:
  Manager() = default;
  std::unique_ptr<State> s_;
};

}  // namespace tern::acme
