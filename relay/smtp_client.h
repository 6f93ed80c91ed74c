// Sans-I/O SMTP client session (RFC 5321) for one connection to a remote MX or smarthost.
//
// The caller owns the socket, TLS and timers. It feeds received bytes with feed(), writes
// ClientOutput::write, runs the TLS handshake when start_tls is set (then calls
// tls_established() or tls_failed()), closes when close is set, arms a timer for
// timeout_seconds() after each call (RFC 5321 §4.5.3.2; timed_out() when it fires) and calls
// connection_lost() if the peer goes away. Each message's per-recipient results come out in
// ClientOutput::results exactly once, in queue order.
//
// Policy decisions made here: no 8BITMIME/SMTPUTF8 downgrade (permanent failure instead),
// SIZE checked before MAIL, AUTH only under TLS unless allowed, RSET only after a transaction
// that did not end with a reply to the end of DATA, 421 closes without QUIT (RFC 5321 §3.8).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::relay {

// ---- Replies and capabilities ----------------------------------------------------------------

enum class Outcome { delivered, temporary, permanent };
const char* to_string(Outcome outcome);
// 2xx -> delivered, 5xx -> permanent, anything else (4xx, junk) -> temporary.
Outcome classify_reply(int code);

struct SmtpReply {
  int code = 0;
  std::string enhanced;            // RFC 3463 "x.y.z" when the server sent one, else ""
  std::vector<std::string> lines;  // text of each line, enhanced code removed
  std::string text() const;        // lines joined by " "
  std::string str() const;         // "550 5.1.1 text", for logs and DSNs
};

// Incremental multi-line reply parser (RFC 5321 §4.2.1). Lines end in CRLF (bare LF
// tolerated); continuation lines use "ddd-", the last "ddd " or just "ddd".
class ReplyParser {
 public:
  enum class State { need_more, reply, error };
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // Extracts the next complete reply into `out` if there is one.
  State next(SmtpReply& out);
  void clear() { buffer_.clear(); }
  const std::string& error() const { return error_; }

  static constexpr size_t kMaxLine = 2048;     // RFC 5321 §4.5.3.1.5 says 512; be lenient
  static constexpr size_t kMaxLines = 256;

 private:
  std::string buffer_;
  std::string error_;
};

// EHLO keywords we act on (RFC 5321 §4.1.1.1 and the extension RFCs).
struct Capabilities {
  bool esmtp = false;       // EHLO accepted (false after the HELO fallback)
  bool starttls = false;    // RFC 3207
  bool pipelining = false;  // RFC 2920
  bool eightbitmime = false;  // RFC 6152
  bool smtputf8 = false;    // RFC 6531
  bool dsn = false;         // RFC 3461
  bool size_advertised = false;
  uint64_t size = 0;        // RFC 1870: 0 means "no fixed limit"
  std::vector<std::string> auth;  // RFC 4954 mechanisms, upper-case
};
Capabilities parse_ehlo_reply(const SmtpReply& reply);

// DATA payload: line ends normalised to CRLF, leading dots doubled (RFC 5321 §4.5.2), a final
// CRLF ensured and the terminating ".\r\n" appended.
std::string smtp_data_encode(std::string_view message);

// ---- Session -------------------------------------------------------------------------------

struct OutboundRecipient {
  std::string address;
  std::string notify;  // RFC 3461 NOTIFY value ("NEVER", "SUCCESS,FAILURE"...), "" = omit
  std::string orcpt;   // original recipient address for ORCPT=rfc822;..., "" = omit
};

struct OutboundMessage {
  std::string id;                 // the caller's id, echoed in the result
  std::string sender;             // reverse-path; "" is the null sender (bounces)
  std::vector<OutboundRecipient> recipients;
  std::string data;               // the RFC 5322 message (LF or CRLF line ends)
  bool requires_smtputf8 = false; // RFC 6532 headers; non-ASCII addresses are detected anyway
  std::string dsn_ret;            // "FULL" / "HDRS" / "" (RFC 3461 §4.3)
  std::string dsn_envid;          // RFC 3461 §4.4, "" = omit
};

struct RecipientResult {
  std::string address;
  Outcome outcome = Outcome::temporary;
  SmtpReply reply;  // the remote's reply, or one we synthesised (local = true)
  bool local = false;
};

struct MessageResult {
  std::string id;
  // temporary if any recipient is temporary, else permanent if any is permanent, else delivered.
  Outcome outcome = Outcome::temporary;
  std::vector<RecipientResult> recipients;
};

enum class TlsPolicy { none, opportunistic, required };

struct SmtpTimeouts {  // seconds; defaults from RFC 5321 §4.5.3.2
  int greeting = 300;   // §4.5.3.2.1
  int command = 300;    // EHLO, STARTTLS, AUTH, RSET, QUIT, TLS handshake
  int mail = 300;       // §4.5.3.2.2
  int rcpt = 300;       // §4.5.3.2.3
  int data_init = 120;  // §4.5.3.2.4
  int data_block = 180; // §4.5.3.2.5: the caller's per-write timeout while sending the body
  int data_end = 600;   // §4.5.3.2.6
};

struct SmtpClientSettings {
  std::string helo_name = "localhost";  // our hostname for EHLO/HELO
  TlsPolicy tls = TlsPolicy::opportunistic;
  bool tls_active = false;              // implicit TLS: the connection is already encrypted
  std::string auth_username;            // empty: no AUTH (smarthost credentials otherwise)
  std::string auth_password;
  bool allow_auth_without_tls = false;
  bool use_pipelining = true;
  SmtpTimeouts timeouts;
};

enum class ClientPhase { greeting, ehlo, helo, starttls, tls_handshake, auth, mail, rcpt, data,
                         data_end, rset, quit, done };
const char* to_string(ClientPhase phase);

struct ClientOutput {
  std::string write;     // bytes to send, in order
  bool start_tls = false;  // after writing, run the TLS client handshake
  bool close = false;      // after writing, close the connection
  std::vector<MessageResult> results;  // messages finished during this call
};

class SmtpClient {
 public:
  SmtpClient(SmtpClientSettings settings, std::vector<OutboundMessage> messages);

  ClientOutput feed(std::string_view bytes);
  ClientOutput tls_established();
  ClientOutput tls_failed(const std::string& reason);
  ClientOutput connection_lost();
  ClientOutput timed_out();

  ClientPhase phase() const;
  int timeout_seconds() const;  // for the current phase; 0 when done
  bool done() const { return phase() == ClientPhase::done; }
  bool tls_active() const { return tls_active_; }
  const Capabilities& capabilities() const { return caps_; }

 private:
  enum class Expect { greeting, ehlo, helo, starttls, auth_plain, auth_login_user,
                      auth_login_pass, auth_done, mail, rcpt, data, data_end, rset, quit };
  struct Pending {
    Expect kind;
    size_t index = 0;  // recipient index for rcpt
  };
  struct Transaction {
    Transaction() {}  // user-provided: clang 14 rejects optional::emplace() on the aggregate
    std::vector<std::optional<RecipientResult>> results;
    std::vector<bool> accepted;
    size_t accepted_count = 0;
    bool mail_failed = false;
    bool ignore_data = false;  // 354 after a failed MAIL/RCPTs: we sent "." alone
    std::string payload;       // smtp_data_encode(data)
  };

  void on_reply(const SmtpReply& reply, ClientOutput& out);
  void after_hello(ClientOutput& out);
  void after_tls_decision(ClientOutput& out);
  void next_message(ClientOutput& out);
  void send(ClientOutput& out, const std::string& line, Expect kind, size_t index = 0);
  void send_rcpt(ClientOutput& out, size_t i);
  void send_data_or_abort(ClientOutput& out);
  void finish_message(ClientOutput& out, bool needs_rset);
  void fail_remaining(ClientOutput& out, Outcome outcome, const SmtpReply& reply, bool local);
  void quit(ClientOutput& out);
  void abort_connection(ClientOutput& out, const std::string& why);
  const OutboundMessage& current() const { return messages_[current_]; }

  SmtpClientSettings settings_;
  std::vector<OutboundMessage> messages_;
  size_t current_ = 0;  // index of the message in progress / next to start
  std::optional<Transaction> txn_;
  bool rset_before_next_ = false;
  ReplyParser parser_;
  std::deque<Pending> pending_;
  Capabilities caps_;
  bool tls_active_ = false;
  bool in_tls_handshake_ = false;
  bool closed_ = false;
};

}  // namespace tern::relay
