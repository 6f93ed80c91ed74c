#include "ctl/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

namespace tern::ctl {

namespace fs = std::filesystem;

namespace {

// The SQLite databases of a data_dir (auth/, store/, relay/); copied by the backup API.
constexpr std::array<std::string_view, 3> kDatabases = {"accounts.db", "index.db", "queue.db"};

std::string errno_text(int e) { return std::strerror(e); }

bool is_database_file(std::string_view name) {
  for (std::string_view db : kDatabases) {
    if (name == db) return true;
    // WAL, shared memory and rollback journal belong to the snapshot taken through SQLite.
    if (name.size() > db.size() && name.substr(0, db.size()) == db &&
        (name.substr(db.size()) == "-wal" || name.substr(db.size()) == "-shm" ||
         name.substr(db.size()) == "-journal"))
      return true;
  }
  return false;
}

// Lock files belong to the running processes, not to the data.
bool is_lock_file(std::string_view name) { return name == "ternd.lock" || name == "store.lock"; }

// The full-text index (store/fts_index.h) is derived from the messages and written while
// ternd runs: a hard link would keep changing under the backup. Left out; ternd makes it
// again at the first start after a restore.
bool is_derived_file(std::string_view name) { return name.rfind("fts.db", 0) == 0; }

Status empty_target(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (::mkdir(dir.c_str(), 0750) != 0)
      return make_error(Errc::internal, "cannot create " + dir + ": " + errno_text(errno));
    return {};
  }
  if (!fs::is_directory(dir, ec)) return make_error(Errc::exists, dir + " exists and is not a directory");
  if (!fs::is_empty(dir, ec)) return make_error(Errc::exists, dir + " is not empty");
  return {};
}

// One database, source to a new file, through the online backup API: the copy is the state
// of one committed transaction, whatever ternd writes meanwhile.
Status copy_database(const std::string& from, const std::string& to) {
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  auto close_both = [&] {
    sqlite3_close_v2(src);
    sqlite3_close_v2(dst);
  };
  if (sqlite3_open_v2(from.c_str(), &src, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string e = sqlite3_errmsg(src);
    close_both();
    return make_error(Errc::internal, "cannot open " + from + ": " + e);
  }
  sqlite3_busy_timeout(src, 10000);
  if (sqlite3_open_v2(to.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string e = sqlite3_errmsg(dst);
    close_both();
    return make_error(Errc::internal, "cannot create " + to + ": " + e);
  }
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (!b) {
    std::string e = sqlite3_errmsg(dst);
    close_both();
    return make_error(Errc::internal, "cannot back up " + from + ": " + e);
  }
  // -1: every page in one step, so one read transaction covers the whole copy.
  int rc;
  for (int tries = 0; (rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED;) {
    if (++tries > 100) break;
    sqlite3_sleep(100);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    std::string e = sqlite3_errstr(rc);
    close_both();
    return make_error(Errc::internal, "cannot back up " + from + ": " + e);
  }
  // The copy keeps the source's journal mode (WAL) in its header; checkpoint so the file
  // alone holds everything before it is closed and synced.
  sqlite3_exec(dst, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  close_both();
  return {};
}

Status copy_file(const std::string& from, const std::string& to, mode_t mode) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    if (errno == ENOENT) return {};  // expunged since the walk listed it
    return make_error(Errc::internal, "cannot read " + from + ": " + errno_text(errno));
  }
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
  if (out < 0) {
    int e = errno;
    ::close(in);
    return make_error(Errc::internal, "cannot create " + to + ": " + errno_text(e));
  }
  char buf[1 << 16];
  ssize_t n;
  Status st;
  while ((n = ::read(in, buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0) {
        st = make_error(Errc::internal, "cannot write " + to + ": " + errno_text(errno));
        break;
      }
      off += w;
    }
    if (!st.ok()) break;
  }
  if (st.ok() && n < 0) st = make_error(Errc::internal, "cannot read " + from + ": " + errno_text(errno));
  ::close(in);
  ::close(out);
  return st;
}

// Everything of `from` but the databases and lock files, linked where possible.
Status copy_tree(const fs::path& from, const fs::path& to, bool top, CopySummary& sum) {
  std::error_code ec;
  for (fs::directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& src = it->path();
    const std::string name = src.filename().string();
    if (top && (is_database_file(name) || is_lock_file(name) || is_derived_file(name))) continue;
    fs::path dst = to / name;
    struct stat st {};
    if (::lstat(src.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // gone since listed (expunged, renamed by a flag change)
      return make_error(Errc::internal, "cannot stat " + src.string() + ": " + errno_text(errno));
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(dst.c_str(), st.st_mode & 07777) != 0 && errno != EEXIST)
        return make_error(Errc::internal, "cannot create " + dst.string() + ": " + errno_text(errno));
      ++sum.directories;
      if (Status s = copy_tree(src, dst, false, sum); !s.ok()) return s;
    } else if (S_ISREG(st.st_mode)) {
      if (::link(src.c_str(), dst.c_str()) == 0) {
        ++sum.linked;
        continue;
      }
      if (errno == ENOENT) continue;  // renamed or expunged under us
      if (errno != EXDEV && errno != EPERM && errno != EMLINK)
        return make_error(Errc::internal, "cannot link " + dst.string() + ": " + errno_text(errno));
      if (Status s = copy_file(src.string(), dst.string(), st.st_mode); !s.ok()) return s;
      ++sum.copied;
    }
    // Symbolic links, sockets and the like are not part of a data_dir: skipped.
  }
  if (ec) return make_error(Errc::internal, "cannot list " + from.string() + ": " + ec.message());
  return {};
}

// Makes the copy durable in one call for the whole file system: a backup that a crash can
// undo is not one.
Status sync_tree(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::internal, "cannot open " + dir + ": " + errno_text(errno));
  int rc = ::syncfs(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return make_error(Errc::internal, "cannot sync " + dir + ": " + errno_text(e));
  return {};
}

Result<CopySummary> copy_data_dir(const std::string& from, const std::string& to) {
  CopySummary sum;
  // Databases first: the snapshot decides what the backup promises (see backup.h).
  for (std::string_view db : kDatabases) {
    std::string src = from + "/" + std::string(db);
    std::error_code ec;
    if (!fs::exists(src, ec)) continue;
    if (Status s = copy_database(src, to + "/" + std::string(db)); !s.ok()) return s.error();
    ++sum.databases;
  }
  if (Status s = copy_tree(from, to, true, sum); !s.ok()) return s.error();
  if (Status s = sync_tree(to); !s.ok()) return s.error();
  return sum;
}

}  // namespace

Result<CopySummary> backup_data_dir(const std::string& data_dir, const std::string& dest) {
  std::error_code ec;
  if (!fs::is_directory(data_dir, ec)) return make_error(Errc::not_found, "no data_dir at " + data_dir);
  if (Status s = empty_target(dest); !s.ok()) return s.error();
  return copy_data_dir(data_dir, dest);
}

Result<CopySummary> restore_data_dir(const std::string& backup, const std::string& data_dir) {
  std::error_code ec;
  if (!fs::exists(backup + "/index.db", ec) && !fs::exists(backup + "/accounts.db", ec))
    return make_error(Errc::not_found, backup + " is not a Tern backup (no accounts.db or index.db)");
  // A running ternd holds data_dir/ternd.lock: never restore under it.
  std::string lock = data_dir + "/ternd.lock";
  int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
    if (busy) return make_error(Errc::temporary, "ternd is running on " + data_dir + ": stop it first");
  }
  if (Status s = empty_target(data_dir); !s.ok()) {
    // An empty data_dir but for a lock file left by a stopped ternd is still empty.
    bool only_lock = fs::is_directory(data_dir, ec);
    for (fs::directory_iterator it(data_dir, ec), end; only_lock && !ec && it != end; it.increment(ec))
      only_lock = is_lock_file(it->path().filename().string());
    if (!only_lock) return make_error(s.error().code, s.error().message + ": restore into an empty data_dir");
  }
  return copy_data_dir(backup, data_dir);
}

}  // namespace tern::ctl
