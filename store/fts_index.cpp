// The full-text index (see fts_index.h for what it holds and why it is its own file).
#include "store/fts_index.h"

#include <algorithm>
#include <chrono>

#include "common/codec.h"
#include "common/file.h"
#include "common/log.h"
#include "common/thread_priority.h"

namespace tern::store::detail {
namespace {

// SQLite ≥ 3.34's trigram tokenizer (Debian bookworm: 3.40) folds case itself and matches any
// substring of 3 or more characters: what IMAP SEARCH asks (RFC 9051 §6.4.4), which word
// tokenizers cannot do ("port" inside "report").
// detail=none: the index keeps which rows hold a trigram, not where. Measured with 6 KB
// documents: 40-55 % less CPU per insert than detail=full and a third of the size; the price
// is that a row must hold each of the needle's trigrams, not the trigrams in a row (a phrase
// needs positions), so a few more messages are read and rejected by the confirming check.
// Without columns either (detail=none has none to filter on), header and body text are two
// tables: SEARCH BODY asks one, TEXT both.
constexpr int kLayout = 2;  // PRAGMA user_version; 0: one table fts(header, body), detail=full
constexpr const char* kSchema = R"sql(
CREATE VIRTUAL TABLE IF NOT EXISTS fts_header USING fts5(text, tokenize = 'trigram', detail = none);
CREATE VIRTUAL TABLE IF NOT EXISTS fts_body USING fts5(text, tokenize = 'trigram', detail = none);
CREATE TABLE IF NOT EXISTS fts_mailboxes(id INTEGER PRIMARY KEY, uidvalidity INTEGER NOT NULL);
)sql";

// A burst of deliveries into one mailbox is one round.
constexpr auto kDebounce = std::chrono::milliseconds(100);
// Messages per write transaction: a round commits as it goes (a crash or a stop loses little)
// and lets ternctl's writes in between.
constexpr size_t kBatch = 64;
// After a round found no room, or the disk full, the next try.
constexpr auto kRetry = std::chrono::seconds(2);

int64_t row_of(int64_t mailbox_id, uint32_t uid) { return (mailbox_id << 32) | uid; }
int64_t first_row(int64_t mailbox_id) { return row_of(mailbox_id, 0); }
int64_t last_row(int64_t mailbox_id) { return row_of(mailbox_id, 0xFFFFFFFFu); }

// A message is indexed when it has its body row (written in the transaction of its header row).
std::vector<uint32_t> uids_in(sqlite::Connection& c, int64_t mailbox_id) {
  std::vector<uint32_t> out;
  auto st = c.prepare("SELECT rowid FROM fts_body WHERE rowid BETWEEN ? AND ? ORDER BY rowid");
  st.bind(first_row(mailbox_id)).bind(last_row(mailbox_id));
  while (st.step()) out.push_back(static_cast<uint32_t>(st.i64(0) & 0xFFFFFFFF));
  return out;
}

void delete_mailbox_rows(sqlite::Connection& c, int64_t mailbox_id) {
  for (const char* sql : {"DELETE FROM fts_header WHERE rowid BETWEEN ? AND ?",
                          "DELETE FROM fts_body WHERE rowid BETWEEN ? AND ?"})
    c.prepare(sql).bind(first_row(mailbox_id)).bind(last_row(mailbox_id)).run();
  c.prepare("DELETE FROM fts_mailboxes WHERE id = ?").bind(mailbox_id).run();
}

// The FTS5 query for rows holding every trigram of `needle` (3 characters or more), each an
// FTS5 string: in double quotes, a double quote doubled. Characters are UTF-8 code points,
// as the tokenizer counts them.
std::string trigram_query(std::string_view needle) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < needle.size();) {
    starts.push_back(i);
    uint32_t cp = 0;
    size_t n = utf8_decode_at(needle, i, cp);
    i += n ? n : 1;
  }
  starts.push_back(needle.size());
  std::set<std::string_view> seen;
  std::string out;
  for (size_t k = 0; k + 3 < starts.size(); ++k) {
    std::string_view trigram = needle.substr(starts[k], starts[k + 3] - starts[k]);
    if (!seen.insert(trigram).second) continue;
    if (!out.empty()) out += " AND ";
    out += '"';
    for (char c : trigram) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out;
}

// An fts.db of an older layout is emptied and made anew (the index is derived: the catch-up
// at ternd's start fills it again). In one write transaction, so that two processes opening
// it at once (ternd, ternctl) migrate it once.
void migrate(sqlite::Connection& c) {
  auto layout = [&] { return c.prepare("PRAGMA user_version").step_value(); };
  if (layout() == kLayout) return;
  sqlite::CheckedTransaction txn(c);
  if (layout() != kLayout) {
    c.exec("DROP TABLE IF EXISTS fts; DROP TABLE IF EXISTS fts_header; DROP TABLE IF EXISTS fts_body; "
           "DROP TABLE IF EXISTS fts_mailboxes;");
    c.exec(kSchema);
    c.exec(("PRAGMA user_version = " + std::to_string(kLayout)).c_str());
  }
  txn.commit();
}

// One message's rows, by rowid equality: a rowid range on an FTS5 table cost 12 % of ternd's
// CPU under bench/imap_mixed.py when each insert was preceded by one.
void delete_row(sqlite::Connection& c, int64_t row) {
  for (const char* sql : {"DELETE FROM fts_header WHERE rowid = ?", "DELETE FROM fts_body WHERE rowid = ?"})
    c.prepare(sql).bind(row).run();
}

}  // namespace

FtsIndex::FtsIndex(const std::string& path, Extract extract, Lister lister,
                   std::function<bool()> has_room)
    : extract_(std::move(extract)), lister_(std::move(lister)), has_room_(std::move(has_room)) {
  sqlite::OpenOptions options;
  options.label = "fts.db";
  options.wal_full_sync = false;
  writer_ = check(sqlite::Connection::open(path, options));
  // Derived data: WAL with synchronous=NORMAL (no fsync per commit; a power loss may take the
  // last rows, which the next catch-up makes again).
  writer_->exec("PRAGMA journal_mode=WAL");
  writer_->exec("PRAGMA synchronous=NORMAL");
  migrate(*writer_);
  sqlite::OpenOptions ro;
  ro.label = "fts.db (reader)";
  ro.read_only = true;
  reader_ = check(sqlite::Connection::open(path, ro));
}

FtsIndex::~FtsIndex() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool FtsIndex::stopping() {
  std::lock_guard lock(mu_);
  return stop_;
}

void FtsIndex::due(const std::vector<int64_t>& ids) {
  std::lock_guard lock(mu_);
  if (stop_ || ids.empty()) return;
  due_.insert(ids.begin(), ids.end());
  if (!thread_.joinable()) thread_ = std::thread([this] { rounds(); });
  cv_.notify_all();
}

void FtsIndex::flush() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stop_ || stalled_ || (due_.empty() && !busy_); });
}

void FtsIndex::rounds() {
  // Under a CPU-bound load the index waits (SEARCH reads what it lacks), not the clients:
  // trigram indexing was 38 % of ternd's CPU under bench/imap_mixed.py.
  run_at_background_priority();
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !due_.empty(); });
    if (stop_) return;  // what is left is caught up at the next start
    busy_ = true;
    stalled_ = false;
    cv_.wait_for(lock, kDebounce, [&] { return stop_; });
    std::set<int64_t> due;
    due.swap(due_);
    lock.unlock();
    bool retry = false;
    // The space below the store's free-space line is mail's (free_space.h).
    if (has_room_ && !has_room_()) {
      retry = true;
    } else {
      for (int64_t id : due) {
        if (stopping()) break;
        try {
          sync_mailbox(id);
        } catch (const Failure& e) {
          spdlog::warn("store: full-text index of mailbox {} not updated: {}", id, e.error.message);
          if (e.error.cause == Cause::no_space || e.error.cause == Cause::busy) retry = true;
        } catch (const std::exception& e) {
          spdlog::warn("store: full-text index of mailbox {} not updated: {}", id, e.what());
        }
      }
    }
    lock.lock();
    if (retry) {
      due_.insert(due.begin(), due.end());
      busy_ = false;
      stalled_ = true;
      cv_.notify_all();  // flush() returns: what is due waits for room
      cv_.wait_for(lock, kRetry, [&] { return stop_; });
      continue;
    }
    busy_ = !due_.empty();
    cv_.notify_all();
  }
}

uint64_t FtsIndex::sync_mailbox(int64_t id) {
  FtsMailbox mb = lister_(id);
  std::lock_guard lock(write_mu_);
  sqlite::Connection& c = *writer_;
  std::vector<uint32_t> have;
  {
    sqlite::CheckedTransaction txn(c);
    if (!mb.exists) {
      delete_mailbox_rows(c, id);
      txn.commit();
      return 0;
    }
    auto st = c.prepare("SELECT uidvalidity FROM fts_mailboxes WHERE id = ?");
    st.bind(id);
    bool known = st.step();
    if (!known || static_cast<uint32_t>(st.i64(0)) != mb.uidvalidity) {
      st.reset();
      delete_mailbox_rows(c, id);  // another mailbox's, or UIDs of an older UIDVALIDITY
      c.prepare("INSERT INTO fts_mailboxes(id, uidvalidity) VALUES(?, ?)")
          .bind(id).bind(static_cast<int64_t>(mb.uidvalidity)).run();
    }
    have = uids_in(c, id);
    // Rows whose message is gone (expunged, moved away).
    size_t j = 0;
    for (uint32_t uid : have) {
      while (j < mb.files.size() && mb.files[j].first < uid) ++j;
      if (j == mb.files.size() || mb.files[j].first != uid) delete_row(c, row_of(id, uid));
    }
    txn.commit();
  }
  std::vector<const std::pair<uint32_t, std::string>*> missing;
  for (const auto& f : mb.files)
    if (!std::binary_search(have.begin(), have.end(), f.first)) missing.push_back(&f);
  uint64_t added = 0;
  std::string header, body;
  size_t next = 0;
  for (size_t i = 0; i < missing.size(); i = next) {
    if (i && stopping()) break;
    if (has_room_ && !has_room_())
      throw Failure(make_error(Errc::temporary, "no room for the full-text index", Cause::no_space));
    sqlite::CheckedTransaction txn(c);
    size_t text = 0;
    for (size_t k = i; k < std::min(missing.size(), i + kBatch) && text < kBatchText; ++k, next = k) {
      // A file renamed meanwhile (a flag change) is left for the round that change brings.
      auto bytes = read_file(missing[k]->second);
      if (!bytes) continue;
      extract_(*bytes, header, body);
      text += header.size() + body.size();
      const int64_t row = row_of(id, missing[k]->first);
      delete_row(c, row);  // none expected (it had no body row); FTS5 has no INSERT OR REPLACE
      c.prepare("INSERT INTO fts_header(rowid, text) VALUES(?, ?)").bind(row).bind(header).run();
      c.prepare("INSERT INTO fts_body(rowid, text) VALUES(?, ?)").bind(row).bind(body).run();
      ++added;
    }
    txn.commit();
  }
  return added;
}

void FtsIndex::clear(int64_t id) {
  std::lock_guard lock(write_mu_);
  sqlite::CheckedTransaction txn(*writer_);
  delete_mailbox_rows(*writer_, id);
  txn.commit();
}

void FtsIndex::clear_all() {
  std::lock_guard lock(write_mu_);
  sqlite::CheckedTransaction txn(*writer_);
  writer_->exec("DELETE FROM fts_header; DELETE FROM fts_body; DELETE FROM fts_mailboxes;");
  txn.commit();
}

FtsIndex::Matches FtsIndex::search(int64_t id, uint32_t uidvalidity, bool body_only,
                                   std::string_view needle) {
  std::lock_guard lock(read_mu_);
  sqlite::Connection& c = *reader_;
  Matches out;
  // One read transaction: the rows matched and the rows listed as indexed are the same set.
  sqlite::CheckedTransaction txn(c, sqlite::Transaction::Mode::deferred);
  auto v = c.prepare("SELECT uidvalidity FROM fts_mailboxes WHERE id = ?");
  v.bind(id);
  if (!v.step() || static_cast<uint32_t>(v.i64(0)) != uidvalidity) return out;  // none indexed
  v.reset();
  // Under 3 characters there is no trigram to ask for: nothing counts as indexed, so the
  // caller reads every message (Store::fts_search refuses such a needle before this).
  const std::string query = trigram_query(needle);
  if (query.empty()) return out;
  out.indexed = uids_in(c, id);
  for (const char* sql : {"SELECT rowid FROM fts_body WHERE fts_body MATCH ? AND rowid BETWEEN ? AND ?",
                          "SELECT rowid FROM fts_header WHERE fts_header MATCH ? AND rowid BETWEEN ? AND ?"}) {
    auto st = c.prepare(sql);
    st.bind(query).bind(first_row(id)).bind(last_row(id));
    while (st.step()) out.matches.push_back(static_cast<uint32_t>(st.i64(0) & 0xFFFFFFFF));
    if (body_only) break;
  }
  std::sort(out.matches.begin(), out.matches.end());
  out.matches.erase(std::unique(out.matches.begin(), out.matches.end()), out.matches.end());
  return out;
}

}  // namespace tern::store::detail
