// authn/resolver.h: how the sender checks ask DNS questions without doing I/O.
//
// Every check (SPF, DKIM keys, DMARC, iprev) is a sans-I/O `Check`: `questions()` lists the
// DNS questions it needs answered now, `answer()` feeds one answer back, `done()` says the
// verdict is ready. The check never blocks and never sees a socket or a clock. `drive()` runs a
// check over any `Resolver` (the interface of dns/records.h: c-ares in ternd, `FakeResolver`
// here in tests), asking every new question at once and re-asking the check after each answer.
//
// Lifetime: drive() keeps the check alive until it is done. If the resolver is destroyed first
// and drops its callbacks (CaresResolver does), the check is released and on_done is never
// called: the owner of both (a session's glue) is going away anyway.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "dns/records.h"

namespace tern::authn {

using dns::Answer;
using dns::Question;
using dns::Rcode;
using dns::RrType;
using Resolver = dns::RecordResolver;

class Check {
 public:
  virtual ~Check() = default;
  // The questions still needed. A question is listed until its answer is fed; listing one
  // again is fine (drive() never asks the same question twice while it is in flight).
  virtual std::vector<Question> questions() = 0;
  virtual void answer(const Question& question, const Answer& answer) = 0;
  virtual bool done() const = 0;
};

// Ends a check now: every question it still lists is answered with temperror until it is
// done, so its verdict says temperror wherever an answer was missing. For deadlines (RFC 7208
// §4.6.4 suggests 20 s for all of SPF) independent of the resolver's own timeouts. Answers
// that arrive later are ignored by the checks that are done.
void abandon(Check& check);

// Runs `check` to completion over `resolver`; on_done runs once, when check->done().
// Synchronous resolvers (the fake) complete inside this call, without recursion.
void drive(Resolver& resolver, std::shared_ptr<Check> check, std::function<void()> on_done);

// Test-only: a resolver answering from a zone table, synchronously by default.
// Zone text, one record a line ('#' starts a comment):
//   example.com        TXT  "v=spf1 " "mx -all"   (quoted strings are concatenated)
//   example.com        TXT  v=spf1 -all           (unquoted: the rest of the line)
//   mail.example.com   A    192.0.2.10
//   mail.example.com   AAAA 2001:db8::10
//   example.com        MX   10 mail.example.com
//   _imaps._tcp.example.com SRV 0 1 993 mail.example.com
//   10.2.0.192.in-addr.arpa PTR mail.example.com
//   broken.example     TEMPERROR                  (every type: SERVFAIL)
//   broken.example     TEMPERROR TXT              (only this type)
// A name with records of another type answers nodata; an unknown name answers nxdomain.
class FakeResolver final : public Resolver {
 public:
  FakeResolver() = default;
  explicit FakeResolver(std::string_view zone);  // aborts on a bad zone line (tests only)
  Status load(std::string_view zone);
  void add(const std::string& name, RrType type, std::string data, uint32_t ttl = 300);
  void add_mx(const std::string& name, uint16_t preference, const std::string& exchange);
  void add_srv(const std::string& name, dns::SrvAnswer srv);  // target "." or "" = the root
  void fail(const std::string& name, std::optional<RrType> type = std::nullopt);

  // Deferred mode: answers wait in a queue until run_pending() (to test asynchronous glue).
  void set_deferred(bool deferred) { deferred_ = deferred; }
  size_t run_pending();

  void lookup(const Question& question, dns::AnswerCallback cb) override;
  Answer resolve(const Question& question) const;

  const std::vector<Question>& asked() const { return asked_; }
  size_t count(RrType type) const;

 private:
  struct Entry {
    std::vector<std::string> records;
    std::vector<dns::MxAnswer> mx;
    std::vector<dns::SrvAnswer> srv;
  };
  std::map<std::pair<std::string, RrType>, Entry> zone_;
  std::set<std::string> names_;
  std::set<std::pair<std::string, int>> failures_;  // type -1: every type
  std::vector<Question> asked_;
  std::vector<std::pair<Question, dns::AnswerCallback>> pending_;
  bool deferred_ = false;
};

// Lower-cases and strips one trailing dot.
std::string normalize_domain(std::string_view name);

}  // namespace tern::authn
