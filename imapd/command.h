// Parsed IMAP commands: the typed result of CommandParser (imap_parser.h).
//
// A Command is {tag, name, uid, args}; `args` holds the one struct that belongs to `name`
// (see the table next to Args). Strings are already unquoted / taken out of literals.
// Mailbox names are kept in wire form (modified UTF-7 for rev1 clients, UTF-8 once
// IMAP4rev2 or UTF8=ACCEPT is enabled) except that any case of "INBOX" is normalised to
// "INBOX" (RFC 9051 §5.1); the session decodes them with mutf7_decode() when needed.
// System flags are normalised to their canonical case ("\seen" -> "\Seen"); keywords are
// kept as sent (they compare case-insensitively, RFC 9051 §2.3.2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "imapd/fetch_item.h"
#include "imapd/search_key.h"
#include "imapd/sequence_set.h"

namespace tern::imapd {

enum class CommandName {
  unknown,  // not a command we know: the session answers BAD (UnknownArgs has the name)
  capability, noop, logout, id, starttls, authenticate, login, enable,
  select, examine, create, delete_, rename, subscribe, unsubscribe, list, lsub, namespace_,
  status, append, idle, check, close, unselect, expunge, search, fetch, store, copy, move,
  sort, thread, unauthenticate, compress,
  getmetadata, setmetadata,  // RFC 5464
  cancelupdate,              // RFC 5267 §4.3.5
};
const char* to_string(CommandName name);  // upper-case wire name, "UNKNOWN" for unknown

// "INTERNALDATE"-style date-time of APPEND (RFC 9051 §9 date-time), e.g.
// "17-Jul-1996 02:44:25 -0700".
struct DateTime {
  Date date;
  int hour = 0, minute = 0, second = 0;
  int zone_minutes = 0;  // offset east of UTC, e.g. -0700 -> -420
  // Seconds since the epoch (UTC).
  int64_t to_unix() const;
  bool operator==(const DateTime&) const = default;
};

enum class StatusItem { messages, uidnext, uidvalidity, unseen, deleted, size, recent, highestmodseq, mailboxid };
const char* to_string(StatusItem item);

// ---- argument structs, one per command family ----

struct NoArgs {
  bool operator==(const NoArgs&) const = default;
};

struct UnknownArgs {
  std::string name;  // the command word as sent (may be empty if the line was just a tag)
  bool operator==(const UnknownArgs&) const = default;
};

// ID (RFC 2971 §3.3): `params` is nullopt for NIL; values may be NIL (nullopt).
struct IdArgs {
  std::optional<std::vector<std::pair<std::string, std::optional<std::string>>>> params;
  bool operator==(const IdArgs&) const = default;
};

// AUTHENTICATE (RFC 9051 §6.2.2, SASL-IR RFC 4959). initial_response is the base64 text
// as sent ("=" means an empty response); nullopt when absent. Decoding belongs to auth/.
struct AuthenticateArgs {
  std::string mechanism;  // upper-cased
  std::optional<std::string> initial_response;
  bool operator==(const AuthenticateArgs&) const = default;
};

struct LoginArgs {
  std::string user;
  std::string password;
  bool operator==(const LoginArgs&) const = default;
};

// COMPRESS (RFC 4978 §3): the mechanism, upper-cased.
struct CompressArgs {
  std::string mechanism;
  bool operator==(const CompressArgs&) const = default;
};

struct EnableArgs {
  std::vector<std::string> capabilities;  // upper-cased
  bool operator==(const EnableArgs&) const = default;
};

// QRESYNC select parameter (RFC 7162 §3.2.5).
struct QresyncParams {
  uint32_t uidvalidity = 0;
  uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
  // (known-sequence-set known-uid-set)
  std::optional<std::pair<SequenceSet, SequenceSet>> seq_match;
  bool operator==(const QresyncParams&) const = default;
};

// SELECT / EXAMINE.
struct SelectArgs {
  std::string mailbox;
  bool condstore = false;                // (CONDSTORE), RFC 7162 §3.1.8
  std::optional<QresyncParams> qresync;  // (QRESYNC (...)): the session checks it is enabled
  bool operator==(const SelectArgs&) const = default;
};

// CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE.
struct MailboxArgs {
  std::string mailbox;
  std::vector<std::string> use;  // CREATE only: "(USE (\\Drafts ...))" (RFC 6154 §3)
  bool operator==(const MailboxArgs&) const = default;
};

struct RenameArgs {
  std::string from;
  std::string to;
  bool operator==(const RenameArgs&) const = default;
};

// LIST (RFC 9051 §6.3.9, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819) and LSUB.
struct ListArgs {
  std::string reference;
  std::vector<std::string> patterns;  // list-mailbox, may contain % and *; LSUB: exactly one
  bool extended = false;  // selection options, a pattern list or RETURN options were given
  // selection options
  bool select_subscribed = false;
  bool select_remote = false;
  bool select_recursive_match = false;
  bool select_special_use = false;  // RFC 6154 §5.1
  // return options
  bool return_subscribed = false;
  bool return_children = false;
  bool return_special_use = false;
  std::optional<std::vector<StatusItem>> return_status;  // RETURN (STATUS (...))
  bool operator==(const ListArgs&) const = default;
};

struct StatusArgs {
  std::string mailbox;
  std::vector<StatusItem> items;  // at least one
  bool operator==(const StatusArgs&) const = default;
};

// One part of APPEND ... CATENATE (RFC 4469 §5): TEXT literal bytes, or an IMAP URL.
struct CatenatePart {
  bool url = false;       // data is the URL as sent (RFC 5092), else the TEXT literal's bytes
  std::string data;
  bool literal8 = false;  // TEXT ~{n} (RFC 3516 §4.4 with RFC 4469 §5)
  bool operator==(const CatenatePart&) const = default;
};

// One message of APPEND (RFC 9051 §6.3.12; MULTIAPPEND RFC 3502 allows several).
struct AppendMessage {
  std::vector<std::string> flags;
  std::optional<DateTime> internal_date;
  std::string data;       // the literal's bytes (empty with CATENATE)
  bool literal8 = false;  // "~{n}" (RFC 3516 §4.4): may contain NUL, binary content
  std::vector<CatenatePart> catenate;  // RFC 4469: the parts; empty for a plain literal
  bool operator==(const AppendMessage&) const = default;
};

struct AppendArgs {
  std::string mailbox;
  std::vector<AppendMessage> messages;  // at least one
  bool operator==(const AppendArgs&) const = default;
};

// UID EXPUNGE (RFC 9051 §6.4.9).
struct UidExpungeArgs {
  SequenceSet set;
  bool operator==(const UidExpungeArgs&) const = default;
};

// RFC 9394 §3.1 partial-range: 1-based positions in a result; negative ones count from the
// end (-1 is the last). Both ends have the same sign; kept as sent (500:400 = 400:500).
struct PartialRange {
  int64_t first = 0, last = 0;
  bool operator==(const PartialRange&) const = default;
};
std::string to_string(const PartialRange& r);

// ESEARCH return options (RFC 4731, RFC 9051 §6.4.4). RETURN () means ALL. PARTIAL: RFC
// 9394; CONTEXT and UPDATE: RFC 5267 §4.
struct SearchReturn {
  bool min = false, max = false, all = false, count = false, save = false;
  std::optional<PartialRange> partial;
  bool context = false, update = false;
  // RFC 5465 §7: UPDATE (fetch-att ...): a FETCH with these for each message ADDTO adds.
  std::vector<FetchItem> update_fetch;
  bool operator==(const SearchReturn&) const = default;
};

struct SearchArgs {
  std::optional<std::string> charset;         // as sent, upper-cased; nullopt: US-ASCII/UTF-8
  std::optional<SearchReturn> return_options; // nullopt: classic "* SEARCH" response
  SearchKey key;                              // kind and_ at the top level
  bool operator==(const SearchArgs&) const = default;
};

// SORT (RFC 5256 §3, ESORT RFC 5267 §3, DISPLAYFROM/DISPLAYTO RFC 5957).
enum class SortKey { arrival, cc, date, from, size, subject, to, display_from, display_to };
const char* to_string(SortKey key);
struct SortCriterion {
  SortKey key = SortKey::arrival;
  bool reverse = false;
  bool operator==(const SortCriterion&) const = default;
};
struct SortArgs {
  std::optional<SearchReturn> return_options;  // RFC 5267 §3 ESORT; nullopt: "* SORT"
  std::vector<SortCriterion> criteria;         // at least one
  SearchArgs search;                           // charset always set (mandatory for SORT)
  bool operator==(const SortArgs&) const = default;
};

// CANCELUPDATE (RFC 5267 §4.3.5): the tags of the searches whose updates stop.
struct CancelUpdateArgs {
  std::vector<std::string> tags;  // at least one
  bool operator==(const CancelUpdateArgs&) const = default;
};

// THREAD (RFC 5256 §3): algorithm upper-cased as sent (the session refuses unknown ones).
struct ThreadArgs {
  std::string algorithm;
  SearchArgs search;  // charset always set
  bool operator==(const ThreadArgs&) const = default;
};

struct FetchArgs {
  SequenceSet set;
  std::vector<FetchItem> items;          // macros ALL/FAST/FULL already expanded
  std::optional<uint64_t> changed_since; // (CHANGEDSINCE n), RFC 7162 §3.1.4.1
  bool vanished = false;                 // (VANISHED), RFC 7162 §3.2.6: UID FETCH only
  std::optional<PartialRange> partial;   // (PARTIAL range), RFC 9394 §3.2
  bool operator==(const FetchArgs&) const = default;
};

struct StoreArgs {
  enum class Mode { replace, add, remove };  // FLAGS / +FLAGS / -FLAGS
  SequenceSet set;
  std::optional<uint64_t> unchanged_since;   // (UNCHANGEDSINCE n), RFC 7162 §3.1.3
  Mode mode = Mode::replace;
  bool silent = false;                       // .SILENT
  std::vector<std::string> flags;
  bool operator==(const StoreArgs&) const = default;
};

// COPY / MOVE (RFC 6851).
struct CopyArgs {
  SequenceSet set;
  std::string mailbox;
  bool operator==(const CopyArgs&) const = default;
};

// GETMETADATA (RFC 5464 §4.2). Entry names are valid (valid_metadata_entry) as sent.
struct GetMetadataArgs {
  std::string mailbox;                 // "" = the server
  std::vector<std::string> entries;    // at least one
  std::optional<uint32_t> maxsize;     // MAXSIZE: leave out longer values (§4.2.1)
  int depth = 0;                       // DEPTH 0, 1, or -1 for infinity (§4.2.2)
  bool operator==(const GetMetadataArgs&) const = default;
};

// SETMETADATA (RFC 5464 §4.3): a value of nullopt (NIL) removes the entry.
struct SetMetadataArgs {
  std::string mailbox;  // "" = the server
  std::vector<std::pair<std::string, std::optional<std::string>>> entries;
  bool operator==(const SetMetadataArgs&) const = default;
};

// RFC 5464 §3.2: a settable entry name ("/private/..." or "/shared/...").
bool valid_metadata_entry(std::string_view name);

// Which struct goes with which name:
//   NoArgs:           CAPABILITY NOOP LOGOUT STARTTLS NAMESPACE IDLE CHECK CLOSE UNSELECT EXPUNGE
//                     UNAUTHENTICATE
//   UnknownArgs:      unknown
//   IdArgs ID | AuthenticateArgs AUTHENTICATE | LoginArgs LOGIN | EnableArgs ENABLE
//   SelectArgs:       SELECT EXAMINE
//   MailboxArgs:      CREATE DELETE SUBSCRIBE UNSUBSCRIBE
//   RenameArgs RENAME | ListArgs LIST LSUB | StatusArgs STATUS | AppendArgs APPEND
//   UidExpungeArgs:   UID EXPUNGE (plain EXPUNGE has NoArgs)
//   SearchArgs SEARCH | FetchArgs FETCH | StoreArgs STORE | CopyArgs COPY MOVE
//   SortArgs SORT | ThreadArgs THREAD | GetMetadataArgs GETMETADATA | SetMetadataArgs SETMETADATA
using Args = std::variant<NoArgs, UnknownArgs, IdArgs, AuthenticateArgs, LoginArgs, EnableArgs,
                          SelectArgs, MailboxArgs, RenameArgs, ListArgs, StatusArgs, AppendArgs,
                          UidExpungeArgs, SearchArgs, FetchArgs, StoreArgs, CopyArgs, SortArgs,
                          ThreadArgs, CompressArgs, GetMetadataArgs, SetMetadataArgs, CancelUpdateArgs>;

struct Command {
  std::string tag;
  CommandName name = CommandName::unknown;
  bool uid = false;  // "UID FETCH" etc.: sequence sets are UIDs
  Args args;

  template <class T>
  const T& as() const { return std::get<T>(args); }
  template <class T>
  T& as() { return std::get<T>(args); }
};

// Canonical one-line rendering for logs and tests, e.g.
// "a1 UID FETCH set=1:* items=[FLAGS,BODY.PEEK[HEADER]<0.100>] changedsince=5".
// Secrets (LOGIN password, AUTHENTICATE initial response) are redacted unless
// `show_secrets` is set (tests only).
std::string to_debug_string(const Command& cmd, bool show_secrets = false);

// Normalises a system flag to its canonical spelling; other flags are returned unchanged.
std::string canonical_flag(std::string_view flag);

}  // namespace tern::imapd
