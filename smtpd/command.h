// smtpd: the SMTP command-line parser (RFC 5321 §4.1, with the ESMTP parameters of
// RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN, RFC 4954 AUTH,
// RFC 3030 BDAT). Pure function of one line (without its CRLF); no state, no allocation
// beyond the returned strings. Fuzzed by tests/fuzz/fuzz_smtp_command.cpp.
//
// Errors: Errc::syntax -> the session answers 501 5.5.4 (bad syntax in parameters or path);
// Errc::not_found -> 555 5.5.4 (a MAIL/RCPT parameter we do not implement, RFC 5321
// §4.1.1.11). An unknown verb is not an error: it parses as Verb::unknown (500 5.5.2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "smtpd/types.h"

namespace tern::smtpd {

enum class Verb {
  helo, ehlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, expn, help, starttls, auth, unknown
};
const char* to_string(Verb verb);

enum class BodyType { unspecified, seven_bit, eight_bit_mime };

struct MailParams {
  std::optional<uint64_t> size;  // RFC 1870
  BodyType body = BodyType::unspecified;
  bool smtputf8 = false;
  DsnRet ret = DsnRet::unspecified;
  std::string envid;  // xtext, validated, kept encoded
  bool auth_given = false;  // RFC 4954 §5 AUTH=<mailbox>: accepted and ignored
};

struct RcptParams {
  uint8_t notify = 0;  // NotifyFlags
  std::string orcpt;   // "addr-type;xtext", validated, kept encoded
};

struct Command {
  Verb verb = Verb::unknown;
  std::string verb_text;  // as sent (for logs); at most 16 bytes kept
  std::string argument;   // HELO/EHLO domain, VRFY/EXPN/HELP/NOOP text, AUTH mechanism (upper)
  std::string initial_response;  // AUTH initial response, may be "=" or empty (none given)

  // MAIL / RCPT: the path without <> and without a source route. Empty for MAIL FROM:<>.
  std::string path;
  MailAddress address;       // split path (domain lower-cased); "postmaster" -> domain ""
  bool path_is_utf8 = false; // path contains non-ASCII (needs SMTPUTF8, RFC 6531 §3.4)
  MailParams mail;
  RcptParams rcpt;

  uint64_t bdat_size = 0;  // BDAT
  bool bdat_last = false;
};

Result<Command> parse_command(std::string_view line);

// The verb of a command line (first word, case-insensitive); Verb::unknown if none.
Verb parse_verb(std::string_view line);


}  // namespace tern::smtpd
