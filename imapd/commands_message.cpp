// Selected-state commands that change messages: CLOSE, UNSELECT (RFC 3691), EXPUNGE,
// UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9), STORE (§6.4.6, UNCHANGEDSINCE RFC 7162 §3.1.3),
// COPY (§6.4.7, COPYUID RFC 4315) and MOVE (RFC 6851).
#include <algorithm>
#include <map>

#include "common/strings.h"
#include "imapd/session_impl.h"

namespace tern::imapd {

namespace {

std::string set_of(const std::vector<uint32_t>& v) { return SequenceSet::from_values(v).to_string(); }

// Comma list in the given order (COPYUID pairs must correspond one to one).
std::string list_of(const std::vector<uint32_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

void Session::Impl::cmd_close(const Command& c, bool expunge) {
  // RFC 9051 §6.4.1: CLOSE expunges silently (no EXPUNGE responses) unless read-only.
  // RFC 4314 §4: without "e" CLOSE expunges nothing, and still succeeds.
  if (expunge && !sel->read_only && (sel->rights & store::acl::kExpunge)) {
    auto snap = backend.store().snapshot_uids_flags(sel->owner, sel->name);
    if (snap) {
      std::vector<uint32_t> doomed;
      for (const auto& m : snap->messages)
        if ((m.flags.system & store::kDeleted) && sel->index_of(m.uid) >= 0) doomed.push_back(m.uid);
      if (!doomed.empty()) (void)backend.store().expunge(sel->owner, sel->name, doomed);
    }
  }
  deselect();
  ok(c.tag, expunge ? "CLOSE completed" : "UNSELECT completed");
}

void Session::Impl::cmd_expunge(const Command& c) {
  if (sel->read_only) return no(c.tag, text::ReadOnlyMailbox, ResponseCode{code::ReadOnly, ""});
  // RFC 4314 §4: EXPUNGE needs "e".
  if (refuse_without(c.tag, sel->rights, store::acl::kExpunge)) return;
  std::optional<SequenceSet> only;
  if (c.uid) only = c.as<UidExpungeArgs>().set;
  std::vector<size_t> in_set;
  if (only) {
    auto r = resolve(*only, true);
    if (!r) return bad(c.tag, r.error().message);
    in_set = std::move(r.value());
  }
  auto snap = backend.store().snapshot_uids_flags(sel->owner, sel->name);
  if (!snap) return store_error(c.tag, snap.error());
  std::vector<uint32_t> doomed;
  for (const auto& m : snap->messages) {
    if (!(m.flags.system & store::kDeleted)) continue;
    long i = sel->index_of(m.uid);
    if (i < 0) continue;  // not announced yet: not ours to expunge by number
    // RFC 9051 §6.4.9: UID EXPUNGE only removes \Deleted messages in the UID set.
    if (only && !std::binary_search(in_set.begin(), in_set.end(), static_cast<size_t>(i))) continue;
    doomed.push_back(m.uid);
  }
  if (!doomed.empty()) {
    auto r = backend.store().expunge(sel->owner, sel->name, doomed);
    if (!r) return store_error(c.tag, r.error());
    announce_expunged(*r);
  }
  ok(c.tag, c.uid ? "UID EXPUNGE completed" : "EXPUNGE completed");
}

void Session::Impl::cmd_store(const Command& c) {
  const auto& a = c.as<StoreArgs>();
  if (sel->read_only) return no(c.tag, text::ReadOnlyMailbox, ResponseCode{code::ReadOnly, ""});
  auto idx = resolve(a.set, c.uid);
  if (!idx) return bad(c.tag, idx.error().message);
  if (a.unchanged_since) enable_condstore();  // RFC 7162 §3.1: a CONDSTORE enabling command
  store::Flags flags = list_to_flags(a.flags);
  {
    // RFC 4314 §4: STORE of \Seen needs "s", of \Deleted "t", of other flags and keywords
    // "w"; replacing the flags may clear any of them, so FLAGS needs what is held of all.
    uint32_t needs = 0;
    uint32_t others = store::kAnswered | store::kFlagged | store::kDraft;
    if (a.mode == StoreArgs::Mode::replace) {
      needs = store::acl::kSeen | store::acl::kDeleteMsg | store::acl::kWrite;
    } else {
      if (flags.system & store::kSeen) needs |= store::acl::kSeen;
      if (flags.system & store::kDeleted) needs |= store::acl::kDeleteMsg;
      if ((flags.system & others) || !flags.keywords.empty()) needs |= store::acl::kWrite;
    }
    if (refuse_without(c.tag, sel->rights, needs)) return;
  }
  std::vector<uint32_t> uids;
  for (size_t i : *idx) uids.push_back(sel->uid_at(i));
  store::FlagOp op = a.mode == StoreArgs::Mode::add      ? store::FlagOp::add
                     : a.mode == StoreArgs::Mode::remove ? store::FlagOp::remove
                                                         : store::FlagOp::replace;
  if (uids.empty()) return ok(c.tag, "STORE completed");
  const bool echo = !a.silent || condstore;  // RFC 7162 §3.2: .SILENT still reports MODSEQ
  // RFC 3501 §6.4.6: whether or not .SILENT is used, the server SHOULD send a FETCH when
  // others changed a message's flags. A silent STORE shows nothing, so what others changed
  // first is taken in now (FETCH/EXISTS may come during STORE, EXPUNGE may not, RFC 9051
  // §7.5.1; the indexes in `idx` stay valid as sync(false) only appends).
  if (!echo && sel->dirty->load()) sync(false);
  auto r = backend.store().store_flags(sel->owner, sel->name, uids, op, flags, a.unchanged_since);
  if (!r) return store_error(c.tag, r.error());
  // Some messages unchanged: maybe expunged elsewhere before their watch fired (see
  // cmd_fetch); the sync after this command then looks (and UID STORE announces it).
  if (r->updated.size() + r->failed.size() < uids.size()) sel->dirty->store(true);

  // RFC 3501 §7.2.6 / RFC 9051 §7.3.5: a keyword new to the mailbox is announced (FLAGS,
  // PERMANENTFLAGS) before any FETCH carries it, also after a .SILENT STORE (the client
  // will see it in later FETCH responses). Keywords others set are announced below, before
  // the FETCH lines that show them.
  if (op != store::FlagOp::remove) announce_keywords(flags.keywords);

  std::map<uint32_t, std::string> lines;  // seq -> FETCH, in order
  std::vector<char> answered(sel->count(), 0);
  // After a silent STORE the client computes the new flags from those it knows: right only
  // if nobody else changed the mailbox since this session's last sync (this STORE's modseq
  // directly follows the known one). Otherwise the changes are not marked as shown, and the
  // sync after this command announces the messages' whole flags.
  const bool client_knows = echo || r->highestmodseq == sel->known_modseq + 1;
  for (const auto& u : r->updated) {
    long i = sel->index_of(u.uid);
    if (i < 0) continue;
    if (client_knows) sel->shown(u.uid, u.modseq);
    answered[i] = 1;
    if (echo) lines[i + 1] = flags_fetch(static_cast<uint32_t>(i + 1), u.uid, u.flags, u.modseq, c.uid);
  }
  if (!a.silent) {
    // RFC 9051 §6.4.6: FETCH responses for every message in the set, also the unchanged ones.
    std::vector<uint32_t> missing;
    for (size_t i : *idx)
      if (!answered[i]) missing.push_back(sel->uid_at(i));
    if (!missing.empty()) {
      auto rows = backend.store().messages(sel->owner, sel->name, missing, nullptr, false);
      if (rows) {
        for (const auto& m : *rows) {
          long i = sel->index_of(m.uid);
          if (i < 0 || answered[i]) continue;
          if (std::find(r->failed.begin(), r->failed.end(), m.uid) != r->failed.end()) continue;
          announce_keywords(m.flags.keywords);
          lines[i + 1] = flags_fetch(static_cast<uint32_t>(i + 1), m.uid, m.flags, m.modseq, c.uid);
        }
      }
    }
  }
  for (const auto& u : r->updated) announce_keywords(u.flags.keywords);
  for (auto& [seq, line] : lines) untagged(line);
  std::vector<uint32_t> changed;
  for (const auto& u : r->updated) changed.push_back(u.uid);
  lessons_after_store(flags, op, changed);
  if (!r->failed.empty()) {
    // RFC 7162 §3.1.3: [MODIFIED set] names the messages that failed the UNCHANGEDSINCE test.
    std::vector<uint32_t> failed;
    for (uint32_t u : r->failed) {
      if (c.uid) failed.push_back(u);
      else if (long i = sel->index_of(u); i >= 0) failed.push_back(static_cast<uint32_t>(i + 1));
    }
    return ok(c.tag, "Conditional STORE failed", ResponseCode{code::Modified, set_of(failed)});
  }
  ok(c.tag, "STORE completed");
}

void Session::Impl::cmd_copy(const Command& c, bool move) {
  const auto& a = c.as<CopyArgs>();
  auto idx = resolve(a.set, c.uid);
  if (!idx) return bad(c.tag, idx.error().message);
  auto dest = decode_mailbox(a.mailbox);
  if (!dest) return no(c.tag, text::InvalidName, ResponseCode{code::Cannot, ""});
  if (move && sel->read_only) return no(c.tag, text::ReadOnlyMailbox, ResponseCode{code::ReadOnly, ""});
  // RFC 4314 §4: COPY/MOVE need "i" in the destination; MOVE also "t" and "e" in the source
  // (it stores \Deleted there and expunges).
  auto target = mailbox_ref(*dest);
  if (!target) return store_error(c.tag, target.error(), true);
  if (refuse_without(c.tag, target->rights, store::acl::kInsert)) return;
  if (move && refuse_without(c.tag, sel->rights, store::acl::kDeleteMsg | store::acl::kExpunge)) return;
  const char* done = move ? "MOVE completed" : "COPY completed";
  std::vector<uint32_t> uids;
  for (size_t i : *idx) uids.push_back(sel->uid_at(i));
  if (uids.empty()) {
    // Still check the destination so that TRYCREATE is reported (RFC 9051 §6.4.7).
    auto st = backend.store().mailbox_status(target->owner, target->name);
    if (!st) return store_error(c.tag, st.error(), true);
    return ok(c.tag, done);
  }
  // Between two owners (or into a shared mailbox where some flags may not be set), the store
  // cannot copy in one transaction: commands_acl.cpp appends copies.
  constexpr uint32_t kFlagRights = store::acl::kSeen | store::acl::kWrite | store::acl::kDeleteMsg;
  if (target->owner != sel->owner || (target->rights & kFlagRights) != kFlagRights)
    return copy_across(c, *target, uids, move);
  uint64_t quota = 0;
  if (!move) {
    auto q = backend.quota(sel->owner);  // a MOVE stays inside the owner's mailboxes: usage unchanged
    quota = q ? *q : 0;
  }
  auto r = move ? backend.store().move(sel->owner, sel->name, uids, target->name)
                : backend.store().copy(sel->owner, sel->name, uids, target->name, quota);
  if (!r) return store_error(c.tag, r.error(), true);
  auto pairs = r->uids;
  std::sort(pairs.begin(), pairs.end());
  std::vector<uint32_t> src, dst;
  for (const auto& [s, d] : pairs) {
    src.push_back(s);
    dst.push_back(d);
  }
  bool monotonic = std::is_sorted(dst.begin(), dst.end());
  // RFC 4315 §3: COPYUID uidvalidity source-set dest-set, in corresponding order.
  std::string copyuid = std::to_string(r->uidvalidity) + " " + (monotonic ? set_of(src) : list_of(src)) + " " +
                        (monotonic ? set_of(dst) : list_of(dst));
  if (pairs.empty()) return ok(c.tag, done);
  if (sel->owner == user) lessons_after_copy(sel->name, *dest, move, dst);
  if (!move) return ok(c.tag, done, ResponseCode{code::CopyUid, copyuid});
  // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs, then the tagged OK.
  out.bytes += untagged_status(Condition::ok, "Moved", ResponseCode{code::CopyUid, copyuid});
  announce_expunged(src);
  ok(c.tag, done);
}

}  // namespace tern::imapd
