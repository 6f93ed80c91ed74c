#include "smtpd/data_reader.h"

namespace tern::smtpd {

DataReader::DataReader(uint64_t max_size, size_t max_line_length, bool normalize)
    : max_size_(max_size), max_line_length_(max_line_length), normalize_(normalize) {}

void DataReader::put(char c) { put_run(std::string_view(&c, 1)); }

void DataReader::put_run(std::string_view run) {
  size_ += run.size();
  if (too_big_) return;
  if (size_ > max_size_) {
    // RFC 1870 §6.3: read to the end, then answer 552; never buffer past the limit.
    too_big_ = true;
    body_.clear();
    body_.shrink_to_fit();
    return;
  }
  body_.append(run);
}

void DataReader::put_line_break() {
  put('\r');
  put('\n');
  line_len_ = 0;
}

void DataReader::bare_newline() {
  ++bare_newlines_;
  line_len_ = 0;
}

size_t DataReader::feed(std::string_view input) {
  size_t i = 0;
  while (i < input.size() && state_ != State::done) {
    if (state_ == State::mid) {
      // Mid-line, every byte up to the next CR or LF is data: taken as one run (byte by byte
      // through the switch below, this loop was a visible share of ternd's CPU).
      size_t end = i;
      while (end < input.size() && input[end] != '\r' && input[end] != '\n') ++end;
      if (end > i) {
        put_run(input.substr(i, end - i));
        line_len_ += end - i;
        // RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF.
        if (line_len_ + 2 > max_line_length_) line_too_long_ = true;
        i = end;
        continue;
      }
    }
    char c = input[i];
    bool consumed = true;
    switch (state_) {
      case State::line_start:
        if (c == '.') {
          state_ = State::dot;  // maybe the end, maybe a stuffed dot: decided by what follows
        } else if (c == '\r') {
          state_ = State::cr;
        } else if (c == '\n') {
          bare_newline();
          normalize_ ? put_line_break() : put(c);
          state_ = State::mid;  // after a bare LF: not a line start for the terminator
        } else {
          put(c);
          state_ = State::mid;
        }
        break;
      case State::dot:
        ++line_len_;  // the stuffed dot counts toward the wire line length
        if (c == '\r') {
          state_ = State::dot_cr;
        } else if (c == '\n') {
          // "." then bare LF: not an end. The leading dot is unstuffed like any other.
          bare_newline();
          normalize_ ? put_line_break() : put(c);
          state_ = State::mid;
        } else {
          // RFC 5321 §4.5.2: a line starting with "." has that first dot removed.
          put(c);
          state_ = State::mid;
        }
        break;
      case State::dot_cr:
        if (c == '\n') {
          // RFC 5321 §4.1.1.4: <CRLF>.<CRLF> ends the mail data.
          state_ = State::done;
        } else {
          // ".<CR>" then something else: a bare CR; the byte is then read in mid-line.
          bare_newline();
          normalize_ ? put_line_break() : put('\r');
          state_ = State::mid;
          consumed = false;
        }
        break;
      case State::mid:
        if (c == '\r') {
          state_ = State::cr;
        } else if (c == '\n') {
          bare_newline();
          normalize_ ? put_line_break() : put(c);
        } else {
          put(c);
        }
        break;
      case State::cr:
        if (c == '\n') {
          put_line_break();
          state_ = State::line_start;  // only a real CRLF starts a line
        } else {
          bare_newline();
          normalize_ ? put_line_break() : put('\r');
          state_ = State::mid;
          consumed = false;  // re-read this byte mid-line (it may itself be a CR)
        }
        break;
      case State::done:
        break;
    }
    if (consumed) {
      if (state_ == State::mid && c != '\r' && c != '\n') {
        // RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF.
        if (++line_len_ + 2 > max_line_length_) line_too_long_ = true;
      }
      ++i;
    }
  }
  return i;
}

}  // namespace tern::smtpd
