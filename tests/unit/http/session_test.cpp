// http::Session: framing, limits and errors; every vector also trickled one byte at a time.
#include <gtest/gtest.h>

#include <string>

#include "http/http.h"

namespace tern::http {
namespace {

struct Outcome {
  Session::Next next;
  Request request;
  int error = 0;
};

// Feeds `input` whole (trickle=false) or byte by byte, until a request or an error.
Outcome feed(const std::string& input, bool trickle, Limits limits = {}) {
  Session s(limits);
  Session::Next n = Session::Next::need_more;
  if (!trickle) {
    s.receive(input);
    n = s.next();
  } else {
    for (char c : input) {
      s.receive(std::string(1, c));
      n = s.next();
      if (n != Session::Next::need_more) break;
    }
  }
  Outcome o{n, n == Session::Next::request ? s.request() : Request{}, s.error_status()};
  return o;
}

struct Vector {
  const char* name;
  std::string input;
  int error;  // 0: a complete request is expected
};

class Vectors : public ::testing::TestWithParam<bool> {};

TEST_P(Vectors, GoodAndBadRequests) {
  const bool trickle = GetParam();
  const Vector vectors[] = {
      {"simple get", "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"bare LF lines", "GET / HTTP/1.1\nHost: a\n\n", 0},
      {"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"http/1.0 without host", "GET / HTTP/1.0\r\n\r\n", 0},
      {"post with body", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 0},
      {"same length twice", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nhi", 0},
      {"absolute form", "GET http://b.example/p?q=1 HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400},
      {"bad version", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400},
      {"http/2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"extra space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"not origin form", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"control in target", std::string("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400},
      {"NUL in value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 35), 400},
      {"bare CR", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
      {"bad length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
      {"conflicting lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", 400},
      {"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411},
      {"gzip coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"body too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\n\r\n", 413},
      {"target too long", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
      {"header too large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(17000, 'a') + "\r\n\r\n", 431},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.name);
    Outcome o = feed(v.input, trickle);
    if (v.error == 0) {
      EXPECT_EQ(o.next, Session::Next::request);
    } else {
      EXPECT_EQ(o.next, Session::Next::error);
      EXPECT_EQ(o.error, v.error);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(WholeAndTrickled, Vectors, ::testing::Values(false, true));

TEST(HttpSession, TooManyHeaders) {
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 101; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
  Outcome o = feed(req + "\r\n", false);
  EXPECT_EQ(o.error, 431);
}

TEST(HttpSession, ParsesFieldsAndQuery) {
  Outcome o = feed("GET /mail/config-v1.1.xml?emailaddress=bob%40example.org&x=a+b HTTP/1.1\r\n"
                   "HOST: Autoconfig.Example.ORG:8080\r\nX-Pad:   v  \r\n\r\n",
                   false);
  ASSERT_EQ(o.next, Session::Next::request);
  EXPECT_EQ(o.request.method, "GET");
  EXPECT_EQ(o.request.path, "/mail/config-v1.1.xml");
  EXPECT_EQ(o.request.host(), "autoconfig.example.org");
  EXPECT_EQ(o.request.query_param("emailaddress"), "bob@example.org");
  EXPECT_EQ(o.request.query_param("x"), "a b");
  EXPECT_EQ(o.request.query_param("nope"), std::nullopt);
  EXPECT_EQ(o.request.header("x-pad"), "v");
  EXPECT_TRUE(o.request.keep_alive);
}

TEST(HttpSession, AbsoluteFormReplacesHost) {
  Outcome o = feed("GET http://mta-sts.example.org/.well-known/mta-sts.txt HTTP/1.1\r\nHost: other\r\n\r\n", false);
  ASSERT_EQ(o.next, Session::Next::request);
  EXPECT_EQ(o.request.host(), "mta-sts.example.org");
  EXPECT_EQ(o.request.path, "/.well-known/mta-sts.txt");
}

TEST(HttpSession, PipelinedRequestsAnsweredInOrder) {
  Session s;
  s.receive("GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /d HTTP/1.1\r\n");
  ASSERT_EQ(s.next(), Session::Next::request);
  EXPECT_EQ(s.request().path, "/a");
  // Not answered yet: the next one waits.
  EXPECT_EQ(s.next(), Session::Next::need_more);
  std::string out = s.answer(text_response(404), 0);
  EXPECT_EQ(out.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_NE(out.find("Content-Length: 14\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Connection: close"), std::string::npos);
  ASSERT_EQ(s.next(), Session::Next::request);
  EXPECT_EQ(s.request().path, "/b");
  EXPECT_EQ(s.request().body, "xyz");
  s.answer(Response{}, 0);
  ASSERT_EQ(s.next(), Session::Next::request);
  EXPECT_EQ(s.request().path, "/c");
  EXPECT_FALSE(s.request().keep_alive);
  out = s.answer(Response{}, 0);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(s.closing());
  // After "Connection: close" nothing more is read.
  EXPECT_EQ(s.next(), Session::Next::need_more);
}

TEST(HttpSession, Http10KeepAliveOnlyWhenAsked) {
  Session a;
  a.receive("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(a.next(), Session::Next::request);
  EXPECT_NE(a.answer(Response{}, 0).find("Connection: close"), std::string::npos);
  EXPECT_TRUE(a.closing());
  Session b;
  b.receive("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  ASSERT_EQ(b.next(), Session::Next::request);
  EXPECT_NE(b.answer(Response{}, 0).find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_FALSE(b.closing());
}

TEST(HttpSession, HeadHasNoBodyButItsLength) {
  Session s;
  s.receive("HEAD /healthz HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(s.next(), Session::Next::request);
  Response r;
  r.body = "ok\n";
  std::string out = s.answer(r, 784111777);
  EXPECT_NE(out.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_NE(out.find("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(HttpSession, ErrorResponseClosesAndSaysWhy) {
  Session s;
  s.receive("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(s.next(), Session::Next::error);
  std::string out = s.error_bytes(0);
  EXPECT_EQ(out.rfind("HTTP/1.1 411 Length Required\r\n", 0), 0u);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(s.closing());
  EXPECT_EQ(s.next(), Session::Next::error);  // stays failed
}

TEST(HttpSession, WaitsForTheWholeBody) {
  Session s;
  s.receive("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345");
  EXPECT_EQ(s.next(), Session::Next::need_more);
  s.receive("67890");
  ASSERT_EQ(s.next(), Session::Next::request);
  EXPECT_EQ(s.request().body, "1234567890");
}

}  // namespace
}  // namespace tern::http
