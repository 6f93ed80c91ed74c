// Writing IMAP responses (RFC 9051 §7, §9): strings in the right form, flag lists, mailbox
// names, and status/continuation lines with response codes.
//
// String form choice (write_string): a quoted string when every byte may appear in one
// (no CR, LF or NUL; 8-bit only as valid UTF-8 and only when the client accepts UTF-8,
// i.e. IMAP4rev2 or UTF8=ACCEPT), otherwise a synchronizing-style literal "{n}\r\n<bytes>"
// (servers always send "{n}"; no continuation is awaited for server literals).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::imapd {

// Response conditions (RFC 9051 §7.1).
enum class Condition { ok, no, bad, preauth, bye };
const char* to_string(Condition c);

// Response codes (RFC 9051 §7.1 and extensions), named once.
namespace code {
inline constexpr std::string_view Alert = "ALERT";
inline constexpr std::string_view AlreadyExists = "ALREADYEXISTS";
inline constexpr std::string_view AppendUid = "APPENDUID";
inline constexpr std::string_view AuthenticationFailed = "AUTHENTICATIONFAILED";
inline constexpr std::string_view BadCharset = "BADCHARSET";
inline constexpr std::string_view Cannot = "CANNOT";
inline constexpr std::string_view BadUrl = "BADURL";  // RFC 4469 §6
inline constexpr std::string_view Capability = "CAPABILITY";
inline constexpr std::string_view ClientBug = "CLIENTBUG";
inline constexpr std::string_view CompressionActive = "COMPRESSIONACTIVE";  // RFC 4978 §3
inline constexpr std::string_view Closed = "CLOSED";
inline constexpr std::string_view ContactAdmin = "CONTACTADMIN";
inline constexpr std::string_view CopyUid = "COPYUID";
inline constexpr std::string_view Corruption = "CORRUPTION";
inline constexpr std::string_view Expired = "EXPIRED";
inline constexpr std::string_view ExpungeIssued = "EXPUNGEISSUED";
inline constexpr std::string_view HasChildren = "HASCHILDREN";
inline constexpr std::string_view HighestModseq = "HIGHESTMODSEQ";
inline constexpr std::string_view InUse = "INUSE";
inline constexpr std::string_view Limit = "LIMIT";
inline constexpr std::string_view MailboxId = "MAILBOXID";  // RFC 8474 §4
inline constexpr std::string_view Metadata = "METADATA";    // RFC 5464 §4.2.1, §4.3
inline constexpr std::string_view Modified = "MODIFIED";
inline constexpr std::string_view NoModseq = "NOMODSEQ";
inline constexpr std::string_view NonExistent = "NONEXISTENT";
inline constexpr std::string_view NoPerm = "NOPERM";
inline constexpr std::string_view OverQuota = "OVERQUOTA";
inline constexpr std::string_view Parse = "PARSE";
inline constexpr std::string_view PermanentFlags = "PERMANENTFLAGS";
inline constexpr std::string_view PrivacyRequired = "PRIVACYREQUIRED";
inline constexpr std::string_view ReadOnly = "READ-ONLY";
inline constexpr std::string_view ReadWrite = "READ-WRITE";
inline constexpr std::string_view ServerBug = "SERVERBUG";
inline constexpr std::string_view TooBig = "TOOBIG";  // RFC 4469 §5 / RFC 7889
inline constexpr std::string_view TryCreate = "TRYCREATE";
inline constexpr std::string_view UidNext = "UIDNEXT";
inline constexpr std::string_view UidNotSticky = "UIDNOTSTICKY";
inline constexpr std::string_view UidValidity = "UIDVALIDITY";
inline constexpr std::string_view Unavailable = "UNAVAILABLE";
inline constexpr std::string_view UnknownCte = "UNKNOWN-CTE";
inline constexpr std::string_view Use = "USE";  // RFC 6154 §3
}  // namespace code

// A response code with optional arguments already in wire form: {code::UidNext, "42"}.
struct ResponseCode {
  std::string_view name;
  std::string args;
};

// How strings may be written to this client.
struct WriterOptions {
  bool utf8 = false;  // IMAP4rev2 or UTF8=ACCEPT enabled: UTF-8 in quoted strings and names
};

// Low-level appenders.
void write_quoted(std::string& out, std::string_view s);  // caller checked can_quote()
void write_literal(std::string& out, std::string_view s, bool literal8 = false);
bool can_quote(std::string_view s, const WriterOptions& opt);
void write_string(std::string& out, std::string_view s, const WriterOptions& opt);  // quoted or literal
void write_nstring(std::string& out, const std::optional<std::string>& s, const WriterOptions& opt);
// astring: a bare atom when safe (and not "NIL"), else write_string.
void write_astring(std::string& out, std::string_view s, const WriterOptions& opt);
void write_flag_list(std::string& out, const std::vector<std::string>& flags);
// A mailbox name given in UTF-8: written in UTF-8 when opt.utf8, else in modified UTF-7
// (RFC 3501 §5.1.3). A name that is not valid UTF-8 is written as given (as a literal).
void write_mailbox(std::string& out, std::string_view utf8_name, const WriterOptions& opt);

// Whole lines (each ends in CRLF). `text` has CR/LF replaced by spaces.
std::string tagged(std::string_view tag, Condition cond, std::string_view text,
                   const std::optional<ResponseCode>& rc = std::nullopt);
std::string untagged_status(Condition cond, std::string_view text, const std::optional<ResponseCode>& rc = std::nullopt);
std::string untagged(std::string_view data);                       // "* " data CRLF
std::string continuation(std::string_view text = "Ready");         // "+ " text CRLF

// Builder for untagged data lines with strings and lists, e.g.
//   ResponseBuilder(opt).raw("LIST ").flags({"\\HasNoChildren"}).sp().quoted("/").sp()
//       .mailbox(name).line()   ->  "* LIST (\HasNoChildren) "/" INBOX\r\n"
class ResponseBuilder {
 public:
  explicit ResponseBuilder(WriterOptions opt = {}) : opt_(opt) {}
  ResponseBuilder& raw(std::string_view s) { out_ += s; return *this; }
  ResponseBuilder& sp() { out_ += ' '; return *this; }
  ResponseBuilder& open() { out_ += '('; return *this; }
  ResponseBuilder& close() { out_ += ')'; return *this; }
  ResponseBuilder& number(uint64_t n) { out_ += std::to_string(n); return *this; }
  ResponseBuilder& nil() { out_ += "NIL"; return *this; }
  ResponseBuilder& quoted(std::string_view s) { write_string(out_, s, opt_); return *this; }
  ResponseBuilder& string(std::string_view s) { write_string(out_, s, opt_); return *this; }
  ResponseBuilder& nstring(const std::optional<std::string>& s) { write_nstring(out_, s, opt_); return *this; }
  ResponseBuilder& astring(std::string_view s) { write_astring(out_, s, opt_); return *this; }
  ResponseBuilder& literal(std::string_view s, bool literal8 = false) { write_literal(out_, s, literal8); return *this; }
  ResponseBuilder& flags(const std::vector<std::string>& f) { write_flag_list(out_, f); return *this; }
  ResponseBuilder& mailbox(std::string_view utf8_name) { write_mailbox(out_, utf8_name, opt_); return *this; }
  // "* " + content + CRLF; the builder is left empty.
  std::string line();
  const std::string& str() const { return out_; }

 private:
  WriterOptions opt_;
  std::string out_;
};

}  // namespace tern::imapd
