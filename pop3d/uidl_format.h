// pop3d/uidl_format.h: how a message's RFC 1939 §7 unique-id is written, in the notation of
// Dovecot's pop3_uidl_format, so mail moved in from Dovecot (which keeps its UIDs and
// UIDVALIDITY, issue 19) keeps the UIDLs its POP3 clients already know and is not fetched
// again. Literal text plus the variables %u (the message's UID) and %v (the INBOX's
// UIDVALIDITY), each optionally zero-padded to a width and in hex with X (or x; lower-case
// digits either way, as Dovecot writes them): "%08Xu%08Xv" is Dovecot's default, "%v.%u"
// Tern's. "%%" is a percent sign.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tern::pop3d {

class UidlFormat {
 public:
  // Errc::syntax naming the problem: unknown variable, no %u (unique-ids must differ per
  // message), a character outside 0x21-0x7E, or an id that could exceed 70 characters.
  static Result<UidlFormat> parse(std::string_view text);
  std::string format(uint32_t uidvalidity, uint32_t uid) const;

 private:
  struct Part {
    char var = 0;  // 0: literal text; 'u' or 'v'
    std::string text;
    int width = 0;
    char base = 'd';  // 'd', or 'x' for hex
  };
  std::vector<Part> parts_;
};

}  // namespace tern::pop3d
