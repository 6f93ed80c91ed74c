// Store: read-only lookups for POP3 (declared in the "POP3 reads" block of store.h). The
// maildrop listing at login and the daemon's read-ahead need the files of many messages at
// once; one query under one lock replaces a message_path() (two queries) per message.
#include <algorithm>

#include "store/store_impl.h"

namespace tern::store {

using detail::check;

namespace {

constexpr const char* kAllFiles =
    "SELECT uid, file, size FROM messages WHERE mailbox_id = ? ORDER BY uid";
// One scan of the primary key between the smallest and the largest wanted UID (a read-ahead
// batch is a run of neighbouring UIDs), filtered here.
constexpr const char* kFilesBetween =
    "SELECT uid, file, size FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? "
    "ORDER BY uid";

}  // namespace

Result<Store::MessageFiles> Store::message_files(std::string_view user, std::string_view mailbox) {
  return detail::guarded([&] {
    auto [lock, u, name, row] = impl_->open_mailbox(user, mailbox);
    const std::string dir = impl_->folder_dir(u, name) + "/";
    MessageFiles out;
    out.uidvalidity = row.uidvalidity;
    auto st = impl_->db.prepare(kAllFiles);
    st.bind(row.id);
    while (st.step())
      out.files.push_back(MessageFile{static_cast<uint32_t>(st.i64(0)),
                                      static_cast<uint64_t>(st.i64(2)), dir + st.text(1)});
    return out;
  });
}

Result<Store::MessageFiles> Store::message_files(std::string_view user, std::string_view mailbox,
                                                 const std::vector<uint32_t>& uids) {
  return detail::guarded([&] {
    std::vector<uint32_t> want = detail::sorted_unique(uids);
    auto [lock, u, name, row] = impl_->open_mailbox(user, mailbox);
    MessageFiles out;
    out.uidvalidity = row.uidvalidity;
    if (want.empty()) return out;
    const std::string dir = impl_->folder_dir(u, name) + "/";
    auto st = impl_->db.prepare(kFilesBetween);
    st.bind(row.id).bind(static_cast<int64_t>(want.front())).bind(static_cast<int64_t>(want.back()));
    while (st.step()) {
      const auto uid = static_cast<uint32_t>(st.i64(0));
      if (std::binary_search(want.begin(), want.end(), uid))
        out.files.push_back(MessageFile{uid, static_cast<uint64_t>(st.i64(2)), dir + st.text(1)});
    }
    return out;
  });
}

}  // namespace tern::store
