#include "mime/dkim_canon.h"

#include "common/strings.h"

namespace tern::mime {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// Appends `s` with each run of WSP reduced to one SP (RFC 6376 §3.4.2 and §3.4.4 step a).
void append_collapsed(std::string& out, std::string_view s) {
  bool in_wsp = false;
  for (char c : s) {
    if (is_wsp(c)) {
      in_wsp = true;
      continue;
    }
    if (in_wsp) out += ' ';
    in_wsp = false;
    out += c;
  }
  if (in_wsp) out += ' ';
}

std::string_view strip_wsp(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string dkim_canon_header(std::string_view field, DkimCanon canon) {
  if (canon == DkimCanon::simple) {
    // RFC 6376 §3.4.1: the field exactly as it is (folds normalised to CRLF).
    std::string out;
    out.reserve(field.size());
    for (size_t i = 0; i < field.size(); ++i) {
      if (field[i] == '\n' && (i == 0 || field[i - 1] != '\r')) out += '\r';
      out += field[i];
    }
    return out;
  }
  size_t colon = field.find(':');
  std::string_view name = field.substr(0, colon == std::string_view::npos ? field.size() : colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : field.substr(colon + 1);
  // RFC 6376 §3.4.2: unfold (delete CR and LF of folds), collapse WSP, strip WSP at the end
  // of the value and around the colon, lower-case the name.
  std::string unfolded;
  unfolded.reserve(value.size());
  for (char c : value) {
    if (c != '\r' && c != '\n') unfolded += c;
  }
  std::string collapsed;
  collapsed.reserve(unfolded.size());
  append_collapsed(collapsed, unfolded);
  return ascii_lower(strip_wsp(name)) + ":" + std::string(strip_wsp(collapsed));
}

void DkimBodyCanonicalizer::line(std::string_view l, std::string& out) {
  std::string canon;
  if (canon_ == DkimCanon::relaxed) {
    // RFC 6376 §3.4.4: WSP runs -> one SP, no WSP at the end of a line.
    append_collapsed(canon, l);
    if (!canon.empty() && canon.back() == ' ') canon.pop_back();
  } else {
    canon.assign(l);
  }
  if (canon.empty()) {
    ++held_empty_;  // maybe trailing: decided by the next non-empty line or finish()
    return;
  }
  for (; held_empty_ > 0; --held_empty_) out += "\r\n";
  out += canon;
  out += "\r\n";
  emitted_ = true;
}

void DkimBodyCanonicalizer::feed(std::string_view chunk, std::string& out) {
  while (!chunk.empty()) {
    size_t lf = chunk.find('\n');
    if (lf == std::string_view::npos) {
      partial_.append(chunk);
      return;
    }
    std::string_view piece = chunk.substr(0, lf);
    chunk.remove_prefix(lf + 1);
    if (!partial_.empty()) {
      partial_.append(piece);
      std::string l = std::move(partial_);
      partial_.clear();
      if (!l.empty() && l.back() == '\r') l.pop_back();
      line(l, out);
    } else {
      if (!piece.empty() && piece.back() == '\r') piece.remove_suffix(1);
      line(piece, out);
    }
  }
}

void DkimBodyCanonicalizer::finish(std::string& out) {
  if (!partial_.empty()) {
    // RFC 6376 §3.4.3/§3.4.4: a body not ending in CRLF gets one.
    std::string l = std::move(partial_);
    partial_.clear();
    line(l, out);
  }
  held_empty_ = 0;  // trailing empty lines are ignored
  // RFC 6376 §3.4.3: simple canonicalisation of an empty body is a single CRLF (relaxed: empty,
  // RFC 6376 erratum 3986 / §3.4.4).
  if (canon_ == DkimCanon::simple && !emitted_) out += "\r\n";
  emitted_ = true;
}

std::string dkim_canon_body(std::string_view body, DkimCanon canon) {
  DkimBodyCanonicalizer c(canon);
  std::string out;
  c.feed(body, out);
  c.finish(out);
  return out;
}

}  // namespace tern::mime
