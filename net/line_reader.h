// LineReader: splits a byte stream into protocol lines and counted byte runs. Pure: no I/O.
//
// - Lines end at LF; a CR right before it is part of the terminator (reported as crlf), any
//   other CR stays in the text (the protocol decides whether bare CR is an error).
// - max_line counts the terminator (RFC 5321 §4.5.3.1.6: 1000 octets including CRLF). A line
//   longer than that yields one `too_long` item as soon as it is detected; the rest of that
//   line, up to and including its LF, is discarded without being buffered.
// - expect_bytes(n) switches to byte-count mode (IMAP literals, SMTP BDAT): the next n bytes
//   are yielded as `bytes` items as they arrive (streamed, not accumulated), the last one
//   flagged `last`; then line mode resumes.
// Memory: at most max_line bytes of an unfinished line plus the unconsumed part of the last
// feed() are held.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tern::net {

class LineReader {
 public:
  enum class Ending { crlf, lf };
  struct Item {
    enum class Kind { line, too_long, bytes };
    Kind kind = Kind::line;
    std::string data;            // line text without terminator, or raw bytes
    Ending ending = Ending::crlf; // for lines
    bool last = false;           // for bytes: the counted run is complete
  };

  explicit LineReader(size_t max_line) : max_line_(max_line < 2 ? 2 : max_line) {}

  void feed(std::string_view bytes);
  // The next complete item, or nullopt when more input is needed.
  std::optional<Item> next();
  // Byte-count mode for the next n bytes (n == 0: no-op).
  void expect_bytes(size_t n);

  bool in_byte_mode() const { return remaining_ > 0; }
  size_t bytes_remaining() const { return remaining_; }
  size_t buffered() const { return buf_.size() - pos_; }
  void set_max_line(size_t max_line) { max_line_ = max_line < 2 ? 2 : max_line; }
  // Drops buffered input (e.g. plaintext pipelined after STARTTLS, RFC 3207 §4.2).
  void clear();

 private:
  void compact();
  size_t max_line_;
  std::string buf_;
  size_t pos_ = 0;          // start of unconsumed data in buf_
  size_t remaining_ = 0;    // byte-count mode
  bool discarding_ = false; // inside an over-long line: drop until LF
};

}  // namespace tern::net
