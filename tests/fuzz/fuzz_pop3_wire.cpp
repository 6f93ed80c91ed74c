// Fuzzes the POP3 read path: fuzzed message bytes (bare LF, bare CR, dot lines, no final
// line end, empty) through pop3d::to_wire_body, and a session in TRANSACTION driven by
// fuzzed commands while its OpenMaildrop / MeasureSizes / Retrieve actions are completed
// late (pipelined input waits), with fuzzed outcomes.
//
// Checks what a client relies on:
// - to_wire_body == append_multiline, returns wire_size, leaves the headroom alone; the body
//   ends ".\r\n" after a CRLF (or is only ".\r\n"), no line is a lone "." before the end,
//   and unstuffing gives back the message with bare LF as CRLF and a final CRLF added.
// - Two sessions fed the same commands, one completed with wire-form bodies (as ternd
//   sends them) and one with plain bytes, write the same bytes.
// - Read as a client reads the transcript: STAT / LIST sizes are the messages' wire sizes
//   for the undeleted messages, RETR announces the octets it sends and sends the message,
//   TOP n k sends the header, the blank line and at most k body lines, and numbers that are
//   invalid or deleted get -ERR.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pop3d/message_format.h"
#include "pop3d/pop3d.h"

using namespace tern::pop3d;

namespace {

void check(bool ok) {
  if (!ok) abort();
}

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// What a client gets back after unstuffing, written independently of pop3d: every bare LF
// becomes CRLF; a message that does not end with LF gets one (a final lone CR becomes CRLF).
std::string normalise(std::string_view m) {
  std::string out;
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r')) out.push_back('\r');
    out.push_back(m[i]);
  }
  if (!m.empty() && m.back() != '\n') out += m.back() == '\r' ? "\n" : "\r\n";
  return out;
}

// CRLF-terminated text -> its lines (without CRLF).
std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find("\r\n", pos);
    check(eol != std::string_view::npos);
    out.emplace_back(text.substr(pos, eol - pos));
    pos = eol + 2;
  }
  return out;
}

// RFC 1939 §7 TOP n k, from the normalised lines: the header, the blank line, k body lines.
std::vector<std::string> expected_top(const std::string& message, uint64_t k) {
  std::vector<std::string> all = lines_of(normalise(message));
  for (size_t i = 0; i < all.size(); ++i) {
    if (!all[i].empty()) continue;
    uint64_t keep = i + 1 + std::min<uint64_t>(k, all.size());
    if (keep < all.size()) all.resize(static_cast<size_t>(keep));
    break;
  }
  return all;
}

// A multi-line body (terminator included) -> the lines a client keeps after unstuffing.
std::vector<std::string> unstuff(std::string_view body) {
  check(ends_with(body, ".\r\n"));
  std::vector<std::string> lines = lines_of(body);
  check(!lines.empty() && lines.back() == ".");
  lines.pop_back();
  for (auto& l : lines) {
    check(l != ".");  // would end the response early
    if (!l.empty() && l[0] == '.') l.erase(0, 1);  // RFC 1939 §3 byte-stuffing
  }
  return lines;
}

std::string join_crlf(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\r\n";
  return out;
}

void check_wire_body(const std::string& message, size_t headroom) {
  std::string buf(headroom, 'H');
  buf += message;
  const uint64_t octets = to_wire_body(buf, headroom);
  check(buf.compare(0, headroom, std::string(headroom, 'H')) == 0);
  const std::string_view body = std::string_view(buf).substr(headroom);
  std::string plain;
  check(detail::append_multiline(plain, message) == octets);
  check(body == plain);
  check(octets == wire_size(message));
  // The content before the terminator is empty or ends with CRLF: ".\r\n" starts a line.
  check(ends_with(body, ".\r\n"));
  std::string_view content = body.substr(0, body.size() - 3);
  check(content.empty() || ends_with(content, "\r\n"));
  check(content.empty() == message.empty());
  const std::string want = normalise(message);
  check(octets == want.size());
  check(join_crlf(unstuff(body)) == want);
  // TOP straight from the stored bytes.
  for (uint64_t k : {uint64_t(0), uint64_t(1), uint64_t(3), UINT64_MAX}) {
    std::string top;
    detail::append_multiline(top, detail::top_of(message, k));
    check(unstuff(top) == expected_top(message, k));
  }
}

// --- the session pair --------------------------------------------------------------------

struct Sent {
  enum Kind { user, pass, stat, list, uidl, retr, top, dele, rset, noop, capa, quit } kind = noop;
  uint64_t n = 0;  // message number (0: no argument for LIST/UIDL)
  uint64_t k = 0;  // TOP line count
  std::string line;
};

struct Harness {
  FuzzedDataProvider& fdp;
  std::vector<std::string> messages;  // uid i + 1 is messages[i], message number i + 1
  Session wire_side, plain_side;
  std::string transcript;
  std::vector<Sent> sent;
  std::optional<std::pair<Action, Action>> pending;
  bool closed = false;
  int releases = 0;
  bool sizes_known_at_open;

  Harness(FuzzedDataProvider& f, std::vector<std::string> m, const SessionSettings& s, bool sizes_known)
      : fdp(f), messages(std::move(m)), wire_side(s, PeerInfo{"192.0.2.7", true}),
        plain_side(s, PeerInfo{"192.0.2.7", true}), sizes_known_at_open(sizes_known) {}

  void take(const Output& w, const Output& p) {
    const std::string bytes = w.wire();
    check(bytes == p.wire());
    check(p.bodies.empty());
    check(w.close_after_write == p.close_after_write);
    if (!bytes.empty()) {
      check(!closed);
      check(ends_with(bytes, "\r\n"));
    }
    transcript += bytes;
    closed = closed || w.close_after_write;
    check(w.actions.size() == p.actions.size());
    for (size_t i = 0; i < w.actions.size(); ++i) {
      check(w.actions[i].id == p.actions[i].id && w.actions[i].kind.index() == p.actions[i].kind.index());
      if (std::holds_alternative<Release>(w.actions[i].kind)) ++releases;
      check(releases <= 1);
      if (!needs_result(w.actions[i])) continue;
      check(!pending);  // one action awaiting a result at a time
      pending.emplace(w.actions[i], p.actions[i]);
    }
  }

  void complete() {
    auto [aw, ap] = *std::exchange(pending, std::nullopt);
    const uint8_t d = fdp.ConsumeIntegral<uint8_t>();
    const bool fail = (d & 7) == 7;
    ActionResult rw, rp;
    rw.id = aw.id;
    rp.id = ap.id;
    if (std::holds_alternative<Authenticate>(aw.kind)) {
      AuthResult r;
      r.outcome = fail ? AuthResult::Outcome::invalid_credentials : AuthResult::Outcome::ok;
      r.canonical_user = "user@example.test";
      rw.value = rp.value = r;
    } else if (std::holds_alternative<OpenMaildrop>(aw.kind)) {
      MaildropResult r;
      r.outcome = fail ? MaildropResult::Outcome::temporary_failure : MaildropResult::Outcome::ok;
      for (size_t i = 0; i < messages.size(); ++i)
        r.messages.push_back({i + 1, sizes_known_at_open ? wire_size(messages[i]) : 0, "7." + std::to_string(i + 1)});
      r.sizes_known = sizes_known_at_open;
      rw.value = rp.value = r;
    } else if (auto* m = std::get_if<MeasureSizes>(&aw.kind)) {
      SizesResult r;
      r.ok = !fail;
      for (Uid uid : m->uids) {
        check(uid >= 1 && uid <= messages.size());
        r.sizes.push_back(wire_size(messages[uid - 1]));
      }
      if ((d & 7) == 6) r.sizes.push_back(0);  // a daemon bug: the wrong count is refused
      rw.value = rp.value = r;
    } else if (auto* v = std::get_if<Retrieve>(&aw.kind)) {
      check(v->uid >= 1 && v->uid <= messages.size());
      RetrieveResult plain;
      plain.outcome = fail ? RetrieveResult::Outcome((d >> 3) % 3) : RetrieveResult::Outcome::ok;
      plain.bytes = messages[v->uid - 1];
      RetrieveResult wire = plain;
      if (wire.outcome == RetrieveResult::Outcome::ok) {
        // ternd's headroom (32) fits the status line; 0 and 5 do not.
        static constexpr size_t kHeadrooms[] = {32, 0, 5, 64};
        const size_t headroom = kHeadrooms[(d >> 3) & 3];
        wire.bytes = std::string(headroom, 'H') + plain.bytes;
        wire.octets = to_wire_body(wire.bytes, headroom);
        wire.wire = true;
        wire.headroom = headroom;
      }
      rw.value = std::move(wire);
      rp.value = std::move(plain);
    } else if (std::holds_alternative<Commit>(aw.kind)) {
      rw.value = rp.value = CommitResult{!fail};
    } else {
      abort();
    }
    Output ow = wire_side.complete(std::move(rw));
    Output op = plain_side.complete(std::move(rp));
    take(ow, op);
  }

  void send(Sent s) {
    s.line += "\r\n";
    // Split at a fuzzed point so a command may arrive in two reads.
    const size_t cut = fdp.ConsumeIntegralInRange<size_t>(0, s.line.size());
    const std::string line = s.line;
    sent.push_back(std::move(s));
    for (std::string_view part : {std::string_view(line).substr(0, cut), std::string_view(line).substr(cut)}) {
      Output ow = wire_side.feed(part);
      Output op = plain_side.feed(part);
      take(ow, op);
    }
  }

  Sent next_command() {
    const uint8_t op = fdp.ConsumeIntegral<uint8_t>();
    Sent s;
    s.kind = Sent::noop;
    const uint64_t n = fdp.ConsumeIntegralInRange<uint64_t>(0, messages.size() + 1);
    auto num = [&](const char* verb) {
      s.n = n;
      s.line = std::string(verb) + " " + std::to_string(n);
    };
    switch (op % 16) {
      case 0: s.kind = Sent::stat; s.line = "STAT"; break;
      case 1: s.kind = Sent::list; s.line = "LIST"; break;
      case 2: s.kind = Sent::list; num("LIST"); break;
      case 3: s.kind = Sent::uidl; s.line = "UIDL"; break;
      case 4: case 5: case 6: s.kind = Sent::retr; num("RETR"); break;
      case 7: case 8: case 9: {
        s.kind = Sent::top;
        num("TOP");
        s.k = (op & 0x80) ? fdp.ConsumeIntegral<uint64_t>() : fdp.ConsumeIntegralInRange<uint64_t>(0, 4);
        s.line += " " + std::to_string(s.k);
        break;
      }
      case 10: s.kind = Sent::dele; num("DELE"); break;
      case 11: s.kind = Sent::rset; s.line = "RSET"; break;
      case 12: s.kind = Sent::capa; s.line = "CAPA"; break;
      case 13: s.kind = Sent::user; s.line = "USER user@example.test"; break;
      case 14: s.kind = Sent::pass; s.line = "PASS secret"; break;
      default:
        if (op == 0xff) {
          s.kind = Sent::quit;
          s.line = "QUIT";
        } else {
          s.kind = Sent::noop;
          s.line = "NOOP";
        }
        break;
    }
    // "LIST 0" is an argument (refused), unlike LIST alone (n == 0 in Sent).
    if (s.kind == Sent::list && s.line != "LIST" && s.n == 0) s.n = UINT64_MAX;
    return s;
  }

  // --- reading the transcript as a client ---
  size_t pos = 0;
  std::string status_line() {
    size_t eol = transcript.find("\r\n", pos);
    check(eol != std::string::npos);
    std::string line = transcript.substr(pos, eol - pos);
    pos = eol + 2;
    return line;
  }
  std::vector<std::string> body() {
    size_t end = transcript.find("\r\n.\r\n", pos == 0 ? 0 : pos - 2);
    check(end != std::string::npos);
    end += 5;
    std::vector<std::string> lines = unstuff(std::string_view(transcript).substr(pos, end - pos));
    pos = end;
    return lines;
  }

  void read_transcript() {
    check(status_line().rfind("+OK ", 0) == 0);  // greeting
    bool transaction = false;
    std::set<uint64_t> deleted;
    auto valid = [&](uint64_t n) { return n >= 1 && n <= messages.size() && !deleted.count(n); };
    auto live_octets = [&] {
      uint64_t sum = 0;
      for (size_t i = 0; i < messages.size(); ++i)
        if (!deleted.count(i + 1)) sum += wire_size(messages[i]);
      return sum;
    };
    for (const Sent& s : sent) {
      if (pos == transcript.size()) {
        check(closed);  // a command without an answer only once the session has ended
        return;
      }
      const std::string st = status_line();
      const bool ok = st.rfind("+OK", 0) == 0;
      check(ok || st.rfind("-ERR", 0) == 0);
      if (s.kind == Sent::capa && ok) (void)body();
      if (s.kind == Sent::pass && ok) {
        transaction = true;
        deleted.clear();
      }
      if (s.kind == Sent::quit) return;
      if (!transaction) continue;
      switch (s.kind) {
        case Sent::stat:
          if (ok) check(st == "+OK " + std::to_string(messages.size() - deleted.size()) + " " + std::to_string(live_octets()));
          break;
        case Sent::list:
          if (s.n != 0) {
            if (!valid(s.n)) check(!ok);
            if (ok) check(st == "+OK " + std::to_string(s.n) + " " + std::to_string(wire_size(messages[s.n - 1])));
            break;
          }
          if (ok) {
            std::vector<std::string> want;
            for (uint64_t i = 1; i <= messages.size(); ++i)
              if (!deleted.count(i)) want.push_back(std::to_string(i) + " " + std::to_string(wire_size(messages[i - 1])));
            check(body() == want);
          }
          break;
        case Sent::uidl:
          if (ok) {
            std::vector<std::string> want;
            for (uint64_t i = 1; i <= messages.size(); ++i)
              if (!deleted.count(i)) want.push_back(std::to_string(i) + " 7." + std::to_string(i));
            check(body() == want);
          }
          break;
        case Sent::retr:
          if (!valid(s.n)) check(!ok);
          if (ok) {
            const std::string& m = messages[s.n - 1];
            check(st == "+OK " + std::to_string(wire_size(m)) + " octets");
            check(join_crlf(body()) == normalise(m));
          }
          break;
        case Sent::top:
          if (!valid(s.n)) check(!ok);
          if (ok) check(body() == expected_top(messages[s.n - 1], s.k));
          break;
        case Sent::dele:
          if (!valid(s.n)) check(!ok);
          if (ok) deleted.insert(s.n);
          break;
        case Sent::rset:
          if (ok) {
            deleted.clear();
            check(st == "+OK maildrop has " + std::to_string(messages.size()) + " messages (" +
                            std::to_string(live_octets()) + " octets)");
          }
          break;
        default: break;
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const uint8_t mode = fdp.ConsumeIntegral<uint8_t>();
  std::vector<std::string> messages;
  const size_t count = fdp.ConsumeIntegralInRange<size_t>(0, 5);
  for (size_t i = 0; i < count; ++i) messages.push_back(fdp.ConsumeRandomLengthString(2048));
  for (const auto& m : messages)
    for (size_t headroom : {size_t(0), size_t(7)}) check_wire_body(m, headroom);

  SessionSettings s;
  s.hostname = "fuzz.example.test";
  s.implicit_tls = true;
  s.max_errors = 0;  // every command gets its own answer (no disconnect at an error limit)
  Harness h(fdp, messages, s, mode & 1);
  h.take(h.wire_side.greet(), h.plain_side.greet());
  h.send(Sent{Sent::user, 0, 0, "USER user@example.test"});
  h.send(Sent{Sent::pass, 0, 0, "PASS secret"});
  for (int steps = 0; steps < 300 && fdp.remaining_bytes() > 0 && !h.closed; ++steps) {
    // Results arrive late: commands sent meanwhile wait (RFC 2449 PIPELINING).
    if (h.pending && fdp.ConsumeBool()) h.complete();
    else h.send(h.next_command());
  }
  for (int i = 0; i < 400 && h.pending && !h.closed; ++i) h.complete();
  check(!h.pending || h.closed);
  h.read_transcript();
  switch (mode >> 1 & 3) {
    case 0: h.take(h.wire_side.timeout(), h.plain_side.timeout()); break;
    case 1: h.take(h.wire_side.shutdown(), h.plain_side.shutdown()); break;
    default: h.take(h.wire_side.disconnected(), h.plain_side.disconnected()); break;
  }
  h.take(h.wire_side.disconnected(), h.plain_side.disconnected());
  return 0;
}
