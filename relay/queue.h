// The durable outbound queue (part of relay/, included by relay/relay.h).
//
// On disk, under data_dir:
//   queue/<id>        the message bytes, exactly as they will be sent (DKIM-signed already)
//   queue/tmp.<id>    a message being written (removed by open() after a crash)
//   queue.db          SQLite, WAL, synchronous=FULL: one `messages` row per message (envelope)
//                     and one `recipients` row per recipient (delivery state)
//
// Durability of enqueue(): write queue/tmp.<id>, fsync it, rename to queue/<id>; then a
// group-commit leader takes every pending enqueue, fsyncs queue/ once (makes the renames
// durable) and inserts all their rows in one transaction. Only after COMMIT does enqueue()
// return, so "250" to the submitting client means "on disk".
// A message file without rows (crash before COMMIT) is removed by open(); rows without a file
// cannot happen (the file is durable before its rows are written).
//
// Recipient states: pending (never tried) -> deferred (4xx, retried) -> delivered | failed.
// delivered/failed are final: update_recipients() only ever changes rows that are still
// pending/deferred, so an administrator's `ternctl queue bounce` and a delivery finishing at
// the same time cannot both win. `dsn_action` (failed, expired, delayed, relayed, delivered)
// marks a DSN still to be generated; it is set in the same transaction as the state change
// and cleared once the DSN is queued, so a crash never loses nor (normally) repeats a DSN.
// A message whose recipients are all final and have no DSN pending is purged (rows + file).
//
// Threading: every function is thread-safe and blocking (one SQLite connection behind a
// mutex); call them from worker threads or from ternctl, never from the loop thread. Another
// process (ternctl) may use queue.db at the same time (WAL, busy_timeout 10 s).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/file_ops.h"

namespace tern::relay {

struct EnvelopeRecipient {
  std::string address;
  std::string orcpt;   // RFC 3461 §4.2 original recipient (address only, type rfc822), "" = none
  std::string notify;  // RFC 3461 §4.1 "NEVER" or a list of SUCCESS,FAILURE,DELAY; "" = absent
};

// What kind of message is queued: ordinary mail, a DSN we generated (null sender), or a
// notice to the postmaster about an undeliverable DSN (never reported on, to avoid loops).
enum class MessageKind { normal = 0, dsn = 1, postmaster_notice = 2 };

struct Envelope {
  std::string sender;  // reverse-path; "" = null sender (RFC 5321 §4.5.5)
  std::vector<EnvelopeRecipient> recipients;
  std::string envid;   // RFC 3461 §4.4, "" = none
  std::string ret;     // RFC 3461 §4.3 "FULL", "HDRS" or "" (absent)
  bool eight_bit = false;  // BODY=8BITMIME
  bool smtputf8 = false;   // SMTPUTF8
  MessageKind kind = MessageKind::normal;
};

enum class RcptState { pending, deferred, delivered, failed };
const char* to_string(RcptState state);

struct QueuedRecipient {
  int64_t row = 0;  // stable id of this recipient row
  std::string address;
  std::string domain;  // lower-case domain of address
  std::string orcpt;
  std::string notify;
  RcptState state = RcptState::pending;
  int attempts = 0;
  int64_t next_attempt = 0;  // unix seconds
  int64_t last_attempt = 0;  // unix seconds, 0 = never
  std::string last_reply;    // "550 5.1.1 text" (remote or synthesised)
  std::string remote_mta;    // host that gave last_reply, "" = none
  std::string dsn_action;    // DSN still to send for this recipient, "" = none
};

struct QueuedMessage {
  std::string id;
  std::string sender;
  std::string envid;
  std::string ret;
  int64_t arrival = 0;
  uint64_t size = 0;
  bool eight_bit = false;
  bool smtputf8 = false;
  bool delay_dsn_sent = false;
  MessageKind kind = MessageKind::normal;
  std::vector<QueuedRecipient> recipients;
};

// The new state of one recipient after an attempt (or an administrative action).
struct RecipientUpdate {
  int64_t row = 0;
  RcptState state = RcptState::deferred;
  int attempts = 0;
  int64_t next_attempt = 0;
  int64_t last_attempt = 0;
  std::string last_reply;
  std::string remote_mta;
  std::string dsn_action;
};

struct QueueStats {
  uint64_t enqueued = 0;
  uint64_t commit_batches = 0;  // group commits (each one SQLite transaction + one dir fsync)
};

class QueueStore {
 public:
  // Opens (creating) data_dir/queue.db and data_dir/queue/, removes leftovers of a crash.
  // file_ops: the message files' durable writes (tests inject faults; null = POSIX).
  static Result<std::unique_ptr<QueueStore>> open(
      const std::string& data_dir, std::shared_ptr<store::FileOps> file_ops = nullptr);
  ~QueueStore();
  QueueStore(const QueueStore&) = delete;
  QueueStore& operator=(const QueueStore&) = delete;

  // Durable enqueue (see notes); returns the new queue id. Recipients start pending with
  // next_attempt = now. Errors: syntax (no recipients), internal (I/O), temporary (busy).
  Result<std::string> enqueue(const Envelope& envelope, std::string_view bytes, int64_t now);

  Result<std::string> read_message(const std::string& id) const;
  Result<QueuedMessage> get(const std::string& id) const;  // not_found
  Result<std::vector<QueuedMessage>> list() const;          // every queued message, by arrival

  // Messages having at least one pending/deferred recipient with next_attempt <= now; only
  // those recipients are included. At most `limit` messages, oldest attempt time first.
  Result<std::vector<QueuedMessage>> due(int64_t now, size_t limit) const;
  // The earliest next_attempt > now of a pending/deferred recipient.
  Result<std::optional<int64_t>> next_due_after(int64_t now) const;

  // Applies updates to rows that are still pending/deferred; others are left alone.
  Status update_recipients(const std::vector<RecipientUpdate>& updates);

  // Fails every pending/deferred recipient of messages that arrived at or before `cutoff`
  // (max_queue_lifetime), keeping the last reply, with dsn_action "expired". Returns count.
  Result<int> expire(int64_t cutoff, int64_t now);
  // Messages (all recipients included) without delay_dsn_sent that arrived at or before
  // `cutoff` and still have a deferred recipient.
  Result<std::vector<QueuedMessage>> delay_candidates(int64_t cutoff) const;
  // Sets delay_dsn_sent and dsn_action "delayed" on `rows` (still deferred ones only).
  Status mark_delay_dsn(const std::string& id, const std::vector<int64_t>& rows);
  // Messages having recipients with a DSN pending; only those recipients are included.
  Result<std::vector<QueuedMessage>> dsn_pending() const;
  // Clears dsn_action of the rows (only if it still has the given value).
  Status clear_dsn(const std::vector<std::pair<int64_t, std::string>>& rows);
  // Removes messages with every recipient final and no DSN pending; returns their ids.
  Result<std::vector<std::string>> purge_finished();

  // ternctl: next_attempt = now for pending/deferred recipients of one message or all.
  Result<int> flush(const std::optional<std::string>& id, int64_t now);
  // ternctl: removes the message now (rows and file), no DSN. not_found.
  Status remove(const std::string& id);
  // ternctl: fails every pending/deferred recipient with `reply`, DSN "failed". Count.
  Result<int> fail_all(const std::string& id, const std::string& reply, int64_t now);

  QueueStats stats() const;

  struct Impl;

 private:
  explicit QueueStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay
