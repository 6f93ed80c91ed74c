// authn/psl.h: organizational domains (RFC 7489 §3.2) from the Public Suffix List, through
// libpsl and Debian's `publicsuffix` package (never a hand-written suffix table).
//
// Immutable after load: one instance may be shared by every thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::authn {

// Debian's compiled list (package publicsuffix), and the text list next to it.
inline constexpr const char* kDebianPslDafsa = "/usr/share/publicsuffix/public_suffix_list.dafsa";
inline constexpr const char* kDebianPslText = "/usr/share/publicsuffix/public_suffix_list.dat";

class PublicSuffixList {
 public:
  // Loads a list file (DAFSA or text). Errc::not_found when it cannot be read.
  static Result<PublicSuffixList> load(const std::string& path);
  // Debian's list: the DAFSA file, else the text file.
  static Result<PublicSuffixList> load_default();

  // RFC 7489 §3.2: the registrable domain (public suffix plus one label); a name that is itself
  // a public suffix (or has no registrable part) is its own organizational domain.
  // Input and output are lower-case A-labels without a trailing dot.
  std::string organizational_domain(std::string_view domain) const;

 private:
  struct Ctx;
  std::shared_ptr<Ctx> ctx_;
};

}  // namespace tern::authn
