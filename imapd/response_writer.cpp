#include "imapd/response_writer.h"

#include "common/strings.h"
#include "imapd/imap_parser.h"
#include "common/codec.h"

namespace tern::imapd {

const char* to_string(Condition c) {
  switch (c) {
    case Condition::ok: return "OK";
    case Condition::no: return "NO";
    case Condition::bad: return "BAD";
    case Condition::preauth: return "PREAUTH";
    case Condition::bye: return "BYE";
  }
  return "BAD";
}

bool can_quote(std::string_view s, const WriterOptions& opt) {
  bool eight_bit = false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    // RFC 9051 §9 QUOTED-CHAR: no CR, LF or NUL; 8-bit only as UTF-8 (rev2 / RFC 6855).
    if (u == '\r' || u == '\n' || u == 0) return false;
    if (u >= 0x80) eight_bit = true;
  }
  if (eight_bit) return opt.utf8 && is_valid_utf8(s);
  return true;
}

void write_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void write_literal(std::string& out, std::string_view s, bool literal8) {
  // One allocation for a message-sized literal, with room for what usually follows it (the
  // closing parenthesis and the tagged answer), instead of a doubling copy.
  out.reserve(out.size() + s.size() + 256);
  if (literal8) out += '~';
  out += '{';
  out += std::to_string(s.size());
  out += "}\r\n";
  out += s;
}

void write_string(std::string& out, std::string_view s, const WriterOptions& opt) {
  if (can_quote(s, opt))
    write_quoted(out, s);
  else
    write_literal(out, s);
}

void write_nstring(std::string& out, const std::optional<std::string>& s, const WriterOptions& opt) {
  if (!s)
    out += "NIL";
  else
    write_string(out, *s, opt);
}

void write_astring(std::string& out, std::string_view s, const WriterOptions& opt) {
  bool atom = !s.empty() && !iequals(s, "NIL");
  for (char c : s)
    if (!detail::is_atom_char(c) && c != ']') atom = false;
  if (atom)
    out += s;
  else
    write_string(out, s, opt);
}

void write_flag_list(std::string& out, const std::vector<std::string>& flags) {
  out += '(';
  for (size_t i = 0; i < flags.size(); ++i) {
    if (i) out += ' ';
    out += flags[i];
  }
  out += ')';
}

void write_mailbox(std::string& out, std::string_view utf8_name, const WriterOptions& opt) {
  if (opt.utf8) {
    write_astring(out, utf8_name, opt);
    return;
  }
  auto encoded = mutf7_encode(utf8_name);
  if (encoded)
    write_astring(out, *encoded, opt);
  else
    write_literal(out, utf8_name);
}

namespace {
void append_text(std::string& out, std::string_view text) {
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
}

std::string status_line(std::string_view prefix, Condition cond, std::string_view text,
                        const std::optional<ResponseCode>& rc) {
  std::string out(prefix);
  out += ' ';
  out += to_string(cond);
  // resp-text = ["[" resp-text-code "]" SP] text
  if (rc) {
    out += " [";
    out += rc->name;
    if (!rc->args.empty()) {
      out += ' ';
      append_text(out, rc->args);
    }
    out += ']';
  }
  out += ' ';
  append_text(out, text.empty() ? std::string_view(to_string(cond)) : text);
  out += "\r\n";
  return out;
}
}  // namespace

std::string tagged(std::string_view tag, Condition cond, std::string_view text, const std::optional<ResponseCode>& rc) {
  return status_line(tag, cond, text, rc);
}

std::string untagged_status(Condition cond, std::string_view text, const std::optional<ResponseCode>& rc) {
  return status_line("*", cond, text, rc);
}

std::string untagged(std::string_view data) {
  std::string out = "* ";
  out += data;
  out += "\r\n";
  return out;
}

std::string continuation(std::string_view text) {
  std::string out = "+ ";
  append_text(out, text);
  out += "\r\n";
  return out;
}

std::string ResponseBuilder::line() {
  std::string out = "* ";
  out += out_;
  out += "\r\n";
  out_.clear();
  return out;
}

}  // namespace tern::imapd
