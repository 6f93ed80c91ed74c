// Fuzzes store/'s name parsers: addresses, mailbox names, modified UTF-7, Maildir folder and
// file names. Invariant checked: every valid mailbox name round-trips through its directory.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/codec.h"
#include "store/names.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  using namespace tern::store::detail;
  (void)canonical_user(in);
  (void)mailbox_from_dir(in);
  (void)parse_maildir_name(in);
  if (auto d = tern::mutf7_decode(in)) {
    // Whatever decodes must survive an encode/decode round trip unchanged.
    auto enc = tern::mutf7_encode(*d);
    if (!enc) std::abort();
    auto again = tern::mutf7_decode(*enc);
    if (!again || *again != *d) std::abort();
  }
  auto name = canonical_mailbox(in);
  if (name.ok() && *name != "INBOX") {
    auto back = mailbox_from_dir(mailbox_dir(*name));
    if (!back || *back != *name) std::abort();
  }
  return 0;
}
