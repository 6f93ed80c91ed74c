// Private to relay/: the engine's shared state, the delivery attempt and DSN generation.
#pragma once

#include <atomic>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "relay/outbound.h"

namespace tern::relay {

// Reply texts we synthesise for routing outcomes (named once). RFC 3463 codes.
struct SynthReply {
  const char* code_and_status;
  const char* text;
  std::string str(const std::string& detail = {}) const {
    return std::string(code_and_status) + " " + text + (detail.empty() ? "" : ": " + detail);
  }
};
// RFC 7505 §4.2: a null MX domain gets 556 with enhanced status 5.1.10.
inline constexpr SynthReply kNullMx{"556 5.1.10", "recipient domain does not accept mail (null MX)"};
// RFC 3463 X.1.2: bad destination system address.
inline constexpr SynthReply kNoDomain{"550 5.1.2", "recipient domain not found"};
// RFC 3463 X.4.3: directory server failure (DNS), transient.
inline constexpr SynthReply kDnsTemporary{"451 4.4.3", "DNS lookup failed"};
// RFC 3463 X.4.1: no answer from host.
inline constexpr SynthReply kConnectFailed{"421 4.4.1", "connection failed"};
inline constexpr SynthReply kNoRoute{"451 4.4.0", "no mail exchanger could be reached"};
inline constexpr SynthReply kMissingFile{"451 4.3.0", "queued message file unreadable"};
// RFC 3463 X.4.7: delivery time expired.
inline constexpr const char* kExpiredStatus = "4.4.7";
inline constexpr SynthReply kExpired{"421 4.4.7", "delivery time expired"};

// Local delivery of queued DSNs (deliver_local_rows). RFC 3463 X.2.2 mailbox full is
// temporary; X.1.1 no such mailbox is permanent.
inline constexpr SynthReply kLocalDelivered{"250 2.0.0", "delivered to local mailbox"};
inline constexpr SynthReply kLocalMailboxFull{"452 4.2.2", "mailbox full"};
inline constexpr SynthReply kLocalNoUser{"550 5.1.1", "no such local mailbox"};
inline constexpr SynthReply kLocalFailed{"451 4.3.0", "local delivery failed"};

// The messages of one destination that one attempt carries (only that destination's rows).
struct AttemptJob {
  QueuedMessage message;
  std::string body;
  bool loaded = false;
};

struct Relay::State : std::enable_shared_from_this<Relay::State> {
  RelayOptions opt;
  RelayDeps deps;
  std::unique_ptr<net::Timer> timer;
  bool started = false;
  bool stopped = false;
  bool tick_running = false;
  bool tick_again = false;
  std::set<int64_t> inflight;           // recipient rows inside an attempt or its record
  std::set<int64_t> recently_recorded;  // rows recorded since the running tick started
  std::map<std::string, int> active_per_dest;
  int active_total = 0;
  int records_running = 0;
  RelayCounters counters;
  std::atomic<uint64_t> dsn_sent{0};

  int64_t now() const { return opt.clock ? opt.clock() : static_cast<int64_t>(::time(nullptr)); }
  std::string dkim_dir() const { return opt.data_dir + "/dkim"; }
  bool smarthost() const { return !opt.config.smarthost.address.host.empty(); }

  Result<std::string> enqueue_durably(const Envelope& envelope, std::string_view message);
  void request_tick();
  void tick_done(std::vector<QueuedMessage> due, std::optional<int64_t> next, int64_t at);
  void dispatch(const std::vector<QueuedMessage>& due);
  void start_attempt(const std::string& dest, std::vector<AttemptJob> jobs);
  void record(const std::string& dest, std::vector<int64_t> rows,
              std::vector<RecipientOutcome> outcomes);
  void arm_timer(std::optional<int64_t> next, int64_t at);
};

// Runs one attempt for one destination: routing (smarthost or MX list), every address of
// every MX in order, next MX on connection failure or 4xx. Loop thread.
void run_attempt(std::shared_ptr<Relay::State> state, std::string dest,
                 std::shared_ptr<std::vector<AttemptJob>> jobs,
                 std::function<void(std::vector<RecipientOutcome>)> done);

// Worker thread: delivers the rows of queued DSNs / postmaster notices whose recipient is
// local (deps.resolve_local) into the mailbox, removes them from the jobs and returns their
// outcomes (so they follow the retry schedule and expire like remote ones). Normal mail is
// left alone: the submission path already delivered its local recipients.
std::vector<RecipientOutcome> deliver_local_rows(Relay::State& state, std::vector<AttemptJob>& jobs);

// Worker thread: turns recipients with a DSN pending into DSN messages (queued, or delivered
// into a local sender's INBOX) and clears their marks. Returns how many DSNs were sent.
int generate_dsns(Relay::State& state, int64_t now);

}  // namespace tern::relay
