// screen/dnsbl.h: DNS blocklists and allowlists for the client address (RFC 5782).
//
// A zone lists an address by an A record under the address's reversed name: IPv4 octets in
// reverse order (RFC 5782 §2.1), IPv6 as 32 reversed nibbles (§2.4). Each configured zone
// has a weight (negative: an allowlist such as DNSWL) and the answers that count; a hit is
// reported as one scoring record {rule "DNSBL_<zone>", score = weight, detail = the answer}.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authn/ip.h"
#include "common/config.h"
#include "dns/records.h"

namespace tern::screen {

// One contribution to a message's spam score (the content stage adds these up).
struct ScoreRecord {
  std::string rule;    // "DNSBL_zen.spamhaus.org"
  int score = 0;       // the zone's weight
  std::string detail;  // "127.0.0.2"
  bool operator==(const ScoreRecord&) const = default;
};

// "2.0.0.127.zen.spamhaus.org"; IPv6: 32 nibbles, least significant first (RFC 5782 §2.4).
std::string query_name(const authn::IpAddress& ip, std::string_view zone);

// Whether an A answer ("127.0.0.2") is one of the zone's listing codes.
bool code_counts(const DnsblZone& zone, std::string_view answer);

// The blocklist answers for one client, asked at accept so they overlap the SMTP dialogue.
// Callbacks run on the resolver's thread; dropping the last reference drops them.
class DnsblLookup : public std::enable_shared_from_this<DnsblLookup> {
 public:
  static std::shared_ptr<DnsblLookup> start(dns::RecordResolver& resolver,
                                            const authn::IpAddress& client,
                                            const std::vector<DnsblZone>& zones);

  bool done() const { return pending_ == 0; }
  // fn() once every zone answered (at once when already done).
  void when_done(std::function<void()> fn);
  // Ends the wait: zones still unanswered count as not listed; the waiter runs now.
  void give_up();

  const std::vector<ScoreRecord>& hits() const { return hits_; }
  int score() const;                     // sum of the hits' weights
  bool allow_listed() const;             // a zone of negative weight listed the client
  // The listing zone of largest weight, for a reply text ("" when no blocklist hit).
  std::string worst_zone() const;

 private:
  void answered(const DnsblZone& zone, const dns::Answer& answer);
  void finish_one();

  int pending_ = 0;
  bool given_up_ = false;
  std::vector<ScoreRecord> hits_;
  std::vector<std::function<void()>> waiters_;
  void wake();
};

}  // namespace tern::screen
