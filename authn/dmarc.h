// authn/dmarc.h: DMARC (RFC 7489; DMARCbis's np= for non-existent subdomains).
//
// DmarcCheck is a sans-I/O Check run after SPF and DKIM: it looks up _dmarc.<From domain>,
// then _dmarc.<organizational domain> (RFC 7489 §6.6.3), evaluates identifier alignment
// (§3.1) and names the policy that applies and why: p= for the domain itself, sp= (or p=) for
// a subdomain, np= for a subdomain that does not exist (A, AAAA and MX all absent), with pct=
// sampling (§6.6.4: a message not sampled gets the next less strict policy) and t=y
// (DMARCbis testing mode: the same downgrade for every message).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authn/dkim.h"
#include "authn/psl.h"
#include "authn/resolver.h"
#include "authn/spf.h"
#include "common/result.h"

namespace tern::authn {

enum class DmarcPolicy { none, quarantine, reject };
const char* to_string(DmarcPolicy p);
enum class DmarcAlignment { relaxed, strict };

struct DmarcRecord {
  DmarcPolicy p = DmarcPolicy::none;
  std::optional<DmarcPolicy> sp;
  std::optional<DmarcPolicy> np;  // DMARCbis
  int pct = 100;
  bool testing = false;           // DMARCbis t=y
  DmarcAlignment adkim = DmarcAlignment::relaxed;
  DmarcAlignment aspf = DmarcAlignment::relaxed;
  std::vector<std::string> rua;   // URIs, e.g. "mailto:reports@example.com" (size limits kept)
  std::vector<std::string> ruf;
  std::string fo = "0";
};

// True when the TXT record starts with the DMARC version tag ("v=DMARC1", RFC 7489 §6.4).
bool is_dmarc_record(std::string_view txt);
// RFC 7489 §6.3/§6.4. Unknown tags are ignored; bad values of optional tags leave their
// defaults. A missing or invalid p= gives p=none when rua= holds a URI, else Errc::syntax
// (§6.6.3: no DMARC processing then).
Result<DmarcRecord> parse_dmarc_record(std::string_view txt);

enum class DmarcResult { none, pass, fail, temperror, permerror };
const char* to_string(DmarcResult r);

struct DmarcInput {
  std::string from_domain;  // the RFC5322.From domain (see from_domains())
  SpfVerdict spf;           // the MAIL FROM check (for <> it checked HELO: RFC 7489 §4.1 wants that)
  std::vector<DkimVerdict> dkim;
  // Uniform in [0, 100): a message is sampled when sample < pct. Injected (tests, randomness).
  uint32_t sample = 0;
};

struct DmarcVerdict {
  DmarcResult result = DmarcResult::none;
  std::string from_domain;
  std::string record_domain;   // where the record was found ("" when none)
  std::string policy_tag;      // "p", "sp" or "np": the tag that applied
  DmarcPolicy policy = DmarcPolicy::none;       // what that tag asks for
  DmarcPolicy disposition = DmarcPolicy::none;  // what to do: none on pass, policy after pct/t=
  bool sampled_out = false;    // pct= or t=y downgraded the policy
  bool spf_aligned = false;
  bool dkim_aligned = false;
  std::string dkim_domain;     // the aligned d= (first one) when dkim_aligned
  std::string reason;          // for logs, A-R comments and the 550 text
  std::optional<DmarcRecord> record;
};

class DmarcCheck final : public Check {
 public:
  DmarcCheck(DmarcInput input, const PublicSuffixList& psl);

  std::vector<Question> questions() override;
  void answer(const Question& question, const Answer& answer) override;
  bool done() const override { return done_; }
  const DmarcVerdict& verdict() const { return verdict_; }

 private:
  void step();
  const Answer* get(const std::string& name, RrType type);

  DmarcInput input_;
  PublicSuffixList psl_;
  std::map<Question, Answer> memo_;
  std::vector<Question> needed_;
  DmarcVerdict verdict_;
  bool done_ = false;
};

// The domains of every address in every From field (lower-case, each once, in order).
// DMARC applies only when there is exactly one (RFC 7489 §6.6.1).
std::vector<std::string> from_domains(const std::vector<std::string>& header_fields);

// Identifier alignment (RFC 7489 §3.1): strict wants equal names, relaxed equal
// organizational domains.
bool dmarc_aligned(std::string_view a, std::string_view b, DmarcAlignment mode, const PublicSuffixList& psl);

}  // namespace tern::authn
