// Authenticated-state mailbox commands: SELECT/EXAMINE (RFC 9051 §6.3.2-3, CONDSTORE/QRESYNC
// RFC 7162 §3.1.8 / §3.2.5), CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS
// (RFC 9051 §6.3.11, STATUS=SIZE RFC 8438), NAMESPACE (RFC 2342), APPEND (UIDPLUS RFC 4315,
// APPENDLIMIT RFC 7889) and QUOTA (RFC 9208).
#include <algorithm>

#include "common/strings.h"
#include "imapd/session_impl.h"
#include "mime/mime.h"

namespace tern::imapd {

namespace {

const std::vector<std::string> kSystemFlags = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"};

std::string set_of(const std::vector<uint32_t>& v) { return SequenceSet::from_values(v).to_string(); }

}  // namespace

void Session::Impl::cmd_select(const Command& c) {
  const auto& a = c.as<SelectArgs>();
  bool examine = c.name == CommandName::examine;
  bool had = sel.has_value();
  // RFC 9051 §6.3.2: selecting closes the current mailbox first, even if the new SELECT
  // fails; the [CLOSED] code tells the client where the old mailbox's responses end.
  deselect();
  if (had) untagged("OK [CLOSED] Previous mailbox closed");
  // RFC 7162 §3.2.5: QRESYNC parameters without ENABLE QRESYNC are a client error.
  if (a.qresync && !qresync) return bad(c.tag, "QRESYNC is not enabled");
  auto name = decode_mailbox(a.mailbox);
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  if (a.condstore) condstore = true;  // RFC 7162 §3.1.8: a CONDSTORE enabling command
  auto ref = mailbox_ref(*name);
  if (!ref) return store_error(c.tag, ref.error());
  // RFC 4314 §4: SELECT and EXAMINE need "r"; with none of "s", "w", "t", "e" nothing can be
  // changed, so the mailbox is opened read-only.
  if (refuse_without(c.tag, ref->rights, store::acl::kRead)) return;
  constexpr uint32_t kChanging = store::acl::kSeen | store::acl::kWrite | store::acl::kDeleteMsg | store::acl::kExpunge;
  bool read_only = examine || !(ref->rights & kChanging);
  Status st = open_selected(*ref, read_only);
  if (!st) {
    sel.reset();
    return store_error(c.tag, st.error());
  }
  state = State::selected;
  Selected& s = *sel;
  std::vector<std::string> flags = kSystemFlags;
  for (const auto& k : s.keywords) flags.push_back(k);
  std::string fl;
  write_flag_list(fl, flags);
  untagged("FLAGS " + fl);
  untagged(std::to_string(s.count()) + " EXISTS");
  if (!imap4rev2) {
    // RFC 3501 §6.3.1: required in rev1. SELECT takes the messages no session was told of.
    note_recent(s.uidnext);
    untagged(std::to_string(s.recent_count()) + " RECENT");
  }
  if (!imap4rev2 && s.first_unseen)
    untagged("OK [UNSEEN " + std::to_string(s.first_unseen) + "] First unseen");
  untagged("OK [UIDVALIDITY " + std::to_string(s.uidvalidity) + "] UIDs valid");
  untagged("OK [UIDNEXT " + std::to_string(s.uidnext) + "] Predicted next UID");
  // RFC 8474 §4.2: the mailbox's MAILBOXID.
  if (!s.mailbox_id.empty()) untagged("OK [MAILBOXID (" + s.mailbox_id + ")] Ok");
  if (s.read_only) {
    untagged("OK [PERMANENTFLAGS ()] Read-only mailbox");
  } else {
    // RFC 4314 §4: only the flags this user may change are permanent: \Seen with "s",
    // \Deleted with "t", the others and new keywords (\*) with "w".
    std::vector<std::string> permanent;
    for (const auto& f : flags) {
      uint32_t needs = iequals(f, "\\Seen")      ? store::acl::kSeen
                       : iequals(f, "\\Deleted") ? store::acl::kDeleteMsg
                                                 : store::acl::kWrite;
      if (s.rights & needs) permanent.push_back(f);
    }
    if (s.rights & store::acl::kWrite) permanent.push_back("\\*");
    std::string pf;
    write_flag_list(pf, permanent);
    untagged("OK [PERMANENTFLAGS " + pf + "] Flags permitted");
  }
  untagged("OK [HIGHESTMODSEQ " + std::to_string(s.known_modseq) + "] Highest");
  if (imap4rev2) {
    // RFC 9051 §6.3.2: the server MUST send a LIST response with the mailbox name.
    untagged(ResponseBuilder(wopt()).raw("LIST () \"/\" ").mailbox(s.view.empty() ? s.name : s.view).str());
  }
  if (a.qresync && a.qresync->uidvalidity == s.uidvalidity) {
    // RFC 7162 §3.2.5.1: what changed since the client's modseq: VANISHED (EARLIER) for the
    // expunged UIDs it knows of, then FETCH for changed messages.
    const QresyncParams& q = *a.qresync;
    auto ch = backend.store().changes_since(s.owner, s.name, q.modseq);
    if (ch) {
      std::vector<uint32_t> gone;
      for (uint32_t u : ch->vanished)
        if (!q.known_uids || q.known_uids->contains(u, s.uidnext)) gone.push_back(u);
      if (!gone.empty()) untagged("VANISHED (EARLIER) " + set_of(gone));
      for (const auto& m : ch->changed) {
        long i = s.index_of(m.uid);
        if (i < 0) continue;
        untagged(flags_fetch(static_cast<uint32_t>(i + 1), m.uid, m.flags, m.modseq, true));
      }
    }
  }
  ok(c.tag, examine ? "EXAMINE completed" : "SELECT completed",
     ResponseCode{s.read_only ? code::ReadOnly : code::ReadWrite, ""});
}

void Session::Impl::cmd_create(const Command& c) {
  const auto& a = c.as<MailboxArgs>();
  auto name = decode_mailbox(a.mailbox);
  // RFC 9051 §6.3.4: a trailing hierarchy delimiter only says the client intends children.
  if (name && name->size() > 1 && name->back() == '/') name->pop_back();
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  // RFC 6154 §3: a special use the server cannot give means no mailbox and NO [USE]. The
  // store keeps one special use per mailbox.
  if (a.use.size() > 1) return no(c.tag, "One special use per mailbox", ResponseCode{code::Use, ""});
  std::string use = a.use.empty() ? std::string() : a.use[0];
  // Attributes are case-insensitive (RFC 9051 §9 flag-extension); LIST shows them as RFC
  // 6154 §2 spells them.
  for (std::string_view known : {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"})
    if (iequals(use, known)) use = known;
  // RFC 2342: "#shared" is the shared namespace's prefix; below it, a child of a shared
  // mailbox needs "k" on its parent (RFC 4314 §4 CREATE).
  if (*name == "#shared") return no(c.tag, "Reserved for shared mailboxes", ResponseCode{code::Cannot, ""});
  MailboxRef target{user, *name, *name, store::acl::kAll};
  if (name->rfind("#shared/", 0) == 0) {
    size_t slash = name->rfind('/');
    auto parent = mailbox_ref(name->substr(0, slash));
    if (!parent || !parent->shared()) return no(c.tag, "Cannot create here", ResponseCode{code::NoPerm, ""});
    if (refuse_without(c.tag, parent->rights, store::acl::kCreate)) return;
    target = {parent->owner, parent->name + name->substr(slash), *name, parent->rights};
  }
  Status st = backend.store().create_mailbox(target.owner, target.name, use);
  if (!st && !a.use.empty() && st.error().code == Errc::syntax)
    return no(c.tag, "Unknown special use", ResponseCode{code::Use, ""});
  if (!st) return store_error(c.tag, st.error());
  // RFC 8474 §4.1: the new mailbox's MAILBOXID in the tagged OK.
  auto created = backend.store().mailbox_status(target.owner, target.name);
  if (created && !created->mailbox_id.empty())
    return ok(c.tag, "CREATE completed", ResponseCode{code::MailboxId, "(" + created->mailbox_id + ")"});
  ok(c.tag, "CREATE completed");
}

void Session::Impl::cmd_delete(const Command& c) {
  auto name = decode_mailbox(c.as<MailboxArgs>().mailbox);
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  auto ref = mailbox_ref(*name);
  if (!ref) return store_error(c.tag, ref.error());
  if (sel && sel->owner == ref->owner && sel->name == ref->name)
    return no(c.tag, "Cannot delete the selected mailbox", ResponseCode{code::InUse, ""});
  // RFC 4314 §4: DELETE needs "x".
  if (refuse_without(c.tag, ref->rights, store::acl::kDeleteMailbox)) return;
  Status st = backend.store().delete_mailbox(ref->owner, ref->name);
  if (!st) return store_error(c.tag, st.error());
  ok(c.tag, "DELETE completed");
}

void Session::Impl::cmd_rename(const Command& c) {
  const auto& a = c.as<RenameArgs>();
  auto from = decode_mailbox(a.from);
  auto to = decode_mailbox(a.to);
  if (!from || !to) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  if (in_shared_namespace(*from) || in_shared_namespace(*to)) {
    // RFC 4314 §4: RENAME needs "x" on the mailbox and "k" on the new parent; Tern renames
    // shared mailboxes only through their owner, who holds both.
    auto ref = mailbox_ref(*from);
    if (!ref) return store_error(c.tag, ref.error());
    return no(c.tag, "Shared mailboxes are renamed by their owner", ResponseCode{code::NoPerm, ""});
  }
  Status st = backend.store().rename_mailbox(user, *from, *to);
  if (!st) return store_error(c.tag, st.error());
  // The selected mailbox (or an ancestor) was renamed: its messages keep their UIDs, and the
  // store's watch follows the mailbox, so only our name for it changes (INBOX stays INBOX).
  if (sel && *from != "INBOX") {
    if (sel->name == *from)
      sel->name = *to;
    else if (sel->name.size() > from->size() && sel->name.compare(0, from->size(), *from) == 0 &&
             sel->name[from->size()] == '/')
      sel->name = *to + sel->name.substr(from->size());
  }
  ok(c.tag, "RENAME completed");
}

void Session::Impl::cmd_subscribe(const Command& c, bool on) {
  auto name = decode_mailbox(c.as<MailboxArgs>().mailbox);
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  Status st = on ? backend.store().subscribe(user, *name) : backend.store().unsubscribe(user, *name);
  if (!st) return store_error(c.tag, st.error());
  ok(c.tag, on ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
}

std::string Session::Impl::status_line(const store::MailboxStatus& st, const std::vector<StatusItem>& items,
                                       std::string_view) {
  ResponseBuilder b(wopt());
  b.raw("STATUS ").mailbox(st.name).raw(" (");
  bool first = true;
  std::optional<uint32_t> deleted;
  for (StatusItem it : items) {
    if (!first) b.sp();
    first = false;
    b.raw(to_string(it)).sp();
    switch (it) {
      case StatusItem::messages: b.number(st.messages); break;
      case StatusItem::uidnext: b.number(st.uidnext); break;
      case StatusItem::uidvalidity: b.number(st.uidvalidity); break;
      case StatusItem::unseen: b.number(st.unseen); break;
      case StatusItem::size: b.number(st.size); break;
      case StatusItem::recent: b.number(st.recent); break;  // RFC 3501 §6.3.10: unclaimed
      case StatusItem::highestmodseq: b.number(st.highestmodseq); break;
      case StatusItem::mailboxid: b.raw("(" + st.mailbox_id + ")"); break;  // RFC 8474 §4.3
      case StatusItem::deleted:
        if (!deleted) {
          uint32_t n = 0;
          auto ref = mailbox_ref(st.name);
          auto snap = ref ? backend.store().snapshot_uids_flags(ref->owner, ref->name)
                          : Result<store::MailboxSnapshot>(ref.error());
          if (snap)
            for (const auto& m : snap->messages) n += (m.flags.system & store::kDeleted) ? 1 : 0;
          deleted = n;
        }
        b.number(*deleted);
        break;
    }
  }
  b.raw(")");
  return b.str();
}

void Session::Impl::cmd_status(const Command& c) {
  const auto& a = c.as<StatusArgs>();
  auto name = decode_mailbox(a.mailbox);
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  auto ref = mailbox_ref(*name);
  if (!ref) return store_error(c.tag, ref.error());
  // RFC 4314 §4: STATUS needs "r".
  if (refuse_without(c.tag, ref->rights, store::acl::kRead)) return;
  auto st = backend.store().mailbox_status(ref->owner, ref->name);
  if (!st) return store_error(c.tag, st.error());
  st->name = ref->view;
  for (StatusItem it : a.items)
    if (it == StatusItem::highestmodseq) enable_condstore();  // RFC 7162 §3.1: enabling command
  untagged(status_line(*st, a.items, a.mailbox));
  ok(c.tag, "STATUS completed");
}

void Session::Impl::cmd_namespace(const Command& c) {
  // RFC 2342 / RFC 9051 §6.3.10: the personal namespace with "/" as the delimiter, no other
  // users' namespace, and the shared one where other users' shared mailboxes appear as
  // "#shared/<owner>/<name>" (RFC 4314, commands_acl.cpp).
  untagged("NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\"))");
  ok(c.tag, "NAMESPACE completed");
}

void Session::Impl::cmd_append(const Command& c) {
  const auto& a = c.as<AppendArgs>();
  auto name = decode_mailbox(a.mailbox);
  if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  auto ref = mailbox_ref(*name);
  if (!ref) return store_error(c.tag, ref.error(), true);
  // RFC 4314 §4: APPEND needs "i"; flags the user may not set are dropped.
  if (refuse_without(c.tag, ref->rights, store::acl::kInsert)) return;
  uint32_t keep = store::kAllSystemFlags;
  if (!(ref->rights & store::acl::kSeen)) keep &= ~store::kSeen;
  if (!(ref->rights & store::acl::kDeleteMsg)) keep &= ~store::kDeleted;
  if (!(ref->rights & store::acl::kWrite)) keep &= ~(store::kAnswered | store::kFlagged | store::kDraft);
  auto quota = backend.quota(ref->owner);
  uint64_t limit = quota ? *quota : 0;
  // RFC 3502 §6.3.11 (MULTIAPPEND): all of the messages or none. What can be refused without
  // writing is refused first; a failure half-way expunges the ones already appended.
  for (const AppendMessage& m : a.messages)
    if (m.data.size() > settings.max_literal_size)
      return no(c.tag, "Message too big", ResponseCode{code::TooBig, ""});
  // RFC 4469: CATENATE messages are composed (their URLs read) before anything is written.
  std::vector<std::string> composed(a.messages.size());
  for (size_t i = 0; i < a.messages.size(); ++i)
    if (!a.messages[i].catenate.empty() && !compose_catenate(c.tag, a.messages[i], composed[i])) return;
  std::vector<uint32_t> uids;
  uint32_t validity = 0;
  for (size_t i = 0; i < a.messages.size(); ++i) {
    const AppendMessage& m = a.messages[i];
    const std::string& data = m.catenate.empty() ? m.data : composed[i];
    store::Flags flags = list_to_flags(m.flags);
    flags.system &= keep;
    if (!(ref->rights & store::acl::kWrite)) flags.keywords.clear();
    int64_t date = m.internal_date ? m.internal_date->to_unix() : backend.now();
    // ENVELOPE and BODYSTRUCTURE are computed once here and cached in the index, so FETCHing
    // them later reads no message file (as SMTP delivery does).
    auto r = backend.store().append(ref->owner, ref->name, data, flags, date, limit, mime::metadata_blob(data));
    if (!r) {
      if (!uids.empty()) (void)backend.store().expunge(ref->owner, ref->name, uids);
      // RFC 9051 §6.3.12: TRYCREATE when the mailbox does not exist.
      return store_error(c.tag, r.error(), true);
    }
    uids.push_back(r->uid);
    validity = r->uidvalidity;
  }
  // RFC 4315 §3: APPENDUID uidvalidity uid-set.
  ok(c.tag, "APPEND completed", ResponseCode{code::AppendUid, std::to_string(validity) + " " + set_of(uids)});
}

void Session::Impl::cmd_quota(const Command& c, std::string_view cmd_name) {
  // RFC 9208: one quota root "" per user holding every mailbox, resource STORAGE in KiB.
  std::string_view framed = raw_head;
  while (!framed.empty() && (framed.back() == '\n' || framed.back() == '\r')) framed.remove_suffix(1);
  detail::TokenReader r(framed);
  std::optional<std::string> arg;
  if (r.atom(true) && r.consume(' ') && r.atom() && r.consume(' ')) {
    if (iequals(cmd_name, "GETQUOTAROOT"))
      arg = r.mailbox();
    else
      arg = r.astring();
  }
  if (iequals(cmd_name, "SETQUOTA")) return no(c.tag, "Quotas are set by the administrator", ResponseCode{code::NoPerm, ""});
  if (!arg || !r.end()) return bad(c.tag, "Syntax error in " + std::string(cmd_name));
  // Whose quota: the user's own (root ""), or, for another user's shared mailbox, its owner's,
  // whose root this user calls "#shared/<owner>" (it holds every mailbox of that owner).
  std::string owner = user;
  std::string root;
  auto quota_line = [&](uint64_t limit) -> bool {
    auto used = backend.store().usage(owner);
    if (!used) return false;
    untagged(ResponseBuilder(wopt()).raw("QUOTA ").astring(root).raw(" (STORAGE " +
             std::to_string((*used + 1023) / 1024) + " " + std::to_string(limit / 1024) + ")").str());
    return true;
  };
  auto limit_of = [&]() -> uint64_t {
    auto quota = backend.quota(owner);
    return quota ? *quota : 0;
  };
  if (iequals(cmd_name, "GETQUOTAROOT")) {
    auto name = decode_mailbox(*arg);
    if (!name) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
    // RFC 9208 §4.3 with RFC 4314 §4: a shared mailbox is the owner's, under the owner's quota
    // (mailbox_ref: without "l" or "r" it does not exist for this user).
    auto ref = mailbox_ref(*name);
    if (!ref) return store_error(c.tag, ref.error());
    if (ref->shared()) {
      owner = ref->owner;
      root = "#shared/" + ref->owner;
    }
    auto st = backend.store().mailbox_status(owner, ref->name);
    if (!st) return store_error(c.tag, st.error());
    uint64_t limit = limit_of();
    ResponseBuilder b(wopt());
    b.raw("QUOTAROOT ").mailbox(ref->view);
    if (limit > 0) b.sp().astring(root);
    untagged(b.str());
    if (limit > 0 && !quota_line(limit)) return no(c.tag, text::ServerError, ResponseCode{code::ServerBug, ""});
    return ok(c.tag, "GETQUOTAROOT completed");
  }
  if (arg->rfind("#shared/", 0) == 0) {
    // An owner's root, for a user who sees at least one of that owner's mailboxes.
    std::string named = ascii_lower(arg->substr(8));
    auto shared = backend.store().shared_with(user);
    if (!shared) return store_error(c.tag, shared.error());
    bool sees = std::any_of(shared->begin(), shared->end(), [&](const auto& m) { return m.owner == named; });
    if (!sees) return no(c.tag, "No such quota root", ResponseCode{code::NonExistent, ""});
    owner = named;
    root = *arg;
  } else if (!arg->empty()) {
    return no(c.tag, "No such quota root", ResponseCode{code::NonExistent, ""});
  }
  uint64_t limit = limit_of();
  if (limit == 0) return no(c.tag, "No such quota root", ResponseCode{code::NonExistent, ""});
  if (!quota_line(limit)) return no(c.tag, text::ServerError, ResponseCode{code::ServerBug, ""});
  ok(c.tag, "GETQUOTA completed");
}

}  // namespace tern::imapd
