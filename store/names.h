// Private to store/: pure functions that turn user addresses, IMAP mailbox names and Maildir
// file names into safe on-disk names and back. No I/O here, so everything is unit-testable
// and fuzzable (tests/fuzz/fuzz_store_names.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::store::detail {

// A canonical user: "local@domain", both lower-cased, both checked to be safe path components.
struct UserName {
  std::string address;  // "bob@example.test"
  std::string domain;   // "example.test"
  std::string local;    // "bob"
};
Result<UserName> canonical_user(std::string_view address);

// Validates an API mailbox name (UTF-8, '/' as hierarchy delimiter) and returns the canonical
// form: a leading "INBOX" component in any case becomes "INBOX". Errc::syntax for empty names,
// empty components, "." or ".." components, control characters, the IMAP wildcards '*' and
// '%', invalid UTF-8, or names too long to be a directory name.
Result<std::string> canonical_mailbox(std::string_view name);
bool is_inbox(std::string_view canonical_name);

// Maildir++ directory name (relative to the user's Maildir) for a canonical mailbox name:
// "" for INBOX, ".Work.Projects" for "Work/Projects". Each component is encoded with IMAP
// modified UTF-7 (RFC 3501 §5.1.3, as Dovecot does), then '.' is escaped as "%2E" (the '%' can
// not occur otherwise since canonical names never contain it).
std::string mailbox_dir(std::string_view canonical_name);
// The inverse: ".Work.Projects" -> "Work/Projects"; nullopt for names that do not decode to
// a valid canonical mailbox name (those directories are ignored).
std::optional<std::string> mailbox_from_dir(std::string_view dir_name);


// Maildir file names: "<base>,S=<size>,U=<uid>:2,<flags>".
struct MaildirName {
  std::string base;                // the unique part, before the first ','/':'
  std::optional<uint64_t> size;    // ,S=
  std::optional<uint32_t> uid;     // ,U=
  uint32_t flags = 0;              // system flags from ":2,", as store::Flag bits
  bool has_info = false;           // ":2," present
};
std::optional<MaildirName> parse_maildir_name(std::string_view file_name);
// keyword_letters: Dovecot keyword letters ('a'..'z', see dovecot_files.h), appended after
// the system flag letters (Maildir wants the info letters in ASCII order).
std::string format_maildir_name(std::string_view base, uint64_t size, uint32_t uid,
                                uint32_t flags, bool with_info,
                                std::string_view keyword_letters = {});
// Maildir info letters, in the ASCII order Maildir requires: D F R S T.
std::string maildir_flag_letters(uint32_t flags);

// Sanitises a host name for use in a Maildir base name ('/' ':' ',' and non-printables are
// replaced, as the Maildir spec suggests for '/' and ':').
std::string maildir_safe_host(std::string_view host);

}  // namespace tern::store::detail
