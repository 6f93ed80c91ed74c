// authn/srs: the Sender Rewriting Scheme, so that mail an alias forwards off-site passes the
// next hop's SPF check (RFC 7208 §1.2: SPF checks the MAIL FROM domain against the sending
// IP, and a forwarder is not in the original sender's record).
//
// Why here: SRS is the sending half of SPF. The codec is pure (no I/O but the key file
// helper); daemon/delivery_policy.cpp applies it when it builds a forward's relay envelope and
// when RCPT names an SRS address (a bounce coming back).
//
// Address forms (the Shevek/libsrs2 "guarded" convention, our own hash):
//   SRS0=HHHHHHHH=TT=orig-domain=orig-local@our-domain
//       first forwarder: HHHHHHHH = hash of (TT, orig-domain, orig-local)
//   SRS1=HHHHHHHH=first-fwd==HHHHHHHH=TT=orig-domain=orig-local@our-domain
//       a sender that is already SRS0/SRS1 (mail forwarded twice): only the first
//       forwarder's host is kept, HHHHHHHH = our hash of (first-fwd, rest); a bounce goes
//       back to the first forwarder, which checks its own SRS0 part.
// HHHHHHHH: HMAC-SHA256 with the secret key over the lower-cased fields, the first 40 bits
// in base32 (8 characters: case-insensitive by construction, so an MTA that changes the
// case of a local part does not break it; 40 bits instead of libsrs2's 4 base64 characters
// because a forged address that verifies would make us an open relay to that target).
// TT: days since the epoch modulo 1024, two base32 characters; an SRS0 older than
// max_age_days is refused (the hash alone would let a bounce address live forever).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::authn {

class Srs {
 public:
  static constexpr size_t kHashLength = 8;
  static constexpr int kDefaultMaxAgeDays = 21;

  // `secret`: the raw key (load_srs_key); at least 16 bytes.
  explicit Srs(std::string secret, int max_age_days = kDefaultMaxAgeDays);

  // The envelope sender to use when forwarding mail from `sender` through `our_domain`.
  // The null reverse-path stays null (RFC 5321 §4.5.5: a bounce is never rewritten, it must
  // not provoke another). A sender without '@' is returned unchanged.
  std::string forward(std::string_view sender, std::string_view our_domain, int64_t now) const;

  enum class Verdict { not_srs, ok, malformed, bad_hash, expired };
  struct Reversed {
    Verdict verdict = Verdict::not_srs;
    std::string address;  // ok: where the bounce goes (the original sender, or for SRS1
                          // the first forwarder's SRS0 address)
  };
  // `local_part` of a recipient at one of our domains: is it an SRS address of ours, and
  // where does it lead?
  Reversed reverse(std::string_view local_part, int64_t now) const;

  // Whether `local_part` has the SRS0/SRS1 prefix (then reverse() decides; cheap).
  static bool looks_like_srs(std::string_view local_part);

 private:
  std::string hash(std::string_view a, std::string_view b, std::string_view c) const;
  bool hash_matches(std::string_view given, std::string_view a, std::string_view b,
                    std::string_view c) const;
  std::string secret_;
  int max_age_days_;
};

const char* to_string(Srs::Verdict v);

// data_dir/srs.key: 32 random bytes (hex), made once with mode 0600 and fsynced; read back
// on every later start. Two processes starting at once agree (link(2) never overwrites).
Result<std::string> load_srs_key(const std::string& path);

}  // namespace tern::authn
