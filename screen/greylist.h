// screen/greylist.h: greylisting (RFC 6647): the first delivery attempt of a (client
// network, sender, recipient) triplet is answered 451 4.7.1; a retry after `delay` and
// within `retry_window` passes, and a passed triplet passes at once for `pass_ttl` after its
// last use. Real MTAs retry; most spam engines do not.
//
// - The client network is the /24 of an IPv4 address and the /64 of an IPv6 one: large
//   senders retry from another host of the same pool.
// - decide() is the pure rule (unit-tested with an injected clock); Greylist keeps the rows
//   in SQLite (data_dir/greylist.db) and is BLOCKING and thread-safe: call it from workers.
// - Correspondents are bayes::Classifier's (the addresses each user has written to); the
//   glue exempts a sender whose SPF passed for a domain the recipient has written to.
// - Bounded: rows past their window or pass_ttl are deleted, and past `max_entries` the
//   least recently used go first (checked every few hundred calls).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "authn/ip.h"
#include "common/result.h"

namespace tern::sqlite {
class Connection;
}

namespace tern::screen {

struct GreylistSettings {
  int64_t delay = 300;
  int64_t retry_window = 86400;
  int64_t pass_ttl = 36 * 86400;
  int64_t max_entries = 200000;
};

struct Triplet {
  std::string net;     // greylist_net(ip)
  std::string sender;  // MAIL FROM, lower-case ("" for <>)
  std::string rcpt;    // RCPT TO, lower-case
};

// "192.0.2.0/24" / "2001:db8:1:2::/64".
std::string greylist_net(const authn::IpAddress& ip);

struct GreyRow {
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  bool passed = false;
  bool operator==(const GreyRow&) const = default;
};

struct GreyDecision {
  enum Reason { first_attempt, too_early, retried, known } reason = first_attempt;
  bool pass = false;
  GreyRow row;             // what to store
  int64_t wait = 0;        // deferred: seconds until a retry can pass
};
const char* to_string(GreyDecision::Reason r);

// The rule for one attempt, given the stored row (if any).
GreyDecision decide(const std::optional<GreyRow>& row, int64_t now, const GreylistSettings& s);

class Greylist {
 public:
  static Result<std::unique_ptr<Greylist>> open(const std::string& path, GreylistSettings settings);
  ~Greylist();

  // One delivery attempt: the decision, with the row updated. An error (database trouble)
  // is the caller's to answer (ternd: pass, greylisting is best effort).
  Result<GreyDecision> check(const Triplet& t, int64_t now);
  // Deletes expired rows and trims to max_entries (also run by check() now and then).
  Status expire(int64_t now);

  int64_t rows();  // tests

 private:
  explicit Greylist(std::unique_ptr<sqlite::Connection> db, GreylistSettings s);
  void expire_locked(int64_t now);

  std::mutex mu_;
  std::unique_ptr<sqlite::Connection> db_;
  GreylistSettings settings_;
  uint64_t calls_ = 0;
};

}  // namespace tern::screen
