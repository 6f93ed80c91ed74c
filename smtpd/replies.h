// smtpd (private): every reply code, enhanced status code (RFC 3463, RFC 2034) and text,
// named once. Handlers refer to these, never to literals.
//
// RFC 2034 §3 exempts the greeting and the HELO/EHLO replies from enhanced codes; 354 and
// 334 are intermediate replies, for which RFC 3463 defines no class. Those have status "".
#pragma once

#include <string>
#include <string_view>

namespace tern::smtpd {

struct Reply {
  int code;
  std::string_view status;  // enhanced status code, "" when not applicable
  std::string_view text;
};

// "code status text\r\n"; `text` replaces the default text when not empty.
std::string render(const Reply& reply, std::string_view text = {});

namespace reply {
// 2xx
inline constexpr Reply Help{214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH"};
inline constexpr Reply Greeting{220, "", "ESMTP Tern"};
inline constexpr Reply ReadyForTls{220, "2.0.0", "Ready to start TLS"};
inline constexpr Reply Bye{221, "2.0.0", "Bye"};
inline constexpr Reply AuthOk{235, "2.7.0", "Authentication successful"};
inline constexpr Reply Ok{250, "2.0.0", "Ok"};
inline constexpr Reply SenderOk{250, "2.1.0", "Sender ok"};
inline constexpr Reply RecipientOk{250, "2.1.5", "Recipient ok"};
inline constexpr Reply Queued{250, "2.0.0", "Ok: queued as "};
inline constexpr Reply ChunkOk{250, "2.0.0", "octets received"};
inline constexpr Reply CannotVrfy{252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"};
// 3xx
inline constexpr Reply AuthChallenge{334, "", ""};
inline constexpr Reply StartData{354, "", "End data with <CR><LF>.<CR><LF>"};
// 4xx
inline constexpr Reply ShuttingDown{421, "4.3.2", "Service shutting down, closing connection"};
inline constexpr Reply Timeout{421, "4.4.2", "Timeout exceeded, closing connection"};
inline constexpr Reply TooManyErrors{421, "4.7.0", "Too many errors, closing connection"};
inline constexpr Reply InputOverflow{421, "4.7.0", "Too much pipelined input, closing connection"};
// RFC 3463 §3.8 X.7.0 / X.7.1: local policy (issue 17: rate limits, greylisting).
inline constexpr Reply TooManyConnections{421, "4.7.0", "Too many connections from your address, try again later"};
inline constexpr Reply TooManyMessages{451, "4.7.1", "Too many messages from your address, try again later"};
inline constexpr Reply RecipientDeferred{451, "4.7.1", "Recipient deferred by local policy, try again later"};
inline constexpr Reply TempFailure{451, "4.3.0", "Temporary failure, please try again later"};
inline constexpr Reply RelayUnavailable{451, "4.3.2", "Relaying temporarily unavailable"};
inline constexpr Reply MailboxFull{452, "4.2.2", "Mailbox full"};
inline constexpr Reply TooManyRecipients{452, "4.5.3", "Too many recipients"};
// RFC 5321 §4.2.3 (452 insufficient system storage), RFC 3463 §3.4 (X.3.1 mail system full).
inline constexpr Reply SystemFull{452, "4.3.1", "Insufficient system storage, try again later"};
inline constexpr Reply AuthTemporary{454, "4.7.0", "Temporary authentication failure"};
inline constexpr Reply AuthLockedOut{454, "4.7.0", "Too many authentication failures, try again later"};
inline constexpr Reply TlsNotAvailable{454, "4.7.0", "TLS not available"};
// 5xx
inline constexpr Reply Unrecognized{500, "5.5.2", "Command unrecognized"};
inline constexpr Reply LineTooLong{500, "5.5.6", "Line too long"};
inline constexpr Reply DataLineTooLong{500, "5.5.6", "Line too long in message data"};
inline constexpr Reply AuthLineTooLong{500, "5.5.6", "Authentication exchange line is too long"};
inline constexpr Reply SyntaxError{501, "5.5.4", "Syntax error"};
inline constexpr Reply AuthCancelled{501, "5.0.0", "Authentication cancelled"};
inline constexpr Reply AuthMalformed{501, "5.5.2", "Cannot decode authentication response"};
inline constexpr Reply NotImplemented{502, "5.5.1", "Command not implemented"};
inline constexpr Reply NeedHelo{503, "5.5.1", "Send HELO/EHLO first"};
inline constexpr Reply NeedEhlo{503, "5.5.1", "Send EHLO first"};
inline constexpr Reply NeedMail{503, "5.5.1", "Need MAIL command first"};
inline constexpr Reply NestedMail{503, "5.5.1", "Sender already specified"};
inline constexpr Reply MixedBdatData{503, "5.5.1", "Cannot mix DATA and BDAT in one transaction"};
inline constexpr Reply AlreadyAuthenticated{503, "5.5.1", "Already authenticated"};
inline constexpr Reply AuthNotEnabled{503, "5.5.1",
                                      "Authentication not enabled here, submit on port 587 or 465"};
inline constexpr Reply AuthInTransaction{503, "5.5.1", "AUTH not allowed during a mail transaction"};
inline constexpr Reply TlsAlreadyActive{503, "5.5.1", "TLS already active"};
inline constexpr Reply UnknownMechanism{504, "5.5.4", "Unrecognized authentication mechanism"};
inline constexpr Reply AuthRequired{530, "5.7.0", "Authentication required"};
inline constexpr Reply AuthFailed{535, "5.7.8", "Authentication credentials invalid"};
inline constexpr Reply EncryptionRequired{538, "5.7.11", "Encryption required for requested authentication mechanism"};
inline constexpr Reply UnknownUser{550, "5.1.1", "No such user here"};
inline constexpr Reply BareNewline{550, "5.6.0", "Bare CR or LF not allowed in message data"};
inline constexpr Reply TooBig{552, "5.3.4", "Message size exceeds fixed limit"};
inline constexpr Reply SenderNotOwned{553, "5.7.1", "Sender address not owned by authenticated user"};
inline constexpr Reply NullSenderRefused{553, "5.7.1", "Null sender not allowed here"};
inline constexpr Reply NeedsSmtpUtf8{553, "5.6.7", "Non-ASCII address requires SMTPUTF8"};
inline constexpr Reply RelayDenied{554, "5.7.1", "Relay access denied"};
inline constexpr Reply NoValidRecipients{554, "5.5.1", "No valid recipients"};
inline constexpr Reply TransactionFailed{554, "5.0.0", "Transaction failed"};
// RFC 3463 §3.8 X.7.1: delivery not authorized, message refused (sender policy, e.g. DMARC).
inline constexpr Reply PolicyRejected{550, "5.7.1", "Message refused by sender policy"};
// RFC 7208 §8.6: an SPF temperror MAY be answered 451 4.4.3 (when the policy says so).
inline constexpr Reply PolicyDeferred{451, "4.4.3", "Sender check failed temporarily, try again later"};
// The content stage (daemon/content_stage.h): a virus (RFC 3463 X.7.1, 554 as clamd-backed
// MTAs answer), and a scanner that could not answer in time (X.7.1 temporary: try later).
inline constexpr Reply VirusRejected{554, "5.7.1", "Message refused: virus found"};
inline constexpr Reply ScanDeferred{451, "4.7.1", "Message deferred by content policy"};
inline constexpr Reply RecipientRefused{550, "5.7.1", "Recipient refused by local policy"};
// RFC 5321 §4.3.1 (the client waits for the greeting) and RFC 2920 §3.1 (EHLO and DATA end
// a pipelined group; no pipelining without EHLO): a client that does not wait is a bot.
inline constexpr Reply EarlyTalker{554, "5.5.1", "Protocol error: you talked before my greeting"};
inline constexpr Reply UnauthPipelining{554, "5.5.1", "Protocol error: commands sent before my reply"};
inline constexpr Reply UnknownParameter{555, "5.5.4", "Parameter not recognized"};
}  // namespace reply

}  // namespace tern::smtpd
