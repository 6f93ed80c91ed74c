// ctl/: the decisions of `ternctl import` (ctl/imap_import.cpp), pure so they are unit-tested:
// which Tern mailbox a source folder goes to, how its flags map, how a folder's messages are
// cut into bounded FETCH batches, and which source messages still need importing.
//
// The resume table (ImportState) lives in data_dir/import.db (SQLite, WAL), one row per
// imported message: (user, source, folder, uidvalidity, uid) -> size, internaldate and the
// Tern mailbox/UID it became. `source` is "user@host:port". Rows are written right after the
// store has committed the message, so a crash between the two commits can import that one
// message again on the next run; nothing else is ever imported twice.
//
// A source folder whose UIDVALIDITY changed (RFC 9051 §2.3.1.1: its old UIDs mean nothing
// now) is matched by content instead: a message whose (RFC822.SIZE, INTERNALDATE) equals
// that of a message imported from the folder under an earlier UIDVALIDITY counts as already
// imported (each earlier row matches at most one message) and is recorded under the new
// UIDVALIDITY without being fetched; the rest are imported. This never loses a message; two
// different messages with the same size and INTERNALDATE second can be taken for one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "sqlite/sqlite.h"
#include "store/store.h"

namespace tern::ctl::import {

// Where a source folder goes. special_use is one of Tern's ("\\Sent", ...) or "".
struct Target {
  std::string mailbox;      // Tern mailbox name ('/'-delimited, UTF-8); "" = skip the folder
  std::string special_use;  // the folder's role when it has one
  std::string skip_reason;  // why skipped (virtual \All / \Flagged folders)
};

// `name` is the source's name decoded to UTF-8, `delimiter` its hierarchy separator.
// RFC 6154 attributes (SPECIAL-USE or XLIST) decide first, then common names (Sent, Sent
// Items, Drafts, Trash, Deleted Items, Junk, Spam, Archive ...; also under "INBOX<delim>").
Target map_folder(std::string_view name, std::string_view delimiter, const std::vector<std::string>& attributes);

// IMAP flags as sent -> Tern's: system flags kept (\Recent and unknown '\' flags dropped),
// keywords sorted and de-duplicated ASCII case-insensitively.
store::Flags map_flags(const std::vector<std::string>& flags);

struct SourceMessage {
  uint32_t uid = 0;
  uint64_t size = 0;
  int64_t internaldate = 0;
};

// UID sets of at most max_count messages and max_bytes (a larger message goes alone), in
// order, as IMAP sequence-set text ("5,7:9").
std::vector<std::string> batches(const std::vector<SourceMessage>& messages, size_t max_count, uint64_t max_bytes);

struct Imported {
  uint32_t uidvalidity = 0;
  uint32_t uid = 0;
  uint64_t size = 0;
  int64_t internaldate = 0;
};

struct Plan {
  std::vector<SourceMessage> fetch;                  // to import, in UID order
  std::vector<SourceMessage> matched;                // same content under an older UIDVALIDITY
  size_t already = 0;                                // recorded under this UIDVALIDITY
  std::optional<uint32_t> old_uidvalidity;           // set when the folder's UIDVALIDITY changed
};
Plan plan_folder(uint32_t uidvalidity, const std::vector<SourceMessage>& listed, const std::vector<Imported>& done);

// data_dir/import.db.
class State {
 public:
  static Result<std::unique_ptr<State>> open(const std::string& path);
  Result<std::vector<Imported>> imported(const std::string& user, const std::string& source, const std::string& folder);
  Status record(const std::string& user, const std::string& source, const std::string& folder, const Imported& m,
                const std::string& mailbox, uint32_t dest_uid);

 private:
  explicit State(std::unique_ptr<sqlite::Connection> db) : db_(std::move(db)) {}
  std::unique_ptr<sqlite::Connection> db_;
};

}  // namespace tern::ctl::import
