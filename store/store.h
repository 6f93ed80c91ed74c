// store: every user's mail. Maildir++ files on disk (Dovecot-compatible) indexed in SQLite.
//
// On-disk layout (under data_dir):
//   index.db (+ -wal, -shm)          SQLite, WAL, synchronous=FULL (flag changes NORMAL: see
//                                    docs/architecture.md), busy_timeout 10 s; also the
//                                    staged copies of recent deliveries (see below)
//   fts.db (+ -wal, -shm)            full-text index, derived data (store/fts_index.h)
//   mail/<domain>/<local>/           the user's Maildir = INBOX (cur/ new/ tmp/)
//   mail/<domain>/<local>/.A.B/      folder "A/B" (Maildir++: '.' separates the hierarchy)
//   <folder>/tern-uidvalidity        "V<uidvalidity> N<uidnext> M<highestmodseq>\n", written
//                                    durably at creation and when an expunge takes the
//                                    highest UID, so that a lost
//                                    index.db is rebuilt with the same UIDVALIDITY and no UID
//                                    is ever reused
//   <folder>/maildirfolder           empty marker file (Maildir++ convention)
//   <folder>/{new,cur}/<base>,S=<size>,U=<uid>[:2,<DFRST>]
// Users are "local@domain", lower-cased and restricted to RFC 5322 dot-atom characters (no
// '/', no leading dot, no ".."), so the path can never leave mail/. Mailbox names in the API
// are UTF-8 with '/' as the hierarchy delimiter; on disk each component is IMAP modified
// UTF-7 (as Dovecot does) with '.' escaped as "%2E". '*' and '%' are refused in names.
// New messages go to new/ (no ":2," info) unless they carry flags; the first flag change
// renames the file into cur/ with its ":2," letters. Nothing is moved at snapshot time.
// Keywords live only in the index.
//
// Invariants:
//   - Per mailbox, UIDs are assigned in commit order, strictly increasing, never reused
//     (uidnext only grows; expunge persists it in tern-uidvalidity).
//   - No call reports success before the fsyncs and the SQLite commit that cover it.
//   - Every message file carries its UID (",U=") so files alone rebuild the index.
//   - Files and index disagreeing never loses a message: open() and reindex() index files
//     without rows and drop rows without files (recorded as expunged for QRESYNC).
//
// Durability of a delivery (deliver/append). Either way the bytes go to tmp/<n>/<base> first
// (n: one of 16 shard directories, in turn, so concurrent deliveries do not queue on one
// directory's lock), and a group-commit leader then takes every pending delivery, BEGIN
// IMMEDIATE (serialises UID allocation with other processes such as ternctl), allocates UIDs,
// inserts all rows, COMMITs and wakes the waiters. Deliveries find their mailbox id in a
// cache, so they never wait for `mu` (held by a committing leader) before writing.
//   - Staged (messages up to StoreOptions::staged_max_bytes, 256 KiB by default): the file is
//     not fsynced; its bytes go into the `staged` table with its row, so the batch's COMMIT
//     (one WAL fdatasync) is the only flush before the reply. Only after the COMMIT is
//     tmp/<n>/X renamed to new/X,S=..,U=.. (still under `mu`, before any reader can see the
//     row), so a crash never leaves a final name for bytes that may not have reached the disk
//     without a copy to repair it. A background thread syncs the file system (syncfs) in rounds
//     (staged_sync_interval_ms, or sooner when 4096 files wait) and then deletes the round's
//     copies; open() first rewrites every file that still has a copy (fsynced, renamed over
//     the row's name, its other names removed). A copy goes with its row (a trigger), and
//     COPY/MOVE fsync a staged source file before linking it.
//   - Larger messages: the file is fsynced, renamed tmp/<n>/X -> new/X,S=..,U=.. before the
//     COMMIT, and another thread fsyncs each distinct new/ directory beside the COMMIT (either
//     may land alone in a crash; nobody is answered before both).
// COPY/MOVE: see Impl::copy_or_move (one transaction).
// After an index rebuild, modseqs restart at max(saved M + 1, microseconds since the epoch),
// above any modseq a CONDSTORE client can have seen, so clients resync flags only.
//
// Threading: every public function is thread-safe and blocking. One SQLite connection,
// guarded by one mutex, serialises index work; message bytes are written (and fsynced) outside
// it so concurrent deliveries overlap and are committed in batches. One thread per store runs
// the staged sync rounds (started by the first staged delivery, joined when the store closes). watch() callbacks run on
// the thread that committed, after the store's locks are released. Internally failures are
// thrown as exceptions and converted to Status at each public function; none escape.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/file_ops.h"

namespace tern::store {

// IMAP system flags (RFC 9051 §2.3.2) as bits. \Recent is not a stored flag: see claim_recent().
enum Flag : uint32_t {
  kSeen = 1u << 0,
  kAnswered = 1u << 1,
  kFlagged = 1u << 2,
  kDeleted = 1u << 3,
  kDraft = 1u << 4,
};
constexpr uint32_t kAllSystemFlags = kSeen | kAnswered | kFlagged | kDeleted | kDraft;

struct Flags {
  uint32_t system = 0;                 // Flag bits
  std::vector<std::string> keywords;   // IMAP keywords (atoms), sorted, unique (ASCII case-insensitive)
  bool operator==(const Flags&) const = default;
};

struct StoreOptions {
  std::string data_dir;
  std::string hostname = "localhost";  // used in Maildir file names
  // Staged delivery (see the notes above): messages up to this size are made durable through
  // the index's WAL and synced to their files in rounds; larger ones (and all, when 0) are
  // fsynced file by file before they are committed.
  uint64_t staged_max_bytes = 256 * 1024;
  // How long a round of staged files may gather before the file system is synced.
  int staged_sync_interval_ms = 200;
  // The process that opens a store first holds it (a lock on data_dir/store.lock) until it
  // closes; only the holder runs crash recovery, since another process's view of files and
  // rows in flight is not a crash's. true (ternd): wait for a holder to let go, then hold it.
  // false (ternctl): when ternd holds it, open without recovery, which ternd did at its start.
  bool wait_to_own = true;
  // Free-space guard (store/free_space.h, issue 20). New mail (append(); ternd's SMTP RCPT
  // through has_room()) is refused while less than min_free_bytes would stay free on the
  // file system of data_dir or of any of space_paths (0 = never refused). A reserve file of
  // reserve_file_bytes (data_dir/tern-reserve; 0 = none) is released when an operation that
  // frees space finds the disk full, and made again when there is room.
  uint64_t min_free_bytes = 0;
  uint64_t reserve_file_bytes = 0;
  std::vector<std::string> space_paths;
  // Idle upkeep: this long after the last index write, the index's freed pages go back to the
  // file system and its WAL is checkpointed and truncated (Db::compact). Owner only.
  int compact_idle_ms = 1000;
  // Full-text index (issue 18, data_dir/fts.db, store/fts_index.h): the text of a message as
  // IMAP SEARCH TEXT/BODY matches it, header and body (ternd and ternctl pass
  // mime::search_document; the store knows no MIME). Unset: no index, fts_search() says so.
  std::function<void(std::string_view bytes, std::string& header, std::string& body)> fts_text;
  // Tests only: a FileOps fake (null = the real POSIX implementation) and a trace hook called
  // with "index_commit" right after each SQLite write transaction commits.
  std::shared_ptr<FileOps> file_ops_for_testing;
  std::function<void(std::string_view event)> trace_for_testing;
  std::function<Result<uint64_t>(const std::string& path)> free_bytes_for_testing;
};

struct MailboxStatus {
  std::string name;          // canonical, '/'-delimited, "INBOX" for the inbox
  std::string special_use;   // "\\Drafts", "\\Sent", "\\Trash", "\\Junk", "\\Archive" or ""
  bool subscribed = false;
  uint32_t messages = 0;
  uint32_t unseen = 0;
  uint64_t size = 0;         // sum of RFC822.SIZE
  uint32_t uidnext = 1;
  uint32_t uidvalidity = 0;
  uint64_t highestmodseq = 0;
  uint32_t recent = 0;       // messages no session has claimed as \Recent (claim_recent)
  // RFC 8474 MAILBOXID: made at creation, kept by RENAME, never given to another mailbox.
  std::string mailbox_id;
};

struct MessageInfo {
  uint32_t uid = 0;
  Flags flags;
  uint64_t modseq = 0;
  uint64_t size = 0;            // file size = RFC822.SIZE (bytes stored as given, CRLF)
  int64_t internal_date = 0;    // unix seconds
  std::string cached_metadata;  // opaque to the store (imapd: ENVELOPE/BODYSTRUCTURE)
  // RFC 8514 save date (unix seconds): when the message was saved into this mailbox (delivery,
  // APPEND, COPY, MOVE). Absent for messages indexed before the store kept it and for files
  // recovery found without a row.
  std::optional<int64_t> save_date;
  // RFC 8474 EMAILID: made when the message is first stored, kept by COPY and MOVE (the same
  // content keeps its id in every mailbox it is copied to).
  std::string email_id;
  // RFC 8474 THREADID (store/threads.h): given when the message is first stored (from its
  // Message-ID, References and In-Reply-To), kept by COPY and MOVE, never changed. Empty only
  // for a row another process indexed since this store's owner last gave threads out.
  std::string thread_id;
};

struct MailboxSnapshot {
  MailboxStatus status;
  std::vector<MessageInfo> messages;  // sorted by uid
};

struct DeliveryTarget {
  std::string user;               // "local@domain"
  std::string mailbox = "INBOX";
  uint64_t quota_bytes = 0;       // 0 = unlimited
};

struct DeliveryRequest {
  std::vector<DeliveryTarget> targets;
  std::string_view message;       // stored byte-exact; must stay valid during the call
  int64_t internal_date = 0;      // unix seconds; 0 = now
  Flags flags;                    // initial flags (e.g. APPEND)
  std::string cached_metadata;
};

struct DeliveryOutcome {
  Status status;                  // per target: ok, over_quota, not_found, syntax, internal...
  uint32_t uid = 0;
  uint32_t uidvalidity = 0;
};

struct AppendResult {
  uint32_t uid = 0;
  uint32_t uidvalidity = 0;
};

enum class FlagOp { add, remove, replace };

struct FlagUpdate {
  uint32_t uid = 0;
  Flags flags;                    // the message's flags after the operation
  uint64_t modseq = 0;
};

struct StoreFlagsResult {
  std::vector<FlagUpdate> updated;     // messages whose flags changed (new modseq)
  std::vector<uint32_t> failed;        // RFC 7162 §3.1.3: UNCHANGEDSINCE test failed
  uint64_t highestmodseq = 0;
};

struct CopyResult {
  uint32_t uidvalidity = 0;                              // of the destination
  std::vector<std::pair<uint32_t, uint32_t>> uids;       // (source uid, destination uid)
};

struct Changes {
  std::vector<MessageInfo> changed;   // modseq > the given one, sorted by uid
  std::vector<uint32_t> vanished;     // expunged with modseq > the given one, sorted
  uint64_t highestmodseq = 0;
};

// What reindex_report() did in one folder (ternctl reindex prints it).
struct ReindexFolderReport {
  std::string user;
  std::string mailbox;
  uint32_t uidvalidity = 0;
  bool dovecot = false;            // a dovecot-uidlist was adopted (see Store::reindex_report)
  bool uidvalidity_from_dovecot = false;
  uint32_t adopted = 0;            // files given the UID their dovecot-uidlist line names
  uint32_t kept = 0;               // files indexed with the UID in their own name (",U=")
  uint32_t new_uids = 0;           // files indexed with a new UID
  uint32_t dropped = 0;            // index rows whose file is gone
  uint32_t unknown_keywords = 0;   // keyword letters dovecot-keywords does not name
  uint32_t uidnext = 0;
  std::vector<std::string> problems;  // skipped uidlist/keyword lines, bad keywords...
};

struct ReindexReport {
  std::vector<ReindexFolderReport> folders;  // only folders where something happened
  std::vector<std::string> notes;            // per user: subscriptions taken over, problems
};

struct StoreStats {
  uint64_t index_commits = 0;      // all SQLite write transactions
  uint64_t delivery_batches = 0;   // group commits (each one SQLite transaction)
  uint64_t delivered = 0;          // messages committed by deliver/append
};

// Unsubscribes on destruction; safe to destroy from inside its own callback and after the
// Store itself is gone. Once the destructor returns the callback is not running and will not
// be called again (unless it is the caller's own thread, from inside the callback).
class WatchHandle {
 public:
  WatchHandle() = default;
  WatchHandle(WatchHandle&&) noexcept = default;
  WatchHandle& operator=(WatchHandle&& other) noexcept;
  WatchHandle(const WatchHandle&) = delete;
  WatchHandle& operator=(const WatchHandle&) = delete;
  ~WatchHandle();
  void reset();

  struct State;
  explicit WatchHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

class Store {
 public:
  // Opens (creating) data_dir/index.db and data_dir/mail/, then reconciles every known
  // mailbox with its directory (crash recovery, see notes).
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Users. Every call creates the user's store on first use; ensure_user does it explicitly:
  // INBOX plus Drafts, Sent, Trash, Junk, Archive with their SPECIAL-USE, all subscribed.
  Status ensure_user(std::string_view user);
  Status remove_user(std::string_view user);           // index rows and the whole Maildir
  Result<uint64_t> usage(std::string_view user);       // bytes, for quota

  // Delivery (SMTP) and APPEND (IMAP), through the same group commit.
  Result<std::vector<DeliveryOutcome>> deliver(const DeliveryRequest& request);
  // As deliver(), without waiting for the commit: the calling thread writes the files, queues
  // them and returns, unless it finds no batch being committed and so commits this one (and
  // any queued after it) itself. `done` gets what deliver() would have returned, once, on the
  // thread that committed, with none of the store's locks held; it should only hand the
  // result on (post it to a loop): later batches wait for it. `message` backs
  // request.message until then. A waiting thread is a context switch per message saved.
  using DeliveryDone = std::function<void(Result<std::vector<DeliveryOutcome>>)>;
  void deliver_async(std::shared_ptr<const std::string> message, DeliveryRequest request,
                     DeliveryDone done);
  // Free-space guard (StoreOptions::min_free_bytes): whether `bytes` more of new mail leave
  // the reserve free. has_room() may statvfs (at most once a second: worker threads);
  // has_room_cached() only reads the last answer (any thread, no system call).
  bool has_room(uint64_t bytes = 0);
  bool has_room_cached(uint64_t bytes = 0) const;
  // Releases the reserve file now (ternctl, when a deletion outside the store, in
  // accounts.db, found the disk full); true when there was one.
  bool release_space_reserve();
  // Errc::not_found if the mailbox does not exist (RFC 9051 §6.3.12: TRYCREATE).
  // Errc::over_quota ("server storage full") when !has_room(bytes.size()).
  // cached_metadata: as DeliveryRequest::cached_metadata (IMAP ENVELOPE/BODYSTRUCTURE).
  Result<AppendResult> append(std::string_view user, std::string_view mailbox,
                              std::string_view bytes, const Flags& flags, int64_t internal_date,
                              uint64_t quota_bytes = 0, std::string cached_metadata = {});

  // Mailboxes (RFC 9051 §6.3.4-§6.3.11).
  // Without `counts`, messages/unseen/size/recent are left 0: LIST without RETURN (STATUS)
  // needs names, attributes and subscriptions only, not a scan of every mailbox's rows.
  Result<std::vector<MailboxStatus>> list_mailboxes(std::string_view user, bool counts = true);
  Result<MailboxStatus> mailbox_status(std::string_view user, std::string_view mailbox);
  Status create_mailbox(std::string_view user, std::string_view mailbox,
                        std::string_view special_use = {});
  Status delete_mailbox(std::string_view user, std::string_view mailbox);
  Status rename_mailbox(std::string_view user, std::string_view from, std::string_view to);
  Status subscribe(std::string_view user, std::string_view mailbox);
  Status unsubscribe(std::string_view user, std::string_view mailbox);
  Result<std::vector<std::string>> list_subscriptions(std::string_view user);

  // Messages.
  Result<MailboxSnapshot> snapshot(std::string_view user, std::string_view mailbox);
  // RFC 3501 §2.3.2 \Recent: a message is recent for the first session that is notified of
  // it. Returns the first UID no session has claimed: the caller's recent messages are those
  // with UIDs in [returned, upto). With `take` they are claimed (a read-write SELECT), so no
  // later session sees them as recent; without, only looked at (EXAMINE). Kept in memory:
  // after a restart only mail that arrives from then on is recent.
  Result<uint32_t> claim_recent(std::string_view user, std::string_view mailbox, uint32_t upto,
                                bool take = true);
  // As snapshot() without MessageInfo::cached_metadata (left empty): what SEARCH needs,
  // without reading every message's ENVELOPE/BODYSTRUCTURE blob.
  Result<MailboxSnapshot> snapshot_flags(std::string_view user, std::string_view mailbox);
  // Lighter still: per message only uid, flags (keywords included) and modseq, the rest
  // empty or 0: what SELECT, STORE, EXPUNGE and STATUS DELETED need.
  Result<MailboxSnapshot> snapshot_uids_flags(std::string_view user, std::string_view mailbox);
  // The messages with these UIDs (missing ones skipped), sorted by uid: what FETCH needs
  // without reading the whole mailbox.
  Result<std::vector<MessageInfo>> messages(std::string_view user, std::string_view mailbox,
                                            const std::vector<uint32_t>& uids);
  // UIDs that do not exist are ignored (RFC 9051 §6.4.6). One new modseq for the whole call.
  Result<StoreFlagsResult> store_flags(std::string_view user, std::string_view mailbox,
                                       const std::vector<uint32_t>& uids, FlagOp op,
                                       const Flags& flags,
                                       std::optional<uint64_t> unchangedsince = std::nullopt);
  Result<std::vector<uint32_t>> expunge(std::string_view user, std::string_view mailbox,
                                        const std::vector<uint32_t>& uids);
  // quota_bytes > 0: refused with Errc::over_quota (nothing copied) when the copies would
  // take the user's usage over it (RFC 9208 §4.2: the COPY fails as a whole).
  Result<CopyResult> copy(std::string_view user, std::string_view from,
                          const std::vector<uint32_t>& uids, std::string_view to,
                          uint64_t quota_bytes = 0);
  // COPY + EXPUNGE of the copied source messages in one transaction (RFC 6851 §3.1): after a
  // crash the messages are in exactly one of the two mailboxes.
  Result<CopyResult> move(std::string_view user, std::string_view from,
                          const std::vector<uint32_t>& uids, std::string_view to);
  Result<Changes> changes_since(std::string_view user, std::string_view mailbox, uint64_t modseq);
  Status set_cached_metadata(std::string_view user, std::string_view mailbox, uint32_t uid,
                             std::string_view blob);
  // Many at once, one index commit (messages gone meanwhile are skipped): a FETCH ENVELOPE
  // over messages indexed without metadata (a Maildir copied in, a rebuilt index) would
  // otherwise cost a durable commit per message.
  Status set_cached_metadata(std::string_view user, std::string_view mailbox,
                             const std::vector<std::pair<uint32_t, std::string>>& blobs);

  // Change notification (IMAP IDLE): `callback` runs after every commit that changed the
  // mailbox (new message, flags, expunge, metadata excluded).
  Result<WatchHandle> watch(std::string_view user, std::string_view mailbox,
                            std::function<void()> callback);
  // Account-wide change notification (IMAP NOTIFY, RFC 5465): `callback` runs after every
  // commit that changed messages, flags or expunges in one of `user`'s mailboxes (their names
  // in `mailboxes`), and after a change of the user's mailbox list (create, delete, rename),
  // subscriptions or ACLs (`listing`: also for ACL changes of any user, since they change
  // which shared mailboxes others see). Same threading as watch(): after the locks are released.
  struct AccountChange {
    std::vector<std::string> mailboxes;
    bool listing = false;
  };
  Result<WatchHandle> watch_account(std::string_view user, std::function<void(const AccountChange&)> callback);

  // Full reconcile of files vs index (ternctl reindex), for one user or all users found in
  // the index or under data_dir/mail/.
  Status reindex(std::optional<std::string_view> user = std::nullopt);
  // As reindex(), and says what it did. A folder the index has no message of and whose
  // directory holds a dovecot-uidlist (a Dovecot Maildir copied in) is adopted: its
  // UIDVALIDITY, every listed file's UID, UIDNEXT (above N and every UID), system flags and
  // keywords (dovecot-keywords letters in the file names); files not listed get new UIDs
  // above. When any folder of a user took a Dovecot UIDVALIDITY, the user's subscriptions
  // become those of its Dovecot `subscriptions` file.
  Result<ReindexReport> reindex_report(std::optional<std::string_view> user = std::nullopt);

  StoreStats stats() const;

  // --- Full-text index (store/fts.cpp, issue 18) --------------------------------------------
  // Filled off every caller's path after each commit (and caught up at open by the owner):
  // derived data, so a message may not be indexed yet. The caller reads the messages that are
  // not in `indexed` itself, and confirms every match (the index narrows, the message decides).
  struct FtsMatches {
    bool available = false;          // false: no index (StoreOptions::fts_text unset, or broken)
    std::vector<uint32_t> matches;   // indexed messages whose text may hold the needle (each
                                     // of its trigrams is there; the caller checks), by uid
    std::vector<uint32_t> indexed;   // every message the index has, by uid
  };
  // `folded_needle`: at least 3 characters, folded as StoreOptions::fts_text folds (a shorter
  // one is Errc::syntax: a trigram index cannot answer it). body_only: SEARCH BODY, else TEXT.
  Result<FtsMatches> fts_search(std::string_view user, std::string_view mailbox, bool body_only,
                                std::string_view folded_needle);
  // ternctl reindex: drops the rows of the user's mailboxes (all rows when no user) and
  // indexes every message again, on the calling thread. Returns the messages indexed.
  Result<uint64_t> fts_rebuild(std::optional<std::string_view> user = std::nullopt);
  // Waits until the index has caught up with every commit so far (tests, benchmarks).
  void fts_flush();

  // --- Annotations (RFC 5464 METADATA, store/metadata.cpp) ----------------------------------
  // `mailbox` "" is the server. Entry names ("/private/...", "/shared/...") compare
  // case-insensitively and are kept lower-cased. A mailbox's entries follow its RENAME and go
  // with its DELETE; the server's /shared entries are common to every user (the caller
  // decides who may set them), /private ones are the user's. User "" is the administrator
  // (ternctl): the server's /shared entries only (Errc::refused otherwise), no entry limit.
  struct MetadataEntry {
    std::string name;
    std::string value;
  };
  // The entries named, and with depth 1 their children, with depth -1 every descendant
  // (RFC 5464 §4.2.2), sorted by name. Errc::not_found for a missing mailbox.
  // `viewer` (when not "" nor `user`): another user reading `user`'s (shared) mailbox, who
  // sees its /shared entries and the viewer's own /private ones on it (RFC 5464 §3.2).
  Result<std::vector<MetadataEntry>> get_metadata(std::string_view user, std::string_view mailbox,
                                                  const std::vector<std::string>& names, int depth,
                                                  std::string_view viewer = {});
  // Sets (value) or removes (nullopt) entries, all or none. Errc::over_quota when the user
  // would have more than max_entries (0: no limit) over all mailboxes and the server.
  // `viewer` as for get_metadata: its /private entries are the viewer's (counted for it),
  // /shared ones the mailbox's (counted for its owner). The caller checks the rights.
  Status set_metadata(std::string_view user, std::string_view mailbox,
                      const std::vector<std::pair<std::string, std::optional<std::string>>>& entries,
                      uint32_t max_entries, std::string_view viewer = {});

  // --- Access control lists (RFC 4314, store/acl.cpp; rights are store/acl.h bits) --------
  // Entries of `owner`'s mailbox (identifier: a user address or "anyone"). The owner's own
  // rights are implicit (every right) and never stored. Entries follow the mailbox's RENAME,
  // go with its DELETE, and with the user they name when that user is removed.
  struct AclEntry {
    std::string identifier;
    uint32_t rights = 0;
  };
  Result<std::vector<AclEntry>> get_acl(std::string_view owner, std::string_view mailbox);
  // Sets an entry's rights (0 removes it). Errc::not_found: no such mailbox; Errc::syntax:
  // not an address nor "anyone"; Errc::refused: the identifier is the owner.
  Status set_acl(std::string_view owner, std::string_view mailbox, std::string_view identifier,
                 uint32_t rights);
  // What `user` may do in owner's mailbox: every right for the owner, otherwise the union of
  // the entries naming the user and "anyone". Errc::not_found: no such mailbox.
  Result<uint32_t> rights(std::string_view owner, std::string_view mailbox, std::string_view user);
  // A counter every set_acl() and remove_user() of this process raises (not those of another
  // process, such as ternctl): a session keeps the rights it read with the value it read
  // before them, and reads them again only when the value moved, so a command on a shared
  // mailbox costs no index read to learn that nothing changed.
  uint64_t acl_version() const;
  // Other users' mailboxes in which `user` has the "l" right, sorted by owner and name.
  struct SharedMailbox {
    std::string owner;
    std::string mailbox;
    uint32_t rights = 0;
  };
  Result<std::vector<SharedMailbox>> shared_with(std::string_view user);

  // --- Listing and reading messages (store/message_reader.cpp) ----------------------------
  // A listing says where each message's bytes are, in one query under one lock for many
  // messages (a POP3 maildrop at login, a read-ahead batch, a FETCH); each MessageFile is
  // then the handle its message is read by, with no index lookup.
  struct MessageFile {
    uint32_t uid = 0;
    uint64_t size = 0;  // file size as indexed (RFC822.SIZE)
    std::string path;   // absolute; empty: look the message up by uid
  };
  struct MessageFiles {
    uint32_t uidvalidity = 0;
    std::vector<MessageFile> files;  // sorted by uid
  };
  // Every message of the mailbox.
  Result<MessageFiles> message_files(std::string_view user, std::string_view mailbox);
  // Only these UIDs; the ones that do not exist (expunged) are left out.
  Result<MessageFiles> message_files(std::string_view user, std::string_view mailbox,
                                     const std::vector<uint32_t>& uids);
  // As messages(), also returning where each file was (paths->at(i) for result[i],
  // absolute): MessageFile{uid, size, path} reads it. Without `with_metadata`,
  // MessageInfo::cached_metadata is left empty (a FETCH of flags has no use for it).
  Result<std::vector<MessageInfo>> messages(std::string_view user, std::string_view mailbox,
                                            const std::vector<uint32_t>& uids,
                                            std::vector<std::string>* paths, bool with_metadata = true);
  // Reads a message's bytes into buf[offset..], buf resized to fit (room_to_grow: about 3 %
  // more capacity for what the caller adds in place, e.g. POP3 byte-stuffing). By its handle
  // from a listing of this user and mailbox (any other path, another folder, another user,
  // "..", is refused with Errc::refused and never opened), or by uid when the path is empty.
  // A file renamed meanwhile (a flag change moves new/X to cur/X:2,S) is looked up again
  // here. false: the message is gone (expunged); buf then holds nothing new.
  Result<bool> read_message_into(std::string_view user, std::string_view mailbox,
                                 const MessageFile& file, std::string& buf, size_t offset = 0,
                                 bool room_to_grow = false);
  // The whole message (Errc::not_found when gone), by handle or by uid.
  Result<std::string> read_message(std::string_view user, std::string_view mailbox,
                                   const MessageFile& file);
  Result<std::string> read_message(std::string_view user, std::string_view mailbox, uint32_t uid);
  // Absolute path of the message's file now (tests, tools); a concurrent flag change may
  // rename it.
  Result<std::string> message_path(std::string_view user, std::string_view mailbox, uint32_t uid);
  // ------------------------------------------------------------------------------------------

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  // snapshot()/snapshot_flags(): `sql` selects the columns read_row() reads.
  Result<MailboxSnapshot> snapshot_rows(std::string_view user, std::string_view mailbox,
                                        const char* sql);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::store
