// RFC 8474 THREADID (see store/threads.h).
#include "store/threads.h"

#include <algorithm>
#include <fstream>

#include "common/log.h"
#include "common/message_ids.h"
#include "store/store_impl.h"

namespace tern::store::detail {

std::vector<std::string> thread_keys(std::string_view message) {
  std::vector<std::string> keys;
  auto add = [&](std::vector<std::string> ids) {
    for (auto& id : ids) {
      if (keys.size() >= kMaxThreadKeys) return;
      // RFC 5322 §2.1.1: a line is at most 998 characters; a longer "id" is not one.
      if (id.size() > 998 || std::find(keys.begin(), keys.end(), id) != keys.end()) continue;
      keys.push_back(std::move(id));
    }
  };
  if (auto v = header_field(message, "Message-ID")) {
    auto ids = message_ids(*v);
    if (!ids.empty()) add({ids.front()});
  }
  if (auto v = header_field(message, "References")) add(message_ids(*v));
  if (auto v = header_field(message, "In-Reply-To")) add(message_ids(*v));
  return keys;
}

std::string assign_thread(Db& db, std::string_view user, const std::vector<std::string>& keys) {
  // The threads these ids were given (one indexed look-up each; usually one thread or none).
  std::vector<std::string> found;
  for (const auto& key : keys) {
    auto st = db.prepare("SELECT thread_id FROM thread_refs WHERE user = ? AND message_id = ?");
    st.bind(user).bind(key);
    if (st.step() && std::find(found.begin(), found.end(), st.text(0)) == found.end()) found.push_back(st.text(0));
  }
  std::string thread = found.empty() ? std::string() : found.front();
  if (found.size() > 1) {
    // RFC 8474 §5.2: a THREADID never changes, so a message linking two threads joins the
    // one first seen (its first recorded id has the smallest rowid) and the other keeps its id.
    int64_t first_seen = 0;
    for (const auto& t : found) {
      auto st = db.prepare("SELECT MIN(rowid) FROM thread_refs WHERE user = ? AND thread_id = ?");
      st.bind(user).bind(t);
      st.step();
      if (t == found.front() || st.i64(0) < first_seen) {
        first_seen = st.i64(0);
        thread = t;
      }
    }
  }
  if (thread.empty()) {
    // RFC 8474 §4: objectid = 1*255(ALPHA / DIGIT / "_" / "-").
    auto st = db.prepare("SELECT " TERN_NEW_OBJECT_ID("T"));
    st.step();
    thread = st.text(0);
  }
  for (const auto& key : keys)
    db.prepare("INSERT OR IGNORE INTO thread_refs(user, message_id, thread_id) VALUES(?, ?, ?)")
        .bind(user).bind(key).bind(thread).run();
  return thread;
}

}  // namespace tern::store::detail

namespace tern::store {

void Store::Impl::assign_missing_threads() {
  // In batches (one transaction each), oldest first, so the first message of a thread
  // usually names it; a file that cannot be read is a thread of its own (the row is gone
  // at the next reconcile anyway).
  uint64_t assigned = 0;
  for (;;) {
    struct Row {
      int64_t mailbox_id;
      int64_t uid;
      std::string path;
      std::string user;
    };
    std::vector<Row> rows;
    {
      auto st = db.prepare(
          "SELECT m.mailbox_id, m.uid, m.file, b.user, b.name FROM messages m "
          "JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.thread_id IS NULL "
          "ORDER BY m.internal_date, m.mailbox_id, m.uid LIMIT 500");
      while (st.step()) {
        Row r{st.i64(0), st.i64(1), {}, st.text(3)};
        auto u = detail::canonical_user(r.user);
        if (u.ok()) r.path = folder_dir(*u, st.text(4)) + "/" + st.text(2);
        rows.push_back(std::move(r));
      }
    }
    if (rows.empty()) break;
    detail::Txn txn(db);
    for (const Row& r : rows) {
      std::string header;
      if (!r.path.empty()) {
        std::ifstream in(r.path, std::ios::binary);
        header.resize(256 * 1024);
        in.read(header.data(), static_cast<std::streamsize>(header.size()));
        header.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
      }
      std::string thread = detail::assign_thread(db, r.user, detail::thread_keys(header));
      db.prepare("UPDATE messages SET thread_id = ? WHERE mailbox_id = ? AND uid = ?")
          .bind(thread).bind(r.mailbox_id).bind(r.uid).run();
    }
    txn.commit();
    committed();
    assigned += rows.size();
  }
  if (assigned) spdlog::info("store: gave {} messages their thread (RFC 8474 THREADID)", assigned);
}

}  // namespace tern::store
