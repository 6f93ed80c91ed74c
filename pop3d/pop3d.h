// pop3d: the POP3 server protocol (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 SASL,
// RFC 3206 response codes) as a sans-I/O session.
//
// Implementation notes
// - Owns: command framing, the AUTHORIZATION / TRANSACTION / UPDATE state machine, the
//   per-session view of the maildrop (message numbers, deletion marks), response formatting
//   (multi-line responses, byte-stuffing, TOP extraction, LF -> CRLF repair).
// - Does not own: sockets, TLS, timers, the account database, the store. Everything that
//   blocks is asked for as an Action; the daemon runs it and feeds the ActionResult back
//   with complete(). A session never issues a second action that needs a result while one is
//   pending; input arriving meanwhile is buffered and answered in order (RFC 2449 PIPELINING).
// - Action contract for the daemon glue:
//     * Run a session's actions in the order emitted (a per-session serial queue), so that
//       Release always runs after the OpenMaildrop/Commit it follows.
//     * Authenticate, OpenMaildrop, MeasureSizes, Retrieve and Commit need complete();
//       MarkSeen and Release are fire-and-forget (completing them is allowed and ignored).
//     * Sizes may come later than the maildrop: OpenMaildrop may answer without them
//       (MaildropResult::sizes_known false) when computing them means reading messages (as
//       Dovecot does, the first login after delivery lists without reading). The session
//       then asks with MeasureSizes before the first command that shows sizes (STAT, LIST,
//       RSET), holding that command and whatever follows until the result arrives.
//     * Release is emitted exactly once when a session that issued OpenMaildrop ends in any
//       way (QUIT, timeout, shutdown, disconnect, error limit). It must release whatever lock
//       this session holds and be a no-op otherwise. Nothing is expunged except by Commit,
//       which is only emitted for QUIT in the TRANSACTION state (RFC 1939 §6).
//     * Message bytes (Retrieve) are the stored message with CRLF line ends. The session
//       repairs bare LF to CRLF and appends a final CRLF if missing; MessageInfo::size_octets
//       must be wire_size(bytes) (== bytes.size() for well-formed CRLF messages), the exact
//       count RETR sends before byte-stuffing.
//     * MessageInfo::uidl is the RFC 1939 §7 unique-id: 1-70 characters 0x21-0x7E, stable
//       across sessions, never reused. The store derives it from UIDVALIDITY and UID as
//       "<uidvalidity>.<uid>"; the session passes it through unchanged.
// - After a failed OpenMaildrop (in use, temporary) the session stays in AUTHORIZATION
//   (RFC 1939 §4 allows either); the client may retry or QUIT.
// - Line length: RFC 2449 §4 limits commands to 255 octets incl. CRLF; we accept up to
//   SessionSettings::max_line_length (default 512) to be lenient with clients; SASL
//   continuation lines may be up to sasl_max_line_length (RFC 5034 §4 does not limit them
//   to 255). Lines end in CRLF; a bare LF is accepted as a line end too.
// - Threading: a Session is a plain object used from one thread (the loop thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "auth/sasl.h"

namespace tern::pop3d {

struct SessionSettings {
  std::string hostname = "localhost";
  bool implicit_tls = false;          // pop3s listener: TLS from the first byte
  bool allow_plaintext_auth = false;  // allow USER/PASS and AUTH without TLS
  bool stls_available = false;        // a certificate is configured for STLS
  int max_errors = 10;                // client errors before -ERR and disconnect (0: no limit)
  size_t max_line_length = 512;       // command line incl. CRLF (RFC 2449 §4 says 255)
  size_t sasl_max_line_length = 4096; // SASL continuation lines incl. CRLF
  size_t max_pipelined_bytes = 64 * 1024;  // input buffered while an action is pending
  std::string implementation = "Tern";     // CAPA IMPLEMENTATION
};

struct PeerInfo {
  std::string ip;
  bool tls = false;  // TLS already active (implicit TLS)
};

using ActionId = uint64_t;
using Uid = uint64_t;

// --- Actions (session -> daemon) ---
struct Authenticate {
  std::string user;
  std::string password;
  std::string mechanism;  // "USER" (USER/PASS), "PLAIN", "LOGIN" or "SCRAM-SHA-256"
  // SCRAM: the exchange judged the client's proof; the daemon checks only the account.
  auth::SaslCredentials::Proof proof = auth::SaslCredentials::Proof::none;
};
struct LookupScramKeys {  // SCRAM (auth/sasl.h SaslNeedKeys): fake keys for unknown users
  std::string user;
};
struct OpenMaildrop {
  std::string user;  // the canonical user returned by Authenticate
};
struct MeasureSizes {  // MessageInfo::size_octets of the whole maildrop (see sizes_known)
  std::vector<Uid> uids;  // in maildrop order
};
struct Retrieve {
  Uid uid = 0;
};
struct MarkSeen {  // fire-and-forget: set \Seen after RETR (batched)
  std::vector<Uid> uids;
};
struct Commit {  // RFC 1939 §6 UPDATE state: expunge these, then the session ends
  std::vector<Uid> expunge;
};
struct Release {};  // fire-and-forget: unlock the maildrop; the session has ended

using ActionKind =
    std::variant<Authenticate, OpenMaildrop, Retrieve, MarkSeen, Commit, Release, MeasureSizes, LookupScramKeys>;

struct Action {
  ActionId id = 0;
  ActionKind kind;
};

// True for the actions the session waits on (Authenticate, OpenMaildrop, MeasureSizes,
// Retrieve, Commit):
// the daemon must feed their result back with complete(). MarkSeen and Release are
// fire-and-forget.
bool needs_result(const Action& action);

// --- Results (daemon -> session) ---
struct AuthResult {
  enum class Outcome { ok, invalid_credentials, locked_out, temporary_failure };
  Outcome outcome = Outcome::temporary_failure;
  std::string canonical_user;  // on ok
};
struct ScramKeysResult {
  bool ok = false;  // false: the account database failed
  auth::ScramKeys keys;
};
struct MessageInfo {
  Uid uid = 0;
  uint64_t size_octets = 0;  // wire_size() of the message: what RETR sends before stuffing
  std::string uidl;
};
struct MaildropResult {
  enum class Outcome { ok, in_use, temporary_failure };
  Outcome outcome = Outcome::temporary_failure;
  std::vector<MessageInfo> messages;  // on ok, in maildrop order (message 1 first)
  // false: size_octets are not filled in yet; the session asks with MeasureSizes when needed.
  bool sizes_known = true;
};
struct SizesResult {
  bool ok = false;              // false: -ERR [SYS/TEMP] for the command; asked again later
  std::vector<uint64_t> sizes;  // on ok: wire_size of each message, in MeasureSizes order
};
struct RetrieveResult {
  enum class Outcome { ok, gone, temporary_failure };
  Outcome outcome = Outcome::temporary_failure;
  std::string bytes;  // on ok: the message, CRLF line ends (or its wire body, see `wire`)
  // The daemon may prepare the body on a worker: bytes[headroom..] is then what
  // to_wire_body() made of the stored message (stuffed, CRLF, terminated) and `octets` what
  // it returned. RETR hands such a body to Output::bodies without copying it, its status
  // line written into the headroom when it fits (one write for both); TOP cuts its lines
  // from it.
  bool wire = false;
  uint64_t octets = 0;
  size_t headroom = 0;  // wire: free bytes in front of the body
};
struct CommitResult {
  bool ok = false;  // false: some deleted messages were not removed
};
struct DoneResult {};  // for MarkSeen / Release if the daemon chooses to complete them

struct ActionResult {
  ActionId id = 0;
  std::variant<AuthResult, MaildropResult, RetrieveResult, CommitResult, DoneResult, SizesResult, ScramKeysResult>
      value;
};

// --- Output (session -> daemon) ---
// A RETR response moved out of a wire-form RetrieveResult (see Output::bodies).
struct Body {
  size_t at = 0;     // written right after the first `at` octets of Output::bytes
  std::string data;  // the RetrieveResult's buffer
  size_t skip = 0;   // octets of `data` in front of what is written (unused headroom)
  std::string_view view() const { return std::string_view(data).substr(skip); }
};

struct Output {
  std::string bytes;            // write these to the peer
  // Responses built in wire-form RetrieveResult buffers instead of being copied into
  // `bytes`, in order (`at` non-decreasing). Empty unless the daemon sends wire bodies.
  std::vector<Body> bodies;
  std::vector<Action> actions;  // run these, in order
  bool close_after_write = false;
  bool start_tls = false;  // after writing bytes, start the TLS handshake, then tls_started()

  // Everything to write, bodies spliced into `bytes` (for tests and simple callers).
  std::string wire() const;
};

enum class State { authorization, transaction, update, closed };
const char* to_string(State s);

// The number of octets RETR sends for these stored bytes before byte-stuffing (bare LF
// counted as CRLF, plus a final CRLF if the message does not end with one).
uint64_t wire_size(std::string_view message);

// Turns `buf`, holding a stored message, into the body of its RETR response in place (the
// bytes append_multiline would produce: bare LF -> CRLF, final CRLF, RFC 1939 §3 stuffing,
// ".\r\n" terminator), reusing buf's capacity; returns wire_size() of the message. Pure:
// the daemon runs it on a worker and hands the result over as a wire-form RetrieveResult.
// Only buf[from..] is the message (bytes before it are left alone, e.g. headroom).
uint64_t to_wire_body(std::string& buf, size_t from = 0);

class Session {
 public:
  Session(const SessionSettings& settings, const PeerInfo& peer);

  Output greet();                           // "+OK <host> POP3 server ready" (no APOP)
  Output feed(std::string_view bytes);      // bytes from the peer
  Output complete(ActionResult r);          // result of an action from this session
  // timeout() and shutdown() say goodbye with -ERR, except during the STLS handshake (no
  // plaintext may be written then) and while a QUIT's Commit runs (it finishes first).
  Output timeout();                         // RFC 1939 §3 autologout: close, no UPDATE
  Output shutdown();                        // daemon stopping: close, no UPDATE
  Output disconnected();                    // the peer went away: Release, nothing deleted
  Output tls_started();                     // handshake after STLS done: AUTHORIZATION again
  // Whenever TLS is active (implicit TLS: at once): what SCRAM-SHA-256-PLUS binds to.
  void set_channel_bindings(auth::ChannelBindings b) { sasl_.set_channel_bindings(std::move(b)); }

  State state() const { return state_; }
  bool closed() const { return state_ == State::closed; }
  bool tls_active() const { return tls_; }
  bool action_pending() const { return pending_.has_value(); }
  const std::string& user() const { return user_; }

 private:
  struct Message {
    MessageInfo info;
    bool deleted = false;
  };
  enum class Pending { authenticate, scram_keys, open_maildrop, measure_sizes, retrieve, commit };
  struct PendingAction {
    ActionId id = 0;
    Pending kind = Pending::authenticate;
    size_t msg_index = 0;    // retrieve: which message
    bool top = false;        // retrieve: for TOP rather than RETR
    uint64_t top_lines = 0;  // retrieve: TOP line count
  };

  // session.cpp: framing, dispatch, lifecycle
  void process();
  std::optional<std::string> next_line(bool& overlong);
  Output take();
  void dispatch(std::string_view line);
  void reply_ok(std::string_view text);
  void reply_err(std::string_view text);  // a client error: counts towards max_errors
  void reply_err_nocount(std::string_view text);
  ActionId emit(ActionKind kind);
  ActionId begin(Pending kind, ActionKind action);
  void end_session(std::string_view final_line);
  void flush_seen();
  bool login_allowed() const;
  bool stls_offered() const;

  // commands_authorization.cpp
  void refuse_plaintext();
  void cmd_capa();
  void cmd_user(std::string_view arg);
  void cmd_pass(std::string_view arg);
  void cmd_auth(std::string_view arg);
  void cmd_stls(std::string_view arg);
  void cmd_quit_authorization();
  void sasl_line(std::string_view line);
  void sasl_result(auth::SaslStep step);
  void start_authenticate(std::string user, std::string password, std::string mechanism);
  void on_auth(const AuthResult& r);
  void on_scram_keys(const ScramKeysResult& r);
  void on_maildrop(const MaildropResult& r);
  bool sizes_needed(std::string_view line);  // asks for them first; true if it did
  void on_sizes(const SizesResult& r);

  // commands_transaction.cpp
  void cmd_stat();
  void cmd_list(std::string_view arg);
  void cmd_uidl(std::string_view arg);
  void cmd_retr(std::string_view arg);
  void cmd_top(std::string_view arg);
  void cmd_dele(std::string_view arg);
  void cmd_rset();
  void cmd_quit_transaction();
  void on_retrieve(const PendingAction& p, RetrieveResult& r);
  void on_commit(const CommitResult& r);
  std::optional<size_t> message_arg(std::string_view arg);  // replies -ERR on failure
  uint64_t live_count() const;
  uint64_t live_octets() const;

  SessionSettings settings_;
  PeerInfo peer_;
  State state_ = State::authorization;
  bool tls_ = false;
  bool tls_pending_ = false;  // STLS answered; input discarded until tls_started()
  bool discarding_ = false;   // inside an overlong line
  bool maildrop_opened_ = false;  // an OpenMaildrop was issued: Release owed at the end
  int errors_ = 0;
  ActionId next_id_ = 1;
  std::optional<PendingAction> pending_;
  auth::SaslExchange sasl_;  // AUTH (RFC 5034); the mechanism rules are auth/'s
  std::string user_arg_;  // from USER, awaiting PASS
  std::string user_;      // canonical, after login
  std::vector<Message> messages_;
  bool sizes_known_ = true;      // messages_[*].info.size_octets are filled in
  std::string held_line_;        // the command waiting for MeasureSizes
  std::vector<Uid> seen_;  // RETR'd, MarkSeen not yet emitted
  std::string in_;
  size_t in_pos_ = 0;  // consumed prefix of in_ (compacted lazily)
  Output out_;
};

}  // namespace tern::pop3d
