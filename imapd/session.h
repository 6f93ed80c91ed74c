// The IMAP server session: executes parsed commands (imap_parser.h) over the shared store.
//
// Execution model ("strand"): the daemon glue calls a Session only from worker threads, one
// call at a time per connection (never concurrently), and buffers socket input on the loop
// thread while a call runs. The session may therefore call the Store and the Authenticator
// directly (they are thread-safe and blocking). It never touches sockets, timers or the clock
// (Backend::now() is the injected clock), so unit tests drive it as transcripts against a real
// Store in a temporary directory.
//
// Change notification: while a mailbox is selected the session holds a Store::watch whose
// callback (run on whatever thread committed) marks the mailbox dirty and calls
// Backend::change_notifier(). The glue's notifier posts to the loop and schedules
// on_mailbox_changed() on the strand; in IDLE that call writes the untagged updates at once.
//
// Streaming: with SessionSettings::stream_threshold, a large FETCH passes its output to
// Backend::write_partial() in chunks while it runs (the glue writes each at once, in order,
// before the call's Output). Only response bytes are streamed: close/STARTTLS/delay never.
//
// Sequence numbers: each session keeps its own seq -> UID map. Other sessions' changes are
// announced only at the points RFC 9051 §7.5.1 allows (see session_sync.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "common/result.h"
#include "store/store.h"

namespace tern::imapd {

struct SessionSettings {
  std::string hostname = "localhost";
  int max_errors = 20;                       // BAD answers before "* BYE" (0: no limit)
  size_t max_line_length = 65536;
  uint64_t max_literal_size = 50ull << 20;   // APPENDLIMIT (RFC 7889)
  uint64_t max_preauth_literal = 8192;       // literals accepted before login
  bool tls_active = false;                   // implicit TLS (imaps)
  bool tls_available = false;                // STARTTLS may be offered (plain listener)
  bool allow_plaintext_auth = false;         // LOGIN/AUTHENTICATE without TLS
  bool compress_available = false;           // the connection can run COMPRESS=DEFLATE
  // A FETCH whose output passes this many bytes hands it to Backend::write_partial() and
  // goes on (0: never; everything comes back in the call's Output). The client then reads
  // the first responses while the rest is rendered, and no mailbox-sized buffer is built.
  size_t stream_threshold = 0;
  // RFC 5465 §5.8: other mailboxes' changes waiting for the client past this many (distinct
  // mailboxes) end NOTIFY with NOTIFICATIONOVERFLOW.
  size_t notify_max_pending = 1000;
};

struct PeerInfo {
  std::string ip;
  uint16_t port = 0;
  std::string listener = "imap";
};

// What the session needs from the daemon. Every function may block; all are called on the
// session's strand except change_notifier()'s result, which may run on any thread.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual store::Store& store() = 0;
  // auth::Authenticator::login with protocol "imap" (it logs and throttles).
  virtual auth::LoginResult login(std::string_view user, std::string_view password,
                                  std::string_view ip) = 0;
  // UNAUTHENTICATE (RFC 8437): the user logged out but the connection stays (per-user
  // connection counts let go).
  virtual void logged_out() {}
  // SCRAM-SHA-256 (auth::Authenticator::scram_keys / login_proven, protocol "imap").
  virtual Result<auth::ScramKeys> scram_keys(std::string_view user) = 0;
  virtual auth::LoginResult login_proven(std::string_view user, bool proof_valid, std::string_view ip) = 0;
  // The user's quota in bytes, 0 = unlimited.
  virtual Result<uint64_t> quota(std::string_view user) = 0;
  // Called from any thread after the selected mailbox changed; must be cheap and must not
  // call back into the session (post to the loop instead).
  virtual std::function<void()> change_notifier() = 0;
  // Unix seconds (APPEND without a date, OLDER/YOUNGER).
  virtual int64_t now() = 0;
  // Only with SessionSettings::stream_threshold: bytes to write now, before anything the
  // current call returns later (in order). Called on the strand, like the rest.
  virtual void write_partial(std::string bytes) { (void)bytes; }
  // The user's junk-filter lessons (issue 17, imapd/junk_lessons.cpp): after a committed
  // MOVE/COPY into a \Junk mailbox or STORE +$Junk (RFC 5788), `spam` true; after a MOVE
  // out of \Junk (not to \Trash) or STORE +$NotJunk, false. `messages` are the bytes.
  // Called on the strand before the tagged reply; the default learns nothing.
  virtual bool learns_junk() const { return false; }
  virtual void learn_junk(std::string_view user, const std::vector<std::string>& messages, bool spam) {
    (void)user, (void)messages, (void)spam;
  }
};

struct Output {
  std::string bytes;               // write these
  bool start_tls = false;          // then start the TLS handshake, then call tls_started()
  bool start_compress = false;     // then compress both ways (RFC 4978), at once
  bool close_after_write = false;  // then close the connection
  uint32_t delay_ms = 0;           // login throttle: wait this long before writing `bytes`
};

enum class State { not_authenticated, authenticated, selected, logout };
const char* to_string(State s);

class Session {
 public:
  Session(const SessionSettings& settings, const PeerInfo& peer, Backend& backend);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Output greet();
  // Parses and executes every complete command in the input (pipelining keeps order).
  Output feed(std::string_view bytes);
  // The selected mailbox changed (store watch), or one NOTIFY watches (RFC 5465). In IDLE:
  // untagged updates now; with NOTIFY also between commands (imapd/notify.cpp).
  Output on_mailbox_changed();
  Output timeout();   // "* BYE" autologout
  Output shutdown();  // "* BYE" server shutting down
  // The STARTTLS handshake finished; capabilities change accordingly.
  void tls_started(std::string_view version, std::string_view cipher);
  // Whenever TLS is active (implicit TLS: before greet()): what SCRAM-SHA-256-PLUS binds to.
  void set_channel_bindings(auth::ChannelBindings b);

  State state() const;
  bool idling() const;
  const std::string& user() const;
  bool closed() const;
  // Input bytes held by the parser and not yet executed (the glue pauses reading past a
  // limit).
  size_t buffered() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::imapd
