// acme/http: the blocking HTTPS client of the ACME thread (libcurl easy interface).
#pragma once

#include <atomic>
#include <map>
#include <string>

#include "common/result.h"

namespace tern::acme {

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; the last value of each
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Http {
 public:
  // ca_file: the CA bundle that verifies the ACME server (empty: the system's). `cancel`,
  // when set, aborts a transfer in progress (shutdown).
  Http(std::string ca_file, const std::atomic<bool>* cancel);
  ~Http();
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  Result<HttpResponse> get(const std::string& url);
  Result<HttpResponse> head(const std::string& url);
  // RFC 8555 §6.2: every POST carries a JWS as application/jose+json.
  Result<HttpResponse> post_jose(const std::string& url, const std::string& body);

 private:
  Result<HttpResponse> perform(const std::string& method, const std::string& url,
                               const std::string* body);
  std::string ca_file_;
  const std::atomic<bool>* cancel_;
  void* curl_;
};

}  // namespace tern::acme
