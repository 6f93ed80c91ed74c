#include "store/file_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tern::store {
namespace {

Error sys_error(const char* what, const std::string& path, int err) {
  Errc code = (err == ENOSPC || err == EDQUOT) ? Errc::temporary : Errc::internal;
  if (err == ENOENT) code = Errc::not_found;
  if (err == EEXIST) code = Errc::exists;
  return make_error(code, std::string(what) + " " + path + ": " + std::strerror(err),
                    err == ENOSPC || err == EDQUOT ? Cause::no_space : Cause::unspecified);
}

class PosixFileOps final : public FileOps {
 public:
  Status write_file(const std::string& path, std::string_view data, int64_t mtime) override {
    return create(path, data, mtime, false);
  }

  // One descriptor for create, write and fsync: a delivery's tmp file costs one open.
  Status write_file_synced(const std::string& path, std::string_view data, int64_t mtime) override {
    return create(path, data, mtime, true);
  }

  Status fsync_file(const std::string& path) override { return sync_path(path, O_RDONLY); }
  Status fsync_dir(const std::string& path) override { return sync_path(path, O_RDONLY | O_DIRECTORY); }
  Status sync_data(const std::string& path) override { return sync_path(path, O_RDONLY, true); }

  Status sync_filesystem(int dir_fd) override {
    int rc;
    do rc = ::syncfs(dir_fd);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) return sys_error("syncfs", "(mail root)", errno);
    return {};
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return sys_error("rename", from + " -> " + to, errno);
    return {};
  }

  Status link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) {
      int err = errno;
      if (err == EXDEV || err == EPERM || err == EMLINK || err == ENOTSUP)
        return make_error(Errc::refused, "link not possible");
      return sys_error("link", from + " -> " + to, err);
    }
    return {};
  }

  Status unlink(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return sys_error("unlink", path, errno);
    return {};
  }

  Status mkdir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return sys_error("mkdir", path, errno);
    return {};
  }

 private:
  static Status create(const std::string& path, std::string_view data, int64_t mtime, bool sync) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return sys_error("open", path, errno);
    auto fail = [&](const char* what, int err) {
      ::close(fd);
      ::unlink(path.c_str());
      return sys_error(what, path, err);
    };
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail("write", errno);
      }
      off += static_cast<size_t>(n);
    }
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(mtime);
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ::futimens(fd, times);  // best effort: only the rebuilt internal date depends on it
    if (sync) {
      int rc;
      do rc = ::fsync(fd);
      while (rc != 0 && errno == EINTR);
      if (rc != 0) return fail("fsync", errno);
    }
    if (::close(fd) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      return sys_error("close", path, err);
    }
    return {};
  }

  static Status sync_path(const std::string& path, int flags, bool data_only = false) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return sys_error("open", path, errno);
    int rc;
    do rc = data_only ? ::fdatasync(fd) : ::fsync(fd);
    while (rc != 0 && errno == EINTR);
    int err = errno;
    ::close(fd);
    if (rc != 0) return sys_error(data_only ? "fdatasync" : "fsync", path, err);
    return {};
  }
};

}  // namespace

std::shared_ptr<FileOps> posix_file_ops() {
  static const std::shared_ptr<FileOps> ops = std::make_shared<PosixFileOps>();
  return ops;
}

}  // namespace tern::store
