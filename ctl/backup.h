// ternctl backup / restore: a consistent copy of a data_dir taken while ternd runs.
//
// What "consistent" means here: every message acknowledged before the backup began is in it,
// with its UID and its folder's UIDVALIDITY. The databases are copied first, each through
// SQLite's online backup API (one read transaction: a snapshot of a committed state, WAL
// writers carry on); then every other file of data_dir is hard-linked (copied when the
// backup is on another file system). Message files are never rewritten in place (a flag
// change renames them), so a link is as good as a copy. A message acknowledged before the
// snapshot was renamed into place before its acknowledgement, so its file is found. One in
// flight may be in the snapshot while its file is still in tmp/ (a delivery's row commits
// before the WAL flush, its file is renamed after it): the walk may then find it in tmp/, in
// new/, or (renamed between the two directories' walks) in neither; the first start after a
// restore moves it into place or drops its row, as after a crash. One delivered after the
// snapshot may be found without a row and is indexed at that start (store recovery and
// `ternctl reindex` do that already).
//
// restore (ternd stopped) copies a backup into an empty data_dir the same way.
#pragma once

#include <cstddef>
#include <string>

#include "common/result.h"

namespace tern::ctl {

struct CopySummary {
  size_t databases = 0;
  size_t linked = 0;  // files hard-linked
  size_t copied = 0;  // files copied (another file system)
  size_t directories = 0;
};

// data_dir -> dest (which must not exist, or be an empty directory).
Result<CopySummary> backup_data_dir(const std::string& data_dir, const std::string& dest);
// backup -> data_dir (which must not exist, or be empty). Refuses while a ternd holds
// data_dir/ternd.lock.
Result<CopySummary> restore_data_dir(const std::string& backup, const std::string& data_dir);

}  // namespace tern::ctl
