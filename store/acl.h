// store: access rights on mailboxes (RFC 4314 ACL), as a value type shared by the store
// (which keeps them, store/acl.cpp), imapd (which enforces them) and ternctl (which sets them).
//
// A rights set is a bitmask over the standard rights of RFC 4314 §2.1, "lrswipkxtea". The
// obsolete RFC 2086 rights "c" and "d" are not stored: RFC 4314 §2.1.1 lets a server pick how
// they map, and Tern takes the second group there: "c" is "k", "d" is "x" + "t" + "e". They are
// accepted in input (expanded) and added in output whenever one of their members is held.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern::store::acl {

enum Right : uint32_t {
  kLookup = 1u << 0,        // l: LIST/LSUB show it, SUBSCRIBE
  kRead = 1u << 1,          // r: SELECT, EXAMINE, STATUS, FETCH, SEARCH, COPY from
  kSeen = 1u << 2,          // s: keep \Seen (STORE, FETCH's implicit \Seen, APPEND/COPY)
  kWrite = 1u << 3,         // w: other flags and keywords
  kInsert = 1u << 4,        // i: APPEND, COPY/MOVE into
  kPost = 1u << 5,          // p: send to the mailbox's submission address (not enforced)
  kCreate = 1u << 6,        // k: CREATE children, RENAME into
  kDeleteMailbox = 1u << 7, // x: DELETE, RENAME away
  kDeleteMsg = 1u << 8,     // t: STORE \Deleted, MOVE from
  kExpunge = 1u << 9,       // e: EXPUNGE, CLOSE's expunge, MOVE from
  kAdmin = 1u << 10,        // a: GETACL, SETACL, DELETEACL, LISTRIGHTS
};

// Every right, in the order RFC 4314 §2.1 lists them.
inline constexpr std::string_view kLetters = "lrswipkxtea";
inline constexpr uint32_t kAll = (1u << kLetters.size()) - 1;
// RFC 4314 §2.1.1 (second group): what the obsolete letters stand for.
inline constexpr uint32_t kObsoleteC = kCreate;
inline constexpr uint32_t kObsoleteD = kDeleteMailbox | kDeleteMsg | kExpunge;

// Parses a rights string ("lrs", obsolete "c"/"d" expanded). nullopt for any other character
// (RFC 4314 §3.1: an unrecognised right is a client error, BAD).
std::optional<uint32_t> parse(std::string_view letters);
// The rights as letters in kLetters order, plus "c" and/or "d" when a member of theirs is
// held (RFC 4314 §2.1.1: returned so that RFC 2086 clients keep working).
std::string to_string(uint32_t rights);
// Only the standard letters (the form kept in index.db).
std::string to_stored(uint32_t rights);

// A SETACL rights argument: "+..." adds, "-..." removes, otherwise replaces (RFC 4314 §3.1).
struct Modification {
  enum class Op { replace, add, remove } op = Op::replace;
  uint32_t rights = 0;
  uint32_t apply(uint32_t current) const;
};
std::optional<Modification> parse_modification(std::string_view arg);

// The identifier every user matches (RFC 4314 §2: "anyone").
inline constexpr std::string_view kAnyone = "anyone";

}  // namespace tern::store::acl
