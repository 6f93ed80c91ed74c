// Tests only: a store::FileOps that forwards to the real POSIX operations and, once armed,
// fails one kind of call (on paths containing a text) as the kernel would, with ENOSPC or
// EIO, reported as file_ops.cpp reports them. Used by the store's and the queue's fault tests.
#pragma once

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

#include "store/file_ops.h"

namespace tern::testing {

// Forwards to the real operations; `arm` makes one kind of call (on paths containing a
// text) fail as the kernel would, with ENOSPC or EIO.
class FaultyFileOps : public store::FileOps {
 public:
  void arm(const std::string& op, int err, const std::string& part = "", int times = -1) {
    std::lock_guard lock(mu_);
    op_ = op;
    err_ = err;
    part_ = part;
    times_ = times;
    hits_ = 0;
  }
  void disarm() { arm("", 0); }
  int hits() {
    std::lock_guard lock(mu_);
    return hits_;
  }

  Status write_file(const std::string& p, std::string_view d, int64_t m) override {
    if (auto e = fault("write_file", p)) return *e;
    return real_->write_file(p, d, m);
  }
  // As the real one: on a failed fsync the file is gone (the caller never sees it).
  Status write_file_synced(const std::string& p, std::string_view d, int64_t m) override {
    if (auto e = fault("write_file", p)) return *e;
    if (auto e = fault("fsync_file", p)) {
      (void)real_->write_file(p, d, m);
      (void)real_->unlink(p);
      return *e;
    }
    return real_->write_file_synced(p, d, m);
  }
  Status fsync_file(const std::string& p) override {
    if (auto e = fault("fsync_file", p)) return *e;
    return real_->fsync_file(p);
  }
  Status sync_data(const std::string& p) override {
    if (auto e = fault("sync_data", p)) return *e;
    return real_->sync_data(p);
  }
  Status rename(const std::string& f, const std::string& t) override {
    if (auto e = fault("rename", t)) return *e;
    return real_->rename(f, t);
  }
  Status link(const std::string& f, const std::string& t) override {
    if (auto e = fault("link", t)) return *e;
    return real_->link(f, t);
  }
  Status unlink(const std::string& p) override { return real_->unlink(p); }
  Status fsync_dir(const std::string& p) override {
    if (auto e = fault("fsync_dir", p)) return *e;
    return real_->fsync_dir(p);
  }
  Status sync_filesystem(int fd) override {
    if (auto e = fault("sync_filesystem", "")) return *e;
    return real_->sync_filesystem(fd);
  }
  Status mkdir(const std::string& p) override { return real_->mkdir(p); }

 private:
  std::optional<Error> fault(const std::string& op, const std::string& path) {
    std::lock_guard lock(mu_);
    if (op_ != op || (!part_.empty() && path.find(part_) == std::string::npos)) return std::nullopt;
    if (times_ >= 0 && hits_ >= times_) return std::nullopt;
    ++hits_;
    // As file_ops.cpp reports them: a full disk is temporary, an I/O error internal.
    return make_error(err_ == ENOSPC ? Errc::temporary : Errc::internal,
                      op + " " + path + ": " + std::strerror(err_),
                      err_ == ENOSPC ? Cause::no_space : Cause::unspecified);
  }
  std::shared_ptr<store::FileOps> real_ = store::posix_file_ops();
  std::mutex mu_;
  std::string op_;
  int err_ = 0;
  std::string part_;
  int times_ = -1;
  int hits_ = 0;
};

}  // namespace tern::testing
