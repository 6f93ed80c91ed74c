// Fuzzes pop3d::Session: arbitrary bytes are fed in varying chunk sizes while a fake backend
// answers every action (outcomes chosen by the first input byte). Checks the invariants a
// client and the daemon rely on: no crash or leak, every write ends with CRLF, nothing is
// written after close, Release at most once, Commit only once and never after Release.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pop3d/pop3d.h"

using namespace tern::pop3d;

namespace {

struct Fuzzer {
  Session session;
  uint8_t mode;
  std::string_view input;
  bool closed = false;
  int releases = 0;
  int commits = 0;
  unsigned counter = 0;

  Fuzzer(const SessionSettings& s, const PeerInfo& p, uint8_t m, std::string_view in)
      : session(s, p), mode(m), input(in) {}

  void check(bool ok) {
    if (!ok) abort();
  }

  void handle(Output o) {
    if (!o.bytes.empty()) {
      check(!closed);
      check(o.bytes.size() >= 2 && o.bytes.compare(o.bytes.size() - 2, 2, "\r\n") == 0);
    }
    closed = closed || o.close_after_write;
    bool tls = o.start_tls;
    for (const auto& a : o.actions) {
      if (std::holds_alternative<Release>(a.kind)) ++releases;
      if (std::holds_alternative<Commit>(a.kind)) {
        check(releases == 0);
        ++commits;
      }
      check(releases <= 1 && commits <= 1);
      auto r = answer(a);
      check(r.has_value() == needs_result(a));
      if (r) handle(session.complete(*r));
    }
    if (tls && !closed && (mode & 0x40) == 0) handle(session.tls_started());
  }

  std::optional<ActionResult> answer(const Action& a) {
    ++counter;
    ActionResult r;
    r.id = a.id;
    bool fail = ((mode >> 3) & 7) == (counter & 7);
    if (std::holds_alternative<Authenticate>(a.kind)) {
      AuthResult ar;
      ar.outcome = fail ? AuthResult::Outcome(counter % 4) : AuthResult::Outcome::ok;
      ar.canonical_user = "user@example.test";
      r.value = ar;
    } else if (std::holds_alternative<OpenMaildrop>(a.kind)) {
      MaildropResult mr;
      mr.outcome = fail ? MaildropResult::Outcome(counter % 3) : MaildropResult::Outcome::ok;
      for (Uid uid = 1; uid <= 5; ++uid) mr.messages.push_back({uid, wire_size(message(uid)), "9." + std::to_string(uid)});
      r.value = mr;
    } else if (auto* v = std::get_if<Retrieve>(&a.kind)) {
      RetrieveResult rr;
      rr.outcome = fail ? RetrieveResult::Outcome(counter % 3) : RetrieveResult::Outcome::ok;
      rr.bytes = message(v->uid);
      r.value = rr;
    } else if (std::holds_alternative<Commit>(a.kind)) {
      r.value = CommitResult{!fail};
    } else {
      return std::nullopt;
    }
    return r;
  }

  std::string message(Uid uid) const {
    switch (uid) {
      case 1: return "Subject: a\r\n\r\nbody\r\n.\r\n..\r\n";
      case 2: return "Subject: lf\n\n.x\nno end";
      case 3: return "";
      case 4: return "Subject: only headers\r\n";
      default: return std::string(input.substr(0, 200));  // the input itself as a message
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  SessionSettings s;
  s.hostname = "fuzz.example.test";
  s.allow_plaintext_auth = mode & 1;
  s.implicit_tls = mode & 2;
  s.stls_available = mode & 4;
  s.max_errors = (mode & 0x80) ? 0 : 10;
  s.max_line_length = 64 + (mode & 0x30);
  s.max_pipelined_bytes = 256;
  Fuzzer f(s, PeerInfo{"192.0.2.9", bool(mode & 2)}, mode, in);
  f.handle(f.session.greet());
  // Chunk sizes cycle 1, 2, ..., 17 so split points vary with position.
  size_t pos = 0, step = 1;
  while (pos < in.size()) {
    size_t n = std::min(step, in.size() - pos);
    f.handle(f.session.feed(in.substr(pos, n)));
    pos += n;
    step = step % 17 + 1;
  }
  switch (mode % 3) {
    case 0: f.handle(f.session.timeout()); break;
    case 1: f.handle(f.session.shutdown()); break;
    default: f.handle(f.session.disconnected()); break;
  }
  f.handle(f.session.disconnected());
  return 0;
}
