// Private to store/: the state behind Store and the helpers its .cpp files share.
// Locking: `mu` guards the SQLite connection, `known_users` and every change to a user's
// Maildir tree; `q_mu` guards the group-commit queue; `ids_mu` the deliveries' mailbox-id
// cache; `publish_mu` the deliveries between commit and rename. Order: q_mu is never held
// while taking mu; ids_mu and publish_mu are taken last (alone or inside mu) and held only
// for a lookup or an update. Watch callbacks run with none held.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "store/free_space.h"
#include "store/fts_index.h"
#include "store/index_db.h"
#include "store/names.h"
#include "store/store.h"

namespace tern::store {

struct WatchHandle::State {
  std::recursive_mutex call_mu;  // held while the callback runs; recursive so that the
                                 // callback may destroy its own handle
  bool active = true;
  int64_t mailbox_id = 0;
  uint64_t id = 0;
  std::function<void()> callback;
  // watch_account(): the user's address, and its callback (callback is then unset).
  std::string account;
  std::function<void(const Store::AccountChange&)> account_callback;
  std::weak_ptr<struct WatchRegistry> registry;
};

struct WatchRegistry {
  std::mutex mu;
  uint64_t next_id = 1;
  std::map<uint64_t, std::shared_ptr<WatchHandle::State>> watches;
  size_t accounts = 0;  // how many of them are account watches (none: notify() looks up nothing)
};

namespace detail {

struct MailboxRow {
  int64_t id = 0;
  std::string name;
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 1;
  uint64_t highestmodseq = 0;
  std::string special_use;
  std::string object_id;  // RFC 8474 MAILBOXID
};

struct UidFile {
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 1;
  uint64_t highestmodseq = 0;
};

struct AsyncDelivery;

// One message waiting for the group commit (on the delivering thread's stack, or in its
// AsyncDelivery).
struct PendingDelivery {
  UserName user;
  int64_t mailbox_id = 0;
  std::string folder;          // absolute folder directory
  uint64_t quota = 0;
  uint64_t size = 0;
  std::string base;            // unique Maildir base name
  std::string tmp_rel;         // "tmp/<shard>/<base>" under folder: the bytes until the commit
  Flags flags;
  int64_t internal_date = 0;
  const std::string* metadata = nullptr;
  std::vector<std::string> thread_keys;  // store/threads.h, read from the header before the commit
  std::string_view bytes;      // the message (the caller's, alive until done)
  bool staged = false;         // written without fsync: its bytes go into `staged` (store.h)
  bool done = false;
  std::condition_variable* waiter = nullptr;  // its caller's, woken when done (under q_mu)
  AsyncDelivery* async = nullptr;             // or its deliver_async() call's
  DeliveryOutcome outcome;
};

// A deliver_async() call: owns everything its items point into until `done` has run.
struct AsyncDelivery {
  std::shared_ptr<const std::string> message;
  DeliveryRequest request;
  std::vector<PendingDelivery> items;
  Store::DeliveryDone done;
  size_t remaining = 0;  // queued items not yet committed (under q_mu)
};

constexpr const char* kUidFileName = "tern-uidvalidity";
constexpr const char* kDeletedPrefix = "tern-deleted-";

std::string join_keywords(const std::vector<std::string>& keywords);
std::vector<std::string> split_keywords(std::string_view text);
std::vector<uint32_t> sorted_unique(std::vector<uint32_t> uids);  // ascending, no repeats
// Validates keywords (RFC 9051 §9 flag-keyword = atom) and returns them sorted and unique.
Flags normalize_flags(const Flags& in);
int64_t now_unix();
// RFC 6154 §2: a SPECIAL-USE attribute the store accepts ("" for none).
bool valid_special_use(std::string_view s);

// Runs `f` and converts internal failures into the module-boundary error values.
template <class F>
auto guarded(F&& f) -> Result<decltype(f())> {
  try {
    return f();
  } catch (const Failure& e) {
    return e.error;
  } catch (const std::exception& e) {
    return make_error(Errc::internal, e.what());
  }
}
template <class F>
Status guarded_status(F&& f) {
  try {
    f();
    return {};
  } catch (const Failure& e) {
    return e.error;
  } catch (const std::exception& e) {
    return make_error(Errc::internal, e.what());
  }
}

}  // namespace detail

namespace detail {

// One long-lived thread that fsyncs a batch's directories while the batch leader commits
// the index (a thread per batch cost a clone and an exit each time). Only the group-commit
// leader uses it, one job at a time.
class DirSyncer {
 public:
  explicit DirSyncer(std::shared_ptr<FileOps> fops) : fops_(std::move(fops)) {}
  ~DirSyncer();
  void start(const std::set<std::string>* dirs);  // begins fsyncing each of *dirs
  Status wait();                                  // the first failure, once all are done

 private:
  void run();
  std::shared_ptr<FileOps> fops_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  const std::set<std::string>* job_ = nullptr;
  bool done_ = false;
  bool stop_ = false;
  Status result_;
};

// Durability for index commits made with synchronous=NORMAL under `mu`, paid after `mu` is
// released: the WAL file is fdatasync'ed (FileOps::sync_data) before the caller answers.
// fdatasync flushes the file, not a descriptor, so one sync covers every commit written to
// the WAL before it starts; callers that arrive while one runs wait for it and share the
// next (group commit of the flush). A checkpoint in between is no gap: SQLite syncs the WAL
// before copying it into index.db, and index.db after.
class WalSync {
 public:
  WalSync(std::shared_ptr<FileOps> fops, std::string wal_path)
      : fops_(std::move(fops)), path_(std::move(wal_path)) {}
  // Under `mu`, right after the commit: its ticket (commit order).
  uint64_t committed();
  // Returns once every commit up to `ticket` is on stable storage, or the failure.
  Status wait_durable(uint64_t ticket);
  // Set for good by a failed sync: Linux may have dropped the WAL pages it could not write,
  // and a later sync that succeeds says nothing of them, while SQLite already counts their
  // commits and appends after them (a power loss then loses every later commit too). Writers
  // that rely on WalSync refuse to commit from then on; a restart recovers the WAL from disk.
  std::optional<Error> failure() const;

 private:
  std::shared_ptr<FileOps> fops_;
  std::string path_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t committed_ = 0;  // last ticket handed out
  uint64_t durable_ = 0;    // every ticket up to here is on disk
  std::optional<Error> failure_;
  bool syncing_ = false;
};

}  // namespace detail

struct Store::Impl {
  ~Impl() {
    stop_committing();
    fts.reset();  // its thread lists mailboxes through fts_lister
    stop_dovecot_writer();  // a last round for what is due, while the index is open
    stop_staging();  // before the members it uses go
    if (lock_fd >= 0) ::close(lock_fd);  // lets the next owner in
  }
  StoreOptions opts;
  std::string data_dir;
  std::string mail_root;
  std::string host;
  // Maildir name parts drawn once per open (no getrandom/getpid per message); nothing forks
  // with a store open.
  std::string name_token;
  long pid = 0;
  std::shared_ptr<FileOps> fops;

  mutable std::mutex mu;
  detail::Db db;
  // Store::usage() reads here, under its own lock: an SMTP RCPT's quota check must not wait
  // for `mu`, which writers hold through their work (COPY/MOVE and mailbox changes through
  // their fsyncs; deliveries and EXPUNGE flush the WAL after releasing it). It sees the last
  // commit; the batch checks the quota again with everything included.
  std::mutex reader_mu;
  detail::Db reader;
  std::set<std::string> known_users;

  // Readers for the requests that only read the index (LIST, STATUS, SELECT's snapshot, FETCH
  // of flags and envelopes, CONDSTORE changes): WAL reader connections, each under its own
  // lock, instead of `db` under `mu`, which writers hold through their work. Under a mixed
  // IMAP load (bench/imap_mixed.py) reads queued behind every STORE, APPEND and EXPUNGE.
  // A reader sees the last commit, and that is what a reply needs: a session's own write has
  // committed before its next command reads. Paths of message files come from readers too,
  // although COPY/MOVE and deliveries commit a row before its file has its final name:
  // read_message_into waits for a delivery's rename (wait_published) and looks a missing file
  // up again under `mu`, which waits for COPY/MOVE's.
  static constexpr size_t kReaders = 4;
  struct Reader {
    std::mutex mu;
    detail::Db db;
  };
  std::array<Reader, kReaders> readers;
  std::atomic<uint32_t> reader_next{0};
  // One read transaction (BEGIN DEFERRED, ended on destruction): every statement of a request
  // sees the same commit, as they did under `mu` (a mailbox's UIDNEXT and its rows agree).
  struct ReadLease {
    std::unique_lock<std::mutex> lock;
    detail::Db* db = nullptr;
    std::unique_ptr<sqlite::CheckedTransaction> txn;  // destroyed before `lock` is released
  };
  ReadLease lease_reader();  // a free reader, else waits for one
  // A mailbox looked up on a reader; nullopt when its row is not there: the caller then takes
  // the locked path (open_mailbox), which makes a new user's tree and reports "no such mailbox".
  struct ReadMailbox {
    ReadLease lease;
    detail::UserName user;
    std::string name;
    detail::MailboxRow row;
  };
  std::optional<ReadMailbox> read_mailbox(std::string_view user, std::string_view mailbox);
  // The files of a mailbox's messages (all, or those of *uids), on a reader unless `locked`.
  MessageFiles list_files(std::string_view user, std::string_view mailbox,
                          const std::vector<uint32_t>* uids, bool locked);
  // Runs f(db, user, name, row) on `db` under `mu`, through open_mailbox.
  template <class F>
  auto open_and(std::string_view user, std::string_view mailbox, F&& f) {
    auto opened = open_mailbox(user, mailbox);
    return f(db, std::as_const(opened.user), std::as_const(opened.name), std::as_const(opened.row));
  }
  // Runs f(db, user, name, row) on a reader when the mailbox's row is there, else open_and.
  template <class F>
  auto read_or_open(std::string_view user, std::string_view mailbox, F&& f) {
    if (auto m = read_mailbox(user, mailbox))
      return f(*m->lease.db, std::as_const(m->user), std::as_const(m->name), std::as_const(m->row));
    return open_and(user, mailbox, f);
  }

  // Staged deliveries between their commit and their file's rename: run_batch releases `mu`
  // while the WAL is synced, and renames only after (delivery.cpp). Keys "<folder>\n<uid>".
  std::mutex publish_mu;
  std::condition_variable publish_cv;
  std::multiset<std::string> publishing;
  static std::string publish_key(const std::string& folder, uint32_t uid) {
    return folder + "\n" + std::to_string(uid);
  }
  // A delivery's keys from before its COMMIT until its renames (or its failure).
  void start_publishing(const std::vector<std::string>& keys);
  void end_publishing(const std::vector<std::string>& keys);
  // Returns once none of the messages `uids` of `folder` is between commit and rename.
  void wait_published(const std::string& folder, const std::vector<uint32_t>& uids);

  std::mutex q_mu;
  std::vector<detail::PendingDelivery*> queue;
  bool leader_active = false;
  std::unique_ptr<detail::DirSyncer> dir_syncer;  // created with fops, used by the leader
  std::unique_ptr<detail::WalSync> wal_sync;      // index.db-wal, created with fops
  // Leads batches of deliver_async() items that a blocking caller left behind when it went
  // back to its own caller (lead()); started on first need. Under q_mu: the flags.
  std::thread commit_thread;
  std::condition_variable commit_cv;
  bool commit_wanted = false;
  bool commit_stop = false;
  void commit_rounds();
  void stop_committing();

  // Deliveries look up their mailbox here rather than under `mu`, which other writers hold
  // through their work: "<user>\n<mailbox>" -> mailbox id. Filled under `mu`; cleared
  // (under `mu`) whenever a mailbox is deleted or renamed or a user removed, so an entry never
  // names a mailbox that has since changed. Creation needs no clearing: a miss is looked up.
  std::mutex ids_mu;
  std::unordered_map<std::string, int64_t> delivery_ids;
  void forget_delivery_ids();

  // \Recent (claim_recent): per mailbox id, the first UID no session has claimed. A mailbox
  // gets its entry when first seen by this process (its uidnext then), before any UID is
  // allocated in it here, so everything delivered, appended or copied since is recent.
  // Keyed by id and UIDVALIDITY: a mailbox deleted and created again may reuse its id.
  struct RecentFloor {
    uint32_t uidvalidity = 0;
    uint32_t floor = 0;
  };
  std::mutex recent_mu;
  std::unordered_map<int64_t, RecentFloor> recent_floor;
  // The floor of `row`, set to its uidnext when absent (or left from an older UIDVALIDITY).
  uint32_t recent_floor_of(const detail::MailboxRow& row);

  // Staged delivery (staged.cpp): keys committed with a staged body, waiting for the next
  // syncfs round; the thread that runs the rounds starts with the first staged delivery.
  struct StagedKey {
    int64_t mailbox_id;
    uint32_t uid;
  };
  int sync_fd = -1;  // mail_root, open since Store::open (see FileOps::sync_filesystem)
  int lock_fd = -1;  // data_dir/store.lock, flock()ed when this process owns the store
  std::mutex stage_mu;
  std::condition_variable stage_cv;
  std::vector<StagedKey> stage_pending;
  std::chrono::steady_clock::time_point stage_first;  // when the oldest pending key came
  bool stage_stop = false;
  std::thread stage_thread;
  void staged_committed(const std::vector<StagedKey>& keys);
  void sync_rounds();
  void trim_staged(const std::vector<StagedKey>& keys);
  void delete_staged(const std::vector<StagedKey>& keys);  // requires `mu`; one transaction
  void stop_staging();           // a last round, then the thread ends (Store's destructor)
  void restore_staged();         // at open, under `mu`, before reconcile_all
  // RFC 8474 THREADID for rows without one (store/threads.h); under `mu`, after reconciling.
  void assign_missing_threads();
  std::atomic<uint64_t> acl_version{0};  // Store::acl_version()
  // Takes data_dir/store.lock (waiting for it with `wait`); false when another process holds it.
  bool own(bool wait);
  std::set<uint32_t> staged_uids(int64_t mailbox_id);  // requires `mu`

  // Free-space guard (free_space.h) and idle upkeep of the index (staged.cpp runs it on the
  // sync thread). note_write() arms the upkeep; it runs compact_idle_ms after the last write.
  std::unique_ptr<SpaceMonitor> space;
  std::atomic<bool> compact_due{false};
  std::atomic<int64_t> last_write_ns{0};
  void note_write();   // called by committed(); takes stage_mu only when it arms the upkeep
  void compact();      // takes `mu`
  // Runs `f` (a public function's guarded body) and, when it failed because the disk is
  // full, releases the space reserve and runs it once more: for the operations that free
  // space (flag \Deleted, expunge, move, user and mailbox removal), which must work on a
  // full disk. Either way the next has_room() reads the disk again.
  //
  // Without a reserve left to release (ternctl's removal spent it), a checkpoint may still
  // win space: a write appends to the WAL until a checkpoint completes, and one that does
  // lets the next write start the WAL over, in the file's existing bytes.
  template <class F>
  auto freeing(F&& f) -> decltype(f()) {
    auto r = f();
    if (!r.ok() && detail::is_no_space(r.error()) && space->release_reserve()) r = f();
    if (!r.ok() && detail::is_no_space(r.error()) && checkpoint_for_space()) r = f();
    space->invalidate();
    return r;
  }
  bool checkpoint_for_space();  // takes `mu`; true when a checkpoint completed
  // Whether index.db may grow by `bytes` now (a checkpoint's growth, Db::compact).
  bool room_for_index_growth(uint64_t bytes);
  // Near the free-space line, checkpoints after a sync round so that index.db grows while
  // there is room, not when the disk is full (requires `mu`).
  void absorb_index_growth();

  std::atomic<uint64_t> name_counter{0};
  // Deliveries write their bytes in tmp/<n>/ (n = 0..kTmpShards-1, in turn) rather than in
  // tmp/ itself: creating a file holds its directory's lock while ext4 allocates the inode,
  // and concurrent deliveries into one mailbox spun on that lock (a C model of 20 writers:
  // 0.26 instead of 0.35 ms of CPU per durable file). Recovery reads tmp/ and tmp/*/.
  static constexpr uint32_t kTmpShards = 16;
  std::atomic<uint32_t> tmp_shard_next{0};
  std::atomic<uint64_t> index_commits{0};
  std::atomic<uint64_t> delivery_batches{0};
  std::atomic<uint64_t> delivered{0};

  std::shared_ptr<WatchRegistry> watches = std::make_shared<WatchRegistry>();

  // Paths.
  std::string user_dir(const detail::UserName& u) const;
  std::string folder_dir(const detail::UserName& u, std::string_view mailbox) const;

  // The prologue of most Store methods: canonical names, `mu` taken (and held by `lock` for
  // as long as the result lives), the user's tree made, the mailbox's row (not_found if it
  // does not exist). Bind it as `auto [lock, u, name, row] = impl_->open_mailbox(...)`.
  struct OpenMailbox {
    std::unique_lock<std::mutex> lock;
    detail::UserName user;
    std::string name;
    detail::MailboxRow row;
  };
  OpenMailbox open_mailbox(std::string_view user, std::string_view mailbox);

  // The `_in` forms read the given connection (a reader's, under its lease).
  static std::optional<detail::MailboxRow> find_mailbox_in(detail::Db& from, const std::string& user,
                                                           const std::string& name);
  static std::vector<detail::MailboxRow> user_mailboxes_in(detail::Db& from, const std::string& user);
  MailboxStatus status_in(detail::Db& from, const std::string& user, const detail::MailboxRow& row,
                          bool counts = true);

  // Everything below requires `mu`.
  void ensure_user_locked(const detail::UserName& u);
  std::optional<detail::MailboxRow> find_mailbox(const std::string& user, const std::string& name) {
    return find_mailbox_in(db, user, name);
  }
  std::optional<detail::MailboxRow> find_mailbox_id(int64_t id);
  detail::MailboxRow require_mailbox(const std::string& user, const std::string& name);
  std::vector<detail::MailboxRow> user_mailboxes(const std::string& user) {
    return user_mailboxes_in(db, user);
  }
  // Creates directories, the durable UID file and the row (inside the caller's transaction).
  detail::MailboxRow create_mailbox_locked(const detail::UserName& u, const std::string& name,
                                           const std::string& special_use, bool subscribe,
                                           uint32_t initial_uidnext = 1);
  uint32_t next_uidvalidity();
  void write_uid_file(const std::string& folder, const detail::UidFile& f);
  std::optional<detail::UidFile> read_uid_file(const std::string& folder) const;
  void save_uid_file(const std::string& folder, int64_t mailbox_id);
  std::string new_base();
  uint64_t user_usage(const std::string& user);
  void update_counters(int64_t mailbox_id, uint32_t uidnext, uint64_t highestmodseq);
  void committed();  // counts a write transaction and calls the trace hook

  // Delivery (delivery.cpp).
  void write_tmp(detail::PendingDelivery& item, std::string_view bytes);
  void prepare(const DeliveryRequest& request, std::vector<detail::PendingDelivery>& items);
  void commit_or_wait(std::vector<detail::PendingDelivery>& items);
  void queue_async(detail::AsyncDelivery* a);  // takes ownership
  // Requires q_mu (held by `lock`) and leader_active set by the caller: commits batches
  // until the queue is empty or a waiting caller other than `me` can take over.
  void lead(std::unique_lock<std::mutex>& lock, std::condition_variable* me);
  void finish_async(detail::AsyncDelivery* a);  // calls `done`, deletes `a`
  void run_batch(std::vector<detail::PendingDelivery*>& batch);

  // COPY/MOVE (messages.cpp): one transaction for both.
  Result<CopyResult> copy_or_move(std::string_view user, std::string_view from,
                                  const std::vector<uint32_t>& uids, std::string_view to,
                                  bool move, uint64_t quota_bytes);

  // Recovery (recovery.cpp). Returns the mailboxes that changed.
  // With `report`, also what each folder got (Store::reindex_report), Dovecot adoption included.
  std::vector<int64_t> reconcile_user(const detail::UserName& u, ReindexReport* report = nullptr);
  void reconcile_folder(const detail::MailboxRow& row, const std::string& folder, bool fresh,
                        std::vector<int64_t>& changed, ReindexFolderReport* report);
  std::vector<int64_t> reconcile_all(ReindexReport* report = nullptr);
  // Dovecot adoption (adopt.cpp): a folder's UIDVALIDITY from its dovecot-uidlist, and a
  // user's subscriptions from the Dovecot `subscriptions` file.
  void adopt_uidvalidity(detail::MailboxRow& row, uint32_t uidvalidity);
  void adopt_subscriptions(const detail::UserName& u, ReindexReport* report);

  // Full-text index (fts.cpp, fts_index.h); null without StoreOptions::fts_text or when
  // fts.db cannot be opened (SEARCH then reads every message). fts_list() is its Lister: a
  // mailbox's files as index.db has them, through a read connection of its own.
  std::unique_ptr<detail::FtsIndex> fts;
  std::mutex fts_list_mu;
  detail::Db fts_lister;
  bool fts_lister_open = false;
  void open_fts();  // at open, after the index
  detail::FtsMailbox fts_list(int64_t mailbox_id);

  // Watches. notify() also marks the mailboxes' Dovecot files and full-text rows due.
  void notify(const std::vector<int64_t>& mailbox_ids);
  // Account watches after a mailbox list / subscription / ACL change: `user`'s, or every
  // account's when nullopt.
  void notify_listing(std::optional<std::string_view> user);
  void call_accounts(const std::map<std::string, Store::AccountChange>& by_user, bool everyone);

  // Dovecot out (dovecot_writer.cpp): one thread keeps dovecot-uidlist and dovecot-keywords
  // of each changed folder current, debounced (kDovecotDelay after the first change of a
  // round), off every caller's path. It reads through its own connection; it takes `mu` only to give
  // files the keyword letters of their keywords (a rename and a row update, no flag change).
  std::mutex dv_mu;
  std::condition_variable dv_cv;
  std::set<int64_t> dv_due;
  bool dv_stop = false;
  std::thread dv_thread;
  detail::Db dv_reader;  // the writer thread's own read connection (opened on first use):
                         // a long read never holds `reader_mu`, which SMTP quota checks take
  bool dv_reader_open = false;
  void dovecot_due(const std::vector<int64_t>& mailbox_ids);  // any thread, any lock held
  void dovecot_rounds();
  void stop_dovecot_writer();
  void write_dovecot_files(int64_t mailbox_id);
  // Requires `mu`: the keyword letters of a folder, from the dovecot-keywords it brings (a
  // Dovecot Maildir adopted, or a rebuilt index), unless the index already has some.
  void load_keyword_letters(int64_t mailbox_id, const std::array<std::string, 26>& by_index);
};

// The helpers and rows every store/*.cpp names unqualified.
using detail::check;
using detail::fail;
using detail::MailboxRow;
using detail::UserName;

}  // namespace tern::store
