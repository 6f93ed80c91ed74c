// smtpd: the plain structs a Session is built from and talks in (settings, peer, actions,
// results, output). No behaviour here; see session.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "auth/sasl.h"
#include "common/strings.h"

namespace tern::smtpd {

enum class ListenerKind { mx, submission, submissions };
const char* to_string(ListenerKind kind);

// What to do with a bare CR or bare LF inside DATA (never a message terminator either way).
enum class BareNewlinePolicy { reject, normalize };

struct SessionSettings {
  std::string hostname = "localhost";
  ListenerKind kind = ListenerKind::mx;
  uint64_t max_message_size = 50ull << 20;  // advertised as SIZE; applies to stored bytes
  int max_recipients = 100;
  int max_line_length = 1000;  // including CRLF; command lines and DATA lines
  int max_errors = 10;         // error replies before 421 and close
  bool allow_plaintext_auth = false;
  // AUTH offered at all on this listener (the MX listener only when smtp.auth_on_mx is set).
  bool auth_enabled = true;
  bool tls_available = false;  // a TLS context exists: STARTTLS may be offered
  BareNewlinePolicy bare_newline = BareNewlinePolicy::reject;
  bool relay_available = false;  // authenticated users may send to remote domains
  std::function<int64_t()> clock;         // unix seconds, for the Received: date
  std::function<std::string()> make_id;   // queue ids
  // Free-space guard (issue 20): whether the server can take a message of this many bytes
  // (0 = size unknown) without eating into its disk reserve. Unset = always. ternd answers
  // from its last reading, without a system call (the session runs on the loop thread).
  std::function<bool(uint64_t bytes)> has_room;
  // Issue 17 (MX listener): commands the client sent before the reply to an earlier one,
  // where RFC 2920 forbids it (after HELO, EHLO or DATA, or without EHLO at all): 554, close.
  bool reject_unauth_pipelining = false;
  // Issue 17: whether this unauthenticated client may start one more message now (its
  // per-address rate; the call counts it). Unset = always. False: MAIL gets 451 4.7.1.
  std::function<bool()> may_start_message;
};

struct PeerInfo {
  std::string ip;
  uint16_t port = 0;
  std::string reverse_name;  // verified reverse DNS name, empty when unknown
  bool tls = false;          // true from the start on "submissions"
  std::string tls_version;   // "TLSv1.3"
  std::string tls_cipher;    // "TLS_AES_256_GCM_SHA384"
};

// DSN (RFC 3461) NOTIFY flags as a bit set; 0 = not given.
enum NotifyFlags : uint8_t {
  kNotifyNever = 1,
  kNotifySuccess = 2,
  kNotifyFailure = 4,
  kNotifyDelay = 8,
};

enum class DsnRet { unspecified, full, hdrs };

// ---- Actions: work the daemon runs (on workers) and answers with complete(). ----

struct Authenticate {
  std::string user;
  std::string password;   // PLAIN and LOGIN
  std::string mechanism;  // "PLAIN", "LOGIN" or "SCRAM-SHA-256"
  // SCRAM: the exchange judged the client's proof; the daemon checks only the account.
  auth::SaslCredentials::Proof proof = auth::SaslCredentials::Proof::none;
};

// SCRAM (auth/sasl.h SaslNeedKeys): the user's keys, fake ones for an unknown user.
struct LookupScramKeys {
  std::string user;
};

struct ResolveRecipient {
  std::string address;     // as the client gave it, without <>
  MailAddress parsed;      // domain lower-cased; "postmaster" alone gives domain ""
  std::string auth_user;   // authenticated user or empty
  // The transaction so far, for checks the glue starts early (SPF at the first RCPT, so its
  // DNS overlaps the rest of the transaction): MAIL FROM's path ("" for <>) and HELO.
  std::string reverse_path;
  std::string helo;
};

struct CheckSender {
  std::string auth_user;
  std::string address;
  MailAddress parsed;
};

struct EnvelopeRecipient {
  std::string address;             // as given in RCPT TO
  std::string orcpt;               // RFC 3461 ORCPT, raw "type;xtext", may be empty
  uint8_t notify = 0;              // NotifyFlags
  bool remote = false;             // relay to `address`
  std::vector<std::string> users;  // local users this address delivers to (after dedup)
};

struct Envelope {
  std::string sender;  // empty for the null reverse-path <>
  std::vector<EnvelopeRecipient> recipients;
  std::string envid;  // RFC 3461 ENVID (xtext as given), may be empty
  DsnRet ret = DsnRet::unspecified;
  bool body_8bitmime = false;
  bool smtputf8 = false;
  std::string auth_user;
  std::string client_ip;
  std::string helo;
  std::string queue_id;  // the id used in the Received: header

  // Every local user exactly once, in first-seen order.
  std::vector<std::string> local_users() const;
  // Every remote recipient address exactly once.
  std::vector<std::string> remote_addresses() const;
};

struct Deliver {
  Envelope envelope;
  std::string message;  // CRLF lines, our Received: header first, dot-unstuffed
};

using ActionRequest = std::variant<Authenticate, ResolveRecipient, CheckSender, Deliver, LookupScramKeys>;

struct Action {
  uint64_t id = 0;
  ActionRequest request;
};

// ---- Results ----

struct AuthResult {
  enum Status { ok, bad, locked_out, temporary } status = bad;
  std::string user;  // canonical user name when ok
};

struct ScramKeysResult {
  bool ok = false;  // false: the account database failed (454 4.7.0)
  auth::ScramKeys keys;
};

struct RecipientResult {
  // forward: one of OUR addresses (an alias) whose mail goes off-site. Unlike `remote` it is
  // accepted without authentication (it is not relaying: we are the destination), as long as
  // the relay can take it.
  // storage_full: the server's disk is at its reserve (not the user's quota).
  enum Status {
    local,
    remote,
    forward,
    unknown_user,
    not_local_domain,
    over_quota,
    storage_full,
    temporary,
    // A local policy of the MX listener (issue 17: greylisting, rate limits, blocklists):
    // 451 4.7.1 / 550 5.7.1 with `text` as the reply text when set.
    policy_deferred,
    policy_refused
  } status = temporary;
  std::vector<std::string> users;  // when local
  std::string text;                // policy_*: one line of printable ASCII, may be empty
};

struct SenderResult {
  enum Status { owned, not_owned } status = not_owned;
};

struct DeliverResult {
  // policy_rejected: a sender policy refuses the message (e.g. DMARC p=reject): 550 5.7.1
  // with `text` as the reply text (one line of printable ASCII), nothing was stored.
  // policy_deferred: a sender check could not finish (SPF temperror with
  // inbound_auth.spf_temperror = "tempfail"): 451 4.4.3 with `text`, nothing stored.
  // virus_rejected: 554 5.7.1 with `text`; scan_deferred: 451 4.7.1 with `text` (a content
  // scanner is down). Nothing stored for either.
  enum Status { ok, temporary, permanent, policy_rejected, policy_deferred, virus_rejected, scan_deferred } status =
      temporary;
  std::string queue_id;  // when ok; empty means "the id from the Deliver envelope"
  std::string text;      // failure detail for the log (shown only for policy_*)
};

using ActionResultValue = std::variant<AuthResult, RecipientResult, SenderResult, DeliverResult, ScramKeysResult>;

struct ActionResult {
  uint64_t id = 0;
  ActionResultValue result;
};

// ---- Output of every Session call ----

struct Output {
  std::string bytes;            // write these to the peer, in order
  std::vector<Action> actions;  // at most one per call in practice; run, then complete()
  std::vector<std::string> log; // "key=value" notes for the daemon's log
  bool start_tls = false;       // after writing `bytes`, run the TLS handshake
  bool close_after_write = false;
};

}  // namespace tern::smtpd
