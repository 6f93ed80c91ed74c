// Incremental, sans-I/O IMAP command parser.
//
// Two layers:
//  * CommandParser frames commands: it scans lines, recognises literal announcements at the
//    end of a line ("{n}", "{n+}", "~{n}", "~{n+}"), collects the literal bytes and hands the
//    complete command (lines + literals) to the grammar. It enforces max_line_length per
//    line, max_literal_size per literal and max_command_size for everything together, and
//    never buffers more than those: oversized input is counted and dropped, not stored.
//  * TokenReader + parse_command() implement RFC 9051 §9 / RFC 3501 §9 over a framed command.
//
// Literal flow (RFC 9051 §7.5, RFC 7888):
//  * Synchronizing "{n}": next() returns Kind::literal_request with the size BEFORE any
//    continuation is sent. The session checks its own limit (e.g. APPENDLIMIT, quota) and
//    either calls accept_literal() and sends "+ Ready", or calls reject_literal() and sends
//    a tagged NO/BAD (the client will not send the literal). Sizes above
//    max_literal_size/max_command_size are refused by the parser itself (Kind::error with
//    ErrorKind::literal_too_big, the command is abandoned, no "+" must be sent).
//  * Non-synchronizing "{n+}" (LITERAL+) follows without a continuation. If it is too big,
//    RFC 7888 §4 says the server must still consume it or close the connection: the parser
//    consumes and discards the rest of that command (without storing it) and then reports
//    ErrorKind::literal_too_big; the session answers BAD (or NO [TOOBIG] for APPEND), or
//    closes the connection if it prefers not to read that much.
//  * With literal_plus=false the server is assumed to advertise LITERAL- (RFC 7888 §4):
//    non-synchronizing literals above 4096 bytes are an error handled as above. The session
//    normally advertises LITERAL+ and keeps literal_plus=true.
//  * "~{n}" literal8 (RFC 3516 §4.4) is framed the same way; the grammar accepts it only
//    where binary data is allowed (APPEND message data).
//
// Lines longer than max_line_length: the rest of the line is dropped while the framer keeps
// tracking quotes and a trailing literal announcement, so that the stream stays in sync
// (a "{n+}" literal after an overlong line is skipped too); then ErrorKind::line_too_long
// is reported with the tag if the line started with one.
//
// Raw lines: AUTHENTICATE continuation responses and the "DONE" that ends IDLE are not
// commands. The session calls next_line() instead of next() while it expects one.
//
// Empty lines between commands are ignored (some clients send them). Bare LF is accepted as
// a line end as well as CRLF.
//
// Threading: a parser belongs to one session; no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "imapd/command.h"

namespace tern::imapd {

struct ParserSettings {
  size_t max_line_length = 65536;         // per line, excluding CRLF and literal data
  uint64_t max_literal_size = 50ull << 20;  // per literal (APPENDLIMIT)
  uint64_t max_command_size = 64ull << 20;  // all lines and literals of one command
  bool literal_plus = true;               // LITERAL+ advertised; false = LITERAL-
};

// RFC 7888 §4: under LITERAL- the largest non-synchronizing literal.
inline constexpr uint64_t kLiteralMinusMax = 4096;

enum class ErrorKind {
  syntax,           // grammar error: BAD
  line_too_long,    // BAD; the line was dropped
  literal_too_big,  // BAD, or NO [TOOBIG] for APPEND (RFC 7889 / RFC 4469 TOOBIG code)
  command_too_big,  // BAD
};
const char* to_string(ErrorKind kind);

struct ParseError {
  ErrorKind kind = ErrorKind::syntax;
  std::optional<std::string> tag;  // nullopt: answer with "* BAD"
  std::string message;             // human text for the BAD response, no CR/LF
  CommandName name = CommandName::unknown;  // when known (e.g. APPEND for TOOBIG)
};

// A synchronizing literal announcement waiting for the session's decision.
struct LiteralRequest {
  uint64_t size = 0;
  bool literal8 = false;
  std::optional<std::string> tag;
  CommandName name = CommandName::unknown;  // best effort from the first line
};

struct ParseEvent {
  enum class Kind {
    need_more,        // feed more bytes
    literal_request,  // see LiteralRequest; call accept_literal() or reject_literal()
    command,          // `command` is complete
    error,            // `error`; the offending command has been consumed
    line,             // next_line() result in `line` (without CRLF)
  };
  Kind kind = Kind::need_more;
  Command command;
  ParseError error;
  LiteralRequest literal;
  std::string line;
};

class CommandParser {
 public:
  explicit CommandParser(ParserSettings settings = {});

  // Appends bytes to the input buffer. Nothing is parsed until next()/next_line().
  void feed(std::string_view bytes);

  // Parses as far as the buffered input allows and returns the next event. While a
  // literal_request is pending, returns it again until accept/reject is called.
  ParseEvent next();

  // Reads one raw line (AUTHENTICATE responses, IDLE's DONE). Returns Kind::line,
  // Kind::need_more, or Kind::error (line_too_long; the line is dropped). Must not be
  // called in the middle of a command.
  ParseEvent next_line();

  void accept_literal();  // the session sent "+ ..."; the literal bytes follow
  void reject_literal();  // the session answered NO/BAD; the command is dropped

  // True between commands (no partial command buffered): the session may switch modes.
  bool idle() const;
  // Bytes fed but not yet consumed: the session stops reading the socket when this grows
  // (it means the client pipelines faster than commands complete).
  size_t buffered() const { return input_.size() - input_pos_; }

  // Settings may change between commands (e.g. literal limit after login).
  void set_settings(const ParserSettings& s) { settings_ = s; }

 private:
  enum class State { line, literal, await_continuation };

  void reset_command();
  bool process_line_end(ParseEvent& ev);
  void note_line_bytes(std::string_view chunk);
  void compact();

  static constexpr size_t kKeepCapacity = 1024;  // input_ kept allocated when drained
  ParserSettings settings_;
  std::string input_;
  size_t input_pos_ = 0;

  State state_ = State::line;
  std::string cmd_;          // framed command so far (lines + "\r\n" + literal data)
  size_t line_start_ = 0;    // offset in cmd_ of the current line
  size_t line_len_ = 0;      // length of the current line, even the dropped part
  bool in_quote_ = false;    // quote state of the current line
  bool escape_ = false;
  std::string tail_;         // last bytes of the current line (for a dropped line's literal)
  uint64_t literal_left_ = 0;
  bool discarding_ = false;  // the command is already in error; drop until its end
  ParseError pending_error_;
  LiteralRequest pending_literal_;
  std::optional<std::string> first_line_tag_;
};

namespace detail {

// Grammar primitives over a framed command (RFC 9051 §9). Private to imapd/: used by the
// command, SEARCH and FETCH grammars. Every reader returns nullopt/false on mismatch; the
// first failure message is kept in error(). Keyword matching is case-insensitive.
class TokenReader {
 public:
  explicit TokenReader(std::string_view buf) : buf_(buf) {}

  bool at_end() const { return pos_ >= buf_.size(); }
  char peek() const { return at_end() ? '\0' : buf_[pos_]; }
  size_t pos() const { return pos_; }
  bool consume(char c);                    // exactly c
  bool sp() { return consume(' ') || fail("expected SP"); }
  bool expect(char c, const char* what);   // c or fail(what)
  bool end();                              // at_end() or fail("unexpected text")

  // A run of ATOM-CHARs ("atom"); with resp_specials also "]" (ASTRING-CHAR).
  std::optional<std::string_view> atom(bool allow_resp_specials = false);
  // Peeks at the word starting here (letters, digits, '.', '-', '\\') without consuming.
  std::string_view peek_word() const;
  // Consumes `kw` if the next word equals it case-insensitively (followed by a non-word).
  bool keyword(std::string_view kw);

  std::optional<std::string> quoted();
  // literal / literal8. *was_literal8 reports "~{n}"; literal8 only when allow_literal8.
  std::optional<std::string> literal(bool allow_literal8 = false, bool* was_literal8 = nullptr);
  std::optional<std::string> string();     // quoted / literal
  std::optional<std::string> astring();    // 1*ASTRING-CHAR / string
  std::optional<std::optional<std::string>> nstring();  // string / NIL
  std::optional<std::string> list_mailbox();  // 1*list-char / string
  std::optional<std::string> mailbox();    // astring, "INBOX" normalised
  std::optional<std::string> flag(bool allow_star = false);  // "\" atom / atom
  std::optional<std::vector<std::string>> flag_list();  // "(" [flag *(SP flag)] ")"

  std::optional<uint32_t> number();        // 32-bit
  std::optional<uint32_t> nz_number();
  std::optional<uint64_t> number64();      // 63-bit (RFC 9051 number64)
  std::optional<SequenceSet> sequence_set(bool allow_saved = true);
  std::optional<Date> date();              // date-text or DQUOTE date-text DQUOTE
  std::optional<DateTime> date_time();     // DQUOTE date-time DQUOTE

  bool fail(std::string message);          // records the first error; returns false
  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }

  int depth = 0;  // recursion guard for nested SEARCH keys

 private:
  std::string_view buf_;
  size_t pos_ = 0;
  std::string error_;
};

bool is_atom_char(char c);
CommandName lookup_command_name(std::string_view word);  // case-insensitive; unknown if none
Result<SearchArgs> parse_search(TokenReader& r);                      // after "SEARCH"
// RFC 9394 §3.1: partial-range = nz-number ":" nz-number / "-" nz-number ":" "-" nz-number
bool parse_partial_range(TokenReader& r, PartialRange& out);
Result<SortArgs> parse_sort(TokenReader& r);                          // after "SORT"
Result<ThreadArgs> parse_thread(TokenReader& r);                      // after "THREAD"
Result<GetMetadataArgs> parse_getmetadata(TokenReader& r);            // after "GETMETADATA"
Result<SetMetadataArgs> parse_setmetadata(TokenReader& r);            // after "SETMETADATA"
// One fetch-att, or (allow_macro) ALL / FAST / FULL expanded into `out`.
bool parse_fetch_att(TokenReader& r, std::vector<FetchItem>& out, bool allow_macro);
// Debug quoting shared by the to_string helpers: "..." with \" \\ and \xHH escapes.
std::string debug_quote(std::string_view s);

}  // namespace detail

// Parses one framed command (lines + "\r\n" + literal data, without the final CRLF), as
// CommandParser produces it. Exposed for tests and the fuzzer.
Result<Command> parse_command(std::string_view framed, std::optional<std::string>* tag_out = nullptr,
                              CommandName* name_out = nullptr);

// RFC 9051 §6.3.13: the line that ends IDLE is "DONE" (case-insensitive).
bool is_idle_done(std::string_view line);

}  // namespace tern::imapd
