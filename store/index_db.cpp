#include "store/index_db.h"

#include <sys/stat.h>

#include "common/log.h"

namespace tern::store::detail {
namespace {

// Mailboxes are per user; messages keep their system flags as a bitmask and keywords as a
// space-separated list; expunged remembers (uid, modseq) for QRESYNC VANISHED (RFC 7162 §3.2.5);
// staged holds the bytes of recent deliveries whose files are not yet known durable (store.h).
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users(address TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mailboxes(
  id INTEGER PRIMARY KEY,
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL,
  highestmodseq INTEGER NOT NULL,
  special_use TEXT NOT NULL DEFAULT '',
  bytes INTEGER NOT NULL DEFAULT 0,
  object_id TEXT,
  UNIQUE(user, name));
CREATE TABLE IF NOT EXISTS messages(
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  file TEXT NOT NULL,
  size INTEGER NOT NULL,
  internal_date INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  keywords TEXT NOT NULL DEFAULT '',
  modseq INTEGER NOT NULL,
  save_date INTEGER,
  email_id TEXT,
  thread_id TEXT,
  PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_modseq ON messages(mailbox_id, modseq);
-- What IMAP's ENVELOPE and BODYSTRUCTURE are built from (opaque here: mime::metadata_blob),
-- kept apart from messages: at about 700 bytes a message it made a messages row several times
-- larger than the rest of it, so that the scans of SELECT and STATUS, which never read it,
-- read about eight times the pages. id = mailbox_id << 32 | uid: one b-tree lookup a message
-- (a rowid table, as the rows are large). It follows its message's key and goes with it.
CREATE TABLE IF NOT EXISTS message_metadata(
  id INTEGER PRIMARY KEY,
  data TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS messages_metadata_delete AFTER DELETE ON messages BEGIN
  DELETE FROM message_metadata WHERE id = (OLD.mailbox_id << 32) | OLD.uid;
END;
CREATE TRIGGER IF NOT EXISTS messages_metadata_rekey AFTER UPDATE OF mailbox_id, uid ON messages BEGIN
  UPDATE OR REPLACE message_metadata SET id = (NEW.mailbox_id << 32) | NEW.uid
    WHERE id = (OLD.mailbox_id << 32) | OLD.uid;
END;
CREATE TABLE IF NOT EXISTS expunged(
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged(mailbox_id, modseq);
CREATE TABLE IF NOT EXISTS staged(
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY(mailbox_id, uid));
-- A staged body goes with its message: no later message can inherit it (mailbox ids and so
-- keys may be reused after a mailbox is deleted).
CREATE TRIGGER IF NOT EXISTS messages_staged_delete AFTER DELETE ON messages BEGIN
  DELETE FROM staged WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;
-- Dovecot keyword letters per folder: letter 'a' + idx in a file name's info means `keyword`
-- (dovecot-keywords is written from here, dovecot_writer.cpp).
CREATE TABLE IF NOT EXISTS keyword_letters(
  mailbox_id INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  keyword TEXT NOT NULL,
  PRIMARY KEY(mailbox_id, idx)) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS mailboxes_keyword_letters_delete AFTER DELETE ON mailboxes BEGIN
  DELETE FROM keyword_letters WHERE mailbox_id = OLD.id;
END;
-- RFC 5464 METADATA: mailbox_id 0 is the server; owner '' holds the server's /shared entries.
-- A mailbox's entries go with it (mailbox ids may be reused) and its user's with the user.
CREATE TABLE IF NOT EXISTS metadata(
  owner TEXT NOT NULL,
  mailbox_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY(owner, mailbox_id, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS metadata_mailbox ON metadata(mailbox_id);
CREATE TRIGGER IF NOT EXISTS mailboxes_metadata_delete AFTER DELETE ON mailboxes BEGIN
  DELETE FROM metadata WHERE mailbox_id = OLD.id;
END;
CREATE TRIGGER IF NOT EXISTS users_metadata_delete AFTER DELETE ON users BEGIN
  DELETE FROM metadata WHERE owner = OLD.address;
END;
-- RFC 4314 ACL: rights (letters of store/acl.h) of an identifier (address or "anyone") on a
-- mailbox; they go with the mailbox (ids may be reused). The owner's are implicit.
CREATE TABLE IF NOT EXISTS acl(
  mailbox_id INTEGER NOT NULL,
  identifier TEXT NOT NULL,
  rights TEXT NOT NULL,
  PRIMARY KEY(mailbox_id, identifier)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS acl_identifier ON acl(identifier);
CREATE TRIGGER IF NOT EXISTS mailboxes_acl_delete AFTER DELETE ON mailboxes BEGIN
  DELETE FROM acl WHERE mailbox_id = OLD.id;
END;
-- RFC 8474 THREADID (store/threads.cpp): every msg-id a user's message named (its own
-- Message-ID, its References and In-Reply-To) and the thread it was given to. The rowid orders
-- them by when they were first seen (the oldest thread wins a join). They go with the user.
CREATE TABLE IF NOT EXISTS thread_refs(
  user TEXT NOT NULL,
  message_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  UNIQUE(user, message_id));
CREATE INDEX IF NOT EXISTS thread_refs_thread ON thread_refs(user, thread_id);
CREATE TRIGGER IF NOT EXISTS users_thread_refs_delete AFTER DELETE ON users BEGIN
  DELETE FROM thread_refs WHERE user = OLD.address;
END;
CREATE TABLE IF NOT EXISTS subscriptions(
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY(user, name)) WITHOUT ROWID;
)sql";

// mailboxes.bytes = SUM(messages.size) of the mailbox, kept by the database itself on every
// insert, delete and update of a message row, so a quota check reads one row per folder
// instead of summing every message of the user.
constexpr const char* kBytesTriggers = R"sql(
CREATE TRIGGER IF NOT EXISTS messages_bytes_insert AFTER INSERT ON messages BEGIN
  UPDATE mailboxes SET bytes = bytes + NEW.size WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER IF NOT EXISTS messages_bytes_delete AFTER DELETE ON messages BEGIN
  UPDATE mailboxes SET bytes = bytes - OLD.size WHERE id = OLD.mailbox_id;
END;
CREATE TRIGGER IF NOT EXISTS messages_bytes_update AFTER UPDATE OF size, mailbox_id ON messages BEGIN
  UPDATE mailboxes SET bytes = bytes - OLD.size WHERE id = OLD.mailbox_id;
  UPDATE mailboxes SET bytes = bytes + NEW.size WHERE id = NEW.mailbox_id;
END;
)sql";

}  // namespace

void Db::open_reader(const std::string& path) {
  sqlite::OpenOptions options;
  options.label = "index.db (reader)";
  options.read_only = true;
  conn_ = check(sqlite::Connection::open(path, options));
}

void Db::open(const std::string& path) {
  // Other processes (ternctl) may hold the write lock briefly: the busy timeout (10 s)
  // waits rather than fails. The pragmas are the index's own, in the order below.
  sqlite::OpenOptions options;
  options.label = "index.db";
  options.wal_full_sync = false;
  conn_ = check(sqlite::Connection::open(path, options));
  path_ = path;
  // Into a new file only, before the schema exists: the staged copies free about a page per
  // KiB of mail within a sync round, and compact() gives those pages back to the file system
  // instead of leaving index.db at its high-water mark (issue 20: 11 MB of free pages for
  // 82 MB of mail). On an existing index the pragma writes (which failed ternctl's open on a
  // full disk); enable_auto_vacuum() converts an old one.
  if (prepare("PRAGMA page_count").step_value() == 0) exec("PRAGMA auto_vacuum=INCREMENTAL");
  exec("PRAGMA journal_mode=WAL");
  // After a checkpoint that resets the WAL, the next commit truncates it to this size: the
  // WAL's high-water mark under ingest (wal_autocheckpoint below) is not kept for ever.
  exec("PRAGMA journal_size_limit=4194304");
  // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and we
  // answer 250/OK right after COMMIT. Group commit amortises the extra WAL fsync.
  exec("PRAGMA synchronous=FULL");
  // Checkpoint every 8000 WAL pages (32 MiB) instead of SQLite's 1000: staged copies put
  // about a page per message in the WAL, freed again within a sync round, and their pages are
  // reused by the next rounds' copies; a longer interval writes each such page back to
  // index.db once rather than once per round.
  exec("PRAGMA wal_autocheckpoint=8000");
  // Debian builds SQLite with secure_delete on: every freed page is zeroed, through the WAL.
  // Each staged copy's pages are freed within a sync round, so they went through the WAL a
  // second time, as zeros (ingest A/B: FAST faster in 3 of 3 pairs, by about 10 %). FAST still
  // zeroes deleted cells in the b-tree pages a change writes anyway (the metadata rows); the
  // freed overflow pages keep their bytes until reused, as the blocks of an expunged
  // message's file do. accounts.db (auth/) keeps the default.
  exec("PRAGMA secure_delete=FAST");
  exec("PRAGMA foreign_keys=OFF");
  exec(kSchema);
  // An index made before mailboxes.bytes existed: add the column and fill it once.
  add_column_if_missing("mailboxes", "bytes", "INTEGER NOT NULL DEFAULT 0",
                        "UPDATE mailboxes SET bytes = (SELECT COALESCE(SUM(size), 0) FROM messages "
                        "WHERE mailbox_id = mailboxes.id)");
  // An index made when the metadata was a column of messages: moved to its table once. That
  // rewrites the messages table, which needs room for a copy of it: on a full disk the index
  // stays as it is until a later open (the old column is then unused: FETCH computes
  // ENVELOPE/BODYSTRUCTURE from the files again and keeps them in the new table).
  try {
    migrate_if([this] { return has_column("messages", "cached_metadata"); }, [this] {
      exec("INSERT OR REPLACE INTO message_metadata(id, data) "
           "SELECT (mailbox_id << 32) | uid, cached_metadata FROM messages "
           "WHERE cached_metadata IS NOT NULL AND cached_metadata <> ''");
      exec("ALTER TABLE messages DROP COLUMN cached_metadata");
    });
  } catch (const Failure& e) {
    spdlog::warn("store: index.db keeps its old metadata column for now: {}", e.error.message);
  }
  // RFC 8514 save date, added later: rows indexed before it stay NULL (FETCH SAVEDATE answers
  // NIL, RFC 8514 §4.2, for a date the server does not know; it is not the internal date,
  // which APPEND lets the client choose).
  add_column_if_missing("messages", "save_date", "INTEGER", nullptr);
  // RFC 8474 object ids, added later: existing mailboxes and messages get new ones once.
  add_column_if_missing("mailboxes", "object_id", "TEXT",
                        "UPDATE mailboxes SET object_id = " TERN_NEW_OBJECT_ID("F"));
  add_column_if_missing("messages", "email_id", "TEXT",
                        "UPDATE messages SET email_id = " TERN_NEW_OBJECT_ID("M"));
  // RFC 8474 THREADID, added later: the column only; the rows it leaves NULL (every message of
  // an older index, and those recovery indexes from files) get their thread when the owner
  // opens the store (Store::Impl::assign_missing_threads reads their headers). The partial
  // index finds them without scanning every message at each start.
  add_column_if_missing("messages", "thread_id", "TEXT", nullptr);
  exec("CREATE INDEX IF NOT EXISTS messages_no_thread ON messages(mailbox_id) WHERE thread_id IS NULL");
  exec(kBytesTriggers);
}

bool Db::has_column(const char* table, const char* column) {
  auto st = prepare(std::string("SELECT 1 FROM pragma_table_info('") + table + "') WHERE name = ?");
  st.bind(std::string_view(column));
  return st.step();
}

void Db::migrate_if(const std::function<bool()>& needed, const std::function<void()>& apply) {
  if (!needed()) return;
  Txn txn(*this);  // another process (ternctl) may be migrating too: look again inside
  if (needed()) apply();
  txn.commit();
}

void Db::add_column_if_missing(const char* table, const char* column, const char* type,
                               const char* fill_sql) {
  migrate_if([&] { return !has_column(table, column); }, [&] {
    exec((std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " + type).c_str());
    if (fill_sql) exec(fill_sql);
  });
}

void Db::compact(int busy_ms, const std::function<bool(uint64_t)>& room_for) {
  conn_->set_busy_timeout(busy_ms);
  // First, as it shrinks the database the checkpoint below writes back.
  Status vacuum = conn_->try_exec("PRAGMA incremental_vacuum");
  // TRUNCATE: checkpoint everything, then cut the WAL to zero bytes. SQLITE_BUSY (a reader
  // or ternctl's writer in the way) leaves a partial checkpoint, which is harmless. Put off
  // when index.db must grow by more than the disk has: it would fail part way and leave the
  // file grown by every free byte, the space reserve's included (issue 20).
  Status checkpoint;
  if (uint64_t growth = checkpoint_growth_bytes(); growth == 0 || room_for(growth))
    checkpoint = conn_->try_checkpoint_truncate();
  conn_->set_busy_timeout(10000);
  if (!checkpoint && checkpoint.error().cause != Cause::busy) throw Failure(checkpoint.error());
  check(vacuum);
}

Status Db::checkpoint_truncate(int busy_ms) {
  conn_->set_busy_timeout(busy_ms);
  Status checkpoint = conn_->try_checkpoint_truncate();
  conn_->set_busy_timeout(10000);
  return checkpoint;
}

uint64_t Db::checkpoint_growth_bytes() {
  uint64_t logical = static_cast<uint64_t>(prepare("PRAGMA page_count").step_value()) *
                     static_cast<uint64_t>(prepare("PRAGMA page_size").step_value());
  struct stat st {};
  if (path_.empty() || ::stat(path_.c_str(), &st) != 0) return 0;
  uint64_t physical = static_cast<uint64_t>(st.st_size);
  return logical > physical ? logical - physical : 0;
}

void Db::enable_auto_vacuum() {
  {
    auto st = prepare("PRAGMA auto_vacuum");  // reset at the end of this scope: VACUUM
    if (!st.step() || st.i64(0) != 0) return;  // refuses to run beside an open statement
  }
  Status s = conn_->try_exec("PRAGMA auto_vacuum=INCREMENTAL");
  if (s) s = conn_->try_exec("VACUUM");  // rewrites the index once; needs about its size free
  if (!s)
    spdlog::warn("store: index.db keeps auto_vacuum off for now ({}); freed pages stay in it",
                 s.error().message);
}

}  // namespace tern::store::detail

namespace tern::store::detail {

void put_metadata(Db& db, int64_t mailbox_id, uint32_t uid, std::string_view data) {
  const int64_t id = (mailbox_id << 32) | uid;
  if (data.empty())
    db.prepare("DELETE FROM message_metadata WHERE id = ?").bind(id).run();
  else
    db.prepare("INSERT OR REPLACE INTO message_metadata(id, data) VALUES(?, ?)").bind(id).bind(data).run();
}

RelaxedSync::RelaxedSync(Db& db) : db_(db) { db_.exec("PRAGMA synchronous=NORMAL"); }

RelaxedSync::~RelaxedSync() {
  // Setting the pragma does no I/O; should it still fail, deliveries must not go on without
  // their fsync, so this says so loudly and tries once more.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto s = db_.conn().try_exec("PRAGMA synchronous=FULL");
    if (s.ok()) return;
    spdlog::error("store: index.db could not go back to synchronous=FULL: {}", s.error().message);
  }
}

}  // namespace tern::store::detail
