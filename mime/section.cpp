// IMAP section addressing (RFC 9051 §6.4.5) and cached metadata.
#include "common/strings.h"
#include "mime/internal.h"

namespace tern::mime {
namespace {

// Part numbers "1.2.3" -> {1,2,3}; nullopt on syntax errors (empty components, zero,
// non-digits, absurd values).
std::optional<std::vector<size_t>> parse_numbers(std::string_view spec) {
  std::vector<size_t> out;
  if (spec.empty()) return out;
  for (std::string_view comp : split(spec, '.')) {
    if (comp.empty() || comp.size() > 9 || comp[0] == '0') return std::nullopt;
    auto n = parse_u64(comp);
    if (!n) return std::nullopt;
    out.push_back(static_cast<size_t>(*n));
  }
  return out;
}

// Part n of a message's body: the n-th body part of a multipart, or (n == 1) the body of a
// non-multipart message.
const Part* part_of_message(const Part& m, size_t n) {
  if (m.is_multipart() && !m.opaque && !m.children.empty())
    return n <= m.children.size() ? &m.children[n - 1] : nullptr;
  return n == 1 ? &m : nullptr;
}

Error not_found(std::string_view spec) {
  return make_error(Errc::not_found, "no such section: " + std::string(spec));
}

}  // namespace

const Part* Message::find_part(std::string_view part_spec) const {
  auto nums = parse_numbers(part_spec);
  if (!nums) return nullptr;
  if (nums->empty()) return &root_;
  const Part* cur = nullptr;
  for (size_t n : *nums) {
    if (!cur) {
      cur = part_of_message(root_, n);
    } else if (cur->is_message()) {
      // RFC 9051 §6.4.5: the parts of a MESSAGE/RFC822 part are those of the message inside.
      cur = part_of_message(cur->children[0], n);
    } else if (cur->is_multipart() && !cur->opaque && !cur->children.empty()) {
      cur = n <= cur->children.size() ? &cur->children[n - 1] : nullptr;
    } else {
      cur = nullptr;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

const Part* Message::find_message(std::string_view part_spec) const {
  if (part_spec.empty()) return &root_;
  const Part* p = find_part(part_spec);
  return p && p->is_message() ? &p->children[0] : nullptr;
}

Result<std::string_view> Message::section(std::string_view part_spec, SectionKind kind) const {
  switch (kind) {
    case SectionKind::body: {
      if (part_spec.empty()) return std::string_view(bytes_);
      const Part* p = find_part(part_spec);
      if (!p) return not_found(part_spec);
      return body_bytes(*p);
    }
    case SectionKind::header:
    case SectionKind::text: {
      // RFC 9051 §6.4.5: HEADER/TEXT apply to the top message or a MESSAGE/RFC822 part.
      const Part* m = find_message(part_spec);
      if (!m) return not_found(part_spec);
      return kind == SectionKind::header ? header_bytes(*m) : body_bytes(*m);
    }
    case SectionKind::mime: {
      // RFC 9051 §6.4.5: MIME needs a part number.
      if (part_spec.empty()) return make_error(Errc::syntax, "MIME needs a part number");
      const Part* p = find_part(part_spec);
      if (!p) return not_found(part_spec);
      return header_bytes(*p);
    }
  }
  return not_found(part_spec);
}

Result<std::string_view> Message::section(std::string_view spec) const {
  // Leading numeric components form the part specifier; the rest names the text.
  size_t i = 0;
  while (i < spec.size()) {
    size_t dot = spec.find('.', i);
    std::string_view comp = spec.substr(i, dot == std::string_view::npos ? dot : dot - i);
    if (comp.empty() || comp.find_first_not_of("0123456789") != std::string_view::npos) break;
    if (dot == std::string_view::npos) {
      i = spec.size();
      break;
    }
    i = dot + 1;
  }
  std::string_view numbers = spec.substr(0, i);
  std::string_view text = spec.substr(i);
  if (!numbers.empty() && numbers.back() == '.') numbers.remove_suffix(1);
  if (!spec.empty() && spec.back() == '.') return make_error(Errc::syntax, "bad section");
  std::string t = ascii_upper(text);
  if (t.empty()) return section(numbers, SectionKind::body);
  if (t == "HEADER") return section(numbers, SectionKind::header);
  if (t == "TEXT") return section(numbers, SectionKind::text);
  if (t == "MIME") return section(numbers, SectionKind::mime);
  return make_error(Errc::syntax, "bad section: " + std::string(spec));
}

Result<std::string> Message::header_fields(std::string_view part_spec,
                                           const std::vector<std::string>& names,
                                           bool negate) const {
  const Part* m = find_message(part_spec);
  if (!m) return not_found(part_spec);
  std::string out;
  for (const auto& h : m->headers) {
    bool listed = false;
    for (const auto& n : names) listed |= iequals(h.name, n);
    if (listed == negate) continue;
    // RFC 9051 §6.4.5: the lines are returned as they appear in the message.
    out.append(bytes_, h.start, h.end - h.start);
    if (out.empty() || out.back() != '\n') out += "\r\n";
  }
  out += "\r\n";  // the blank line that ends a header
  return out;
}

CachedMetadata compute_metadata(std::string_view bytes) {
  // RFC 3516 §6: BODYSTRUCTURE describes binary parts in an encoding IMAP4 can carry, the
  // one BODY[...] then sends them in.
  std::optional<std::string> clean = without_nul(bytes);
  return metadata_of(Message::parse(clean ? std::move(*clean) : std::string(bytes)));
}

CachedMetadata metadata_of(const Message& m) {
  return CachedMetadata{m.envelope_imap(), m.bodystructure_imap(true), m.body_imap()};
}

std::string metadata_blob(std::string_view bytes) { return serialize(compute_metadata(bytes)); }

namespace {
constexpr std::string_view kMagic = "TMM1";
}

std::string serialize(const CachedMetadata& m) {
  // "TMM1 <len> <len> <len>\n" then the three strings back to back (they may hold literals
  // with CRLF, so lengths rather than separators).
  std::string out(kMagic);
  for (const auto* s : {&m.envelope, &m.bodystructure, &m.body}) out += " " + std::to_string(s->size());
  out += '\n';
  out += m.envelope;
  out += m.bodystructure;
  out += m.body;
  return out;
}

Result<CachedMetadata> deserialize_metadata(std::string_view blob) {
  auto bad = [] { return make_error(Errc::syntax, "bad cached mime metadata"); };
  size_t nl = blob.find('\n');
  if (nl == std::string_view::npos) return bad();
  auto fields = split(blob.substr(0, nl), ' ');
  if (fields.size() != 4 || fields[0] != kMagic) return bad();
  size_t lens[3];
  uint64_t total = 0;
  for (int i = 0; i < 3; ++i) {
    auto n = parse_u64(fields[static_cast<size_t>(i) + 1]);
    if (!n || *n > blob.size()) return bad();
    lens[i] = static_cast<size_t>(*n);
    total += *n;
  }
  std::string_view rest = blob.substr(nl + 1);
  if (total != rest.size()) return bad();
  CachedMetadata m;
  m.envelope.assign(rest.substr(0, lens[0]));
  m.bodystructure.assign(rest.substr(lens[0], lens[1]));
  m.body.assign(rest.substr(lens[0] + lens[1], lens[2]));
  return m;
}

}  // namespace tern::mime
