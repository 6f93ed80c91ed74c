// smtpd: the sans-I/O SMTP server session. See smtpd.h for the implementation notes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sasl.h"
#include "smtpd/command.h"
#include "smtpd/data_reader.h"
#include "smtpd/types.h"

namespace tern::smtpd {

struct Reply;

// Logged on change by the daemon if it wants; to_string gives a stable name.
enum class State {
  fresh,          // greeted, no HELO/EHLO yet
  ready,          // HELO/EHLO done, no transaction
  mail,           // MAIL accepted (recipients may follow)
  data,           // reading DATA body
  bdat,           // reading a BDAT chunk
  auth,           // waiting for a SASL response line
  tls_handshake,  // STARTTLS accepted, waiting for tls_started()
  closed,
};
const char* to_string(State state);

class Session {
 public:
  Session(const SessionSettings& settings, const PeerInfo& peer);

  Output greet();                                  // the 220 banner
  // Instead of greet() (issue 17, the glue's screening of the MX listener):
  Output refuse_busy();         // 421 4.7.0: too many connections from this address, close
  Output early_talker();        // 554 5.5.1: input before the greeting (RFC 5321 §4.3.1), close
  Output feed(std::string_view bytes);             // bytes from the peer (any split)
  Output complete(const ActionResult& result);     // result of the pending action
  Output timeout();                                // 421 4.4.2, close
  Output shutdown();                               // 421 4.3.2 now, or at the next safe point
  void tls_started(std::string version, std::string cipher);  // after Output::start_tls
  // Whenever TLS is active (implicit TLS: before the greeting): what SCRAM-SHA-256-PLUS binds to.
  void set_channel_bindings(auth::ChannelBindings b) { sasl_.set_channel_bindings(std::move(b)); }

  State state() const;
  bool closed() const { return phase_ == Phase::closed; }
  bool action_pending() const { return pending_.has_value(); }
  const std::string& auth_user() const { return auth_user_; }
  // The message body received so far in this transaction (DATA unstuffed, or the BDAT chunks
  // so far), for checks that stream over it (DKIM); empty outside DATA/BDAT. The Deliver
  // action's message is our Received: field followed by exactly these bytes.
  std::string_view body_so_far() const;

 private:
  enum class Phase { command, auth_response, data, bdat, tls_handshake, closed };
  enum class PendingKind { auth, scram_keys, sender, recipient, deliver };

  struct Pending {
    uint64_t id = 0;
    PendingKind kind = PendingKind::auth;
    Command command;     // MAIL/RCPT that asked (for the reply and the envelope)
    std::string detail;  // AUTH: the user name given; DATA/BDAT: the queue id
  };

  struct Transaction {
    bool active = false;
    std::string sender;
    MailParams params;
    std::vector<EnvelopeRecipient> recipients;
    int accepted = 0;  // RCPTs answered 250, duplicates included
    bool bdat_used = false;
    bool bdat_too_big = false;
    std::string bdat_body;
    uint64_t bdat_size = 0;
  };

  // Input loop.
  void process(Output& out);
  bool take_line(size_t limit, std::string_view* line, bool* too_long);
  void dispatch(std::string_view line, Output& out);
  void consume_data(Output& out);
  void consume_bdat(Output& out);

  // Replies and bookkeeping.
  void reply(Output& out, const Reply& r, std::string_view text = {});
  void close_with(Output& out, const Reply& r);
  Output refuse_connection(const Reply& r, const char* reason);
  bool maybe_shutdown(Output& out);
  uint64_t start_action(Output& out, ActionRequest request, PendingKind kind, Command cmd);
  void reset_transaction();

  // Commands (session_commands.cpp).
  void cmd_helo(const Command& cmd, Output& out);
  void cmd_mail(const Command& cmd, Output& out);
  void cmd_rcpt(const Command& cmd, Output& out);
  void cmd_data(Output& out);
  void cmd_bdat(const Command& cmd, Output& out);
  void cmd_starttls(Output& out);
  void cmd_auth(const Command& cmd, Output& out);
  void auth_response(std::string_view line, Output& out);
  void auth_step(auth::SaslStep step, size_t line_size, Output& out);
  void finish_data(Output& out);
  void finish_bdat_chunk(Output& out);
  void start_delivery(std::string body, Output& out);
  void accept_sender(const Command& cmd, Output& out);

  // Results.
  void on_scram_keys(const ScramKeysResult& r, Output& out);
  void on_auth(const AuthResult& r, const std::string& user, Output& out);
  void on_sender(const SenderResult& r, const Command& cmd, Output& out);
  void on_recipient(const RecipientResult& r, const Command& cmd, Output& out);
  void on_deliver(const DeliverResult& r, const std::string& queue_id, Output& out);

  bool unauth_pipelining(Verb verb, Output& out);
  std::string ehlo_reply() const;
  std::string received_header(const std::string& queue_id) const;

  SessionSettings settings_;
  PeerInfo peer_;
  Phase phase_ = Phase::command;
  std::string in_;
  size_t in_pos_ = 0;
  bool overflow_ = false;        // pipelined input past the cap while an action was pending
  bool discarding_line_ = false; // skipping the rest of an overlong command line
  std::string helo_;
  bool esmtp_ = false;
  std::string auth_user_;
  Transaction tx_;
  std::optional<Pending> pending_;
  uint64_t next_action_id_ = 1;
  int errors_ = 0;
  bool shutdown_requested_ = false;

  // DATA
  std::optional<DataReader> data_;
  // BDAT chunk in progress
  uint64_t bdat_remaining_ = 0;
  bool bdat_last_ = false;
  const Reply* bdat_refusal_ = nullptr;  // reply once the chunk is read, instead of storing it

  // AUTH exchange (RFC 4954); the mechanism rules are auth::SaslExchange's.
  auth::SaslExchange sasl_;
};

}  // namespace tern::smtpd
