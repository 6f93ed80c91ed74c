// GETMETADATA / SETMETADATA grammar (RFC 5464 §5) and entry-name rules (§3.2).
#include "common/strings.h"
#include "imapd/command.h"
#include "imapd/imap_parser.h"

namespace tern::imapd {

bool valid_metadata_entry(std::string_view name) {
  // RFC 5464 §3.2: an entry lives under /private or /shared, is slash-separated, has no "*"
  // or "%", no two slashes in a row, no trailing slash, and only ASCII above 0x19.
  std::string lower = ascii_lower(name);
  if (lower.rfind("/private/", 0) != 0 && lower.rfind("/shared/", 0) != 0) return false;
  if (name.back() == '/' || name.find("//") != std::string_view::npos) return false;
  for (unsigned char c : name)
    if (c < 0x20 || c > 0x7e || c == '*' || c == '%') return false;
  return true;
}

namespace detail {

namespace {

// GETMETADATA may also name a whole tree ("/private", "/shared", with DEPTH).
bool entry(TokenReader& r, std::vector<std::string>& out, bool allow_root = false) {
  auto e = r.astring();
  if (!e) return false;
  bool root = iequals(*e, "/private") || iequals(*e, "/shared");
  if (!(allow_root && root) && !valid_metadata_entry(*e)) return r.fail("invalid metadata entry name");
  out.push_back(std::move(*e));
  return true;
}

}  // namespace

Result<GetMetadataArgs> parse_getmetadata(TokenReader& r) {
  auto err = [&]() -> Result<GetMetadataArgs> {
    return make_error(Errc::syntax, r.failed() ? r.error() : "bad GETMETADATA");
  };
  GetMetadataArgs a;
  if (!r.sp()) return err();
  // getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries
  if (r.consume('(')) {
    while (true) {
      if (r.keyword("MAXSIZE")) {
        auto n = r.sp() ? r.number() : std::nullopt;
        if (!n) return err();
        a.maxsize = *n;
      } else if (r.keyword("DEPTH")) {
        if (!r.sp()) return err();
        if (r.keyword("infinity")) a.depth = -1;
        else if (r.consume('0')) a.depth = 0;
        else if (r.consume('1')) a.depth = 1;
        else {
          r.fail("DEPTH is 0, 1 or infinity");
          return err();
        }
      } else {
        r.fail("unknown GETMETADATA option");
        return err();
      }
      if (r.consume(')')) break;
      if (!r.sp()) return err();
    }
    if (!r.sp()) return err();
  }
  auto mbox = r.mailbox();
  if (!mbox || !r.sp()) return err();
  a.mailbox = std::move(*mbox);
  // entries = entry / "(" entry *(SP entry) ")"
  if (r.consume('(')) {
    while (true) {
      if (!entry(r, a.entries, true)) return err();
      if (r.consume(')')) break;
      if (!r.sp()) return err();
    }
  } else if (!entry(r, a.entries, true)) {
    return err();
  }
  return a;
}

Result<SetMetadataArgs> parse_setmetadata(TokenReader& r) {
  auto err = [&]() -> Result<SetMetadataArgs> {
    return make_error(Errc::syntax, r.failed() ? r.error() : "bad SETMETADATA");
  };
  SetMetadataArgs a;
  if (!r.sp()) return err();
  auto mbox = r.mailbox();
  if (!mbox || !r.sp() || !r.expect('(', "expected entry list")) return err();
  a.mailbox = std::move(*mbox);
  while (true) {
    // entry-value = entry SP value; value = nstring / literal8
    std::vector<std::string> name;
    if (!entry(r, name) || !r.sp()) return err();
    std::optional<std::string> value;
    if (r.peek() == '~') {
      auto v = r.literal(true);
      if (!v) return err();
      value = std::move(*v);
    } else {
      auto v = r.nstring();
      if (!v) return err();
      value = std::move(*v);
    }
    a.entries.emplace_back(std::move(name[0]), std::move(value));
    if (r.consume(')')) break;
    if (!r.sp()) return err();
  }
  return a;
}

}  // namespace detail
}  // namespace tern::imapd
