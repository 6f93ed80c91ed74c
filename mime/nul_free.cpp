// The NUL-free form of a message (RFC 3516 §6, RFC 9051 §4.3): what IMAP sends for BODY[...],
// RFC822* and BODYSTRUCTURE when the stored message holds NUL bytes (a binary part APPENDed
// with literal8). BINARY[...] keeps serving the stored bytes.
#include <algorithm>

#include "common/codec.h"
#include "common/strings.h"
#include "mime/internal.h"

namespace tern::mime {
namespace {

struct Edit {
  size_t start = 0;
  size_t end = 0;
  std::string text;
};

// RFC 2045 §6.8: encoded lines of at most 76 characters. No final line break: the part's
// body ends where the next boundary's CRLF (or the end of the message) begins.
std::string base64_lines(std::string_view data) {
  std::string b = base64_encode(data);
  std::string out;
  out.reserve(b.size() + b.size() / 76 * 2);
  for (size_t i = 0; i < b.size(); i += 76) {
    if (i) out += "\r\n";
    out.append(b, i, 76);
  }
  return out;
}

bool identity_encoding(const std::string& e) { return e.empty() || e == "7bit" || e == "8bit" || e == "binary"; }

void collect(const Message& m, const Part& p, std::vector<Edit>& edits) {
  if (!p.children.empty()) {
    for (const Part& c : p.children) collect(m, c, edits);
    return;
  }
  std::string_view body = m.body_bytes(p);
  // Only bodies whose encoding is the identity can be re-encoded without changing their
  // content; a NUL anywhere else (malformed) is left to the final pass.
  if (body.find('\0') == std::string_view::npos || !identity_encoding(p.encoding)) return;
  static constexpr std::string_view kCte = "Content-Transfer-Encoding: base64\r\n";
  if (const HeaderField* f = p.header("Content-Transfer-Encoding"))
    edits.push_back({f->start, f->end, std::string(kCte)});
  else {
    // A new field after the last one (before the blank line that ends the header).
    size_t at = p.headers.empty() ? p.header_start : p.headers.back().end;
    edits.push_back({at, at, std::string(kCte)});
  }
  edits.push_back({p.body_start, p.end, base64_lines(body)});
}

}  // namespace

std::optional<std::string> without_nul(std::string_view bytes) {
  if (bytes.find('\0') == std::string_view::npos) return std::nullopt;
  Message m = Message::parse(std::string(bytes));
  std::vector<Edit> edits;
  collect(m, m.root(), edits);
  std::stable_sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.start < b.start; });
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 3 + 64);
  size_t pos = 0;
  for (const Edit& e : edits) {
    if (e.start < pos) continue;  // overlapping (cannot happen with a well-formed tree)
    out.append(bytes.substr(pos, e.start - pos));
    out += e.text;
    pos = e.end;
  }
  out.append(bytes.substr(pos));
  // Whatever NUL is left (in a header, a preamble, a base64 or quoted-printable body) has no
  // lossless 7-bit form: U+FFFD marks where it was.
  std::string clean;
  clean.reserve(out.size());
  for (char c : out) {
    if (c == '\0')
      clean += "\xEF\xBF\xBD";
    else
      clean += c;
  }
  return clean;
}

}  // namespace tern::mime
