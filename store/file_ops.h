// The file-system operations whose order makes a delivery durable, behind a small interface so
// that unit tests can substitute a recording fake and assert the order (write tmp, fsync file,
// rename, fsync dir, index commit). Production always uses posix_file_ops(): there is no
// switch to turn fsync off.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::store {

class FileOps {
 public:
  virtual ~FileOps() = default;
  // Creates `path` exclusively (never overwrites), writes all of `data`, sets its mtime to
  // `mtime_unix` (Maildir keeps the internal date there), closes it. Does not fsync.
  virtual Status write_file(const std::string& path, std::string_view data, int64_t mtime_unix) = 0;
  // write_file, then its data and metadata flushed to stable storage (fsync_file); on failure
  // the file is gone. Overridden where both can share one descriptor.
  virtual Status write_file_synced(const std::string& path, std::string_view data, int64_t mtime_unix) {
    if (auto s = write_file(path, data, mtime_unix); !s.ok()) return s;
    if (auto s = fsync_file(path); !s.ok()) {
      (void)unlink(path);
      return s;
    }
    return {};
  }
  // Flushes the file's data and metadata to stable storage.
  virtual Status fsync_file(const std::string& path) = 0;
  // fdatasync(2): the file's data, and the metadata needed to read it back (its size), but
  // not its times. The index's WAL (WalSync in store_impl.h).
  virtual Status sync_data(const std::string& path) { return fsync_file(path); }
  // Atomic rename(2) within one file system.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Hard link; Errc::refused when the link is impossible (EXDEV, EPERM, EMLINK) so that the
  // caller falls back to copying.
  virtual Status link(const std::string& from, const std::string& to) = 0;
  virtual Status unlink(const std::string& path) = 0;
  // Flushes a directory so that the entries created/renamed/removed in it are durable.
  virtual Status fsync_dir(const std::string& path) = 0;
  // syncfs(2): flushes everything written on the file system that holds `dir_fd` (data, inodes
  // and directory entries of every file, then the device cache). `dir_fd` must have been open
  // since before the writes it is to cover: write-back errors are reported only when they
  // happened after the descriptor was opened. Staged deliveries rely on it (store.h).
  virtual Status sync_filesystem(int dir_fd) = 0;
  // mkdir(2) with mode 0700; success if the directory already exists.
  virtual Status mkdir(const std::string& path) = 0;
};

std::shared_ptr<FileOps> posix_file_ops();

}  // namespace tern::store
