// acme/client: one RFC 8555 conversation with the CA, from the directory to the downloaded
// chain. Blocking; runs on the ACME thread only.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "acme/crypto.h"
#include "acme/http.h"
#include "common/acme_challenges.h"
#include "common/result.h"

namespace tern::acme {

class Client {
 public:
  // sleep(ms) waits (interruptibly) and returns false when the manager is stopping.
  using SleepFn = std::function<bool(std::chrono::milliseconds)>;

  Client(Http& http, EVP_PKEY* account_key, std::string directory_url, SleepFn sleep);

  // RFC 8555 §7.1.1: reads the directory; §7.3: finds or creates the account (kid).
  Status open_account(const std::string& contact);
  // §7.4: orders a certificate for `names`, answers each pending authorization with
  // `challenge_type` through `challenges`, finalizes with a CSR made from `cert_key` and
  // returns the PEM chain.
  Result<std::string> issue(const std::vector<std::string>& names,
                            const std::string& challenge_type, AcmeChallenges& challenges,
                            EVP_PKEY* cert_key);

 private:
  struct Reply {
    HttpResponse http;
    std::string location;
  };
  // A JWS-signed POST (§6.2) with a fresh nonce (§6.5); payload "" is POST-as-GET (§6.3).
  // Retries once on badNonce (§6.5: the error carries a fresh nonce).
  Result<Reply> post(const std::string& url, const std::string& payload, bool use_jwk = false);
  Result<std::string> nonce();
  Status authorize(const std::string& authz_url, const std::string& challenge_type,
                   AcmeChallenges& challenges);
  // Polls `url` (POST-as-GET) until its "status" is not one of `pending` (§7.5.1, §7.4).
  Result<Reply> poll(const std::string& url, const std::vector<std::string>& pending);

  Http& http_;
  EVP_PKEY* key_;
  std::string directory_url_;
  SleepFn sleep_;
  std::string new_nonce_, new_account_, new_order_;
  std::string kid_;
  std::string jwk_, thumbprint_;
  std::string nonce_;  // the last Replay-Nonce not used yet
};

}  // namespace tern::acme
