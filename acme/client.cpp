// acme/client: the RFC 8555 order flow. JSON through nlohmann-json, parsed without exceptions
// (a malformed body is an error value like any other refusal from the CA).
#include "acme/client.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <thread>

namespace tern::acme {
namespace {

using nlohmann::json;

constexpr auto kPollDeadline = std::chrono::minutes(5);

json parse(const std::string& body) { return json::parse(body, nullptr, false); }

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// RFC 8555 §6.7 problem documents: "type: detail" for the log and the error value.
std::string problem(const HttpResponse& r) {
  json j = parse(r.body);
  std::string type = str(j, "type"), detail = str(j, "detail");
  if (type.empty() && detail.empty()) return "HTTP " + std::to_string(r.status);
  return "HTTP " + std::to_string(r.status) + " " + type + ": " + detail;
}

// RFC 8555 §7.4.1 / §8.2 Retry-After in seconds, bounded to [1, 10] s of polling.
std::chrono::milliseconds retry_after(const HttpResponse& r) {
  long s = 1;
  try {
    if (!r.header("retry-after").empty()) s = std::stol(r.header("retry-after"));
  } catch (...) {
  }
  return std::chrono::seconds(std::clamp(s, 1L, 10L));
}

}  // namespace

Client::Client(Http& http, EVP_PKEY* account_key, std::string directory_url, SleepFn sleep)
    : http_(http), key_(account_key), directory_url_(std::move(directory_url)),
      sleep_(std::move(sleep)) {}

Result<std::string> Client::nonce() {
  if (!nonce_.empty()) return std::exchange(nonce_, {});
  // RFC 8555 §7.2: HEAD newNonce answers with a Replay-Nonce header.
  auto r = http_.head(new_nonce_);
  if (!r) return r.error();
  std::string n = r->header("replay-nonce");
  if (n.empty()) return make_error(Errc::temporary, "newNonce: no Replay-Nonce (" + problem(*r) + ")");
  return n;
}

Result<Client::Reply> Client::post(const std::string& url, const std::string& payload,
                                   bool use_jwk) {
  for (int attempt = 0;; ++attempt) {
    auto n = nonce();
    if (!n) return n.error();
    // RFC 8555 §6.2: alg, nonce, url, and either jwk (newAccount) or kid (everything else).
    json prot = {{"alg", "ES256"}, {"nonce", *n}, {"url", url}};
    if (use_jwk) prot["jwk"] = parse(jwk_);
    else prot["kid"] = kid_;
    auto body = jws_es256(key_, prot.dump(), payload);
    if (!body) return body.error();
    auto r = http_.post_jose(url, *body);
    if (!r) return r.error();
    // RFC 8555 §6.5: every response carries a fresh nonce for the next request.
    nonce_ = r->header("replay-nonce");
    if (r->status >= 400) {
      // §6.5: a badNonce refusal is retried once, with the nonce that came with it.
      if (attempt == 0 && str(parse(r->body), "type") == "urn:ietf:params:acme:error:badNonce") {
        spdlog::info("acme: badNonce from {}, retrying once", url);
        continue;
      }
      return make_error(r->status >= 500 ? Errc::temporary : Errc::refused,
                        "POST " + url + ": " + problem(*r));
    }
    std::string location = r->header("location");
    return Reply{std::move(*r), std::move(location)};
  }
}

Status Client::open_account(const std::string& contact) {
  auto dir = http_.get(directory_url_);
  if (!dir) return dir.error();
  json d = parse(dir->body);
  new_nonce_ = str(d, "newNonce");
  new_account_ = str(d, "newAccount");
  new_order_ = str(d, "newOrder");
  if (dir->status != 200 || new_nonce_.empty() || new_account_.empty() || new_order_.empty())
    return make_error(Errc::temporary, "directory " + directory_url_ + ": not an ACME directory (" +
                                           problem(*dir) + ")");
  auto jwk = jwk_json(key_);
  if (!jwk) return jwk.error();
  jwk_ = *jwk;
  auto tp = jwk_thumbprint(key_);
  if (!tp) return tp.error();
  thumbprint_ = *tp;
  // RFC 8555 §7.3: an existing account for this key answers 200 with its URL, a new one 201.
  json payload = {{"termsOfServiceAgreed", true}};
  if (!contact.empty()) payload["contact"] = json::array({"mailto:" + contact});
  auto r = post(new_account_, payload.dump(), /*use_jwk=*/true);
  if (!r) return r.error();
  if (r->location.empty()) return make_error(Errc::temporary, "newAccount: no Location");
  kid_ = r->location;
  return {};
}

Result<Client::Reply> Client::poll(const std::string& url, const std::vector<std::string>& pending) {
  auto deadline = std::chrono::steady_clock::now() + kPollDeadline;
  for (;;) {
    auto r = post(url, "");
    if (!r) return r.error();
    std::string status = str(parse(r->http.body), "status");
    if (std::find(pending.begin(), pending.end(), status) == pending.end()) return r;
    if (std::chrono::steady_clock::now() > deadline)
      return make_error(Errc::temporary, url + ": still " + status + " after 5 minutes");
    if (!sleep_(retry_after(r->http))) return make_error(Errc::temporary, "stopping");
  }
}

Status Client::authorize(const std::string& authz_url, const std::string& challenge_type,
                         AcmeChallenges& challenges) {
  auto a = post(authz_url, "");
  if (!a) return a.error();
  json authz = parse(a->http.body);
  std::string status = str(authz, "status");
  if (status == "valid") return {};  // §7.1.4: already proven (authorizations are reused)
  if (status != "pending")
    return make_error(Errc::refused, "authorization " + authz_url + " is " + status);
  std::string name = authz.contains("identifier") ? str(authz["identifier"], "value") : "";
  json chosen;
  if (authz.contains("challenges") && authz["challenges"].is_array())
    for (const auto& c : authz["challenges"])
      if (str(c, "type") == challenge_type) chosen = c;
  std::string token = str(chosen, "token"), url = str(chosen, "url");
  if (name.empty() || token.empty() || url.empty())
    return make_error(Errc::refused, "authorization for " + name + " offers no " + challenge_type);
  // RFC 8555 §8.1: the answer is token "." base64url(JWK thumbprint).
  std::string key_auth = key_authorization(token, thumbprint_);
  if (challenge_type == "http-01") {
    challenges.put_http01(token, key_auth);
  } else {
    auto cert = alpn_certificate(name, key_auth);
    if (!cert) return cert.error();
    challenges.put_alpn(name, std::move(*cert));
  }
  // The answer is served from here on; §7.5.1: an empty object asks the CA to validate.
  auto answered = post(url, "{}");
  Result<Reply> done = answered ? poll(authz_url, {"pending", "processing"}) : answered;
  if (challenge_type == "http-01") challenges.drop_http01(token);
  else challenges.drop_alpn(name);
  if (!done) return done.error();
  json final_authz = parse(done->http.body);
  if (str(final_authz, "status") != "valid") {
    std::string why;
    for (const auto& c : final_authz.value("challenges", json::array()))
      if (c.is_object() && c.contains("error")) why = " (" + str(c["error"], "detail") + ")";
    return make_error(Errc::refused, challenge_type + " for " + name + ": " +
                                         str(final_authz, "status") + why);
  }
  spdlog::info("acme: {} proven by {}", name, challenge_type);
  return {};
}

Result<std::string> Client::issue(const std::vector<std::string>& names,
                                  const std::string& challenge_type, AcmeChallenges& challenges,
                                  EVP_PKEY* cert_key) {
  json ids = json::array();
  for (const auto& n : names) ids.push_back({{"type", "dns"}, {"value", n}});
  auto o = post(new_order_, json{{"identifiers", ids}}.dump());
  if (!o) return o.error();
  std::string order_url = o->location;
  json order = parse(o->http.body);
  std::string finalize = str(order, "finalize");
  if (order_url.empty() || finalize.empty() || !order.contains("authorizations"))
    return make_error(Errc::temporary, "newOrder: malformed order");
  for (const auto& authz : order["authorizations"]) {
    if (!authz.is_string()) continue;
    if (Status s = authorize(authz.get<std::string>(), challenge_type, challenges); !s)
      return s.error();
  }
  // §7.4: once every authorization is valid the order becomes "ready" for finalize.
  auto ready = poll(order_url, {"pending"});
  if (!ready) return ready.error();
  if (std::string st = str(parse(ready->http.body), "status"); st != "ready" && st != "valid")
    return make_error(Errc::refused, "order " + order_url + " is " + st);
  auto csr = make_csr_der(cert_key, names);
  if (!csr) return csr.error();
  auto f = post(finalize, json{{"csr", base64url(*csr)}}.dump());
  if (!f) return f.error();
  auto valid = poll(order_url, {"ready", "processing"});
  if (!valid) return valid.error();
  json final_order = parse(valid->http.body);
  std::string cert_url = str(final_order, "certificate");
  if (str(final_order, "status") != "valid" || cert_url.empty())
    return make_error(Errc::refused, "order " + order_url + " is " + str(final_order, "status"));
  // §7.4.2: the chain, PEM (application/pem-certificate-chain), leaf first.
  auto chain = post(cert_url, "");
  if (!chain) return chain.error();
  if (chain->http.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    return make_error(Errc::temporary, "certificate " + cert_url + ": no PEM chain");
  return std::move(chain->http.body);
}

}  // namespace tern::acme
