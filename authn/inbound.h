// authn/inbound.h: one inbound SMTP connection's sender checks, in the order the SMTP glue
// sees the transaction. It owns no I/O: every DNS question goes to the injected Resolver.
//
//   connected(ip)            iprev starts (RFC 8601 §3)
//   mail_from(helo, path)    SPF starts for MAIL FROM (HELO for <>), a new transaction
//   data(bytes)...           DKIM streams; key lookups start when the header block ends
//   end_of_data(cb)          waits for SPF, the DKIM keys and iprev, runs DMARC, then calls
//                            cb once with every verdict and the Authentication-Results field
//
// Callbacks run on the resolver's thread (the loop), possibly inside these calls when the
// resolver is synchronous. DKIM's canonicalisation and body hashing go through
// InboundSettings::offload (ternd: the connection's serial executor on the worker pool):
// one hashing job at a time per transaction, the bytes that arrive meanwhile coalesced into
// the next; the verifier's DNS stays on the loop. Destroying the InboundAuth (or starting a new transaction) drops
// pending callbacks of the old transaction without calling them.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "authn/auth_results.h"
#include "authn/dkim_key_cache.h"
#include "authn/dmarc.h"
#include "authn/psl.h"

namespace tern::authn {

struct InboundSettings {
  std::string authserv_id;     // our host name (RFC 8601 §2.5)
  bool check_helo = false;     // also check the HELO identity on its own (RFC 7208 §2.3)
  size_t max_header_bytes = 1024 * 1024;
  // Decoded DKIM keys shared by every connection (ternd: one per process). Null: none kept.
  std::shared_ptr<DkimKeyCache> dkim_keys;
  // Runs `work` off the calling thread, then `then` back on it (always, exactly once, even
  // when the pool refuses: run both inline then). Empty: both run inline (tests).
  std::function<void(std::function<void()> work, std::function<void()> then)> offload;
  // Hashing jobs with fewer bytes than this run inline: for a small message the thread hop
  // (a wake-up there and back) costs more than canonicalising and hashing a few kilobytes.
  size_t offload_min_bytes = 0;
};

struct AuthOutcome {
  AuthVerdicts verdicts;
  std::string header;  // "Authentication-Results: ...\r\n", to prepend
};

class InboundAuth {
 public:
  // `now` gives unix seconds (SPF %{t}, DKIM x=); `sample` gives a uniform value in [0, 100)
  // for DMARC pct=. Both injected so tests are deterministic.
  InboundAuth(Resolver& resolver, PublicSuffixList psl, InboundSettings settings,
              std::function<int64_t()> now, std::function<uint32_t()> sample);
  ~InboundAuth();
  InboundAuth(const InboundAuth&) = delete;
  InboundAuth& operator=(const InboundAuth&) = delete;

  void connected(const IpAddress& client, std::string receiver_host);
  // Starts a new transaction (RSET or a second MAIL FROM drop the previous one).
  void mail_from(std::string helo, std::string reverse_path);
  void data(std::string_view bytes);
  // The transaction's MAIL FROM SPF verdict once it is known (nullopt while it runs).
  std::optional<SpfVerdict> mail_from_spf() const;
  // fn() once that verdict is known (at once when it is, or when no transaction runs).
  // Dropped uncalled when a new transaction starts or this InboundAuth dies.
  void when_mail_from_spf(std::function<void()> fn);
  void end_of_data(std::function<void(AuthOutcome)> done);
  // The same after data(last): the last bytes and the end of the message in one hashing job.
  void end_of_data(std::string_view last, std::function<void(AuthOutcome)> done);
  // The deadline passed (a glue timer, e.g. a few seconds after end of DATA): every check
  // still waiting for DNS ends with temperror now, and the end_of_data callback runs (inside
  // this call) if it was waiting. Idempotent; later DNS answers are ignored.
  void give_up();

  struct Conn;  // private
  struct Txn;   // private

 private:
  std::shared_ptr<Conn> conn_;
  std::shared_ptr<Txn> txn_;
};

}  // namespace tern::authn
