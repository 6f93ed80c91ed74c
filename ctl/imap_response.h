// ctl/: the response side of an IMAP client (RFC 9051 §7, RFC 3501 §7), pure: `ternctl
// import` (ctl/imap_import.cpp) reads another server's mailboxes with it.
//
// - ResponseFramer says where one response ends in bytes read so far: a line ending in CRLF,
//   unless that line ends with a literal's "{n}" (or "{n+}"), in which case the n bytes after
//   its CRLF belong to the response and the line after them continues it. Limits: a line
//   (literals excluded) of at most kMaxLine bytes, a literal of at most kMaxLiteral. A server
//   that breaks them gets an error value, never a crash or an unbounded buffer.
// - parse_values() turns one framed response into values: atoms (with any "[...]" section
//   kept inside, as in BODY[]), quoted strings (backslash escapes undone), literals, NIL and
//   parenthesised lists, nested at most kMaxDepth deep.
// - Helpers pick out what the importer needs: a tagged status, "[UIDVALIDITY n]", a LIST
//   entry, a FETCH item list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tern::ctl::imap {

inline constexpr size_t kMaxLine = 1 << 20;
inline constexpr size_t kMaxLiteral = size_t(512) << 20;
inline constexpr int kMaxDepth = 32;

// The length of the first complete response in `buf` (through its final CRLF), 0 when more
// bytes are needed, or Errc::syntax when a limit is broken.
Result<size_t> frame_response(std::string_view buf);

struct Value {
  enum class Kind { atom, string, nil, list };
  Kind kind = Kind::atom;
  std::string text;           // atom or string (a literal is a string)
  std::vector<Value> items;   // list

  bool is_atom(std::string_view s) const;  // ASCII case-insensitive
  bool is_list() const { return kind == Kind::list; }
  bool is_string_like() const { return kind == Kind::atom || kind == Kind::string; }
};

// Every value of one response (the trailing CRLF may be present or not).
Result<std::vector<Value>> parse_values(std::string_view response);

// "[UIDVALIDITY 123]" anywhere in a status response line; nullopt when absent or malformed.
std::optional<uint32_t> response_code_number(std::string_view line, std::string_view code);

struct ListEntry {
  std::vector<std::string> attributes;  // as sent, e.g. "\\HasNoChildren", "\\Sent"
  std::string delimiter;                // "" for NIL
  std::string name;                     // as sent (modified UTF-7)
};
// "* LIST (...) "/" name" (or XLIST); nullopt for anything else.
std::optional<ListEntry> parse_list(const std::vector<Value>& values);

struct FetchItem {
  uint32_t seq = 0;
  std::optional<uint32_t> uid;
  std::optional<uint64_t> size;            // RFC822.SIZE
  std::optional<std::string> internaldate;  // as sent
  std::optional<std::vector<std::string>> flags;
  std::optional<std::string> body;          // BODY[]
};
// "* n FETCH (...)"; nullopt for anything else or a malformed item list.
std::optional<FetchItem> parse_fetch(const std::vector<Value>& values);

// RFC 9051 §9 date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded) -> unix seconds.
std::optional<int64_t> parse_internaldate(std::string_view text);

// An astring for a command: quoted with escapes when every byte is printable 7-bit; nullopt
// when it needs a literal (8-bit bytes, CR, LF, NUL).
std::optional<std::string> quote(std::string_view s);

}  // namespace tern::ctl::imap
