// Fuzz target: raw DNS answer bytes -> parse_mx_answer -> order_mx.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/dns.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto parsed = tern::dns::parse_mx_answer(bytes);
  if (parsed.status == tern::dns::DnsStatus::ok) {
    auto ordered = tern::dns::order_mx(parsed.records, "fuzz.test", [](uint32_t bound) { return bound / 2; });
    (void)ordered;
  }
  return 0;
}
