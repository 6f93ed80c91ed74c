// GETMETADATA / SETMETADATA (RFC 5464 METADATA and METADATA-SERVER) over the store's
// annotations (Store::get_metadata / set_metadata, store/metadata.cpp).
//
// Who may set what (RFC 5464 §3.1, §3.3): there are no shared folders yet, so every mailbox
// a user sees is the user's own and the user may set both its /private and its /shared
// entries. On the server ("" mailbox) users set /private entries only: the server's /shared
// entries are the same for every user (e.g. /shared/admin, §6.2.1) and are the
// administrator's, so a user's SETMETADATA of one is refused with [NOPERM] (RFC 5530).
#include <algorithm>

#include "common/strings.h"
#include "imapd/session_impl.h"

namespace tern::imapd {

namespace {

// RFC 5464 §4.3: limits announced with [METADATA MAXSIZE n] / [METADATA TOOMANY].
constexpr size_t kMaxValueBytes = 64 * 1024;
constexpr uint32_t kMaxEntriesPerUser = 500;

// The mailbox as the client wrote it, decoded; "" (the server) stays "".
std::optional<std::string> metadata_mailbox(const Session::Impl& s, const std::string& wire) {
  if (wire.empty()) return std::string();
  return s.decode_mailbox(wire);
}

}  // namespace

void Session::Impl::cmd_getmetadata(const Command& c) {
  const auto& a = c.as<GetMetadataArgs>();
  auto name = metadata_mailbox(*this, a.mailbox);
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  auto found = backend.store().get_metadata(user, *name, a.entries, a.depth);
  if (!found) return store_error(c.tag, found.error());
  ResponseBuilder b(wopt());
  b.raw("METADATA ").mailbox(*name).raw(" (");
  bool any = false;
  size_t longest_left_out = 0;
  auto entry = [&](std::string_view entry_name) {
    if (any) b.sp();
    any = true;
    b.astring(entry_name).sp();
  };
  for (const auto& e : *found) {
    // RFC 5464 §4.2.1: MAXSIZE leaves longer values out and says how long the longest was.
    if (a.maxsize && e.value.size() > *a.maxsize) {
      longest_left_out = std::max(longest_left_out, e.value.size());
      continue;
    }
    entry(e.name);
    if (e.value.find('\0') != std::string::npos)
      b.literal(e.value, true);  // RFC 5464 §5: value may be literal8
    else
      b.string(e.value);
  }
  // An entry asked for by name with nothing found at or below it is answered NIL (RFC 5464
  // §4.4.1 lets a METADATA response carry NIL), so that a client learns it is unset.
  for (const auto& want : a.entries) {
    std::string key = ascii_lower(want);
    bool have = std::any_of(found->begin(), found->end(), [&](const auto& e) {
      return e.name == key || (e.name.size() > key.size() && e.name.rfind(key + "/", 0) == 0);
    });
    if (!have) {
      entry(key);
      b.nil();
    }
  }
  b.raw(")");
  if (any) untagged(b.str());
  if (longest_left_out)
    return ok(c.tag, "GETMETADATA completed",
              ResponseCode{code::Metadata, "LONGENTRIES " + std::to_string(longest_left_out)});
  ok(c.tag, "GETMETADATA completed");
}

void Session::Impl::cmd_setmetadata(const Command& c) {
  const auto& a = c.as<SetMetadataArgs>();
  auto name = metadata_mailbox(*this, a.mailbox);
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  for (const auto& [entry, value] : a.entries) {
    // RFC 5464 §3.1 (see the notes above): the server's /shared entries are the
    // administrator's.
    if (name->empty() && ascii_lower(entry).rfind("/shared/", 0) == 0)
      return no(c.tag, "Server /shared entries are set by the administrator", ResponseCode{code::NoPerm, ""});
    // RFC 5464 §4.3: a value over the limit fails the whole command with the limit.
    if (value && value->size() > kMaxValueBytes)
      return no(c.tag, "Value too long",
                ResponseCode{code::Metadata, "MAXSIZE " + std::to_string(kMaxValueBytes)});
  }
  Status st = backend.store().set_metadata(user, *name, a.entries, kMaxEntriesPerUser);
  if (!st && st.error().code == Errc::over_quota)
    return no(c.tag, "Too many metadata entries", ResponseCode{code::Metadata, "TOOMANY"});
  if (!st) return store_error(c.tag, st.error());
  ok(c.tag, "SETMETADATA completed");
}

}  // namespace tern::imapd
