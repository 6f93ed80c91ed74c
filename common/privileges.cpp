#include "common/privileges.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tern {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

Result<std::optional<ServiceUser>> lookup_service_user(const std::string& name) {
  if (name.empty()) return std::optional<ServiceUser>{};
  struct passwd* pw = ::getpwnam(name.c_str());
  if (!pw) return make_error(Errc::not_found, "user: no such user \"" + name + "\"");
  return std::optional<ServiceUser>{ServiceUser{name, pw->pw_uid, pw->pw_gid}};
}

Result<size_t> chown_tree(const std::string& dir, const ServiceUser& user) {
  namespace fs = std::filesystem;
  size_t changed = 0;
  auto fix = [&](const fs::path& p) -> Status {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) return {};  // removed meanwhile
      return make_error(Errc::internal, "cannot stat " + p.string() + ": " + errno_text(errno));
    }
    if (st.st_uid == user.uid && st.st_gid == user.gid) return {};
    // lchown: a symlink planted in data_dir must never make root chown its target.
    if (::lchown(p.c_str(), user.uid, user.gid) != 0)
      return make_error(Errc::internal, "cannot chown " + p.string() + ": " + errno_text(errno));
    ++changed;
    return {};
  };
  if (Status s = fix(dir); !s) return s.error();
  std::error_code ec;
  // Directory symlinks are not followed (the default without follow_directory_symlink).
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return make_error(Errc::internal, "cannot read " + dir + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return make_error(Errc::internal, "cannot read " + dir + ": " + ec.message());
    if (Status s = fix(it->path()); !s) return s.error();
  }
  if (ec) return make_error(Errc::internal, "cannot read " + dir + ": " + ec.message());
  return changed;
}

Status become_user(const ServiceUser& user) {
  // Order matters: groups and gid while still root, uid last.
  if (::initgroups(user.name.c_str(), user.gid) != 0 || ::setgid(user.gid) != 0 ||
      ::setuid(user.uid) != 0)
    return make_error(Errc::internal, "cannot switch to user " + user.name + ": " + errno_text(errno));
  if (user.uid != 0 && ::setuid(0) == 0)
    return make_error(Errc::internal, "privileges could be regained after dropping them");
  return {};
}

}  // namespace tern
