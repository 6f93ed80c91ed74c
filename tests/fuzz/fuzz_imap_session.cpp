// Fuzzes imapd::Session end to end over a real Store: each input is one client connection
// that is logged in as bob, then fed the input in chunks whose sizes the first byte picks.
// The store holds a few MIME-shaped messages for bob (and a marked one for eve), and is rebuilt
// every few hundred inputs so APPEND/EXPUNGE/DELETE do not drift it without bound.
// Invariants a client relies on: no crash, leak or UB (sanitizers); every write ends with CRLF;
// nothing is written after the session asked to close; bob never sees eve's mail.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "auth/auth.h"
#include "imapd/session.h"
#include "store/store.h"

using namespace tern;

namespace {

constexpr std::string_view kEveMarker = "EVE-PRIVATE-7f3a";
constexpr int kRebuildEvery = 300;

const char* const kMessages[] = {
    "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: plain\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <a@x>\r\n\r\nHello\r\n.dot\r\n",
    "From: =?UTF-8?Q?J=C3=B6rg?= <j@example.org>\r\nTo: bob@example.test\r\n"
    "Subject: =?UTF-8?B?w5xiZXI=?=\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npre\r\n--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    "Gr=C3=BC=C3=9Fe\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\n"
    "Subject: inner\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\n"
    "Content-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\n--b1\r\n"
    "Content-Type: application/octet-stream; name*=UTF-8''%C3%A9.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n--b1--\r\n",
    "Subject: broken\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\nno end",
};

class FuzzBackend : public imapd::Backend {
 public:
  explicit FuzzBackend(std::string dir) : dir_(std::move(dir)) { rebuild(); }
  ~FuzzBackend() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void rebuild() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::create_directories(dir_, ec);
    store::StoreOptions so;
    so.data_dir = dir_;
    auto st = store::Store::open(so);
    if (!st) abort();
    store_ = std::move(*st);
    for (const char* m : kMessages)
      if (!store_->append("bob@example.test", "INBOX", m, {}, 1700000000)) abort();
    std::string eve = std::string("Subject: secret\r\n\r\n") + std::string(kEveMarker) + "\r\n";
    if (!store_->append("eve@example.test", "INBOX", eve, {}, 1700000000)) abort();
  }

  store::Store& store() override { return *store_; }
  auth::LoginResult login(std::string_view user, std::string_view password,
                          std::string_view) override {
    auth::LoginResult r;
    if ((user == "bob@example.test" && password == "pw") ||
        (user == "eve@example.test" && password == "evepw")) {
      r.outcome = auth::LoginResult::Outcome::ok;
      r.user = std::string(user);
    }
    return r;
  }
  // SCRAM: bob's keys for "pw" (a fixed salt keeps runs reproducible); proofs as judged.
  Result<auth::ScramKeys> scram_keys(std::string_view) override { return auth::scram_keys("pw", "fixed-salt", 16); }
  auth::LoginResult login_proven(std::string_view user, bool valid, std::string_view) override {
    auth::LoginResult r;
    if (valid && user == "bob@example.test") {
      r.outcome = auth::LoginResult::Outcome::ok;
      r.user = std::string(user);
    }
    return r;
  }
  Result<uint64_t> quota(std::string_view) override { return uint64_t{1} << 20; }
  std::function<void()> change_notifier() override { return [] {}; }
  int64_t now() override { return 1700000000; }

 private:
  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

FuzzBackend& backend() {
  static FuzzBackend* b = [] {
    char tmpl[] = "/tmp/tern-fuzz-imap-XXXXXX";
    if (!mkdtemp(tmpl)) abort();
    auto* fb = new FuzzBackend(tmpl);
    // Leave no directory behind when the fuzzer exits.
    std::atexit([] { delete &backend(); });
    return fb;
  }();
  return *b;
}

void check(bool ok) {
  if (!ok) abort();
}

// Whether `text` holds eve's marker, found by a rolling hash rather than a byte comparison so
// that libFuzzer's comparison tracing cannot learn the marker and type it into an input (the
// server echoes input back, which would be no leak).
uint64_t window_hash(std::string_view w) {
  uint64_t h = 0;
  for (unsigned char c : w) h = h * 1099511628211ull + c;
  return h;
}
bool holds_marker(std::string_view text) {
  static const uint64_t target = window_hash(kEveMarker);
  const size_t n = kEveMarker.size();
  if (text.size() < n) return false;
  uint64_t pow = 1;
  for (size_t i = 1; i < n; ++i) pow *= 1099511628211ull;
  uint64_t h = window_hash(text.substr(0, n));
  for (size_t i = 0;; ++i) {
    if (h == target) return true;
    if (i + n >= text.size()) return false;
    h = (h - pow * static_cast<unsigned char>(text[i])) * 1099511628211ull +
        static_cast<unsigned char>(text[i + n]);
  }
}

struct Connection {
  imapd::Session session;
  bool closed = false;
  bool input_has_marker = false;

  explicit Connection(const imapd::SessionSettings& s)
      : session(s, imapd::PeerInfo{"192.0.2.1", 4000, "imap"}, backend()) {}

  void handle(imapd::Output o) {
    if (!o.bytes.empty()) {
      check(!closed);
      check(o.bytes.size() >= 2 && o.bytes.compare(o.bytes.size() - 2, 2, "\r\n") == 0);
      check(input_has_marker || !holds_marker(o.bytes));
    }
    closed = closed || o.close_after_write;
    if (o.start_tls && !closed) session.tls_started("TLSv1.3", "TLS_AES_128_GCM_SHA256");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int runs = 0;
  if (++runs % kRebuildEvery == 0) backend().rebuild();
  if (size == 0) return 0;
  imapd::SessionSettings s;
  s.hostname = "mail.example.test";
  s.allow_plaintext_auth = true;
  s.max_line_length = 4096;
  s.max_literal_size = 1 << 16;
  s.max_errors = 50;
  Connection c(s);
  c.input_has_marker = holds_marker(std::string_view(reinterpret_cast<const char*>(data), size));
  c.handle(c.session.greet());
  c.handle(c.session.feed("L LOGIN bob@example.test pw\r\n"));
  size_t chunk = (data[0] % 16) + 1;  // 1..16 bytes at a time, or the rest at once
  bool whole = (data[0] & 0x80) != 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!in.empty() && !c.closed) {
    size_t n = whole ? in.size() : std::min(chunk, in.size());
    c.handle(c.session.feed(in.substr(0, n)));
    in.remove_prefix(n);
  }
  if (!c.closed) c.handle(c.session.on_mailbox_changed());
  if (!c.closed) c.handle(c.session.timeout());
  return 0;
}
