// Fuzzes store/'s Dovecot side-file parsers (dovecot-uidlist, dovecot-keywords,
// subscriptions): a copied-in Maildir is untrusted input. Invariants checked: the parsed
// uidlist keeps UIDs strictly ascending with unique bases, and what it holds survives a
// format/parse round trip.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "store/dovecot_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  using namespace tern::store::detail;
  (void)parse_dovecot_keywords(in);
  (void)parse_dovecot_subscriptions(in);
  (void)keyword_letters(in);
  auto u = parse_uidlist(in);
  if (!u) return 0;
  std::set<std::string> bases;
  for (size_t i = 0; i < u->entries.size(); ++i) {
    if (u->entries[i].uid == 0) std::abort();
    if (i > 0 && u->entries[i].uid <= u->entries[i - 1].uid) std::abort();
    if (!bases.insert(u->entries[i].base).second) std::abort();
  }
  // Names with a newline cannot be written back as one line; the parser never yields them.
  auto again = parse_uidlist(format_uidlist(u->uidvalidity, u->next_uid, "", u->entries));
  if (!again || again->entries.size() != u->entries.size() || !again->problems.empty()) std::abort();
  for (size_t i = 0; i < u->entries.size(); ++i)
    if (again->entries[i].uid != u->entries[i].uid || again->entries[i].name != u->entries[i].name)
      std::abort();
  return 0;
}
