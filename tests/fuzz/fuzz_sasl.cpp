// Fuzzes the SASL exchange: the first line picks the mechanism (and an optional initial
// response after a space), each further line is a client response. Any input must end in
// credentials, a challenge or an error, never a crash; results must respect the limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/sasl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  tern::auth::SaslExchange ex;
  bool started = false;
  while (!input.empty()) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    tern::auth::SaslStep step;
    if (!started || !ex.in_progress()) {
      size_t sp = line.find(' ');
      std::optional<std::string_view> ir;
      if (sp != std::string_view::npos) ir = line.substr(sp + 1);
      step = ex.start(line.substr(0, sp), ir);
      started = true;
    } else {
      step = ex.step(line);
    }
    if (auto* c = std::get_if<tern::auth::SaslCredentials>(&step)) {
      // Invariants a session relies on.
      if (c->user.empty() || c->password.empty()) abort();
      if (c->user.size() > tern::auth::kSaslMaxField || c->password.size() > tern::auth::kSaslMaxField) abort();
      if (ex.in_progress()) abort();
    } else if (std::holds_alternative<tern::auth::SaslError>(step)) {
      if (ex.in_progress()) abort();
    }
  }
  return 0;
}
