// Fuzzes the SMTP command-line parser: any bytes give a Command or an error, never a crash;
// a successful parse keeps its invariants (MAIL/RCPT paths bounded, BDAT LAST only on BDAT).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/codec.h"
#include "smtpd/command.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto r = tern::smtpd::parse_command(line);
  if (r.ok()) {
    if (r->path.size() > 256) abort();
    if (r->bdat_last && r->verb != tern::smtpd::Verb::bdat) abort();
    if (r->verb != tern::smtpd::parse_verb(line)) abort();
  } else if (r.error().message.empty()) {
    abort();
  }
  (void)tern::is_valid_xtext(line);
  return 0;
}
