// Transcript harness for smtpd::Session: fake account/store answers, reply summaries.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/codec.h"
#include "smtpd/smtpd.h"

namespace tern::smtpd::testing {

inline constexpr int64_t kNow = 1700000000;

inline SessionSettings default_settings(ListenerKind kind = ListenerKind::mx) {
  SessionSettings s;
  s.hostname = "mx.example.test";
  s.kind = kind;
  s.max_message_size = 10000;
  s.max_recipients = 5;
  s.max_line_length = 1000;
  s.max_errors = 10;
  s.tls_available = true;
  s.clock = [] { return kNow; };
  s.make_id = [n = 0]() mutable { return "Q" + std::to_string(++n); };
  return s;
}

inline PeerInfo default_peer(bool tls = false) {
  PeerInfo p;
  p.ip = "192.0.2.7";
  p.port = 40000;
  if (tls) {
    p.tls = true;
    p.tls_version = "TLSv1.3";
    p.tls_cipher = "TLS_AES_256_GCM_SHA384";
  }
  return p;
}

// "250 2.1.0" per reply line ("354", "334 VXNl...", whole line for EHLO keyword lines).
inline std::string summarize(const std::string& bytes) {
  std::string out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t end = bytes.find("\r\n", pos);
    if (end == std::string::npos) end = bytes.size();
    std::string line = bytes.substr(pos, end - pos);
    pos = end + 2;
    std::string s = line.substr(0, 3);
    if (line.size() > 4) {
      std::string rest = line.substr(4);
      std::string word = rest.substr(0, rest.find(' '));
      bool enhanced = word.size() >= 5 && word[1] == '.' && (word[0] == '2' || word[0] == '4' ||
                                                               word[0] == '5');
      if (enhanced) s += " " + word;
      else if (line[3] == '-' || s == "334") s = line;  // EHLO keywords, SASL challenges
    }
    if (!out.empty()) out += "|";
    out += s;
  }
  return out;
}

class Harness {
 public:
  explicit Harness(SessionSettings s = default_settings(), PeerInfo p = default_peer())
      : session(s, p) {
    passwords["alice@example.test"] = "secret";
    passwords["locked@example.test"] = "x";
    passwords["tempfail@example.test"] = "x";
    local["alice@example.test"] = {"alice@example.test"};
    local["bob@example.test"] = {"bob@example.test"};
    local["team@example.test"] = {"alice@example.test", "bob@example.test"};
    local["postmaster"] = {"admin@example.test"};
    owned.insert({"alice@example.test", "alice@example.test"});
    absorb(session.greet());
  }

  // Sends one command line (CRLF added); returns the reply summary produced by it.
  std::string send(const std::string& line) { return feed(line + "\r\n"); }

  std::string feed(const std::string& bytes) {
    size_t before = written.size();
    if (trickle) {
      for (char c : bytes) absorb(session.feed(std::string_view(&c, 1)));
    } else {
      absorb(session.feed(bytes));
    }
    return summarize(written.substr(before));
  }

  // Completes the oldest held action (manual mode); returns new reply summary.
  std::string complete_next() {
    EXPECT_FALSE(held.empty());
    if (held.empty()) return "";
    Action a = held.front();
    held.erase(held.begin());
    size_t before = written.size();
    absorb(session.complete(answer(a)));
    return summarize(written.substr(before));
  }

  std::string raw_since(size_t mark) const { return written.substr(mark); }

  void absorb(Output out) {
    written += out.bytes;
    for (auto& l : out.log) log.push_back(l);
    if (out.close_after_write) closed = true;
    if (out.start_tls) start_tls = true;
    for (auto& a : out.actions) {
      actions.push_back(a);
      if (auto_complete) {
        absorb(session.complete(answer(a)));
      } else {
        held.push_back(a);
      }
    }
  }

  ActionResult answer(const Action& a) {
    ActionResult r;
    r.id = a.id;
    if (auto* lk = std::get_if<LookupScramKeys>(&a.request)) {
      // SCRAM: keys made from the user's password (a fixed salt), or from nothing.
      auto it = passwords.find(lk->user);
      r.result = ScramKeysResult{lk->user != "tempfail@example.test",
                                 auth::scram_keys(it == passwords.end() ? "" : it->second, "salt-of-test", 64)};
    } else if (auto* au = std::get_if<Authenticate>(&a.request)) {
      AuthResult res;
      using Proof = auth::SaslCredentials::Proof;
      if (au->proof != Proof::none) {
        res.status = au->proof == Proof::valid ? AuthResult::ok : AuthResult::bad;
        if (res.status == AuthResult::ok) res.user = au->user;
      } else if (au->user == "locked@example.test") res.status = AuthResult::locked_out;
      else if (au->user == "tempfail@example.test") res.status = AuthResult::temporary;
      else if (passwords.count(au->user) && passwords[au->user] == au->password) {
        res.status = AuthResult::ok;
        res.user = au->user;
      } else {
        res.status = AuthResult::bad;
      }
      r.result = res;
    } else if (auto* rr = std::get_if<ResolveRecipient>(&a.request)) {
      resolved.push_back(*rr);
      RecipientResult res;
      std::string key = ascii_lower(rr->address);
      if (local.count(key)) {
        res.status = RecipientResult::local;
        res.users = local[key];
      } else if (key == "full@example.test") {
        res.status = RecipientResult::over_quota;
      } else if (key == "diskfull@example.test") {
        res.status = RecipientResult::storage_full;
      } else if (key == "busy@example.test") {
        res.status = RecipientResult::temporary;
      } else if (key == "fwd@example.test") {
        res.status = RecipientResult::forward;
      } else if (rr->parsed.domain == "example.test") {
        res.status = RecipientResult::unknown_user;
      } else {
        res.status = rr->auth_user.empty() ? RecipientResult::not_local_domain
                                           : RecipientResult::remote;
      }
      r.result = res;
    } else if (auto* cs = std::get_if<CheckSender>(&a.request)) {
      SenderResult res;
      res.status = owned.count({cs->auth_user, cs->address}) ? SenderResult::owned
                                                             : SenderResult::not_owned;
      r.result = res;
    } else if (auto* d = std::get_if<Deliver>(&a.request)) {
      delivered.push_back(*d);
      DeliverResult res;
      res.status = deliver_status;
      res.text = "fake failure";
      r.result = res;
    }
    return r;
  }

  Session session;
  bool trickle = false;
  bool auto_complete = true;
  DeliverResult::Status deliver_status = DeliverResult::ok;
  std::vector<ResolveRecipient> resolved;  // every RCPT lookup asked, in order
  std::map<std::string, std::string> passwords;
  std::map<std::string, std::vector<std::string>> local;
  std::set<std::pair<std::string, std::string>> owned;
  std::string written;
  std::vector<std::string> log;
  std::vector<Action> actions;
  std::vector<Action> held;
  std::vector<Deliver> delivered;
  bool closed = false;
  bool start_tls = false;
};

// base64 of "\0user\0password" for AUTH PLAIN.
inline std::string plain_response(const std::string& user, const std::string& password) {
  return base64_encode(std::string("\0", 1) + user + std::string("\0", 1) + password);
}

}  // namespace tern::smtpd::testing
