// Fuzzes the configuration parser: any bytes must give a Config or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = tern::parse_config(text, "fuzz.toml");
  (void)result.ok();
  return 0;
}
