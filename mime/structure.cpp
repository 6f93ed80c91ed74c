// Builds the Part tree in one forward pass over the bytes.
//
// The parser keeps a stack of the boundaries of the enclosing multiparts. Every line that
// starts with "--" is checked against that stack, so a body part (or a header block) ends at
// the first delimiter of ANY enclosing multipart: an inner multipart whose close delimiter is
// missing ends where its parent's next delimiter appears (RFC 2046 §5.1.1 best effort). Each
// byte is scanned once; the boundary check costs O(depth) per "--" line.
#include <algorithm>
#include <cstring>

#include "common/strings.h"
#include "mime/internal.h"

namespace tern::mime {
namespace {

using detail::Line;
using detail::line_at;

struct Hit {
  int level = -1;  // index into the boundary stack, -1: end of input
  bool close = false;
};

class StructureParser {
 public:
  StructureParser(std::string_view d, const Limits& lim) : d_(d), lim_(lim) {}

  void parse_root(Part& root) {
    Hit hit;
    parts_ = 1;
    parse_part(root, 0, 0, false, hit);
  }

 private:
  // Does the line [l.start, l.content_end) delimit one of the enclosing multiparts?
  // RFC 2046 §5.1.1: "--" boundary [ "--" ] followed only by linear white space.
  Hit match_boundary(const Line& l) const {
    Hit h;
    size_t len = l.content_end - l.start;
    if (stack_.empty() || len < 3 || d_[l.start] != '-' || d_[l.start + 1] != '-') return h;
    std::string_view line = d_.substr(l.start + 2, len - 2);
    for (int i = static_cast<int>(stack_.size()) - 1; i >= 0; --i) {
      std::string_view b = stack_[static_cast<size_t>(i)];
      if (line.size() < b.size() || std::memcmp(line.data(), b.data(), b.size()) != 0) continue;
      std::string_view rest = line.substr(b.size());
      bool close = rest.size() >= 2 && rest[0] == '-' && rest[1] == '-';
      if (close) rest.remove_prefix(2);
      bool only_ws = true;
      for (char c : rest) only_ws &= detail::is_wsp(c);
      if (!only_ws) continue;
      h.level = i;
      h.close = close;
      return h;
    }
    return h;
  }

  // Advances from pos (a line start) to the first boundary line; returns its start.
  // skip_level: delimiters (not close delimiters) of this level are ignored.
  size_t scan_to_boundary(size_t pos, Hit& hit, int skip_level = -2) const {
    hit = Hit{};
    if (stack_.empty()) return d_.size();
    while (pos < d_.size()) {
      Line l = line_at(d_, pos);
      if (d_[pos] == '-') {
        Hit h = match_boundary(l);
        if (h.level >= 0 && !(h.level == skip_level && !h.close)) {
          hit = h;
          return pos;
        }
      }
      pos = l.next;
    }
    return d_.size();
  }

  // The CRLF before a delimiter line belongs to the delimiter (RFC 2046 §5.1.1).
  size_t end_before(size_t line_start, size_t floor) const {
    size_t e = line_start;
    if (e >= d_.size()) return std::max(floor, d_.size());
    if (e > floor && d_[e - 1] == '\n') {
      --e;
      if (e > floor && d_[e - 1] == '\r') --e;
    }
    return std::max(e, floor);
  }

  // Header block from pos. RFC 5322 §2.2: fields until an empty line. A line that is neither
  // a field nor a continuation (or is a boundary line) ends the header without a blank line.
  void parse_header(Part& p, size_t pos) {
    p.header_start = pos;
    p.body_start = d_.size();
    while (pos < d_.size()) {
      Line l = line_at(d_, pos);
      if (l.content_end == l.start) {  // the empty line: body starts after it
        p.body_start = l.next;
        return;
      }
      char c0 = d_[l.start];
      if (detail::is_wsp(c0) && !p.headers.empty()) {  // RFC 5322 §2.2.3 folding
        HeaderField& h = p.headers.back();
        h.end = l.next;
        pos = l.next;
        continue;
      }
      if (c0 == '-' && match_boundary(l).level >= 0) {
        p.body_start = pos;
        return;
      }
      // RFC 5322 §3.6.8: field-name = 1*ftext (printable US-ASCII except ':'); §4.5 (obs)
      // allows white space before the colon.
      size_t i = l.start;
      while (i < l.content_end) {
        unsigned char u = static_cast<unsigned char>(d_[i]);
        if (u == ':' || u <= 32 || u >= 127) break;
        ++i;
      }
      size_t name_end = i;
      while (i < l.content_end && detail::is_wsp(d_[i])) ++i;
      if (name_end == l.start || i >= l.content_end || d_[i] != ':') {
        p.body_start = pos;
        return;
      }
      HeaderField h;
      h.name.assign(d_.substr(l.start, name_end - l.start));
      h.start = l.start;
      h.end = l.next;
      p.headers.push_back(std::move(h));
      pos = l.next;
    }
  }

  void finish_header_values(Part& p) const {
    for (auto& h : p.headers) {
      size_t vb = d_.find(':', h.start) + 1;  // field names never contain ':'
      size_t ve = h.end;
      // Strip the field's final line end.
      if (ve > vb && d_[ve - 1] == '\n') {
        --ve;
        if (ve > vb && d_[ve - 1] == '\r') --ve;
      }
      h.raw_value.assign(d_.substr(vb, ve - vb));
      h.value = detail::unfold(h.raw_value);
    }
  }

  // Parses header and body of p starting at pos. Returns the start of the boundary line that
  // ended it (or d_.size()), with hit describing that line.
  size_t parse_part(Part& p, size_t pos, size_t depth, bool in_digest, Hit& hit) {
    parse_header(p, pos);
    finish_header_values(p);
    detail::apply_content_headers(p, in_digest);
    size_t stop;
    bool deep = depth >= lim_.max_depth;
    if (p.is_multipart() && !deep) {
      stop = parse_multipart(p, depth, hit);
    } else if (p.type == "message" && (p.subtype == "rfc822" || p.subtype == "global") && !deep &&
               (p.encoding.empty() || p.encoding == "7bit" || p.encoding == "8bit" ||
                p.encoding == "binary")) {
      // RFC 2046 §5.2.1: an encapsulated message is never base64/qp encoded; if it is, we
      // cannot parse it in place, so it stays a leaf.
      p.children.emplace_back();
      Part& inner = p.children.back();
      ++parts_;
      stop = parse_part(inner, p.body_start, depth + 1, false, hit);
      p.end = std::max(inner.end, p.body_start);
    } else {
      if ((p.is_multipart() || p.type == "message") && deep) p.opaque = true;
      stop = scan_to_boundary(p.body_start, hit);
      p.end = end_before(stop, p.body_start);
    }
    if (p.body_start > d_.size()) p.body_start = d_.size();
    p.lines = detail::count_lines(d_.substr(p.body_start, p.end - p.body_start));
    return stop;
  }

  size_t parse_multipart(Part& p, size_t depth, Hit& hit) {
    std::optional<std::string> boundary = p.param("boundary");
    bool digest = p.subtype == "digest";
    if (!boundary || boundary->empty()) {
      // No boundary: the body cannot be split; expose it as one default part.
      size_t stop = scan_to_boundary(p.body_start, hit);
      p.end = end_before(stop, p.body_start);
      add_whole_body_child(p, digest);
      return stop;
    }
    stack_.push_back(*boundary);
    int level = static_cast<int>(stack_.size()) - 1;
    size_t stop = scan_to_boundary(p.body_start, hit);  // preamble
    while (hit.level == level && !hit.close) {
      size_t child_start = line_at(d_, stop).next;
      if (parts_ >= lim_.max_parts) {
        // Part budget spent: the rest of this multipart is not split any further.
        stop = scan_to_boundary(child_start, hit, level);
        continue;
      }
      ++parts_;
      p.children.emplace_back();
      stop = parse_part(p.children.back(), child_start, depth + 1, digest, hit);
    }
    if (hit.level == level && hit.close) {
      // Epilogue: up to an enclosing boundary or the end of input.
      stop = scan_to_boundary(line_at(d_, stop).next, hit);
    }
    stack_.pop_back();
    p.end = end_before(stop, p.body_start);
    if (p.children.empty()) add_whole_body_child(p, digest);
    return stop;
  }

  void add_whole_body_child(Part& p, bool digest) {
    Part c;
    c.header_start = c.body_start = p.body_start;
    c.end = p.end;
    detail::apply_content_headers(c, false);
    (void)digest;
    c.lines = detail::count_lines(d_.substr(c.body_start, c.end - c.body_start));
    p.children.push_back(std::move(c));
  }

  std::string_view d_;
  Limits lim_;
  size_t parts_ = 0;
  std::vector<std::string> stack_;
};

}  // namespace

Message Message::parse(std::string bytes, const Limits& limits) {
  Message m;
  m.bytes_ = std::move(bytes);
  StructureParser(m.bytes_, limits).parse_root(m.root_);
  return m;
}

std::string_view Message::header_bytes(const Part& p) const {
  return std::string_view(bytes_).substr(p.header_start, p.body_start - p.header_start);
}

std::string_view Message::body_bytes(const Part& p) const {
  return std::string_view(bytes_).substr(p.body_start, p.end - p.body_start);
}

}  // namespace tern::mime
