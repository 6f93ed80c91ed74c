// smtpd: incremental reader for the DATA body (RFC 5321 §4.1.1.4, §4.5.2).
//
// Invariants (SMTP smuggling defence):
//  - The message ends ONLY at <CRLF>.<CRLF>, where both line breaks are real CR LF pairs.
//    The start of the body counts as just after a CRLF (the DATA command's own line end).
//    A bare LF or bare CR never starts a line for this purpose, so "\n.\n", "\n.\r\n",
//    "\r.\r", "\r\n.\n" ... are message content, never an end.
//  - A leading dot is removed only on a line that starts after a real CRLF (dot-unstuffing).
//  - Bare CR / bare LF are counted; with `normalize` each becomes CRLF in the stored body.
//  - The stored body never grows past max_size: past it, bytes are counted and dropped.
// Byte-at-a-time safe: the state survives between feed() calls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tern::smtpd {

class DataReader {
 public:
  DataReader(uint64_t max_size, size_t max_line_length, bool normalize_bare_newlines);

  // Consumes bytes up to and including the terminating <CRLF>.<CRLF>; returns how many were
  // consumed (less than input.size() only when the end was found).
  size_t feed(std::string_view input);

  bool done() const { return state_ == State::done; }
  bool too_big() const { return too_big_; }
  bool line_too_long() const { return line_too_long_; }
  bool saw_bare_newline() const { return bare_newlines_ > 0; }
  uint64_t size() const { return size_; }  // stored (unstuffed) size, even past the limit
  std::string take_body() { return std::move(body_); }
  const std::string& body() const { return body_; }  // stored so far

 private:
  enum class State { line_start, dot, dot_cr, mid, cr, done };
  void put(char c);
  void put_run(std::string_view run);  // data bytes, counted toward the size limit
  void put_line_break();
  void bare_newline();

  uint64_t max_size_;
  size_t max_line_length_;
  bool normalize_;
  State state_ = State::line_start;
  std::string body_;
  uint64_t size_ = 0;
  size_t line_len_ = 0;  // bytes on the current line, on the wire
  uint64_t bare_newlines_ = 0;
  bool too_big_ = false;
  bool line_too_long_ = false;
};

}  // namespace tern::smtpd
