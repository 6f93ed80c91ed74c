// Fuzz target: raw DNS answer bytes -> parse_record_answer for every record type.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/dns.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  using tern::dns::RrType;
  for (RrType t : {RrType::a, RrType::aaaa, RrType::txt, RrType::mx, RrType::ptr, RrType::srv}) {
    (void)tern::dns::parse_record_answer(bytes, t);
  }
  return 0;
}
