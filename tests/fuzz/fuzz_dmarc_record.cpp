// Fuzz target: DMARC record text -> parse_dmarc_record.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "authn/dmarc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)tern::authn::is_dmarc_record(text);
  (void)tern::authn::parse_dmarc_record(text);
  return 0;
}
