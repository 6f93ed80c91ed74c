// FETCH item grammar (RFC 9051 §9 fetch-att, RFC 3516 §4.2 BINARY, RFC 7162 §3.1.4 MODSEQ)
// and the response names of items.
#include "imapd/fetch_item.h"

#include "common/strings.h"
#include "imapd/imap_parser.h"

namespace tern::imapd {

namespace {

using detail::TokenReader;

struct SimpleEntry {
  const char* wire;
  FetchItem::Kind kind;
};
constexpr SimpleEntry kSimple[] = {
    {"FLAGS", FetchItem::Kind::flags},
    {"INTERNALDATE", FetchItem::Kind::internaldate},
    {"RFC822.SIZE", FetchItem::Kind::rfc822_size},
    {"ENVELOPE", FetchItem::Kind::envelope},
    {"BODYSTRUCTURE", FetchItem::Kind::bodystructure},
    {"UID", FetchItem::Kind::uid},
    {"MODSEQ", FetchItem::Kind::modseq},
    {"RFC822", FetchItem::Kind::rfc822},
    {"RFC822.HEADER", FetchItem::Kind::rfc822_header},
    {"RFC822.TEXT", FetchItem::Kind::rfc822_text},
    {"SAVEDATE", FetchItem::Kind::savedate},
    {"EMAILID", FetchItem::Kind::emailid},
    {"THREADID", FetchItem::Kind::threadid},
};

FetchItem simple(FetchItem::Kind k) {
  FetchItem i;
  i.kind = k;
  return i;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// section-part = nz-number *("." nz-number); leaves the reader after the last number, and
// reports whether a "." followed by a non-digit (a section-text) was consumed.
bool parse_part(TokenReader& r, std::vector<uint32_t>& part, bool& text_follows) {
  text_follows = false;
  while (true) {
    auto n = r.nz_number();
    if (!n) return false;
    part.push_back(*n);
    if (r.peek() != '.') return true;
    r.consume('.');
    if (!is_digit(r.peek())) {
      text_follows = true;
      return true;
    }
  }
}

bool parse_header_list(TokenReader& r, std::vector<std::string>& fields) {
  // header-list = "(" header-fld-name *(SP header-fld-name) ")"; header-fld-name = astring
  if (!r.sp() || !r.expect('(', "expected header list")) return false;
  while (true) {
    auto f = r.astring();
    if (!f) return false;
    if (f->empty()) return r.fail("empty header field name");
    fields.push_back(std::move(*f));
    if (r.consume(')')) return true;
    if (!r.sp()) return false;
  }
}

// section = "[" [section-spec] "]"
bool parse_section(TokenReader& r, Section& s) {
  if (!r.expect('[', "expected [")) return false;
  if (r.consume(']')) return true;
  bool text_follows = true;
  if (is_digit(r.peek()) && !parse_part(r, s.part, text_follows)) return false;
  if (text_follows) {
    if (r.keyword("HEADER.FIELDS.NOT")) {
      s.text = Section::Text::header_fields_not;
      if (!parse_header_list(r, s.fields)) return false;
    } else if (r.keyword("HEADER.FIELDS")) {
      s.text = Section::Text::header_fields;
      if (!parse_header_list(r, s.fields)) return false;
    } else if (r.keyword("HEADER")) {
      s.text = Section::Text::header;
    } else if (r.keyword("TEXT")) {
      s.text = Section::Text::text;
    } else if (!s.part.empty() && r.keyword("MIME")) {
      s.text = Section::Text::mime;  // RFC 9051 §6.4.5: MIME only with a part number
    } else {
      return r.fail("bad section");
    }
  }
  return r.expect(']', "expected ]");
}

// section-binary = "[" [section-part] "]"
bool parse_section_binary(TokenReader& r, Section& s) {
  if (!r.expect('[', "expected [")) return false;
  if (r.consume(']')) return true;
  bool text_follows = false;
  if (!parse_part(r, s.part, text_follows)) return false;
  if (text_follows) return r.fail("BINARY takes only part numbers");
  return r.expect(']', "expected ]");
}

// partial = "<" number64 "." nz-number64 ">"
bool parse_partial(TokenReader& r, std::optional<Partial>& p) {
  if (!r.consume('<')) return true;
  Partial v;
  auto off = r.number64();
  if (!off || !r.expect('.', "bad partial")) return false;
  auto len = r.number64();
  if (!len) return false;
  if (*len == 0) return r.fail("partial length must be non-zero");
  v.offset = *off;
  v.length = *len;
  p = v;
  return r.expect('>', "bad partial");
}

}  // namespace

namespace detail {

bool parse_fetch_att(TokenReader& r, std::vector<FetchItem>& out, bool allow_macro) {
  std::string word = ascii_upper(r.peek_word());
  if (word.empty()) return r.fail("expected fetch item");
  r.keyword(word);
  if (allow_macro) {
    // RFC 9051 §6.4.5 macros.
    if (word == "ALL" || word == "FAST" || word == "FULL") {
      out.push_back(simple(FetchItem::Kind::flags));
      out.push_back(simple(FetchItem::Kind::internaldate));
      out.push_back(simple(FetchItem::Kind::rfc822_size));
      if (word != "FAST") out.push_back(simple(FetchItem::Kind::envelope));
      if (word == "FULL") out.push_back(simple(FetchItem::Kind::body));
      return true;
    }
  }
  for (const SimpleEntry& e : kSimple)
    if (word == e.wire) {
      out.push_back(simple(e.kind));
      return true;
    }
  FetchItem item;
  if (word == "BODY" || word == "BODY.PEEK") {
    if (word == "BODY" && r.peek() != '[') {
      out.push_back(simple(FetchItem::Kind::body));
      return true;
    }
    item.kind = FetchItem::Kind::body_section;
    item.peek = word == "BODY.PEEK";
    if (!parse_section(r, item.section) || !parse_partial(r, item.partial)) return false;
  } else if (word == "BINARY" || word == "BINARY.PEEK") {
    item.kind = FetchItem::Kind::binary;
    item.peek = word == "BINARY.PEEK";
    if (!parse_section_binary(r, item.section) || !parse_partial(r, item.partial)) return false;
  } else if (word == "BINARY.SIZE") {
    item.kind = FetchItem::Kind::binary_size;
    if (!parse_section_binary(r, item.section)) return false;
  } else if (word == "PREVIEW") {
    // RFC 8970 §6: "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY".
    item.kind = FetchItem::Kind::preview;
    TokenReader ahead = r;
    if (ahead.consume(' ') && ahead.consume('(')) {
      r = ahead;
      while (true) {
        if (!r.keyword("LAZY")) return r.fail("unknown PREVIEW modifier");
        item.lazy = true;
        if (r.consume(')')) break;
        if (!r.sp()) return false;
      }
    }
  } else {
    return r.fail("unknown fetch item");
  }
  out.push_back(std::move(item));
  return true;
}

}  // namespace detail

std::string Section::to_string() const {
  std::string out;
  for (size_t i = 0; i < part.size(); ++i) {
    if (i) out += '.';
    out += std::to_string(part[i]);
  }
  const char* name = nullptr;
  switch (text) {
    case Text::none: return out;
    case Text::header: name = "HEADER"; break;
    case Text::header_fields: name = "HEADER.FIELDS"; break;
    case Text::header_fields_not: name = "HEADER.FIELDS.NOT"; break;
    case Text::text: name = "TEXT"; break;
    case Text::mime: name = "MIME"; break;
  }
  if (!part.empty()) out += '.';
  out += name;
  if (text == Text::header_fields || text == Text::header_fields_not) {
    out += " (";
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) out += ' ';
      out += ascii_upper(fields[i]);
    }
    out += ')';
  }
  return out;
}

bool FetchItem::sets_seen() const {
  switch (kind) {
    case Kind::rfc822:
    case Kind::rfc822_text: return true;
    case Kind::body_section:
    case Kind::binary: return !peek;
    default: return false;
  }
}

const char* to_string(FetchItem::Kind kind) {
  switch (kind) {
    case FetchItem::Kind::flags: return "FLAGS";
    case FetchItem::Kind::internaldate: return "INTERNALDATE";
    case FetchItem::Kind::rfc822_size: return "RFC822.SIZE";
    case FetchItem::Kind::envelope: return "ENVELOPE";
    case FetchItem::Kind::body: return "BODY";
    case FetchItem::Kind::bodystructure: return "BODYSTRUCTURE";
    case FetchItem::Kind::uid: return "UID";
    case FetchItem::Kind::modseq: return "MODSEQ";
    case FetchItem::Kind::rfc822: return "RFC822";
    case FetchItem::Kind::rfc822_header: return "RFC822.HEADER";
    case FetchItem::Kind::rfc822_text: return "RFC822.TEXT";
    case FetchItem::Kind::body_section: return "BODY";
    case FetchItem::Kind::binary: return "BINARY";
    case FetchItem::Kind::binary_size: return "BINARY.SIZE";
    case FetchItem::Kind::preview: return "PREVIEW";
    case FetchItem::Kind::savedate: return "SAVEDATE";
    case FetchItem::Kind::emailid: return "EMAILID";
    case FetchItem::Kind::threadid: return "THREADID";
  }
  return "?";
}

std::string FetchItem::response_name() const {
  std::string out = imapd::to_string(kind);
  if (kind == Kind::body_section || kind == Kind::binary || kind == Kind::binary_size) {
    out += '[' + section.to_string() + ']';
    // RFC 9051 §7.5.2: the response names only the origin octet of a partial fetch.
    if (partial) out += '<' + std::to_string(partial->offset) + '>';
  }
  return out;
}

std::string to_string(const FetchItem& item) {
  std::string out = to_string(item.kind);
  if (item.peek) out += ".PEEK";
  if (item.kind == FetchItem::Kind::body_section || item.kind == FetchItem::Kind::binary ||
      item.kind == FetchItem::Kind::binary_size) {
    out += '[' + item.section.to_string() + ']';
    if (item.partial) out += '<' + std::to_string(item.partial->offset) + '.' + std::to_string(item.partial->length) + '>';
  }
  if (item.lazy) out += " (LAZY)";
  return out;
}

}  // namespace tern::imapd
