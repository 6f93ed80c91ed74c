// Fuzzes the MIME parser: any bytes must parse into a consistent part tree; ENVELOPE,
// BODYSTRUCTURE, sections and decoders must never crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mime/mime.h"

namespace {

void walk(const tern::mime::Message& m, const tern::mime::Part& p, const std::string& spec,
          int depth) {
  using tern::mime::SectionKind;
  if (depth > 6) return;
  // Every part must lie inside the message.
  if (p.header_start > p.body_start || p.body_start > p.end || p.end > m.bytes().size())
    __builtin_trap();
  (void)tern::mime::decode_body(m, p);
  (void)tern::mime::text_for_search(m, p);
  for (const auto& h : p.headers) (void)tern::mime::decode_header_value(h.raw_value);
  if (!spec.empty()) {
    for (auto kind : {SectionKind::body, SectionKind::header, SectionKind::text, SectionKind::mime})
      (void)m.section(spec, kind);
    (void)m.header_fields(spec, {"subject", "from"}, false);
  }
  for (size_t i = 1; i <= 4; ++i) {
    std::string child = spec.empty() ? std::to_string(i) : spec + "." + std::to_string(i);
    if (const auto* c = m.find_part(child)) walk(m, *c, child, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = tern::mime::Message::parse(std::string(text));
  (void)m.envelope_imap();
  (void)m.bodystructure_imap(true);
  (void)m.body_imap();
  (void)m.section("HEADER");
  (void)m.section("TEXT");
  (void)m.header_fields("", {"to", "cc"}, true);
  walk(m, m.root(), "", 0);
  auto blob = tern::mime::serialize(tern::mime::compute_metadata(text));
  auto back = tern::mime::deserialize_metadata(blob);
  if (!back.ok()) __builtin_trap();
  (void)tern::mime::deserialize_metadata(text);
  return 0;
}
