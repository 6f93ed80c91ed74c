// Fuzzes http::Session with arbitrary bytes split at fuzzed points, answering every request
// and routing it through http::Router with a fake backend.
//
// Checks what a client relies on:
// - The session never hands out a request after it reported an error or closed.
// - Every request it hands out is well formed: a token method, an origin-form target that
//   starts with '/' (or "*"), lower-case field names without CR/LF/NUL, and a body no larger
//   than the limit.
// - Every response starts with "HTTP/1.1 <3 digits> " and ends its header section.
// - Feeding the same bytes whole gives the same requests as feeding them in pieces.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "http/http.h"

using namespace tern::http;

namespace {

void check(bool ok) {
  if (!ok) abort();
}

class Backend final : public tern::http::Backend {
 public:
  bool is_local_domain(std::string_view d) override { return d == "example.org"; }
  std::string health() override { return ""; }
  std::string metrics_text() override { return "m 1\n"; }
  std::optional<std::string> acme_http01(std::string_view t) override {
    if (t == "tok") return std::string("tok.key");
    return std::nullopt;
  }
};

struct Seen {
  std::vector<std::string> targets;
  int error = 0;
};

Seen run(const std::vector<std::string>& pieces, const Router& router) {
  Session s(Limits{512, 1024, 20, 4096});
  Backend backend;
  Seen seen;
  for (const auto& piece : pieces) {
    s.receive(piece);
    for (;;) {
      Session::Next n = s.next();
      if (n == Session::Next::need_more) break;
      if (n == Session::Next::error) {
        seen.error = s.error_status();
        check(seen.error >= 400 && seen.error < 600);
        std::string out = s.error_bytes(0);
        check(out.rfind("HTTP/1.1 ", 0) == 0 && out.find("\r\n\r\n") != std::string::npos);
        return seen;
      }
      const Request& r = s.request();
      check(!r.method.empty());
      check(r.target == "*" || r.target.front() == '/');
      check(r.body.size() <= 4096);
      for (const auto& h : r.headers)
        for (char c : h.name + h.value) check(c != '\r' && c != '\n' && c != '\0');
      seen.targets.push_back(r.method + " " + r.target + " " + r.body);
      Response resp = router.route(r, Peer{true}, backend);
      std::string out = s.answer(resp, 0);
      check(out.rfind("HTTP/1.1 ", 0) == 0 && out.size() > 12 && out.find("\r\n\r\n") != std::string::npos);
      if (s.closing()) return seen;
    }
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  Site site;
  site.hostname = "mail.example.org";
  site.endpoints = {{"imap", 993, true, false}, {"smtp", 587, false, true}};
  Router router(site);
  std::vector<std::string> pieces;
  std::string whole;
  while (fdp.remaining_bytes() > 0) {
    std::string piece = fdp.ConsumeRandomLengthString(256);
    whole += piece;
    pieces.push_back(std::move(piece));
  }
  Seen split = run(pieces, router);
  Seen one = run({whole}, router);
  check(split.targets == one.targets);
  check(split.error == one.error);
  return 0;
}
