// Transcript harness for pop3d::Session: a fake backend (accounts, one maildrop) answers the
// session's actions immediately unless `auto_complete` is off, so tests read as
//   EXPECT_EQ(h.send("STAT"), "+OK 2 40\r\n");
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/strings.h"
#include "pop3d/pop3d.h"

namespace pop3test {

using namespace tern::pop3d;

struct StoredMessage {
  Uid uid;
  std::string bytes;
  std::string uidl;
};

inline SessionSettings default_settings() {
  SessionSettings s;
  s.hostname = "mail.example.test";
  s.stls_available = true;
  s.max_errors = 10;
  s.implementation = "Tern-test";
  return s;
}

inline SessionSettings plaintext_settings() {
  SessionSettings s = default_settings();
  s.allow_plaintext_auth = true;
  return s;
}

inline std::vector<StoredMessage> two_messages() {
  return {
      {101, "Subject: one\r\n\r\nHello\r\n", "7.101"},
      {205, "Subject: two\r\nFrom: a@b\r\n\r\nline 1\r\nline 2\r\n", "7.205"},
  };
}

class Harness {
 public:
  explicit Harness(SessionSettings settings = plaintext_settings(), PeerInfo peer = {"192.0.2.1", false})
      : session(settings, peer) {
    passwords["alice"] = "secret";
    passwords["bob"] = "pass with spaces";
    maildrop = two_messages();
  }

  Session session;
  std::map<std::string, std::string> passwords;
  std::set<std::string> locked_users;
  bool auth_temporary = false;
  std::vector<StoredMessage> maildrop;
  MaildropResult::Outcome maildrop_outcome = MaildropResult::Outcome::ok;
  bool commit_ok = true;
  bool auto_complete = true;
  bool wire_bodies = false;  // answer Retrieve in wire form (to_wire_body), as ternd does
  size_t wire_headroom = 0;  // with wire_bodies: free bytes in front of the body
  bool defer_sizes = false;  // OpenMaildrop answers without sizes (MeasureSizes later)
  bool sizes_fail = false;   // MeasureSizes answers a temporary failure

  std::vector<Action> actions;  // every action emitted, in order
  std::vector<Uid> expunged;    // what Commit removed
  bool closed = false;
  bool start_tls = false;

  std::string greet() { return handle(session.greet()); }
  std::string feed(std::string_view bytes) { return handle(session.feed(bytes)); }
  std::string send(std::string_view line) { return feed(std::string(line) + "\r\n"); }
  std::string complete(const ActionResult& r) { return handle(session.complete(r)); }
  std::string timeout() { return handle(session.timeout()); }
  std::string shutdown() { return handle(session.shutdown()); }
  std::string disconnected() { return handle(session.disconnected()); }
  std::string tls_started() { return handle(session.tls_started()); }

  // Logs in as alice with USER/PASS (plaintext allowed or TLS active).
  std::string login() {
    send("USER alice");
    return send("PASS secret");
  }

  template <class T>
  std::vector<T> actions_of() const {
    std::vector<T> out;
    for (const auto& a : actions)
      if (auto* v = std::get_if<T>(&a.kind)) out.push_back(*v);
    return out;
  }
  template <class T>
  size_t count() const { return actions_of<T>().size(); }
  // Index of the last action of type T in `actions`, or -1.
  template <class T>
  int last_index() const {
    for (int i = static_cast<int>(actions.size()) - 1; i >= 0; --i)
      if (std::holds_alternative<T>(actions[i].kind)) return i;
    return -1;
  }

  std::string handle(Output o) {
    std::string bytes = o.wire();
    closed = closed || o.close_after_write;
    start_tls = start_tls || o.start_tls;
    for (auto& a : o.actions) {
      actions.push_back(a);
      if (!auto_complete) continue;
      if (auto r = answer(a)) bytes += handle(session.complete(*r));
    }
    return bytes;
  }

  // The fake backend's answer to an action (nullopt for fire-and-forget ones).
  std::optional<ActionResult> answer(const Action& a) {
    ActionResult r;
    r.id = a.id;
    if (auto* v = std::get_if<Authenticate>(&a.kind)) {
      AuthResult ar;
      std::string user = tern::ascii_lower(v->user);
      if (auth_temporary) ar.outcome = AuthResult::Outcome::temporary_failure;
      else if (locked_users.count(user)) ar.outcome = AuthResult::Outcome::locked_out;
      else if (passwords.count(user) && passwords[user] == v->password) {
        ar.outcome = AuthResult::Outcome::ok;
        ar.canonical_user = user + "@example.test";
      } else ar.outcome = AuthResult::Outcome::invalid_credentials;
      r.value = ar;
      return r;
    }
    if (std::holds_alternative<OpenMaildrop>(a.kind)) {
      MaildropResult mr;
      mr.outcome = maildrop_outcome;
      if (mr.outcome == MaildropResult::Outcome::ok)
        for (const auto& m : maildrop)
          mr.messages.push_back({m.uid, defer_sizes ? 0 : wire_size(m.bytes), m.uidl});
      mr.sizes_known = !defer_sizes;
      r.value = mr;
      return r;
    }
    if (auto* v = std::get_if<MeasureSizes>(&a.kind)) {
      SizesResult sr;
      sr.ok = !sizes_fail;
      for (Uid uid : v->uids)
        for (const auto& m : maildrop)
          if (m.uid == uid && sr.ok) sr.sizes.push_back(wire_size(m.bytes));
      r.value = sr;
      return r;
    }
    if (auto* v = std::get_if<Retrieve>(&a.kind)) {
      RetrieveResult rr;
      rr.outcome = RetrieveResult::Outcome::gone;
      for (const auto& m : maildrop)
        if (m.uid == v->uid) {
          rr.outcome = RetrieveResult::Outcome::ok;
          rr.bytes = m.bytes;
          if (wire_bodies) {
            rr.bytes = std::string(wire_headroom, '#') + m.bytes;
            rr.octets = to_wire_body(rr.bytes, wire_headroom);
            rr.wire = true;
            rr.headroom = wire_headroom;
          }
        }
      r.value = rr;
      return r;
    }
    if (auto* v = std::get_if<Commit>(&a.kind)) {
      if (commit_ok) expunged.insert(expunged.end(), v->expunge.begin(), v->expunge.end());
      r.value = CommitResult{commit_ok};
      return r;
    }
    return std::nullopt;
  }
};

// Splits a multi-line response body into lines without CRLF (for readable assertions).
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find("\r\n", pos);
    if (eol == std::string::npos) {
      out.push_back(text.substr(pos));
      break;
    }
    out.push_back(text.substr(pos, eol - pos));
    pos = eol + 2;
  }
  return out;
}

}  // namespace pop3test
