// The MTA-STS policy fetch of `ternctl check` (publish::PolicyFetcher over libcurl), done as
// RFC 8461 §3.3 tells senders: HTTPS only, the certificate verified for mta-sts.<domain>, no
// redirects, a bounded body, a short timeout.
#include "ctl/policy_fetch.h"

#include <curl/curl.h>

#include <memory>

namespace tern::ctl {

namespace {

constexpr size_t kMaxPolicyBytes = 64 * 1024;  // §3.3 lets senders cap the size; 64 KiB is ample

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > kMaxPolicyBytes) return 0;  // aborts the transfer
  body->append(data, size * n);
  return size * n;
}

}  // namespace

CurlPolicyFetcher::CurlPolicyFetcher(std::string ca_file, uint16_t port) : ca_file_(std::move(ca_file)), port_(port) {}

Result<std::string> CurlPolicyFetcher::fetch(const std::string& host, const std::string& address) {
  std::unique_ptr<CURL, void (*)(CURL*)> c(curl_easy_init(), curl_easy_cleanup);
  if (!c) return make_error(Errc::internal, "libcurl could not start");
  const std::string port = std::to_string(port_);
  const std::string url = "https://" + host + ":" + port + "/.well-known/mta-sts.txt";
  // Connect to the address `ternctl check` resolved through the configured DNS servers (the
  // system resolver may see another zone), while TLS still checks the name.
  const bool v6 = address.find(':') != std::string::npos;
  const std::string pin = host + ":" + port + ":" + (v6 ? "[" + address + "]" : address);
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> resolve(curl_slist_append(nullptr, pin.c_str()), curl_slist_free_all);
  std::string body;
  char err[CURL_ERROR_SIZE] = {};
  CURL* h = c.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_RESOLVE, resolve.get());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // §3.3: redirects are not followed
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file_.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file_.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "ternctl-check");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    if (rc == CURLE_WRITE_ERROR) return make_error(Errc::refused, "the policy is larger than 64 KiB");
    return make_error(Errc::temporary, err[0] ? std::string(err) : std::string(curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  // §3.3: only a 200 carries a policy.
  if (status != 200) return make_error(Errc::not_found, "HTTP status " + std::to_string(status));
  return body;
}

}  // namespace tern::ctl
