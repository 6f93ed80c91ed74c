// GETMETADATA / SETMETADATA (RFC 5464 METADATA and METADATA-SERVER) over the store's
// annotations (Store::get_metadata / set_metadata, store/metadata.cpp).
//
// Who may set what (RFC 5464 §3.1, §3.3): on their own mailboxes users set both /private and
// /shared entries. Another user's mailbox shared with them ("#shared/<owner>/<name>", RFC
// 4314) shows its /shared entries and the reader's own /private ones; with RFC 4314's rights:
// reading any entry needs "r" (annotations are the mailbox's data, as its messages are),
// setting a /private one "r" too (it is the reader's own note on what it may read), and
// setting a /shared one "w" as well (it changes what every reader sees, as keywords do). A
// mailbox without "l" or "r" does not exist for the user (RFC 4314 §4). On the server (""
// mailbox) users set /private entries only: the server's /shared entries are the same for
// every user (e.g. /shared/admin, §6.2.1) and are the administrator's, so a user's
// SETMETADATA of one is refused with [NOPERM] (RFC 5530).
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

bool is_shared_entry(std::string_view entry) { return ascii_lower(entry).rfind("/shared/", 0) == 0; }

}  // namespace

void Session::Impl::cmd_getmetadata(const Command& c) {
  const auto& a = c.as<GetMetadataArgs>();
  auto name = metadata_mailbox(*this, a.mailbox);
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  MailboxRef ref{user, *name, *name};
  if (!name->empty()) {
    auto r = mailbox_ref(*name);
    if (!r) return store_error(c.tag, r.error());
    ref = std::move(*r);
    // RFC 4314 §4 (see the notes above): reading a mailbox's entries needs "r".
    if (refuse_without(c.tag, ref.rights, store::acl::kRead)) return;
  }
  auto found = backend.store().get_metadata(ref.owner, ref.name, a.entries, a.depth, user);
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
  MailboxRef ref{user, *name, *name};
  if (!name->empty()) {
    auto r = mailbox_ref(*name);
    if (!r) return store_error(c.tag, r.error());
    ref = std::move(*r);
    // RFC 4314 §4 (see the notes above): "r" for any entry, "w" too for a /shared one.
    uint32_t needs = store::acl::kRead;
    for (const auto& e : a.entries)
      if (is_shared_entry(e.first)) needs |= store::acl::kWrite;
    if (refuse_without(c.tag, ref.rights, needs)) return;
  }
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
  Status st = backend.store().set_metadata(ref.owner, ref.name, a.entries, kMaxEntriesPerUser, user);
  if (!st && st.error().code == Errc::over_quota)
    return no(c.tag, "Too many metadata entries", ResponseCode{code::Metadata, "TOOMANY"});
  if (!st) return store_error(c.tag, st.error());
  ok(c.tag, "SETMETADATA completed");
}

}  // namespace tern::imapd
