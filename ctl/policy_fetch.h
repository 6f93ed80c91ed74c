// ctl/policy_fetch.h: fetching a domain's MTA-STS policy for `ternctl check` (libcurl).
#pragma once

#include <cstdint>
#include <string>

#include "publish/publish.h"

namespace tern::ctl {

class CurlPolicyFetcher final : public publish::PolicyFetcher {
 public:
  // ca_file: the CA bundle to verify with (empty: the system's); port: where HTTPS answers
  // (443 for real senders, RFC 8461 §3.3).
  CurlPolicyFetcher(std::string ca_file, uint16_t port);
  Result<std::string> fetch(const std::string& host, const std::string& address) override;

 private:
  std::string ca_file_;
  uint16_t port_;
};

}  // namespace tern::ctl
