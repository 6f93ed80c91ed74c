// Store: read-only lookups for IMAP FETCH (declared in the "IMAP reads" block of store.h;
// messages() with paths lives beside the plain messages() in messages.cpp).
// A full-body FETCH of one message cost two locked index lookups (messages(), then the file
// name in read_message()); here one query lists the files with the rows and the bytes are
// read by that path with no lock, the index consulted again only when the file has moved.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "store/store_impl.h"

namespace tern::store {

using detail::check;

namespace {

// "new/<name>" or "cur/<name>" with a plain file name: what the index stores as `file`.
bool is_message_file(std::string_view rel) {
  if (rel.size() <= 4 || (rel.substr(0, 4) != "new/" && rel.substr(0, 4) != "cur/")) return false;
  std::string_view name = rel.substr(4);
  return name.find('/') == std::string_view::npos && name != "." && name != ".." &&
         name.find('\0') == std::string_view::npos;
}

enum class ReadOutcome { ok, missing, failed };

// One open, one fstat, reads straight into a string of the file's size.
ReadOutcome read_whole_file(const std::string& path, std::string& data) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? ReadOutcome::missing : ReadOutcome::failed;
  struct stat sb {};
  bool ok = ::fstat(fd, &sb) == 0;
  if (ok) {
    data.resize(static_cast<size_t>(sb.st_size));
    size_t got = 0;
    while (got < data.size()) {
      ssize_t n = ::read(fd, data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ok = false;
      if (n <= 0) break;  // n == 0: shorter than fstat said
      got += static_cast<size_t>(n);
    }
    data.resize(got);
  }
  ::close(fd);
  return ok ? ReadOutcome::ok : ReadOutcome::failed;
}

}  // namespace

Result<std::string> Store::read_message_at(std::string_view user, std::string_view mailbox,
                                           uint32_t uid, std::string_view path) {
  auto checked = detail::guarded([&] {
    auto u = check(detail::canonical_user(user));
    auto name = check(detail::canonical_mailbox(mailbox));
    // Only a file of this user's folder: the path must be <folder>/{new,cur}/<file name>.
    const std::string dir = impl_->folder_dir(u, name) + "/";
    if (path.size() <= dir.size() || path.substr(0, dir.size()) != dir ||
        !is_message_file(path.substr(dir.size())))
      detail::fail(Errc::refused, "not a message file of this mailbox");
    return std::string(path);
  });
  if (!checked) return checked.error();
  std::string data;
  switch (read_whole_file(*checked, data)) {
    case ReadOutcome::ok: return data;
    case ReadOutcome::missing: return read_message(user, mailbox, uid);  // renamed or expunged
    case ReadOutcome::failed: break;
  }
  return make_error(Errc::internal, "read failed: " + *checked);
}

}  // namespace tern::store
