// daemon (private): ternd's one DNS layer ([dns]) and the sender checks of the MX listener
// ([inbound_auth]): SPF, DKIM, DMARC and iprev through authn::InboundAuth, the
// Authentication-Results header, and what the verdicts do to a message.
//
// Flow (docs/flow.md has the whole picture):
//   accept (MX listener)  MxAuth made, iprev starts (its DNS runs while the client talks)
//   first RCPT            SPF starts for MAIL FROM (HELO for <>): overlaps RCPT and DATA
//   DATA / BDAT           the body so far streams to the DKIM verifier after every read,
//                         hashed on the worker pool (the connection's serial executor; the
//                         bytes read while a job runs go in the next one); its key lookups
//                         start on the loop when the header block is complete
//   end of DATA           the rest of the body; a timer of inbound_auth.timeout seconds
//                         bounds the wait: missing answers become temperror (never a hang)
//   verdicts              decide(): reject (550 5.7.1, nothing stored), junk (the
//                         recipients' \Junk folder) or inbox; A-R fields claiming our
//                         hostname are removed and ours is prepended (RFC 8601 §5)
// Submission listeners and authenticated clients get no MxAuth work at all: their messages
// are ours (no A-R, never rejected or junked).
//
// Threading: everything here lives on the loop thread (c-ares, the cache, the checks), but
// for the DKIM body hashing jobs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "authn/authn.h"
#include "common/config.h"
#include "common/result.h"
#include "daemon/inbound_policy.h"
#include "daemon/runtime.h"

namespace tern::dns {
class CaresResolver;
class CachingResolver;
}  // namespace tern::dns
namespace tern::net {
class Timer;
}  // namespace tern::net

namespace tern::daemon {

// ---- ternd-wide state ------------------------------------------------------------------

class InboundChecks {
 public:
  ~InboundChecks();
  const InboundPolicy& policy() const { return policy_; }
  authn::Resolver& resolver();
  const authn::PublicSuffixList& psl() const { return psl_; }
  // Decoded DKIM public keys, shared by every MX connection (decoding dominates DKIM's CPU).
  const std::shared_ptr<authn::DkimKeyCache>& dkim_keys() const { return dkim_keys_; }

  struct Private;

 private:
  friend Result<std::shared_ptr<InboundChecks>> start_inbound_checks(Runtime& rt);
  InboundChecks() = default;
  InboundPolicy policy_;
  authn::PublicSuffixList psl_;
  std::shared_ptr<authn::DkimKeyCache> dkim_keys_ = std::make_shared<authn::DkimKeyCache>();
  std::unique_ptr<dns::CaresResolver> cares_;
  std::unique_ptr<dns::CachingResolver> cache_;
};

// Creates the DNS layer (c-ares over dns.servers, the TTL cache) and the checks; sets
// rt.dns, rt.dns_records and rt.inbound_checks. Loop thread, before the listeners start.
// The result must outlive every connection and the relay (destroy it after loop.run()).
Result<std::shared_ptr<InboundChecks>> start_inbound_checks(Runtime& rt);

// ---- one MX connection -----------------------------------------------------------------

class MxAuth {
 public:
  MxAuth(Runtime& rt, std::shared_ptr<InboundChecks> checks, std::string client_ip);
  ~MxAuth();
  MxAuth(const MxAuth&) = delete;
  MxAuth& operator=(const MxAuth&) = delete;

  // The transaction's MAIL FROM is known (first RCPT): SPF starts unless already running
  // for the same identities.
  void transaction(const std::string& helo, const std::string& reverse_path);
  // The body so far (smtpd::Session::body_so_far): the new bytes go to the DKIM verifier
  // while the message arrives.
  void data(std::string_view body_so_far);
  // The MAIL FROM domain when its SPF check has already passed, else "" (greylisting).
  std::string spf_pass_domain() const;
  // fn() once the MAIL FROM SPF verdict is known (at once when no check runs); dropped
  // uncalled with this MxAuth or a new transaction (callers bound the wait themselves).
  void when_spf_known(std::function<void()> fn);

  struct Result {
    InboundDecision decision;
    std::string message;  // A-R fields of ours removed, our A-R prepended
    authn::AuthVerdicts verdicts;  // as reported (checks that are off left out)
  };
  // End of DATA: `message` starts with our Received: field. `done` runs once on the loop
  // thread (possibly inside this call), within inbound_auth.timeout seconds; never after
  // this MxAuth is destroyed.
  void finish(const std::string& helo, const std::string& reverse_path, std::string message,
              const std::string& queue_id, std::function<void(Result)> done);

 private:
  Runtime& rt_;
  std::shared_ptr<InboundChecks> checks_;
  std::string client_ip_;
  std::unique_ptr<authn::InboundAuth> auth_;  // null when every check is off
  std::unique_ptr<net::Timer> deadline_;
  bool txn_started_ = false;
  size_t fed_ = 0;  // body bytes of this transaction given to the DKIM verifier
  std::string txn_helo_, txn_path_;
};

}  // namespace tern::daemon
