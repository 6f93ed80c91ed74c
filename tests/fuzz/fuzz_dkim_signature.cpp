// Fuzz target: DKIM-Signature value -> parse_dkim_signature, the key-record parser, and the
// header hash input built from the field.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "authn/dkim.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto sig = tern::authn::parse_dkim_signature(text);
  if (sig) {
    std::vector<std::string> fields = {"DKIM-Signature:" + std::string(text), "From: a@b.example",
                                       "Subject: x"};
    (void)tern::authn::dkim_header_hash_input(fields, 0, *sig);
  }
  (void)tern::authn::parse_dkim_key(text);
  return 0;
}
