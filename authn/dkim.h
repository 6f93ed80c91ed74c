// authn/dkim.h: DKIM verification (RFC 6376; Ed25519 per RFC 8463; RFC 8301 crypto rules).
//
// DkimVerifier streams over a message as it arrives: feed() buffers the header block only
// (bounded), then canonicalises and hashes body chunks on the fly (one canonicaliser per
// canonicalisation in use, one SHA-256 per signature because of l=); nothing of the body is
// kept. When the header block is complete, feed() returns true: from then on questions()
// lists the key records (TXT <s>._domainkey.<d>) to fetch, so key lookups overlap the rest
// of DATA. results() gives one verdict per signature once end_of_message() was called and
// every key question was answered (done()).
//
// Verdicts (RFC 8601 §2.7.1):
//   pass       signature and body hash verified;
//   fail       body hash or signature mismatch, signature expired (x=), key revoked (p=);
//   policy     rsa-sha1 (RFC 8301 §3.1), RSA key under 1024 bits (RFC 8301 §3.2);
//   neutral    algorithm or key type we do not know;
//   temperror  the key lookup failed temporarily;
//   permerror  malformed signature or key record, no key record, t=s / h= / s= key
//              restrictions violated, From not signed.
// Only the first kMaxSignatures signatures are evaluated (RFC 6376 §6.1: verifiers may limit
// the work spent on one message); the rest are ignored.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authn/dkim_key_cache.h"
#include "authn/resolver.h"
#include "authn/tag_list.h"
#include "common/result.h"
#include "mime/dkim_canon.h"

namespace tern::authn {

enum class DkimResult { none, pass, fail, policy, neutral, temperror, permerror };
const char* to_string(DkimResult r);

enum class DkimAlgorithmId { rsa_sha256, ed25519_sha256, rsa_sha1, unknown };

// A parsed DKIM-Signature header field (RFC 6376 §3.5).
struct DkimSignature {
  std::string algorithm;  // a= as written
  DkimAlgorithmId alg = DkimAlgorithmId::unknown;
  std::string b;          // b= base64, FWS removed
  std::string bh;         // bh= base64, FWS removed
  mime::DkimCanon header_canon = mime::DkimCanon::simple;
  mime::DkimCanon body_canon = mime::DkimCanon::simple;
  std::string domain;     // d=, lower-case
  std::vector<std::string> headers;  // h=, lower-case, in order
  std::string identity;   // i= (default "@" + d)
  std::optional<uint64_t> length;     // l=
  std::string selector;   // s=, lower-case
  std::optional<int64_t> timestamp;   // t=
  std::optional<int64_t> expiration;  // x=
};

// The value of a DKIM-Signature field (after the colon). Errc::syntax with the reason on any
// violation of RFC 6376 §3.5 / §6.1.1 that makes the signature unusable.
Result<DkimSignature> parse_dkim_signature(std::string_view value);

// A parsed key record (RFC 6376 §3.6.1, RFC 8463 §4.2).
struct DkimKeyRecord {
  std::string key_type = "rsa";         // k=
  std::vector<std::string> hashes;      // h= (empty: any)
  std::vector<std::string> services;    // s= (empty: "*")
  std::vector<std::string> flags;       // t=
  std::string public_key;               // p= decoded bytes; empty: revoked
  bool testing() const;                 // t=y
  bool strict() const;                  // t=s
};
Result<DkimKeyRecord> parse_dkim_key(std::string_view txt);

struct DkimVerdict {
  DkimResult result = DkimResult::none;
  std::string domain;     // d= (header.d)
  std::string selector;   // s= (header.s)
  std::string algorithm;  // a= (header.a)
  std::string identity;   // i= (header.i)
  std::string b_prefix;   // the first 8 characters of b= (header.b, RFC 6008)
  std::string reason;     // why, for non-pass results
  bool testing = false;   // key has t=y
};

struct DkimOptions {
  int64_t now = 0;                        // unix seconds, for x=
  size_t max_header_bytes = 1024 * 1024;  // header block kept for hashing; more: permerror
  std::shared_ptr<DkimKeyCache> key_cache;  // null: every key is decoded for this message
};

class DkimVerifier final : public Check {
 public:
  static constexpr size_t kMaxSignatures = 8;

  explicit DkimVerifier(DkimOptions options);
  ~DkimVerifier() override;
  DkimVerifier(const DkimVerifier&) = delete;
  DkimVerifier& operator=(const DkimVerifier&) = delete;

  // Message bytes after SMTP dot-unstuffing, CRLF (lone LF accepted), chunked any way.
  // Returns true once, from the call in which the header block became complete.
  bool feed(std::string_view bytes);
  // The message is complete. Returns true when this completed the header block (a message
  // without a body): start the key lookups then.
  bool end_of_message();

  bool headers_complete() const { return headers_done_; }
  // The header fields ("Name: value" with folds, without the final CRLF), in order; valid
  // once headers_complete(). DMARC reads From here, A-R stripping reads them too.
  const std::vector<std::string>& header_fields() const { return fields_; }

  // Check: key lookups. done() once headers are complete and every key was answered.
  std::vector<Question> questions() override;
  void answer(const Question& question, const Answer& answer) override;
  bool done() const override;

  // One verdict per evaluated signature, in header order; empty: unsigned (dkim=none).
  // Valid after end_of_message() and done().
  std::vector<DkimVerdict> results() const;

  struct State;  // private

 private:
  void complete_headers(size_t header_len);
  void hash_body(std::string_view chunk);
  void absorb(int canon_index, std::string_view canonical);

  DkimOptions options_;
  std::string header_buf_;
  bool headers_done_ = false;
  bool too_big_ = false;
  bool ended_ = false;
  std::vector<std::string> fields_;
  std::vector<std::unique_ptr<State>> sigs_;
  std::unique_ptr<mime::DkimBodyCanonicalizer> canon_[2];
  std::map<std::string, std::optional<Answer>> keys_;  // key name -> answer
};

// The RFC 6376 §3.7 header hash input, exposed for tests: the canonicalised fields named by
// h= (bottom-up instance selection, §5.4.2), then the signature field itself with an empty
// b= value and no final CRLF.
std::string dkim_header_hash_input(const std::vector<std::string>& fields, size_t signature_index,
                                   const DkimSignature& sig);

}  // namespace tern::authn
