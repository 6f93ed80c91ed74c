// Store: the full-text index's public side (issue 18): opening it, listing a mailbox for it,
// searching and rebuilding. What the index is and how it is kept is in fts_index.h.
#include "common/codec.h"
#include "common/log.h"
#include "store/store_impl.h"

namespace tern::store {

void Store::Impl::open_fts() {
  if (!opts.fts_text) return;
  try {
    fts = std::make_unique<detail::FtsIndex>(
        data_dir + "/fts.db", opts.fts_text, [this](int64_t id) { return fts_list(id); },
        // Mail comes first (free_space.h): the index, derived data, stops writing while a
        // batch (at most kBatchText of text; its trigram rows and WAL several times that) could take the
        // disk within min_free of mail's own line, so a full disk is met by deliveries
        // refused with 452, never by a failed write.
        // Each batch invalidates the monitor's reading, so the next delivery sees what the
        // index took, and this check reads the disk afresh.
        [this] {
          space->invalidate();
          return space->has_room(space->min_free_bytes() + 8 * detail::FtsIndex::kBatchText);
        });
  } catch (const Failure& e) {
    // SEARCH reads every message instead; `ternctl reindex` after removing fts.db repairs it.
    spdlog::warn("store: full-text index unavailable: {}", e.error.message);
    return;
  }
  if (lock_fd < 0) return;  // ternctl beside a running ternd: ternd catches up
  // Catch up with what the index lacks (a crash before its rows were written, an index made
  // by an older version, a deleted fts.db): every mailbox is compared once, in the background.
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(mu);
    auto st = db.prepare("SELECT id FROM mailboxes");
    while (st.step()) ids.push_back(st.i64(0));
  }
  fts->due(ids);
}

detail::FtsMailbox Store::Impl::fts_list(int64_t id) {
  std::lock_guard lock(fts_list_mu);
  if (!fts_lister_open) {
    fts_lister.open_reader(data_dir + "/index.db");
    fts_lister_open = true;
  }
  detail::FtsMailbox out;
  auto mb = fts_lister.prepare("SELECT user, name, uidvalidity FROM mailboxes WHERE id = ?");
  mb.bind(id);
  if (!mb.step()) return out;
  auto u = detail::canonical_user(mb.text(0));
  if (!u) return out;
  out.exists = true;
  out.uidvalidity = static_cast<uint32_t>(mb.i64(2));
  const std::string dir = folder_dir(*u, mb.text(1)) + "/";
  auto st = fts_lister.prepare("SELECT uid, file FROM messages WHERE mailbox_id = ? ORDER BY uid");
  st.bind(id);
  while (st.step()) out.files.emplace_back(static_cast<uint32_t>(st.i64(0)), dir + st.text(1));
  return out;
}

Result<Store::FtsMatches> Store::fts_search(std::string_view user, std::string_view mailbox,
                                            bool body_only, std::string_view folded_needle) {
  if (!impl_->fts) return FtsMatches{};
  size_t chars = 0;
  for (size_t i = 0; i < folded_needle.size();) {
    uint32_t cp = 0;
    size_t n = utf8_decode_at(folded_needle, i, cp);
    i += n ? n : 1;
    ++chars;
  }
  if (chars < 3) return make_error(Errc::syntax, "full-text search needs 3 characters or more");
  return detail::guarded([&] {
    int64_t id = 0;
    uint32_t uidvalidity = 0;
    int64_t count = 0;
    {
      auto [lock, u, name, row] = impl_->open_mailbox(user, mailbox);
      id = row.id;
      uidvalidity = row.uidvalidity;
      auto st = impl_->db.prepare("SELECT count(*) FROM messages WHERE mailbox_id = ?");
      count = st.bind(id).step_value();
    }
    FtsMatches out;
    out.available = true;
    auto m = impl_->fts->search(id, uidvalidity, body_only, folded_needle);
    out.matches = std::move(m.matches);
    out.indexed = std::move(m.indexed);
    // Lazily: messages the index lacks (stored by ternctl beside ternd, a round that failed)
    // are indexed now, in the background, for the next search.
    if (static_cast<int64_t>(out.indexed.size()) != count) impl_->fts->due({id});
    return out;
  });
}

Result<uint64_t> Store::fts_rebuild(std::optional<std::string_view> user) {
  if (!impl_->fts) return make_error(Errc::internal, "the full-text index is not available");
  return detail::guarded([&] {
    std::vector<int64_t> ids;
    {
      std::lock_guard lock(impl_->mu);
      if (user) {
        auto u = check(detail::canonical_user(*user));
        for (auto& row : impl_->user_mailboxes(u.address)) ids.push_back(row.id);
      } else {
        auto st = impl_->db.prepare("SELECT id FROM mailboxes");
        while (st.step()) ids.push_back(st.i64(0));
      }
    }
    if (!user) impl_->fts->clear_all();  // also the rows of mailboxes that are gone
    uint64_t added = 0;
    for (int64_t id : ids) {
      impl_->fts->clear(id);
      added += impl_->fts->sync_mailbox(id);
    }
    return added;
  });
}

void Store::fts_flush() {
  if (impl_->fts) impl_->fts->flush();
}

}  // namespace tern::store
