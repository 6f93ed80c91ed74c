// Store: annotations on mailboxes and on the server (RFC 5464 METADATA), in index.db's
// `metadata` table (index_db.cpp). A mailbox's entries have its mailboxes.id, so they follow
// a RENAME (the row keeps its id) and go with DELETE (a trigger); the server's have
// mailbox_id 0, /private ones per user, /shared ones with owner '' for every user.
#include <algorithm>

#include "common/strings.h"
#include "store/store_impl.h"

namespace tern::store {

namespace {

bool is_shared(std::string_view name) { return name.rfind("/shared/", 0) == 0; }

// RFC 5464 §3.2: entry names are compared case-insensitively; kept lower-cased.
std::string entry_key(std::string_view name) { return ascii_lower(name); }

// Whether `name` is `base` or (depth 1: a child, depth -1: any descendant) below it.
bool within(std::string_view name, std::string_view base, int depth) {
  if (name == base) return true;
  if (depth == 0 || name.size() <= base.size() + 1 || name.rfind(base, 0) != 0 || name[base.size()] != '/')
    return false;
  return depth < 0 || name.find('/', base.size() + 1) == std::string_view::npos;
}

// The caller's user and mailbox, under the store's lock. User "" is the administrator, who
// has the server's entries only; mailbox "" (id 0) is the server.
struct Target {
  std::unique_lock<std::mutex> lock;
  detail::UserName user;
  int64_t mailbox_id = 0;
};

Target open_target(Store::Impl& impl, std::string_view user, std::string_view mailbox) {
  if (user.empty() && !mailbox.empty()) fail(Errc::refused, "the administrator has server entries only");
  Target t;
  if (!user.empty()) t.user = check(detail::canonical_user(user));
  auto name = mailbox.empty() ? std::string() : check(detail::canonical_mailbox(mailbox));
  t.lock = std::unique_lock(impl.mu);
  if (user.empty()) return t;
  impl.ensure_user_locked(t.user);
  if (!name.empty()) t.mailbox_id = impl.require_mailbox(t.user.address, name).id;
  return t;
}

}  // namespace

Result<std::vector<Store::MetadataEntry>> Store::get_metadata(std::string_view user, std::string_view mailbox,
                                                              const std::vector<std::string>& names,
                                                              int depth, std::string_view viewer) {
  return detail::guarded([&] {
    auto [lock, u, mailbox_id] = open_target(*impl_, user, mailbox);
    std::string reader = viewer.empty() ? u.address : check(detail::canonical_user(viewer)).address;
    // Every entry of this mailbox the reader can see (few: a user's total is limited), then
    // filtered by name and depth here. The server's: the user's /private and the common
    // /shared ones (owner ''). A mailbox's: its /shared ones (kept under its owner) and the
    // reader's /private ones.
    std::vector<MetadataEntry> all;
    auto st = impl_->db.prepare(
        "SELECT name, value, owner FROM metadata WHERE mailbox_id = ? AND owner IN (?, ?, '') ORDER BY name");
    st.bind(mailbox_id).bind(u.address).bind(reader);
    while (st.step()) {
      std::string name = st.text(0), owner = st.text(2);
      bool visible = mailbox_id == 0 ? owner == reader || owner.empty()
                                     : (is_shared(name) ? owner == u.address : owner == reader);
      if (visible) all.push_back({std::move(name), st.blob(1)});
    }
    std::vector<MetadataEntry> out;
    for (auto& e : all)
      for (const auto& n : names)
        if (within(e.name, entry_key(n), depth)) {
          out.push_back(std::move(e));
          break;
        }
    return out;
  });
}

Status Store::set_metadata(std::string_view user, std::string_view mailbox,
                           const std::vector<std::pair<std::string, std::optional<std::string>>>& entries,
                           uint32_t max_entries, std::string_view viewer) {
  return detail::guarded_status([&] {
    if (user.empty())
      for (const auto& e : entries)
        if (!is_shared(entry_key(e.first))) fail(Errc::refused, "the administrator sets /shared entries only");
    auto [lock, u, mailbox_id] = open_target(*impl_, user, mailbox);
    std::string writer = viewer.empty() ? u.address : check(detail::canonical_user(viewer)).address;
    detail::Txn txn(impl_->db);
    std::vector<std::string> counted;  // whose entries this changes
    for (const auto& [name, value] : entries) {
      std::string key = entry_key(name);
      // The server's /shared entries are everybody's (owner ''); the caller decides who may
      // set them (imapd: nobody over IMAP, see commands_metadata.cpp). A mailbox's /shared
      // entries are its owner's, /private ones the writer's.
      std::string owner = mailbox_id == 0 && is_shared(key) ? std::string()
                          : mailbox_id != 0 && is_shared(key) ? u.address
                                                              : writer;
      if (std::find(counted.begin(), counted.end(), owner) == counted.end()) counted.push_back(owner);
      if (value) {
        impl_->db.prepare("INSERT OR REPLACE INTO metadata(owner, mailbox_id, name, value) VALUES(?, ?, ?, ?)")
            .bind(owner).bind(mailbox_id).bind(key).bind_blob_static(*value).run();
      } else {
        // RFC 5464 §4.3: NIL removes the entry (nothing to do when there is none).
        impl_->db.prepare("DELETE FROM metadata WHERE owner = ? AND mailbox_id = ? AND name = ?")
            .bind(owner).bind(mailbox_id).bind(key).run();
      }
    }
    // RFC 5464 §4.3: over the limit, nothing is set ([METADATA TOOMANY]); counted per user
    // over all mailboxes, inside the transaction so that concurrent sessions cannot pass it.
    for (const auto& owner : counted) {
      if (!max_entries || user.empty() || owner.empty()) continue;
      auto count = impl_->db.prepare("SELECT COUNT(*) FROM metadata WHERE owner = ?");
      count.bind(owner);
      if (count.step_value() > static_cast<int64_t>(max_entries)) fail(Errc::over_quota, "too many metadata entries");
    }
    txn.commit();
    impl_->committed();
  });
}

}  // namespace tern::store
