// mime: RFC 5322 / MIME message parser for IMAP FETCH (ENVELOPE, BODYSTRUCTURE, BODY[...],
// BINARY[...]) and SEARCH, and for relay/.
//
// Implementation notes
// - A Message owns a copy of the raw bytes and a tree of Parts. Every Part records byte offsets
//   into those bytes: [header_start, body_start) is its header block including the blank line
//   that ends it, [body_start, end) its body. Sections are therefore served as slices of the
//   original bytes, never re-encoded.
// - The root Part is the whole message. A multipart Part's children are its body parts; a
//   message/rfc822 (or message/global) Part has exactly one child: the encapsulated message,
//   whose header_start == the parent's body_start.
// - RFC 2046 §5.1.1: the CRLF before a boundary delimiter belongs to the delimiter, so a body
//   part ends before it. Bare LF line ends are accepted wherever CRLF is.
// - Parsing never fails: malformed input gives a best-effort tree. Work is linear in the input
//   (times the nesting depth for boundary checks); nesting is capped by Limits::max_depth
//   (deeper parts become opaque leaves) and the part count by Limits::max_parts.
// - Everything here is pure computation on memory: no I/O, clocks or globals. A Message is
//   immutable after parsing and may be read from several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "mime/dkim_canon.h"  // DKIM canonicalisation (relay/ signs, authn/ verifies)

namespace tern::mime {

struct Limits {
  size_t max_depth = 100;    // multipart/message nesting; deeper parts are opaque leaves
  size_t max_parts = 10000;  // body parts in the whole tree; later delimiters are ignored
};

struct HeaderField {
  std::string name;       // as written (case kept)
  std::string raw_value;  // bytes after the colon up to the field's final line end (folds kept)
  std::string value;      // unfolded (line breaks removed), trimmed
  size_t start = 0;       // offset of the field's first byte in Message::bytes()
  size_t end = 0;         // offset just after its final line end
};

// One content parameter after RFC 2231 processing (continuations joined, %XX decoded and the
// value converted to UTF-8 when it was charset-tagged).
struct Param {
  std::string name;  // lower-cased, without any RFC 2231 "*n*" suffix
  std::string value;
  std::string charset;   // RFC 2231 charset, lower-cased ("" if the value was not encoded)
  std::string language;  // RFC 2231 language ("" if none)
};

struct Disposition {
  std::string type;  // lower-cased, e.g. "attachment"
  std::vector<Param> params;
};

struct Part {
  size_t header_start = 0;
  size_t body_start = 0;
  size_t end = 0;
  std::vector<HeaderField> headers;

  // Content-Type. RFC 2045 §5.2: absent or invalid -> text/plain; charset=us-ascii (and
  // message/rfc822 inside multipart/digest, RFC 2046 §5.1.5). type/subtype lower-cased.
  bool has_content_type = false;
  std::string type = "text";
  std::string subtype = "plain";
  std::vector<Param> params;

  std::string encoding;  // Content-Transfer-Encoding lower-cased; "" when absent (7bit)
  std::optional<std::string> id, description, md5, location;
  std::optional<Disposition> disposition;
  std::vector<std::string> languages;  // Content-Language tags

  uint64_t lines = 0;   // text lines in the body (a final unterminated line counts)
  bool opaque = false;  // nesting limit reached: children were not parsed
  std::vector<Part> children;

  uint64_t size() const { return end - body_start; }
  bool is_multipart() const { return type == "multipart"; }
  bool is_message() const;  // message/rfc822 or message/global with a parsed child
  // First header field with this name (case-insensitive), or nullptr.
  const HeaderField* header(std::string_view name) const;
  std::vector<const HeaderField*> headers_named(std::string_view name) const;
  // Parameter value by (case-insensitive) name: Content-Type params, then nullopt.
  std::optional<std::string> param(std::string_view name) const;
  std::string charset() const;  // lower-cased charset param, "us-ascii" by default
};

// RFC 9051 §6.4.5 section text kinds.
enum class SectionKind { body, header, text, mime };

class Message {
 public:
  static Message parse(std::string bytes, const Limits& limits = {});

  std::string_view bytes() const { return bytes_; }
  const Part& root() const { return root_; }

  // Part for an IMAP part specifier ("" = the whole message, "1", "1.2", "2.1.3").
  // RFC 9051 §6.4.5: a non-multipart message (or embedded message) has only part 1, its body;
  // the parts of a message/rfc822 part are those of the encapsulated message.
  const Part* find_part(std::string_view part_spec) const;
  // The message whose header HEADER/TEXT/HEADER.FIELDS address: the root for "", the
  // encapsulated message for a message/rfc822 part; nullptr otherwise.
  const Part* find_message(std::string_view part_spec) const;

  // Exact bytes of a section: body -> BODY[<spec>] (BODY[] for ""), header/text -> the
  // (embedded) message header/body, mime -> the part's MIME header (not valid for "").
  Result<std::string_view> section(std::string_view part_spec, SectionKind kind) const;
  // Parses a full section spec such as "1.2", "1.2.MIME", "HEADER", "3.TEXT" or "" and
  // returns section(). HEADER.FIELDS goes through header_fields().
  Result<std::string_view> section(std::string_view spec) const;
  // BODY[<spec>.HEADER.FIELDS (names)] (or .NOT when negate): the matching fields in their
  // original form and order, followed by a blank line.
  Result<std::string> header_fields(std::string_view part_spec,
                                    const std::vector<std::string>& names, bool negate) const;

  std::string_view header_bytes(const Part& p) const;
  std::string_view body_bytes(const Part& p) const;

  // IMAP FETCH items for the root message (RFC 9051 §7.5.2).
  std::string envelope_imap() const;
  std::string bodystructure_imap(bool extensible = true) const;
  std::string body_imap() const { return bodystructure_imap(false); }

 private:
  std::string bytes_;
  Part root_;
};

// --- Addresses and envelope (RFC 5322 §3.4) ---
struct Address {
  std::optional<std::string> name;  // display name, raw (encoded words kept), unquoted
  std::optional<std::string> adl;   // obsolete source route, e.g. "@a.example,@b.example"
  std::optional<std::string> mailbox;
  std::optional<std::string> host;  // nullopt only in group markers (RFC 9051 §7.5.2)
};
// Group "g: a, b;" yields {mailbox="g", host=nullopt}, a, b, then {all nullopt}.
std::vector<Address> parse_address_list(std::string_view value);

std::string envelope_imap(const Part& message);
std::string bodystructure_imap(const Part& part, bool extensible);

// IMAP string syntax: NIL, quoted (with \" and \\ escapes) or a {n}\r\n literal when the value
// has CR, LF or 8-bit bytes (NULs are dropped: IMAP strings cannot carry them).
std::string imap_string(std::string_view s);
std::string imap_nstring(const std::optional<std::string>& s);

// --- Decoding ---
// RFC 2045 §6.8 base64, ignoring characters outside the alphabet.
std::string decode_base64(std::string_view in);
// RFC 2045 §6.7 quoted-printable (soft line breaks, trailing white space dropped).
std::string decode_quoted_printable(std::string_view in);
// Bytes in a charset -> UTF-8 (utf-8, us-ascii, iso-8859-1, iso-8859-15, windows-1252;
// unknown charsets: kept if valid UTF-8, else read as windows-1252). Invalid input -> U+FFFD.
std::string to_utf8(std::string_view bytes, std::string_view charset);
// Unfolds a raw header value and decodes RFC 2047 encoded words into UTF-8.
std::string decode_header_value(std::string_view raw);
// Part body with its Content-Transfer-Encoding removed (RFC 3516 BINARY). An unknown encoding
// gives Errc::syntax with message "UNKNOWN-CTE".
Result<std::string> decode_body(const Message& msg, const Part& part);
// Decoded UTF-8 text of every text/* leaf at or below the part, for SEARCH BODY/TEXT
// (text/html with its markup removed, html_to_text).
std::string text_for_search(const Message& msg, const Part& part);
// "Name: decoded value\n" for every field of the top-level header (RFC 2047 words decoded),
// what SEARCH TEXT matches in the header.
std::string header_text_for_search(const Message& msg);
// UTF-8 text lower-cased for IMAP SEARCH matching (search_text.cpp): ASCII, Latin-1
// Supplement, Latin Extended-A, Greek and Cyrillic upper case map to lower case; U+00DF and
// U+1E9E become "ss"; final sigma becomes sigma. Other scripts are kept as they are.
std::string fold_for_search(std::string_view utf8);
// The full-text index's document of a message (issue 18): its header text and body text as
// SEARCH TEXT/BODY match them, folded. Parses the bytes itself.
void search_document(std::string_view bytes, std::string& header, std::string& body);

// The text a reader sees in HTML: tags dropped (each leaves a space), the content of
// style/script/head/title and comments dropped, entities decoded (the XML five, &nbsp;,
// numeric references, and common named Latin letters and punctuation).
std::string html_to_text(std::string_view html);
// RFC 8970 §3.1 PREVIEW: up to max_chars characters of the first text/plain part that is
// not an attachment (else text/html, markup removed), decoded to UTF-8, white space runs
// collapsed to one space; "" when the message has no such text.
std::string preview_text(const Message& msg, size_t max_chars = 256);

// RFC 3516 §6 / RFC 9051 §4.3: a message holding NUL bytes (a "binary" part APPENDed with
// literal8) cannot go in an IMAP literal as it is. The same message with every identity-
// encoded (7bit/8bit/binary/none) leaf body that holds a NUL re-encoded as base64 and its
// Content-Transfer-Encoding field saying so; any other NUL becomes U+FFFD. nullopt when the
// bytes hold no NUL (the message is sent as stored).
std::optional<std::string> without_nul(std::string_view bytes);

// --- Cached metadata (computed at delivery, stored in the index) ---
struct CachedMetadata {
  std::string envelope;
  std::string bodystructure;
  std::string body;
};
// Of the message as IMAP shows it: its NUL-free form when it holds NUL (see without_nul).
CachedMetadata compute_metadata(std::string_view bytes);
// The same, of a message already parsed in that form (imapd's FETCH of an uncached message):
// the only place the three strings are made.
CachedMetadata metadata_of(const Message& nul_free);
std::string serialize(const CachedMetadata& m);
// serialize(compute_metadata(bytes)): the blob the store keeps with a message (SMTP delivery,
// IMAP APPEND), so FETCH ENVELOPE/BODYSTRUCTURE reads no message file.
std::string metadata_blob(std::string_view bytes);
Result<CachedMetadata> deserialize_metadata(std::string_view blob);

}  // namespace tern::mime
