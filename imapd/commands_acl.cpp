// Access control lists (RFC 4314) and the shared namespace (RFC 2342): SETACL, DELETEACL,
// GETACL, LISTRIGHTS, MYRIGHTS (§3), how a client's mailbox name maps to an owner's mailbox,
// and COPY/MOVE between two owners' mailboxes.
//
// Another user's mailbox shared with this one is named "#shared/<owner address>/<name>"; the
// personal namespace keeps "" and "/", so the shared one is ("#shared/" "/"): a "#" prefix, as
// in RFC 2342's examples, so that it takes no name users give their own folders ("Shared" is
// a common one, which a plain prefix would hide). The rights are
// read from the store on the session's strand when a command names a mailbox (and kept with
// the selected mailbox from SELECT on, read again when Store::acl_version() moved): the owner
// holds every right, others the union of their entry and "anyone"'s (store/acl.h,
// store/acl.cpp).
#include "common/strings.h"
#include "imapd/session_impl.h"
#include "mime/mime.h"

namespace tern::imapd {

namespace {

constexpr std::string_view kSharedPrefix = "#shared/";

using store::acl::kAll;

// RFC 4314 §3.7: what LISTRIGHTS offers a non-owner: no right is always granted, and each
// standard right can be given on its own ("c" and "d" are only names for some of them).
constexpr std::string_view kOptionalRights = "l r s w i p k x t e a";

}  // namespace

Result<Session::Impl::MailboxRef> Session::Impl::mailbox_ref(const std::string& view) {
  MailboxRef ref;
  ref.view = view;
  if (!in_shared_namespace(view)) {
    ref.owner = user;
    ref.name = view;
    return ref;
  }
  // RFC 2342 §4: "#shared" itself is the shared namespace's prefix, not a mailbox.
  if (view == "#shared") return make_error(Errc::not_found, "no such mailbox");
  std::string_view rest = std::string_view(view).substr(kSharedPrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size())
    return make_error(Errc::not_found, "no such mailbox");
  ref.owner = ascii_lower(rest.substr(0, slash));
  ref.name = std::string(rest.substr(slash + 1));
  if (iequals(ref.name.substr(0, 5), "INBOX") && (ref.name.size() == 5 || ref.name[5] == '/'))
    ref.name.replace(0, 5, "INBOX");
  // One's own mailboxes live in the personal namespace only.
  if (ref.owner == ascii_lower(user)) return make_error(Errc::not_found, "no such mailbox");
  ref.acl_version = backend.store().acl_version();  // before the read: a change after it shows
  auto rights = backend.store().rights(ref.owner, ref.name, user);
  if (!rights) {
    if (rights.error().code == Errc::syntax) return make_error(Errc::not_found, "no such mailbox");
    return rights.error();
  }
  ref.rights = *rights;
  // RFC 4314 §4: without "l" and "r" a mailbox must look as if it did not exist.
  if (!(ref.rights & (store::acl::kLookup | store::acl::kRead)))
    return make_error(Errc::not_found, "no such mailbox");
  return ref;
}

bool Session::Impl::refuse_without(std::string_view tag, uint32_t held, uint32_t needed) {
  if ((held & needed) == needed) return false;
  std::string missing;
  for (size_t i = 0; i < store::acl::kLetters.size(); ++i)
    if ((needed & ~held) & (1u << i)) missing += store::acl::kLetters[i];
  no(tag, "Permission denied (missing right \"" + missing + "\")", ResponseCode{code::NoPerm, ""});
  return true;
}

bool Session::Impl::selected_rights_allow(const Command& c) {
  if (sel->owner == user) return true;  // one's own mailbox: every right, always
  uint64_t version = backend.store().acl_version();
  if (version != sel->acl_version) {
    auto rights = backend.store().rights(sel->owner, sel->name, user);
    if (rights) {
      sel->rights = *rights;
      sel->acl_version = version;
    } else if (rights.error().code == Errc::not_found) {
      sel->rights = 0;  // the owner deleted (or renamed) it: nothing is allowed here any more
      sel->acl_version = version;
    }  // another failure: the rights read at SELECT stand, and the next command tries again
  }
  // RFC 4314 §4: FETCH, SEARCH (and SORT, THREAD) and COPY/MOVE from the mailbox need "r";
  // STORE, EXPUNGE and CLOSE check their own rights against sel->rights.
  switch (c.name) {
    case CommandName::fetch:
    case CommandName::search:
    case CommandName::sort:
    case CommandName::thread:
    case CommandName::copy:
    case CommandName::move:
      return !refuse_without(c.tag, sel->rights, store::acl::kRead);
    default:
      return true;
  }
}

void Session::Impl::cmd_acl(const Command& c, std::string_view cmd_name) {
  // The parser has no RFC 4314 grammar: the raw line is read here (as for QUOTA).
  std::string_view framed = raw_head;
  while (!framed.empty() && (framed.back() == '\n' || framed.back() == '\r')) framed.remove_suffix(1);
  detail::TokenReader r(framed);
  std::optional<std::string> wire, identifier, rights;
  bool setacl = iequals(cmd_name, "SETACL"), deleteacl = iequals(cmd_name, "DELETEACL"),
       listrights = iequals(cmd_name, "LISTRIGHTS"), myrights = iequals(cmd_name, "MYRIGHTS");
  // RFC 4314 §3.1-§3.5: every command starts with the mailbox; SETACL, DELETEACL and
  // LISTRIGHTS then name an identifier, SETACL last its rights.
  bool parsed = r.atom(true) && r.consume(' ') && r.atom() && r.consume(' ') && (wire = r.mailbox());
  if (parsed && (setacl || deleteacl || listrights)) parsed = r.consume(' ') && (identifier = r.astring());
  if (parsed && setacl) parsed = r.consume(' ') && (rights = r.astring());
  if (!parsed || !r.end()) return bad(c.tag, "Syntax error in " + std::string(cmd_name));
  std::optional<store::acl::Modification> mod;
  if (setacl) {
    mod = store::acl::parse_modification(*rights);
    // RFC 4314 §3.1: a right the server does not know makes the command BAD.
    if (!mod) return bad(c.tag, "Unknown right in \"" + rights->substr(0, 40) + "\"");
  }
  auto name = decode_mailbox(*wire);
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  auto ref = mailbox_ref(*name);
  if (!ref) return store_error(c.tag, ref.error());
  if (myrights) {
    // RFC 4314 §3.5: any right at all lets the user ask (mailbox_ref needs "l" or "r").
    untagged(ResponseBuilder(wopt()).raw("MYRIGHTS ").mailbox(ref->view).sp()
                 .astring(store::acl::to_string(ref->rights)).str());
    return ok(c.tag, "MYRIGHTS completed");
  }
  // RFC 4314 §3.1-§3.4: the others need the administer right "a".
  if (refuse_without(c.tag, ref->rights, store::acl::kAdmin)) return;
  std::string id = identifier ? *identifier : std::string();
  if (iequals(id, store::acl::kAnyone)) id = std::string(store::acl::kAnyone);
  else if (identifier) id = ascii_lower(id);
  bool is_owner = identifier && id == ascii_lower(ref->owner);

  if (iequals(cmd_name, "GETACL")) {
    auto entries = backend.store().get_acl(ref->owner, ref->name);
    if (!entries) return store_error(c.tag, entries.error());
    ResponseBuilder b(wopt());
    // The owner's implicit rights first, then the stored entries (RFC 4314 §3.3).
    b.raw("ACL ").mailbox(ref->view).sp().astring(ref->owner).sp().astring(store::acl::to_string(kAll));
    for (const auto& e : *entries) b.sp().astring(e.identifier).sp().astring(store::acl::to_string(e.rights));
    untagged(b.str());
    return ok(c.tag, "GETACL completed");
  }
  if (listrights) {
    ResponseBuilder b(wopt());
    b.raw("LISTRIGHTS ").mailbox(ref->view).sp().astring(id).sp();
    // RFC 4314 §3.4: the owner always holds every right; anyone else may be given each.
    if (is_owner)
      b.astring(store::acl::to_string(kAll));
    else
      b.raw("\"\" ").raw(kOptionalRights);
    untagged(b.str());
    return ok(c.tag, "LISTRIGHTS completed");
  }
  // SETACL / DELETEACL.
  // RFC 4314 §2: "-identifier" names negative rights, which Tern does not keep.
  if (!id.empty() && id[0] == '-')
    return no(c.tag, "Negative rights are not supported", ResponseCode{code::Cannot, ""});
  if (is_owner) return no(c.tag, "The owner always has every right", ResponseCode{code::Cannot, ""});
  uint32_t now_held = 0;
  if (setacl && mod->op != store::acl::Modification::Op::replace) {
    auto entries = backend.store().get_acl(ref->owner, ref->name);
    if (!entries) return store_error(c.tag, entries.error());
    for (const auto& e : *entries)
      if (e.identifier == id) now_held = e.rights;
  }
  // RFC 4314 §3.2: DELETEACL removes the entry (no entry is not an error).
  uint32_t next = setacl ? mod->apply(now_held) : 0;
  Status st = backend.store().set_acl(ref->owner, ref->name, id, next);
  if (!st) {
    if (st.error().code == Errc::syntax) return no(c.tag, "Unknown identifier", ResponseCode{code::Cannot, ""});
    return store_error(c.tag, st.error());
  }
  ok(c.tag, setacl ? "SETACL completed" : "DELETEACL completed");
}

void Session::Impl::copy_across(const Command& c, const MailboxRef& dest, const std::vector<uint32_t>& uids,
                                bool move) {
  // Two owners' mailboxes: the store copies within one user's, so each message is read and
  // appended. All or none, as COPY requires (RFC 9051 §6.4.7): a failure half-way expunges
  // the copies already made.
  auto quota = backend.quota(dest.owner);
  auto infos = backend.store().messages(sel->owner, sel->name, uids);
  if (!infos) return store_error(c.tag, infos.error());
  // RFC 4314 §4 (COPY): flags the user may not set in the destination are not copied.
  uint32_t keep = 0;
  if (dest.rights & store::acl::kSeen) keep |= store::kSeen;
  if (dest.rights & store::acl::kDeleteMsg) keep |= store::kDeleted;
  if (dest.rights & store::acl::kWrite) keep |= store::kAnswered | store::kFlagged | store::kDraft;
  std::vector<uint32_t> src, dst;
  uint32_t validity = 0;
  std::optional<Error> failed;
  for (const auto& m : *infos) {
    auto bytes = backend.store().read_message(sel->owner, sel->name, m.uid);
    if (!bytes && bytes.error().code == Errc::not_found) continue;  // expunged meanwhile
    if (!bytes) {
      failed = bytes.error();
      break;
    }
    store::Flags flags = m.flags;
    flags.system &= keep;
    if (!(dest.rights & store::acl::kWrite)) flags.keywords.clear();
    auto r = backend.store().append(dest.owner, dest.name, *bytes, flags, m.internal_date, quota ? *quota : 0,
                                    m.cached_metadata.empty() ? mime::metadata_blob(*bytes) : m.cached_metadata);
    if (!r) {
      failed = r.error();
      break;
    }
    src.push_back(m.uid);
    dst.push_back(r->uid);
    validity = r->uidvalidity;
  }
  if (failed) {
    if (!dst.empty()) (void)backend.store().expunge(dest.owner, dest.name, dst);
    return store_error(c.tag, *failed, true);
  }
  const char* done = move ? "MOVE completed" : "COPY completed";
  if (src.empty()) return ok(c.tag, done);
  std::string copyuid = std::to_string(validity) + " " + SequenceSet::from_values(src).to_string() + " " +
                        SequenceSet::from_values(dst).to_string();
  if (!move) return ok(c.tag, done, ResponseCode{code::CopyUid, copyuid});
  auto gone = backend.store().expunge(sel->owner, sel->name, src);
  if (!gone) return store_error(c.tag, gone.error());
  // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs, then the tagged OK.
  out.bytes += untagged_status(Condition::ok, "Moved", ResponseCode{code::CopyUid, copyuid});
  announce_expunged(*gone);
  ok(c.tag, done);
}

}  // namespace tern::imapd
