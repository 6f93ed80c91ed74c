// The text codecs every module shares: base64, hex, UTF-8, IMAP modified UTF-7 and SMTP
// xtext. Pure functions over memory; malformed input is an error value (Errc::syntax), never
// an exception. One copy each, so the rules (padding, minimal encodings, surrogates) cannot
// drift between the protocols that use them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern {

// ---- base64 (RFC 4648 §4) ----
std::string base64_encode(std::string_view data);
// Strict: the length is a multiple of 4, padding only at the end, nothing outside the
// alphabet (no whitespace). SASL (RFC 4954 §4) and the DKIM p= value use this form.
Result<std::string> base64_decode(std::string_view text);
// As strict, but SP, HTAB, CR and LF anywhere are skipped first: the folding whitespace that
// RFC 6376 §3.5 allows inside the b= and bh= tags of a DKIM-Signature.
Result<std::string> base64_decode_fws(std::string_view text);
// RFC 2045 §6.8 Content-Transfer-Encoding: characters outside the alphabet are ignored, a
// partial final quantum gives the bytes it holds. Never fails (mail is decoded best-effort).
std::string base64_decode_mime(std::string_view text);

namespace detail {
// Value of a base64 digit whose 64th symbol is `c63` ('/' in RFC 4648, ',' in modified
// UTF-7), or -1.
int base64_value(char c, char c63);
}  // namespace detail

// ---- hex ----
// Value of one hex digit (either case), or -1.
int hex_value(char c);
std::string hex_encode(std::string_view data, bool upper = false);
// Even length, hex digits of either case.
Result<std::string> hex_decode(std::string_view text);
// RFC 3986 §2.1 percent-decoding ("%HH" -> the byte); Errc::syntax on a "%" not followed by
// two hex digits. URLs: imaps://user@host (ternctl import), mailto: (DMARC rua=).
Result<std::string> percent_decode(std::string_view text);

// ---- UTF-8 (RFC 3629) ----
inline constexpr uint32_t kReplacementChar = 0xFFFD;
// Appends the UTF-8 form of one code point (the caller passes a scalar value <= U+10FFFF).
void append_utf8(std::string& out, uint32_t code_point);
// Length of the well-formed UTF-8 sequence at s[i] (no overlongs, surrogates or values past
// U+10FFFF), or 0 if it is ill-formed; stores the code point.
size_t utf8_decode_at(std::string_view s, size_t i, uint32_t& code_point);
bool is_valid_utf8(std::string_view s);
// Each ill-formed byte replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);

// ---- IMAP modified UTF-7 (RFC 3501 §5.1.3) ----
// UTF-8 -> modified UTF-7; Errc::syntax when the input is not valid UTF-8.
Result<std::string> mutf7_encode(std::string_view utf8);
// Modified UTF-7 -> UTF-8, strict: rejects 8-bit or control bytes, unterminated or empty
// shift sequences (other than "&-"), characters outside the modified base64 alphabet,
// non-zero or over-long padding bits, odd byte counts, unpaired surrogates, printable
// ASCII encoded in base64, and two adjacent shift sequences (which must have been one).
Result<std::string> mutf7_decode(std::string_view mutf7);

// ---- xtext (RFC 3461 §4) ----
// "+", "=" and bytes outside "!".."~" as "+HH" (upper-case hex).
std::string xtext_encode(std::string_view text);
// xtext = *( xchar / hexchar ), hexchar = "+" 2(upper-case hex digit). Bytes >= 0x80 are
// tolerated (RFC 6533 carries UTF-8 there).
bool is_valid_xtext(std::string_view text);
// Decodes a valid xtext; Errc::syntax otherwise.
Result<std::string> xtext_decode(std::string_view text);

}  // namespace tern
