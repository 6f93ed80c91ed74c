// FETCH data items (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ, RFC 8514 SAVEDATE)
// as typed values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tern::imapd {

// section-spec (RFC 9051 §9): optional part path, then what of that part.
struct Section {
  enum class Text {
    none,               // BODY[] / BODY[1.2]: the whole message or the whole part
    header,             // HEADER
    header_fields,      // HEADER.FIELDS (names)
    header_fields_not,  // HEADER.FIELDS.NOT (names)
    text,               // TEXT
    mime,               // MIME (only after a part number)
  };
  std::vector<uint32_t> part;  // "1.2.3" -> {1,2,3}; empty = the message itself
  Text text = Text::none;
  std::vector<std::string> fields;  // header names as sent (compare case-insensitively)

  // Wire form inside the brackets, e.g. "1.2.HEADER.FIELDS (FROM TO)"; header names are
  // upper-cased as RFC 9051 §7.5.2 lets servers do.
  std::string to_string() const;
  bool operator==(const Section&) const = default;
};

// "<offset.length>" on a request; the response names only "<offset>".
struct Partial {
  uint64_t offset = 0;
  uint64_t length = 0;  // nz-number64
  bool operator==(const Partial&) const = default;
};

struct FetchItem {
  enum class Kind {
    flags,          // FLAGS
    internaldate,   // INTERNALDATE
    rfc822_size,    // RFC822.SIZE
    envelope,       // ENVELOPE
    body,           // BODY (non-extensible BODYSTRUCTURE)
    bodystructure,  // BODYSTRUCTURE
    uid,            // UID
    modseq,         // MODSEQ (RFC 7162 §3.1.4.1): implicitly enables CONDSTORE
    rfc822,         // RFC822 (== BODY[], sets \Seen)
    rfc822_header,  // RFC822.HEADER (== BODY.PEEK[HEADER])
    rfc822_text,    // RFC822.TEXT (== BODY[TEXT], sets \Seen)
    body_section,   // BODY[section]<partial> / BODY.PEEK[...]
    binary,         // BINARY[part]<partial> / BINARY.PEEK[...] (RFC 3516)
    binary_size,    // BINARY.SIZE[part] (RFC 3516)
    preview,        // PREVIEW [(LAZY)] (RFC 8970)
    savedate,       // SAVEDATE (RFC 8514 §4.1)
    emailid,        // EMAILID (RFC 8474 §5.1)
    threadid,       // THREADID (RFC 8474 §5.2)
  };
  Kind kind = Kind::flags;
  bool peek = false;                // BODY.PEEK / BINARY.PEEK: do not set \Seen
  Section section;                  // body_section, binary, binary_size (binary: part only)
  std::optional<Partial> partial;   // body_section, binary
  bool lazy = false;                // PREVIEW (LAZY): the server may answer NIL (RFC 8970 §3.2)

  // Does fetching this item set \Seen (RFC 9051 §6.4.5)?
  bool sets_seen() const;
  // The item name as it appears in the FETCH response, e.g. "BODY[HEADER]<0>", "UID",
  // "BINARY[1]", "RFC822.HEADER".
  std::string response_name() const;
  bool operator==(const FetchItem&) const = default;
};

const char* to_string(FetchItem::Kind kind);
// Request form, re-parsable: "BODY.PEEK[1.HEADER.FIELDS (FROM)]<0.100>", "BINARY.SIZE[2]".
std::string to_string(const FetchItem& item);

}  // namespace tern::imapd
