// http::Router: which resource answers which request.
#include <algorithm>

#include "common/strings.h"
#include "http/http.h"

namespace tern::http {

namespace {

enum class Resource { autoconfig, autodiscover, mobileconfig, mta_sts, metrics, healthz, acme };

struct Route {
  std::string_view path;  // exact; with a trailing '/', a prefix
  Resource resource;
  bool post;              // POST instead of GET/HEAD
  bool any_case = false;  // Outlook spells the Autodiscover path in both cases
};

// One line per resource.
constexpr Route kRoutes[] = {
    {"/mail/config-v1.1.xml", Resource::autoconfig, false},
    {"/.well-known/autoconfig/mail/config-v1.1.xml", Resource::autoconfig, false},
    {"/autodiscover/autodiscover.xml", Resource::autodiscover, true, true},
    {"/apple/profile.mobileconfig", Resource::mobileconfig, false},
    {"/.well-known/mta-sts.txt", Resource::mta_sts, false},
    {"/metrics", Resource::metrics, false},
    {"/healthz", Resource::healthz, false},
    {"/.well-known/acme-challenge/", Resource::acme, false},
};

// RFC 9110 §9: the methods a server may be asked for; others are unknown (501).
bool known_method(std::string_view m) {
  for (std::string_view k : {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
    if (m == k) return true;
  return false;
}

Response xml(std::string body, std::string type = "application/xml; charset=utf-8") {
  Response r;
  r.content_type = std::move(type);
  r.body = std::move(body);
  r.headers.push_back({"Cache-Control", "no-store"});
  return r;
}

// The domain an address or a prefixed host name names, if it is one of ours.
std::optional<std::string> local_domain_of(const Request& req, std::string_view host_prefix,
                                           Backend& backend, std::string& email) {
  std::string domain;
  if (auto addr = req.query_param("emailaddress")) {
    auto parsed = parse_mail_address(*addr);
    if (!parsed) return std::nullopt;
    email = *addr;
    domain = ascii_lower(parsed->domain);
  } else {
    domain = req.host();
    if (domain.rfind(host_prefix, 0) == 0) domain.erase(0, host_prefix.size());
  }
  if (domain.empty() || !backend.is_local_domain(domain)) return std::nullopt;
  return domain;
}

bool valid_token(std::string_view t) {
  // RFC 8555 §8.3: the token is base64url (no padding).
  return !t.empty() && t.size() <= 256 && std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace

Response Router::route(const Request& req, const Peer& peer, Backend& backend) const {
  // RFC 9110 §15.6.2: 501 for a method we do not recognise at all.
  if (!known_method(req.method)) return text_response(501);
  const Route* hit = nullptr;
  for (const auto& r : kRoutes) {
    bool prefix = r.path.back() == '/';
    std::string path = r.any_case ? ascii_lower(req.path) : req.path;
    if (prefix ? path.rfind(r.path, 0) == 0 : path == r.path) {
      hit = &r;
      break;
    }
  }
  if (!hit) return text_response(404);
  bool is_get = req.method == "GET" || req.method == "HEAD";
  if (hit->post ? req.method != "POST" : !is_get) {
    // RFC 9110 §15.5.6: 405 names the allowed methods in Allow.
    Response r = text_response(405);
    r.headers.push_back({"Allow", hit->post ? "POST" : "GET, HEAD"});
    return r;
  }
  switch (hit->resource) {
    case Resource::autoconfig: {
      std::string email;
      auto domain = local_domain_of(req, "autoconfig.", backend, email);
      if (!domain) return text_response(404, "no mail domain here\n");
      return xml(autoconfig_xml(site_, email, *domain));
    }
    case Resource::autodiscover: {
      std::string email = autodiscover_request_email(req.body);
      auto parsed = parse_mail_address(email);
      if (!parsed) return text_response(400, "no EMailAddress in the request\n");
      if (!backend.is_local_domain(ascii_lower(parsed->domain)))
        return text_response(404, "no mail domain here\n");
      return xml(autodiscover_xml(site_, email));
    }
    case Resource::mobileconfig: {
      std::string email;
      auto domain = local_domain_of(req, "autoconfig.", backend, email);
      if (!domain || email.empty()) return text_response(404, "no mail domain here\n");
      Response r = xml(apple_mobileconfig(site_, email, *domain), "application/x-apple-aspen-config");
      r.headers.push_back({"Content-Disposition", "attachment; filename=\"" + *domain + ".mobileconfig\""});
      return r;
    }
    case Resource::mta_sts: {
      // RFC 8461 §3.3: the policy host is "mta-sts." followed by the Policy Domain.
      std::string host = req.host();
      if (host.rfind("mta-sts.", 0) != 0) return text_response(404);
      if (!backend.is_local_domain(host.substr(8))) return text_response(404);
      Response r;
      r.content_type = "text/plain";  // RFC 8461 §3.2: media type "text/plain"
      r.body = mta_sts_policy(site_);
      return r;
    }
    case Resource::metrics: {
      if (!peer.metrics_allowed) return text_response(403);
      Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = backend.metrics_text();
      return r;
    }
    case Resource::healthz: {
      std::string why = backend.health();
      if (!why.empty()) return text_response(503, why + "\n");
      Response r;
      r.body = "ok\n";
      r.headers.push_back({"Cache-Control", "no-store"});
      return r;
    }
    case Resource::acme: {
      std::string_view token = std::string_view(req.path).substr(hit->path.size());
      if (!valid_token(token)) return text_response(404);
      auto key_authorization = backend.acme_http01(token);
      if (!key_authorization) return text_response(404);
      // RFC 8555 §8.3: the body is the key authorization, as application/octet-stream.
      Response r;
      r.content_type = "application/octet-stream";
      r.body = *key_authorization;
      return r;
    }
  }
  return text_response(404);
}

}  // namespace tern::http
