#include "store/free_space.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/log.h"

namespace tern::store {
namespace {

Result<uint64_t> statvfs_free(const std::string& path) {
  struct statvfs sv {};
  if (::statvfs(path.c_str(), &sv) != 0) {
    // A watched directory that does not exist (yet: the queue before the relay starts)
    // holds nothing that could fill a disk: no reading, and nothing to warn about.
    if (errno == ENOENT) return make_error(Errc::not_found, path);
    return make_error(Errc::internal, "statvfs " + path + ": " + std::strerror(errno));
  }
  // f_bavail: what an unprivileged owner (ternd after dropping root) may still use.
  return static_cast<uint64_t>(sv.f_bavail) * static_cast<uint64_t>(sv.f_frsize);
}

// Allocates `bytes` for real: fallocate where the file system has it, else zeros written.
bool preallocate(int fd, uint64_t bytes) {
  if (::posix_fallocate(fd, 0, static_cast<off_t>(bytes)) == 0) return true;
  static const std::string zeros(64 * 1024, '\0');
  uint64_t done = 0;
  while (done < bytes) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), bytes - done));
    ssize_t w = ::write(fd, zeros.data(), n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<uint64_t>(w);
  }
  return true;
}

}  // namespace

SpaceMonitor::SpaceMonitor(SpaceOptions options) : opts_(std::move(options)) {}

void SpaceMonitor::refresh() {
  uint64_t least = UINT64_MAX;
  for (const auto& path : opts_.paths) {
    auto f = opts_.free_bytes_for_testing ? opts_.free_bytes_for_testing(path) : statvfs_free(path);
    if (!f) {
      if (f.error().code != Errc::not_found)
        spdlog::warn("store: free space unknown: {}", f.error().message);
      continue;
    }
    least = std::min(least, *f);
  }
  free_.store(least, std::memory_order_relaxed);
  read_at_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                    std::memory_order_relaxed);
  stale_.store(false, std::memory_order_relaxed);
}

bool SpaceMonitor::fresh() const {
  if (stale_.load(std::memory_order_relaxed)) return false;
  auto age = std::chrono::steady_clock::now().time_since_epoch() -
             std::chrono::steady_clock::duration(read_at_ns_.load(std::memory_order_relaxed));
  return age < opts_.max_age;
}

bool SpaceMonitor::room_in(uint64_t free, uint64_t bytes) const {
  return free >= opts_.min_free_bytes && free - opts_.min_free_bytes >= bytes;
}

bool SpaceMonitor::has_room(uint64_t bytes) {
  if (opts_.min_free_bytes == 0) return true;
  std::lock_guard lock(mu_);
  if (!fresh()) refresh();
  return room_in(free_.load(std::memory_order_relaxed), bytes);
}

uint64_t SpaceMonitor::free_now() {
  std::lock_guard lock(mu_);
  refresh();
  return free_.load(std::memory_order_relaxed);
}

bool SpaceMonitor::cached_has_room(uint64_t bytes) const {
  if (opts_.min_free_bytes == 0 || !fresh()) return true;
  return room_in(free_.load(std::memory_order_relaxed), bytes);
}

void SpaceMonitor::consume(uint64_t bytes) {
  uint64_t f = free_.load(std::memory_order_relaxed);
  while (f != UINT64_MAX &&
         !free_.compare_exchange_weak(f, f > bytes ? f - bytes : 0, std::memory_order_relaxed)) {
  }
}

void SpaceMonitor::ensure_reserve() {
  if (opts_.reserve_file.empty() || opts_.reserve_file_bytes == 0) return;
  std::lock_guard lock(mu_);
  if (::access(opts_.reserve_file.c_str(), F_OK) == 0) return;
  refresh();
  // Only from space mail may not take anyway: never push the disk under the line itself.
  if (free_.load() < opts_.min_free_bytes + 2 * opts_.reserve_file_bytes) return;
  std::string tmp = opts_.reserve_file + ".new";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  bool ok = preallocate(fd, opts_.reserve_file_bytes);
  ::close(fd);
  // rename: a crash never leaves a half-made file under the name release_reserve() trusts.
  if (!ok || ::rename(tmp.c_str(), opts_.reserve_file.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return;
  }
  stale_.store(true);
  spdlog::info("store: space reserve {} ({} bytes) in place", opts_.reserve_file,
               opts_.reserve_file_bytes);
}

bool SpaceMonitor::release_reserve() {
  if (opts_.reserve_file.empty()) return false;
  if (::unlink(opts_.reserve_file.c_str()) != 0) return false;
  stale_.store(true);
  spdlog::warn("store: file system full: released the space reserve {} so that deletions "
               "can proceed; it is made again when there is room",
               opts_.reserve_file);
  return true;
}

}  // namespace tern::store
