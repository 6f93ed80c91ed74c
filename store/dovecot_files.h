// Private to store/: Dovecot's Maildir side files, parsed and written as pure functions (no
// I/O), so they are unit-tested and fuzzed (tests/fuzz/fuzz_dovecot_uidlist.cpp).
//
//   dovecot-uidlist   per folder: which UID each message file has, and the folder's
//                     UIDVALIDITY and next UID. Version 1: "1 <uidvalidity> <nextuid>", then
//                     "<uid> <filename>". Version 3: "3 V<uidvalidity> N<nextuid> G<guid> ...",
//                     then "<uid> [<ext> ...] :<filename>" where each ext is a letter and a
//                     value (S<size>, W<vsize>, G<guid>...). Dovecot matches a file to its line
//                     by the part of the name before ':' (the info "2,<flags>" may differ);
//                     we match by the Maildir base (before the first ',' or ':'), so names
//                     with and without ",S="/",W=" match too.
//   dovecot-keywords  per folder: "<index> <keyword>" lines; keyword letter 'a' + index in a
//                     file name's ":2," info means the message has that keyword (26 at most).
//   subscriptions     per user: Dovecot 2.x writes "V\t2" and an empty line, then one name per
//                     line with '\t' between hierarchy levels; older files have one name per
//                     line with the Maildir++ '.' separator. Names are modified UTF-7.
// Malformed lines are skipped and described in `problems`; nothing here throws on bad input.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::store::detail {

constexpr const char* kDovecotUidlist = "dovecot-uidlist";
constexpr const char* kDovecotKeywords = "dovecot-keywords";
constexpr const char* kDovecotSubscriptions = "subscriptions";
constexpr size_t kDovecotMaxKeywords = 26;  // letters 'a'..'z'

struct UidlistEntry {
  uint32_t uid = 0;
  std::string name;  // the file name as listed, without its ":2," info
  std::string base;  // its Maildir base (before the first ',' or ':')
};

struct Uidlist {
  int version = 0;
  uint32_t uidvalidity = 0;
  uint32_t next_uid = 0;  // 0 when absent
  std::string guid;       // v3 "G": the mailbox GUID (kept for the writer's round trip)
  std::vector<UidlistEntry> entries;  // strictly ascending UIDs, unique bases
  std::vector<std::string> problems;  // one line per skipped line
};

// nullopt when the header is unusable (no version we know, no UIDVALIDITY): then nothing in
// the file can be trusted.
std::optional<Uidlist> parse_uidlist(std::string_view text);

// Writes a version 3 uidlist. `entries` must be ascending by UID; each name is written as
// given (callers pass the file name without its ":2," info).
std::string format_uidlist(uint32_t uidvalidity, uint32_t next_uid, std::string_view guid,
                           const std::vector<UidlistEntry>& entries);

struct DovecotKeywords {
  std::array<std::string, kDovecotMaxKeywords> by_index;  // "" = unused letter
  std::vector<std::string> problems;
};
DovecotKeywords parse_dovecot_keywords(std::string_view text);
std::string format_dovecot_keywords(const std::array<std::string, kDovecotMaxKeywords>& by_index);

// The keyword letters ('a'..'z') in a file name's ":2," info, in name order; "" without info.
std::string keyword_letters(std::string_view file_name);

struct DovecotSubscriptions {
  std::vector<std::string> names;  // canonical Tern mailbox names ('/'-delimited, UTF-8)
  std::vector<std::string> problems;
};
DovecotSubscriptions parse_dovecot_subscriptions(std::string_view text);

}  // namespace tern::store::detail
