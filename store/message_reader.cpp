// Store: listing a mailbox's message files and reading message bytes, for every front end
// (declared in the "Listing and reading messages" block of store.h; messages() with paths,
// beside the plain messages(), is in messages.cpp).
// A listing is one locked query for many messages; the bytes are then read by the listed
// path with no lock and no index lookup, the index consulted again only when the file has
// moved meanwhile (a flag change renames new/X to cur/X:2,S) or is gone (expunged).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "store/store_impl.h"

namespace tern::store {

namespace {

constexpr const char* kAllFiles =
    "SELECT uid, file, size FROM messages WHERE mailbox_id = ? ORDER BY uid";
// One scan of the primary key between the smallest and the largest wanted UID (a batch is
// usually a run of neighbouring UIDs), filtered here.
constexpr const char* kFilesBetween =
    "SELECT uid, file, size FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? "
    "ORDER BY uid";

// "new/<name>" or "cur/<name>" with a plain file name: what the index stores as `file`.
bool is_message_file(std::string_view rel) {
  if (rel.size() <= 4 || (rel.substr(0, 4) != "new/" && rel.substr(0, 4) != "cur/")) return false;
  std::string_view name = rel.substr(4);
  return name.find('/') == std::string_view::npos && name != "." && name != ".." &&
         name.find('\0') == std::string_view::npos;
}

enum class FileRead { ok, missing, failed };

// Reads the file at `path` into buf[offset..], buf resized to fit: one open, one fstat, the
// bytes straight into the buffer (a reused buffer only zero-fills what it grows by).
FileRead read_file_into(const std::string& path, std::string& buf, size_t offset, bool room_to_grow) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? FileRead::missing : FileRead::failed;
  struct stat sb {};
  bool ok = ::fstat(fd, &sb) == 0;
  size_t got = 0;
  if (ok) {
    const size_t size = static_cast<size_t>(sb.st_size);
    buf.reserve(offset + size + (room_to_grow ? size / 32 + 64 : 0));
    buf.resize(offset + size);
    while (got < size) {
      ssize_t n = ::read(fd, buf.data() + offset + got, size - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ok = false;
      if (n <= 0) break;  // error, or shorter than fstat said
      got += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  buf.resize(offset + got);
  return ok ? FileRead::ok : FileRead::failed;
}

}  // namespace

Store::MessageFiles Store::Impl::list_files(std::string_view user, std::string_view mailbox,
                                            const std::vector<uint32_t>* uids, bool locked) {
  std::vector<uint32_t> want;
  if (uids) want = detail::sorted_unique(*uids);
  auto list = [&](detail::Db& db, const detail::UserName& u, const std::string& name,
                  const detail::MailboxRow& row) {
    const std::string dir = folder_dir(u, name) + "/";
    MessageFiles out;
    out.uidvalidity = row.uidvalidity;
    if (uids && want.empty()) return out;
    auto st = db.prepare(uids ? kFilesBetween : kAllFiles);
    st.bind(row.id);
    if (uids) st.bind(static_cast<int64_t>(want.front())).bind(static_cast<int64_t>(want.back()));
    while (st.step()) {
      const auto uid = static_cast<uint32_t>(st.i64(0));
      if (!uids || std::binary_search(want.begin(), want.end(), uid))
        out.files.push_back(MessageFile{uid, static_cast<uint64_t>(st.i64(2)), dir + st.text(1)});
    }
    return out;
  };
  return locked ? open_and(user, mailbox, list) : read_or_open(user, mailbox, list);
}

Result<Store::MessageFiles> Store::message_files(std::string_view user, std::string_view mailbox) {
  return detail::guarded([&] { return impl_->list_files(user, mailbox, nullptr, false); });
}

Result<Store::MessageFiles> Store::message_files(std::string_view user, std::string_view mailbox,
                                                 const std::vector<uint32_t>& uids) {
  return detail::guarded([&] { return impl_->list_files(user, mailbox, &uids, false); });
}

Result<std::string> Store::message_path(std::string_view user, std::string_view mailbox, uint32_t uid) {
  auto listed = message_files(user, mailbox, std::vector<uint32_t>{uid});
  if (!listed) return listed.error();
  if (listed->files.empty()) return make_error(Errc::not_found, "no such message");
  return std::move(listed->files.front().path);
}

Result<bool> Store::read_message_into(std::string_view user, std::string_view mailbox,
                                      const MessageFile& file, std::string& buf, size_t offset,
                                      bool room_to_grow) {
  std::string path = file.path;
  std::string folder;
  auto checked = detail::guarded_status([&] {
    auto u = check(detail::canonical_user(user));
    auto name = check(detail::canonical_mailbox(mailbox));
    folder = impl_->folder_dir(u, name);
    // Only a file of this user's folder: the path must be <folder>/{new,cur}/<file name>.
    const std::string dir = folder + "/";
    if (!path.empty() && (path.size() <= dir.size() || path.compare(0, dir.size(), dir) != 0 ||
                          !is_message_file(std::string_view(path).substr(dir.size()))))
      detail::fail(Errc::refused, "not a message file of this mailbox");
  });
  if (!checked) return checked.error();
  // The path was listed before and is read now: a flag change may rename the file in between,
  // so a vanished file is looked up again; one no longer listed is gone. A reader may also
  // have listed a row whose file is not in place yet (Impl::readers): a staged delivery's is
  // renamed after the WAL's sync (wait_published), COPY/MOVE's under `mu` (so the second
  // look is under `mu`).
  const std::vector<uint32_t> one{file.uid};
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (path.empty()) {
      if (attempt > 0) impl_->wait_published(folder, one);
      auto listed = detail::guarded([&] { return impl_->list_files(user, mailbox, &one, attempt > 0 || !file.path.empty()); });
      if (!listed) return listed.error();
      if (listed->files.empty()) return false;
      path = std::move(listed->files.front().path);
    }
    switch (read_file_into(path, buf, offset, room_to_grow)) {
      case FileRead::ok: return true;
      case FileRead::missing: path.clear(); break;
      case FileRead::failed: return make_error(Errc::internal, "read failed: " + path);
    }
  }
  return make_error(Errc::internal, "message file missing");
}

Result<std::string> Store::read_message(std::string_view user, std::string_view mailbox,
                                        const MessageFile& file) {
  std::string data;
  auto read = read_message_into(user, mailbox, file, data);
  if (!read) return read.error();
  if (!*read) return make_error(Errc::not_found, "no such message");
  return data;
}

Result<std::string> Store::read_message(std::string_view user, std::string_view mailbox, uint32_t uid) {
  return read_message(user, mailbox, MessageFile{uid, 0, {}});
}

}  // namespace tern::store
