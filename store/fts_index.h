// Private to store/: the full-text index of message text (issue 18), data_dir/fts.db.
//
// What it holds: per message a row in each of two FTS5 tables (trigram tokenizer, folding
// case; detail=none: which rows hold a trigram, not where), fts_header and fts_body, the
// header text and the body text as IMAP SEARCH TEXT/BODY match them (StoreOptions::fts_text
// makes them: mime's decoded, folded texts; the store itself knows no MIME). A search finds
// the messages holding every trigram of the needle (3 characters or more): a superset of
// those holding the needle, which the caller's check of each message narrows (a needle's
// trigrams may all be there, apart). rowid = mailbox id << 32 | uid, so one mailbox is one
// rowid range. An fts.db of an older layout (PRAGMA user_version) is emptied at open and
// filled again by the catch-up below. fts_mailboxes keeps the UIDVALIDITY each mailbox's rows were
// made under: a mailbox id reused after a DELETE, or a changed UIDVALIDITY, drops the rows.
//
// Derived data, never the truth: a missing row only means that SEARCH reads that message
// (Store::fts_search reports which messages are indexed). So:
//   * its own file, not index.db: its writes never queue behind or delay a delivery's
//     durable commit (index.db is synchronous=FULL under `mu`; this is WAL with
//     synchronous=NORMAL under its own lock: a crash may lose the last rows, never a message),
//     index.db's checkpoints and full-disk accounting stay as they were, and deleting the file
//     loses nothing (the next start or `ternctl reindex` makes it again);
//   * filled off every caller's path: due() marks mailboxes (the store's notify(), after each
//     commit); one thread, a short while later, compares each due mailbox's rows in index.db
//     with its own (sync_mailbox): rows of messages gone (expunged, moved, mailbox deleted)
//     are deleted, messages without a row are read from their files and added. The same
//     comparison catches up after a crash or an older version (the owner marks every mailbox
//     due at open) and rebuilds (ternctl reindex, on the caller's thread).
//   * full disk: below the store's free-space line a round is put off (the space is mail's);
//     a write that finds the disk full is rolled back and retried a few seconds later.
// Threading: due(), search(), flush() from any thread; the writer connection is used under
// write_mu_ (the indexing thread, or a caller of sync_mailbox/clear), the reader under read_mu_.
// The indexing thread runs under SCHED_IDLE (trigram indexing is CPU-heavy: 38 % of ternd's
// CPU under bench/imap_mixed.py): it uses the CPU no client command wants; it never takes the
// store's `mu`, so it holds no writer back.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "sqlite/sqlite.h"

namespace tern::store::detail {

// A mailbox as index.db has it now, for sync_mailbox.
struct FtsMailbox {
  bool exists = false;
  uint32_t uidvalidity = 0;
  std::vector<std::pair<uint32_t, std::string>> files;  // (uid, absolute path), by uid
};

class FtsIndex {
 public:
  using Extract = std::function<void(std::string_view bytes, std::string& header, std::string& body)>;
  using Lister = std::function<FtsMailbox(int64_t mailbox_id)>;
  // Opens (creating) the file; throws tern::Failure when it cannot.
  // has_room: whether one more batch may be written (asked before each one).
  FtsIndex(const std::string& path, Extract extract, Lister lister, std::function<bool()> has_room);
  // A batch's transaction ends after this much extracted text (or kBatch messages).
  static constexpr size_t kBatchText = 1 << 20;
  ~FtsIndex();  // stops the thread (a round in progress stops between batches)
  FtsIndex(const FtsIndex&) = delete;
  FtsIndex& operator=(const FtsIndex&) = delete;

  void due(const std::vector<int64_t>& mailbox_ids);
  // Brings the mailbox's rows in line with index.db now; returns the rows added. Throws.
  uint64_t sync_mailbox(int64_t mailbox_id);
  void clear(int64_t mailbox_id);  // drops its rows (throws)
  void clear_all();                // drops every row (throws)

  struct Matches {
    std::vector<uint32_t> matches;  // indexed messages holding each trigram of the needle, by uid
    std::vector<uint32_t> indexed;  // every indexed message, by uid
  };
  // `needle` folded as the documents are; 3 characters or more (for a shorter one nothing
  // counts as indexed: a trigram index cannot answer it, the caller reads the messages).
  // Throws.
  Matches search(int64_t mailbox_id, uint32_t uidvalidity, bool body_only, std::string_view needle);
  // Waits until no mailbox is due and no round runs, or the rounds wait for room (tests).
  void flush();

 private:
  void rounds();
  bool stopping();
  std::unique_ptr<sqlite::Connection> writer_;
  std::unique_ptr<sqlite::Connection> reader_;
  std::mutex write_mu_;
  std::mutex read_mu_;
  Extract extract_;
  Lister lister_;
  std::function<bool()> has_room_;

  std::mutex mu_;  // the fields below
  std::condition_variable cv_;
  std::set<int64_t> due_;
  bool busy_ = false;
  bool stalled_ = false;  // waiting for room (or the lock) to retry: flush() does not wait
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tern::store::detail
