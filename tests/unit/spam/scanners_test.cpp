// The clamd and rspamd codecs, and the transport against a socket that never answers.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "spam/scanners.h"

namespace tern::spam {
namespace {

uint32_t be32(std::string_view s, size_t at) {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return ntohl(v);
}

TEST(Clamd, InstreamFraming) {
  std::string r = clamd_instream_request("abcdefg", 3);
  ASSERT_EQ(r.substr(0, 10), std::string("zINSTREAM\0", 10));
  EXPECT_EQ(be32(r, 10), 3u);
  EXPECT_EQ(r.substr(14, 3), "abc");
  EXPECT_EQ(be32(r, 17), 3u);
  EXPECT_EQ(be32(r, 24), 1u);
  EXPECT_EQ(r.substr(28, 1), "g");
  EXPECT_EQ(be32(r, 29), 0u);
  EXPECT_EQ(r.size(), 33u);
  EXPECT_EQ(clamd_instream_request("").size(), 14u);  // command and the end marker only
}

TEST(Clamd, Replies) {
  auto ok = parse_clamd_reply(std::string("stream: OK\0", 11));
  EXPECT_EQ(ok.status, ClamdResult::clean);
  auto bad = parse_clamd_reply(std::string("stream: Eicar-Test-Signature FOUND\0", 35));
  EXPECT_EQ(bad.status, ClamdResult::infected);
  EXPECT_EQ(bad.signature, "Eicar-Test-Signature");
  auto err = parse_clamd_reply("INSTREAM size limit exceeded. ERROR\n");
  EXPECT_EQ(err.status, ClamdResult::error);
  EXPECT_NE(err.text.find("size limit"), std::string::npos);
  EXPECT_EQ(parse_clamd_reply("").status, ClamdResult::error);
  // A signature name cannot put a line break into our SMTP reply.
  EXPECT_EQ(parse_clamd_reply("stream: Evil\r\nName FOUND").signature, "Evil__Name");
}

TEST(Rspamd, Request) {
  RspamdRequest q{"a@example.com", {"b@example.org", "c@example.org"}, "192.0.2.1", "mx.example",
                  "Q1", "mail.example"};
  std::string r = rspamd_http_request(q, "Subject: x\r\n\r\nbody\r\n", "127.0.0.1");
  EXPECT_EQ(r.rfind("POST /checkv2 HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(r.find("\r\nContent-Length: 20\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nFrom: a@example.com\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nRcpt: b@example.org\r\nRcpt: c@example.org\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nIP: 192.0.2.1\r\nHelo: mx.example\r\nQueue-Id: Q1\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 20), "Subject: x\r\n\r\nbody\r\n");
  // No header injection through the envelope.
  q.helo = "x\r\nEvil: 1";
  EXPECT_EQ(rspamd_http_request(q, "", "h").find("\r\nEvil"), std::string::npos);
}

TEST(Rspamd, Responses) {
  std::string body = R"({"is_skipped":false,"score":16.5,"required_score":15.0,"action":"reject",)"
                     R"("symbols":{"GTUBE":{"name":"GTUBE","score":0.0,"metric_score":0,)"
                     R"("options":["a\"b",1,[2,{"x":null}]]}},"messages":{}})";
  std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body;
  auto r = parse_rspamd_response(resp);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->action, "reject");
  EXPECT_DOUBLE_EQ(r->score, 16.5);  // the top-level score, not a symbol's
  EXPECT_DOUBLE_EQ(r->required, 15.0);
  auto none = parse_rspamd_response("HTTP/1.0 200 OK\r\n\r\n{\"action\": \"no action\", \"score\": -1.2}");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->action, "no action");
  EXPECT_DOUBLE_EQ(none->score, -1.2);
  EXPECT_FALSE(parse_rspamd_response("HTTP/1.1 500 Internal\r\nContent-Length: 2\r\n\r\n{}"));
  EXPECT_FALSE(parse_rspamd_response("HTTP/1.1 200 OK\r\n\r\n{\"score\": 1"));
  EXPECT_FALSE(parse_rspamd_response("HTTP/1.1 200 OK\r\n\r\n{\"score\": 1}"));
  EXPECT_FALSE(parse_rspamd_response("garbage"));
}

TEST(Transport, Addresses) {
  auto u = parse_scanner_address("unix:/run/clamav/clamd.ctl");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->unix_path, "/run/clamav/clamd.ctl");
  auto t = parse_scanner_address("127.0.0.1:3310");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 3310);
  auto v6 = parse_scanner_address("[::1]:11333");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(parse_scanner_address("localhost:3310"));
  EXPECT_FALSE(parse_scanner_address("127.0.0.1"));
  EXPECT_FALSE(parse_scanner_address("127.0.0.1:0"));
}

TEST(Transport, RefusedAndSilentPeersFailWithinTheTimeout) {
  // A listening socket that never accepts nor answers.
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  ScannerAddress addr{"", "127.0.0.1", ntohs(a.sin_port)};
  auto start = std::chrono::steady_clock::now();
  auto r = clamd_scan(addr, "hello", 300);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(r);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos) << r.error().message;
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 2000);
  ::close(ls);
  // Now nothing listens there.
  auto refused = rspamd_check(addr, {}, "x", 1000);
  EXPECT_FALSE(refused);
}

}  // namespace
}  // namespace tern::spam
