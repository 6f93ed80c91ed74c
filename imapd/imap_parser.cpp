#include "imapd/imap_parser.h"

#include <algorithm>
#include <cstring>

#include "common/strings.h"
#include "common/codec.h"

namespace tern::imapd {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::syntax: return "syntax";
    case ErrorKind::line_too_long: return "line_too_long";
    case ErrorKind::literal_too_big: return "literal_too_big";
    case ErrorKind::command_too_big: return "command_too_big";
  }
  return "?";
}

bool is_idle_done(std::string_view line) { return iequals(line, "DONE"); }

namespace {

constexpr size_t kTailKeep = 32;  // enough for "~{18446744073709551615+}"

// tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9)
bool is_tag_char(char c) { return c != '+' && (detail::is_atom_char(c) || c == ']'); }

// The tag and command name at the start of a first line, best effort (for error replies).
void sniff_first_line(std::string_view line, std::optional<std::string>& tag, CommandName& name) {
  size_t i = 0;
  while (i < line.size() && is_tag_char(line[i])) ++i;
  if (i == 0 || i >= line.size() || line[i] != ' ') return;
  tag = std::string(line.substr(0, i));
  auto word_at = [&](size_t start) {
    size_t e = start;
    while (e < line.size() && detail::is_atom_char(line[e])) ++e;
    return std::pair<std::string_view, size_t>(line.substr(start, e - start), e);
  };
  auto [w, e] = word_at(i + 1);
  if (iequals(w, "UID") && e < line.size() && line[e] == ' ') w = word_at(e + 1).first;
  name = detail::lookup_command_name(w);
}

struct LiteralMarker {
  uint64_t size = 0;
  bool overflow = false;  // more digits than fit: treated as too big
  bool non_sync = false;
  bool literal8 = false;
};

// A line ending in "{n}", "{n+}", "~{n}" or "~{n+}" announces a literal (RFC 9051 §4.3,
// RFC 7888 §3, RFC 3516 §4.4).
std::optional<LiteralMarker> find_marker(std::string_view tail) {
  if (tail.empty() || tail.back() != '}') return std::nullopt;
  size_t i = tail.size() - 1;
  LiteralMarker m;
  if (i > 0 && tail[i - 1] == '+') {
    m.non_sync = true;
    --i;
  }
  size_t digits_end = i;
  while (i > 0 && tail[i - 1] >= '0' && tail[i - 1] <= '9') --i;
  if (i == digits_end || i == 0 || tail[i - 1] != '{') return std::nullopt;
  std::string_view digits = tail.substr(i, digits_end - i);
  if (i >= 2 && tail[i - 2] == '~') m.literal8 = true;
  for (char c : digits) {
    if (m.size > (UINT64_MAX - 9) / 10) {
      m.overflow = true;
      break;
    }
    m.size = m.size * 10 + static_cast<uint64_t>(c - '0');
  }
  return m;
}

}  // namespace

CommandParser::CommandParser(ParserSettings settings) : settings_(settings) {}

void CommandParser::feed(std::string_view bytes) { input_.append(bytes); }

bool CommandParser::idle() const {
  return state_ == State::line && cmd_.empty() && line_len_ == 0 && !discarding_;
}

void CommandParser::compact() {
  if (input_pos_ == input_.size()) {
    // Everything consumed: an idle connection keeps no buffer (an APPEND literal could have
    // grown it to megabytes).
    if (input_.capacity() > kKeepCapacity) std::string().swap(input_);
    else input_.clear();
    input_pos_ = 0;
  } else if (input_pos_ > 65536) {
    input_.erase(0, input_pos_);
    input_pos_ = 0;
  }
}

void CommandParser::reset_command() {
  state_ = State::line;
  cmd_.clear();
  line_start_ = 0;
  line_len_ = 0;
  in_quote_ = false;
  escape_ = false;
  tail_.clear();
  literal_left_ = 0;
  discarding_ = false;
  pending_error_ = ParseError{};
  pending_literal_ = LiteralRequest{};
  first_line_tag_.reset();
}

// Accounts one chunk of the current line (no LF inside): quote tracking, tail, storage.
void CommandParser::note_line_bytes(std::string_view chunk) {
  for (char c : chunk) {
    if (in_quote_) {
      if (escape_)
        escape_ = false;
      else if (c == '\\')
        escape_ = true;
      else if (c == '"')
        in_quote_ = false;
    } else if (c == '"') {
      in_quote_ = true;
    }
  }
  // Exactly the last kTailKeep bytes of the line, however it was chunked: a literal marker
  // too long to fit is then "no marker" both when the line arrives whole and when it trickles
  // in (the fuzzer found the two disagreeing when the tail kept up to twice that).
  tail_.append(chunk.size() > kTailKeep ? chunk.substr(chunk.size() - kTailKeep) : chunk);
  if (tail_.size() > kTailKeep) tail_.erase(0, tail_.size() - kTailKeep);
  line_len_ += chunk.size();
  if (discarding_) return;
  std::optional<ErrorKind> overflow;
  if (line_len_ > settings_.max_line_length)
    overflow = ErrorKind::line_too_long;
  else if (cmd_.size() + chunk.size() > settings_.max_command_size)
    overflow = ErrorKind::command_too_big;
  if (!overflow) {
    cmd_.append(chunk);
    return;
  }
  // Keep what fits of the first line so that the tag can still be answered.
  if (line_start_ == 0) {
    size_t room = settings_.max_line_length > cmd_.size() ? settings_.max_line_length - cmd_.size() : 0;
    cmd_.append(chunk.substr(0, std::min(room, chunk.size())));
    sniff_first_line(cmd_, first_line_tag_, pending_error_.name);
  }
  pending_error_.kind = *overflow;
  pending_error_.tag = first_line_tag_;
  pending_error_.message = *overflow == ErrorKind::line_too_long ? "Line too long" : "Command too long";
  discarding_ = true;
  cmd_.clear();
  cmd_.shrink_to_fit();
}

ParseEvent CommandParser::next() {
  ParseEvent ev;
  while (true) {
    if (state_ == State::await_continuation) {
      ev.kind = ParseEvent::Kind::literal_request;
      ev.literal = pending_literal_;
      return ev;
    }
    if (state_ == State::literal && literal_left_ == 0) {
      // The command continues on the line after the literal.
      state_ = State::line;
      line_start_ = cmd_.size();
      line_len_ = 0;
      in_quote_ = escape_ = false;
      tail_.clear();
    }
    if (input_pos_ >= input_.size()) {
      compact();
      ev.kind = ParseEvent::Kind::need_more;
      return ev;
    }
    std::string_view avail(input_.data() + input_pos_, input_.size() - input_pos_);
    if (state_ == State::literal) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(literal_left_, avail.size()));
      if (!discarding_) cmd_.append(avail.substr(0, n));
      input_pos_ += n;
      literal_left_ -= n;
      continue;
    }
    size_t lf = avail.find('\n');
    note_line_bytes(avail.substr(0, lf == std::string_view::npos ? avail.size() : lf));
    if (lf == std::string_view::npos) {
      input_pos_ = input_.size();
      continue;
    }
    input_pos_ += lf + 1;
    if (process_line_end(ev)) {
      compact();
      return ev;
    }
  }
}

bool CommandParser::process_line_end(ParseEvent& ev) {
  // CRLF is the line end (RFC 9051 §2.2); a bare LF is tolerated.
  if (!tail_.empty() && tail_.back() == '\r') {
    tail_.pop_back();
    --line_len_;
    if (!discarding_ && cmd_.size() > line_start_ && cmd_.back() == '\r') cmd_.pop_back();
  }
  if (line_start_ == 0 && line_len_ == 0 && !discarding_) {
    reset_command();  // an empty line between commands
    return false;
  }
  if (line_start_ == 0 && !discarding_) sniff_first_line(cmd_, first_line_tag_, pending_literal_.name);

  std::optional<LiteralMarker> marker;
  if (!in_quote_) marker = find_marker(tail_);

  auto finish_error = [&](ParseError err) {
    ev.kind = ParseEvent::Kind::error;
    ev.error = std::move(err);
    reset_command();
    return true;
  };

  if (!marker) {
    if (discarding_) return finish_error(pending_error_);
    std::optional<std::string> tag;
    CommandName name = CommandName::unknown;
    Result<Command> parsed = parse_command(cmd_, &tag, &name);
    if (!parsed) return finish_error(ParseError{ErrorKind::syntax, tag, parsed.error().message, name});
    ev.kind = ParseEvent::Kind::command;
    ev.command = std::move(parsed.value());
    reset_command();
    return true;
  }

  if (discarding_) {
    // A synchronizing literal is never sent before "+": the command ends here. A
    // non-synchronizing one follows regardless and must be consumed (RFC 7888 §4).
    if (!marker->non_sync) return finish_error(pending_error_);
    literal_left_ = marker->overflow ? UINT64_MAX : marker->size;
    state_ = State::literal;
    return false;
  }

  ErrorKind too_big = ErrorKind::literal_too_big;
  bool refuse = false;
  if (marker->overflow || marker->size > settings_.max_literal_size) {
    refuse = true;
  } else if (marker->non_sync && !settings_.literal_plus && marker->size > kLiteralMinusMax) {
    refuse = true;  // RFC 7888 §4: LITERAL- allows non-synchronizing literals up to 4096 bytes
  } else if (cmd_.size() + 2 + marker->size > settings_.max_command_size) {
    refuse = true;
    too_big = ErrorKind::command_too_big;
  }
  if (refuse) {
    ParseError err{too_big, first_line_tag_, too_big == ErrorKind::literal_too_big ? "Literal too big" : "Command too long",
                   pending_literal_.name};
    if (!marker->non_sync) return finish_error(std::move(err));
    discarding_ = true;
    pending_error_ = std::move(err);
    cmd_.clear();
    cmd_.shrink_to_fit();
    literal_left_ = marker->overflow ? UINT64_MAX : marker->size;
    state_ = State::literal;
    return false;
  }

  cmd_ += "\r\n";
  literal_left_ = marker->size;
  if (marker->non_sync) {
    state_ = State::literal;
    return false;
  }
  state_ = State::await_continuation;
  pending_literal_.size = marker->size;
  pending_literal_.literal8 = marker->literal8;
  pending_literal_.tag = first_line_tag_;
  ev.kind = ParseEvent::Kind::literal_request;
  ev.literal = pending_literal_;
  return true;
}

void CommandParser::accept_literal() {
  if (state_ == State::await_continuation) state_ = State::literal;
}

void CommandParser::reject_literal() {
  if (state_ == State::await_continuation) reset_command();
}

ParseEvent CommandParser::next_line() {
  ParseEvent ev;
  while (true) {
    if (input_pos_ >= input_.size()) {
      compact();
      ev.kind = ParseEvent::Kind::need_more;
      return ev;
    }
    std::string_view avail(input_.data() + input_pos_, input_.size() - input_pos_);
    size_t lf = avail.find('\n');
    std::string_view chunk = avail.substr(0, lf == std::string_view::npos ? avail.size() : lf);
    line_len_ += chunk.size();
    if (line_len_ > settings_.max_line_length) {
      discarding_ = true;
      cmd_.clear();
    }
    if (!discarding_) cmd_.append(chunk);
    if (lf == std::string_view::npos) {
      input_pos_ = input_.size();
      continue;
    }
    input_pos_ += lf + 1;
    if (discarding_) {
      ev.kind = ParseEvent::Kind::error;
      ev.error = ParseError{ErrorKind::line_too_long, std::nullopt, "Line too long", CommandName::unknown};
    } else {
      if (!cmd_.empty() && cmd_.back() == '\r') cmd_.pop_back();
      ev.kind = ParseEvent::Kind::line;
      ev.line = std::move(cmd_);
    }
    reset_command();
    compact();
    return ev;
  }
}

}  // namespace tern::imapd
