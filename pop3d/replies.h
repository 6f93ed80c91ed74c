// pop3d private: every status-line text the session sends, named once. Response codes in
// brackets are RFC 2449 §8 ([IN-USE], [LOGIN-DELAY]) and RFC 3206 ([SYS/TEMP], [SYS/PERM],
// [AUTH]); "+OK"/"-ERR" is added by the session's reply helpers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tern::pop3d::reply {

// Greeting and goodbye. RFC 1939 §4: the greeting is a positive response; no APOP timestamp.
inline constexpr std::string_view Ready = "POP3 server ready";
inline constexpr std::string_view Bye = "POP3 server signing off";

// Framing and dispatch.
inline constexpr std::string_view LineTooLong = "line too long";
inline constexpr std::string_view UnknownCommand = "unknown command";
inline constexpr std::string_view WrongState = "command not valid in this state";
inline constexpr std::string_view Syntax = "syntax error in arguments";
inline constexpr std::string_view TooManyErrors = "too many errors, closing connection";
inline constexpr std::string_view Autologout = "autologout timer expired, closing connection";
inline constexpr std::string_view ShuttingDown = "[SYS/TEMP] server shutting down";
inline constexpr std::string_view PipelineOverflow = "too much pipelined input";

// CAPA (RFC 2449 §5).
inline constexpr std::string_view CapaFollows = "capability list follows";

// STLS (RFC 2595 §4).
inline constexpr std::string_view BeginTls = "Begin TLS negotiation";
inline constexpr std::string_view TlsActive = "TLS already active";
inline constexpr std::string_view TlsUnavailable = "STLS not available";

// Authorization.
inline constexpr std::string_view TlsRequiredUseStls = "[AUTH] TLS required for login, use STLS";
inline constexpr std::string_view TlsRequired = "[AUTH] TLS required for login";
inline constexpr std::string_view UserAccepted = "send PASS";
inline constexpr std::string_view UserMissing = "USER needs a name";
inline constexpr std::string_view PassWithoutUser = "PASS must follow a successful USER";
inline constexpr std::string_view InvalidCredentials = "[AUTH] invalid credentials";
inline constexpr std::string_view LockedOut = "[AUTH] too many failed logins, try again later";
inline constexpr std::string_view AuthTemporary = "[SYS/TEMP] authentication temporarily unavailable";
inline constexpr std::string_view MaildropInUse = "[IN-USE] maildrop already in use";
inline constexpr std::string_view MaildropTemporary = "[SYS/TEMP] cannot open maildrop now";
inline constexpr std::string_view UnknownMechanism = "[AUTH] unsupported SASL mechanism";
inline constexpr std::string_view AuthCancelled = "[AUTH] authentication cancelled";
inline constexpr std::string_view BadBase64 = "[AUTH] malformed base64 response";
inline constexpr std::string_view BadSaslMessage = "[AUTH] malformed SASL response";
inline constexpr std::string_view AuthzidRefused = "[AUTH] authorization identity not permitted";
inline constexpr std::string_view MechanismsFollow = "SASL mechanisms follow";
inline constexpr std::string_view AlreadyLoggedIn = "already authenticated";

// Transaction.
inline constexpr std::string_view ScanFollows = "scan listing follows";
inline constexpr std::string_view UidlFollows = "unique-id listing follows";
inline constexpr std::string_view TopFollows = "top of message follows";
inline constexpr std::string_view NoSuchMessage = "no such message";
inline constexpr std::string_view AlreadyDeleted = "already deleted";  // "message N already deleted"
inline constexpr std::string_view Deleted = "deleted";                 // "message N deleted"
inline constexpr std::string_view MessageGone = "[SYS/PERM] message no longer available";
inline constexpr std::string_view MessageTemporary = "[SYS/TEMP] cannot read message now";
inline constexpr std::string_view CommitFailed = "[SYS/TEMP] some deleted messages not removed";

// "maildrop has N messages (M octets)": after login and RSET (RFC 1939 §5 example).
inline std::string maildrop_summary(uint64_t messages, uint64_t octets) {
  return "maildrop has " + std::to_string(messages) + " messages (" + std::to_string(octets) +
         " octets)";
}
// "maildrop has N messages": after login when sizes are not known yet.
inline std::string maildrop_count(uint64_t messages) {
  return "maildrop has " + std::to_string(messages) + " messages";
}
// "message N <what>", e.g. "message 2 already deleted" (RFC 1939 §5 examples).
inline std::string about_message(uint64_t n, std::string_view what) {
  return "message " + std::to_string(n) + " " + std::string(what);
}

}  // namespace tern::pop3d::reply
