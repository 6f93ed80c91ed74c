// reports (part of reports.h): one evaluated message as a report row, and their aggregation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authn/auth_results.h"

namespace tern::reports {

// RFC 7489 Appendix C DKIMAuthResultType / SPFAuthResultType.
struct DkimAuth {
  std::string domain, selector, result;
  auto operator<=>(const DkimAuth&) const = default;
};
struct SpfAuth {
  std::string domain, scope, result;  // scope: "mfrom" or "helo"
  auto operator<=>(const SpfAuth&) const = default;
};

// RFC 7489 Appendix C RecordType without its count: the row, identifiers and auth_results.
struct Row {
  std::string source_ip;
  std::string disposition = "none";  // policy_evaluated: none | quarantine | reject (applied)
  std::string dkim = "fail";         // policy_evaluated: aligned DKIM pass | fail
  std::string spf = "fail";          // policy_evaluated: aligned SPF pass | fail
  std::string reason;                // PolicyOverrideType ("" none, local_policy, sampled_out)
  std::string envelope_to;           // RFC5321.RcptTo domain ("" unknown)
  std::string envelope_from;         // RFC5321.MailFrom domain ("" for <>)
  std::string header_from;           // RFC5322.From domain
  std::vector<DkimAuth> dkim_results;
  std::vector<SpfAuth> spf_results;
  auto operator<=>(const Row&) const = default;
};

// The DMARC record the row was evaluated against (Appendix C PolicyPublishedType).
struct PublishedPolicy {
  std::string domain;  // where the record was found (the policy domain of §7.1)
  std::string adkim = "r", aspf = "r", p = "none", sp, np;  // sp/np "" when not published
  int pct = 100;
  std::string fo = "0";
  std::vector<std::string> rua;  // as published, "mailto:a@b!10m"
  bool operator==(const PublishedPolicy&) const = default;
};

struct Observation {
  PublishedPolicy policy;
  Row row;
};

// What the MX knows of one message besides the verdicts.
struct MessageFacts {
  std::string client_ip;
  std::string mail_from;     // reverse-path ("" for <>)
  std::string rcpt;          // the first recipient
  bool enforced = true;      // inbound_auth.dmarc = "enforce"
  bool allow_listed = false; // inbound_auth.allow_* exempted the message
};

// The observation for a message whose DMARC was evaluated against a record that asks for
// aggregate reports (rua=); nullopt otherwise (no DMARC verdict, no record, no rua=).
std::optional<Observation> observe(const authn::AuthVerdicts& verdicts, const MessageFacts& facts);

// auth_results as one text for the db: "dkim\tdomain\tselector\tresult\n" and
// "spf\tdomain\tscope\tresult\n" lines (tabs and newlines in values become spaces).
std::string encode_auth(const Row& row);
void decode_auth(std::string_view text, Row& row);

// Identical observations counted in memory (the loop thread's batch). The policy kept for a
// domain is the last one seen.
class Aggregator {
 public:
  void add(const Observation& o, int64_t count = 1);
  bool empty() const { return rows_.empty(); }
  size_t size() const { return rows_.size(); }
  struct Entry {
    PublishedPolicy policy;
    Row row;
    int64_t count = 0;
  };
  // Every distinct row with its count (policy domain order), and clears.
  std::vector<Entry> take();

 private:
  std::map<std::string, PublishedPolicy> policies_;
  std::map<std::pair<std::string, Row>, int64_t> rows_;
};

}  // namespace tern::reports
