// http::Router: each resource, against a fake Backend.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "http/http.h"

namespace tern::http {
namespace {

class FakeBackend : public Backend {
 public:
  std::set<std::string> domains = {"example.org"};
  std::string health_reason;
  std::map<std::string, std::string, std::less<>> tokens;
  bool is_local_domain(std::string_view d) override { return domains.count(std::string(d)) > 0; }
  std::string health() override { return health_reason; }
  std::string metrics_text() override { return "tern_up 1\n"; }
  std::optional<std::string> acme_http01(std::string_view t) override {
    auto it = tokens.find(t);
    if (it == tokens.end()) return std::nullopt;
    return it->second;
  }
};

Site test_site() {
  Site s;
  s.hostname = "mail.example.org";
  s.endpoints = {{"imap", 993, true, false},  {"imap", 143, false, true},
                 {"pop3", 995, true, false},  {"smtp", 465, true, false},
                 {"smtp", 587, false, true}};
  s.mta_sts_mode = "enforce";
  s.mta_sts_max_age = 86400;
  return s;
}

Request make(std::string method, std::string target, std::string host = "mail.example.org",
             std::string body = {}) {
  Session s;
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n";
  if (!body.empty()) raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  s.receive(raw + "\r\n" + body);
  EXPECT_EQ(s.next(), Session::Next::request);
  return s.request();
}

struct RouterTest : ::testing::Test {
  Router router{test_site()};
  FakeBackend backend;
  Peer local{true}, remote{false};
  Response get(const std::string& target, const std::string& host = "mail.example.org") {
    return router.route(make("GET", target, host), remote, backend);
  }
};

TEST_F(RouterTest, AutoconfigListsEveryServerWithRealPorts) {
  Response r = get("/mail/config-v1.1.xml?emailaddress=bob%40example.org");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/xml; charset=utf-8");
  EXPECT_NE(r.body.find("<emailProvider id=\"example.org\">"), std::string::npos);
  EXPECT_NE(r.body.find("<incomingServer type=\"imap\">\n      <hostname>mail.example.org</hostname>\n"
                        "      <port>993</port>\n      <socketType>SSL</socketType>"),
            std::string::npos);
  EXPECT_NE(r.body.find("<port>143</port>\n      <socketType>STARTTLS</socketType>"), std::string::npos);
  EXPECT_NE(r.body.find("<incomingServer type=\"pop3\">"), std::string::npos);
  EXPECT_NE(r.body.find("<outgoingServer type=\"smtp\">"), std::string::npos);
  EXPECT_NE(r.body.find("<port>587</port>\n      <socketType>STARTTLS</socketType>"), std::string::npos);
  EXPECT_NE(r.body.find("<username>%EMAILADDRESS%</username>"), std::string::npos);
  EXPECT_NE(r.body.find("<authentication>password-cleartext</authentication>"), std::string::npos);
}

TEST_F(RouterTest, AutoconfigByHostAndForeignDomains) {
  EXPECT_EQ(get("/.well-known/autoconfig/mail/config-v1.1.xml", "autoconfig.example.org").status, 200);
  EXPECT_EQ(get("/mail/config-v1.1.xml?emailaddress=bob%40elsewhere.net").status, 404);
  EXPECT_EQ(get("/mail/config-v1.1.xml?emailaddress=not-an-address").status, 404);
  EXPECT_EQ(get("/mail/config-v1.1.xml", "autoconfig.elsewhere.net").status, 404);
}

TEST_F(RouterTest, AutodiscoverAnswersThePostedAddress) {
  std::string body =
      "<?xml version=\"1.0\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
      "autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>bob@example.org</EMailAddress>"
      "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/"
      "responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>";
  Response r = router.route(make("POST", "/Autodiscover/Autodiscover.xml", "autodiscover.example.org", body),
                            remote, backend);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<Type>IMAP</Type>\n        <Server>mail.example.org</Server>\n        <Port>993</Port>"),
            std::string::npos);
  EXPECT_NE(r.body.find("<Type>SMTP</Type>"), std::string::npos);
  EXPECT_NE(r.body.find("<Port>465</Port>"), std::string::npos);
  EXPECT_NE(r.body.find("<LoginName>bob@example.org</LoginName>"), std::string::npos);
  EXPECT_NE(r.body.find("outlook/responseschema/2006a"), std::string::npos);
  // GET is not how Autodiscover asks.
  Response g = get("/autodiscover/autodiscover.xml");
  EXPECT_EQ(g.status, 405);
  ASSERT_FALSE(g.headers.empty());
  EXPECT_EQ(g.headers[0].name, "Allow");
  EXPECT_EQ(g.headers[0].value, "POST");
  EXPECT_EQ(router.route(make("POST", "/autodiscover/autodiscover.xml", "h", "<x/>"), remote, backend).status, 400);
}

TEST_F(RouterTest, AutodiscoverEscapesTheAddress) {
  std::string body = "<Request><EMailAddress>b&amp;c@example.org</EMailAddress></Request>";
  Response r = router.route(make("POST", "/autodiscover/autodiscover.xml", "h", body), remote, backend);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<LoginName>b&amp;c@example.org</LoginName>"), std::string::npos);
  EXPECT_EQ(autodiscover_request_email("<EMailAddress> a&lt;&amp;b@x </EMailAddress>"), "a<&b@x");
}

TEST_F(RouterTest, AppleProfile) {
  Response r = get("/apple/profile.mobileconfig?emailaddress=bob%40example.org");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-apple-aspen-config");
  EXPECT_NE(r.body.find("<string>com.apple.mail.managed</string>"), std::string::npos);
  EXPECT_NE(r.body.find("<key>IncomingMailServerPortNumber</key>\n      <integer>993</integer>"), std::string::npos);
  EXPECT_NE(r.body.find("<key>OutgoingMailServerPortNumber</key>\n      <integer>465</integer>"), std::string::npos);
  // The same address gets the same identifiers (a reinstall replaces the profile).
  EXPECT_EQ(r.body, get("/apple/profile.mobileconfig?emailaddress=bob%40example.org").body);
  EXPECT_EQ(get("/apple/profile.mobileconfig").status, 404);
}

TEST_F(RouterTest, MtaStsPolicyPerPolicyHost) {
  Response r = get("/.well-known/mta-sts.txt", "mta-sts.example.org");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.body, "version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmax_age: 86400\r\n");
  EXPECT_EQ(get("/.well-known/mta-sts.txt", "mta-sts.elsewhere.net").status, 404);
  EXPECT_EQ(get("/.well-known/mta-sts.txt", "example.org").status, 404);
  Site s = test_site();
  s.mta_sts_mx = {"mx1.example.org", "*.backup.example.net"};
  EXPECT_EQ(mta_sts_policy(s),
            "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.backup.example.net\r\nmax_age: 86400\r\n");
}

TEST_F(RouterTest, MetricsOnlyForAllowedPeers) {
  EXPECT_EQ(get("/metrics").status, 403);
  Response r = router.route(make("GET", "/metrics"), local, backend);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "tern_up 1\n");
}

TEST_F(RouterTest, Healthz) {
  Response ok = get("/healthz");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "ok\n");
  backend.health_reason = "accounts.db: locked";
  Response bad = get("/healthz");
  EXPECT_EQ(bad.status, 503);
  EXPECT_EQ(bad.body, "accounts.db: locked\n");
}

TEST_F(RouterTest, AcmeHttp01) {
  backend.tokens["tok_EN-1"] = "tok_EN-1.thumbprint";
  Response r = get("/.well-known/acme-challenge/tok_EN-1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/octet-stream");
  EXPECT_EQ(r.body, "tok_EN-1.thumbprint");
  EXPECT_EQ(get("/.well-known/acme-challenge/unknown").status, 404);
  EXPECT_EQ(get("/.well-known/acme-challenge/").status, 404);
  EXPECT_EQ(get("/.well-known/acme-challenge/a%2Fb").status, 404);
}

TEST_F(RouterTest, UnknownPathsAndMethods) {
  EXPECT_EQ(get("/").status, 404);
  EXPECT_EQ(get("/healthz/extra").status, 404);
  EXPECT_EQ(router.route(make("DELETE", "/healthz"), remote, backend).status, 405);
  EXPECT_EQ(router.route(make("BREW", "/healthz"), remote, backend).status, 501);
  EXPECT_EQ(router.route(make("HEAD", "/healthz"), remote, backend).status, 200);
}

TEST(MetricsWriter, ExpositionFormat) {
  MetricsWriter w;
  w.family("tern_x_total", "counter", "Things.");
  w.sample("tern_x_total", {{"proto", "a\"b"}}, 3);
  w.histogram("tern_lat_seconds", "Latency.", {0.1, 1}, {2, 1}, 4, 12.5);
  EXPECT_EQ(w.text(),
            "# HELP tern_x_total Things.\n# TYPE tern_x_total counter\n"
            "tern_x_total{proto=\"a\\\"b\"} 3\n"
            "# HELP tern_lat_seconds Latency.\n# TYPE tern_lat_seconds histogram\n"
            "tern_lat_seconds_bucket{le=\"0.1\"} 2\ntern_lat_seconds_bucket{le=\"1\"} 3\n"
            "tern_lat_seconds_bucket{le=\"+Inf\"} 7\ntern_lat_seconds_sum 12.5\n"
            "tern_lat_seconds_count 7\n");
}

}  // namespace
}  // namespace tern::http
