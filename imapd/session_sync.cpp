// The selected mailbox as this session sees it: the seq -> UID map, and bringing it up to
// date with changes made by others (other sessions, SMTP delivery, ternctl).
//
// RFC 9051 §7.5.1 / §5.5: sequence numbers only change when this session says so. New
// messages (EXISTS) and flag changes (FETCH) may be announced at any time a command is in
// progress; expunges (EXPUNGE, or VANISHED under QRESYNC, RFC 7162 §3.2.10) only after
// commands other than FETCH, STORE and SEARCH, or during IDLE. Until then an expunged
// message keeps its number (pending_expunge) and fetching it returns nothing.
#include <algorithm>

#include "common/strings.h"
#include "imapd/session_impl.h"

namespace tern::imapd {

Result<std::vector<size_t>> Session::Impl::resolve(const SequenceSet& set, bool uid) const {
  std::vector<size_t> out;
  const Selected& s = *sel;
  if (set.is_saved_result()) {
    // RFC 5182 §2.1: "$" is the saved UID list, whichever form the command has.
    for (uint32_t u : saved_uids) {
      long i = s.index_of(u);
      if (i >= 0) out.push_back(static_cast<size_t>(i));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  if (uid) {
    // RFC 9051 §6.4.8: UIDs that do not exist are ignored; "*" is the largest UID in use.
    for (const SeqRange& r : set.resolve(s.max_uid())) {
      for (size_t i = s.uids.lower_bound(r.first); i < s.count() && s.uid_at(i) <= r.last; ++i) out.push_back(i);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  // RFC 9051 §9 seq-number: a number above the mailbox size is a client error.
  if (set.max_explicit() > s.count()) return make_error(Errc::syntax, std::string(text::InvalidSeq));
  if (s.count() == 0 && set.uses_star()) return make_error(Errc::syntax, std::string(text::InvalidSeq));
  set.for_each(s.count(), [&](uint32_t seq) { out.push_back(seq - 1); });
  return out;
}

std::string Session::Impl::flags_fetch(uint32_t seq, uint32_t uid, const store::Flags& f, uint64_t modseq,
                                       bool with_uid) const {
  std::string line = std::to_string(seq) + " FETCH (";
  if (with_uid || qresync || notify_flag_uid()) line += "UID " + std::to_string(uid) + " ";
  std::string fl;
  std::vector<std::string> names = flags_to_list(f);
  if (sel && sel->is_recent(uid)) names.insert(names.begin(), "\\Recent");
  write_flag_list(fl, names);
  line += "FLAGS " + fl;
  // RFC 7162 §3.1.4: once CONDSTORE is enabled, FETCH responses carry MODSEQ.
  if (condstore) line += " MODSEQ (" + std::to_string(modseq) + ")";
  line += ")";
  return line;
}

void Session::Impl::write_flags_responses() {
  Selected& s = *sel;
  std::vector<std::string> all = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"};
  all.insert(all.end(), s.keywords.begin(), s.keywords.end());
  std::string fl;
  write_flag_list(fl, all);
  untagged("FLAGS " + fl);
  // RFC 9051 §7.3.5 / RFC 3501 §7.1: PERMANENTFLAGS follows the new FLAGS; \* stays, new
  // keywords may still be created. A read-only session keeps the () it was given.
  if (s.read_only) return;
  all.push_back("\\*");
  std::string pf;
  write_flag_list(pf, all);
  untagged("OK [PERMANENTFLAGS " + pf + "] Flags permitted");
}

void Session::Impl::announce_keywords(const std::vector<std::string>& keywords) {
  if (!sel) return;
  Selected& s = *sel;
  bool added = false;
  for (const auto& k : keywords) {
    // RFC 9051 §2.3.2: keywords compare case-insensitively.
    bool known = false;
    for (const auto& e : s.keywords) known |= iequals(e, k);
    if (known) continue;
    s.keywords.insert(std::upper_bound(s.keywords.begin(), s.keywords.end(), k), k);
    added = true;
  }
  if (added) write_flags_responses();
}

void Session::Impl::enable_condstore() {
  if (condstore) return;
  condstore = true;
  // RFC 7162 §3.1: the server MUST send OK [HIGHESTMODSEQ] at the first CONDSTORE enabling
  // command issued while a mailbox is selected, before the responses that carry MODSEQ.
  if (sel) untagged("OK [HIGHESTMODSEQ " + std::to_string(sel->known_modseq) + "] Highest");
}

void Session::Impl::announce_expunged(const std::vector<uint32_t>& uids_in) {
  Selected& s = *sel;
  // RFC 5267 §4.3.4: REMOVEFROM goes before the EXPUNGE, while the numbers are valid.
  if (!s.live.empty()) update_live();
  std::vector<uint32_t> uids = uids_in;
  std::sort(uids.begin(), uids.end());
  std::vector<uint32_t> gone;
  // Highest sequence number first: each EXPUNGE then names the message's current number.
  for (auto it = uids.rbegin(); it != uids.rend(); ++it) {
    long i = s.index_of(*it);
    if (i < 0) continue;
    if (!qresync) untagged(std::to_string(i + 1) + " EXPUNGE");
    gone.push_back(*it);
    s.uids.erase_at(static_cast<size_t>(i));
    s.shown_modseq.erase(*it);
  }
  // RFC 7162 §3.2.10: with QRESYNC enabled, VANISHED replaces EXPUNGE.
  if (qresync && !gone.empty()) untagged("VANISHED " + SequenceSet::from_values(gone).to_string());
  auto& p = s.pending_expunge;
  p.erase(std::remove_if(p.begin(), p.end(),
                         [&](uint32_t u) { return std::binary_search(uids.begin(), uids.end(), u); }),
          p.end());
}

void Session::Impl::sync(bool allow_expunge) {
  if (!sel) return;
  Selected& s = *sel;
  bool dirty = s.dirty->exchange(false);
  if (dirty) {
    auto ch = backend.store().changes_since(s.owner, s.name, s.known_modseq);
    if (!ch) {
      s.dirty->store(true);  // try again at the next point
    } else {
      uint32_t old_count = s.count();
      for (const store::MessageInfo& m : ch->changed) {
        if (m.uid > s.max_uid()) {
          if (m.uid < s.uidnext) continue;  // appended and expunged before we saw it
          s.uids.push_back(m.uid);
          // A new message may bring keywords: announced now, before any FETCH shows them.
          announce_keywords(m.flags.keywords);
          continue;
        }
        long i = s.index_of(m.uid);
        if (i < 0) continue;
        // Changes come with modseq > known_modseq; skip what this session itself showed.
        if (auto sh = s.shown_modseq.find(m.uid); sh != s.shown_modseq.end() && sh->second >= m.modseq) continue;
        if (std::binary_search(s.pending_expunge.begin(), s.pending_expunge.end(), m.uid)) continue;
        announce_keywords(m.flags.keywords);  // another session's new keyword: FLAGS first
        untagged(flags_fetch(static_cast<uint32_t>(i + 1), m.uid, m.flags, m.modseq, false));
      }
      for (uint32_t u : ch->vanished) {
        if (s.index_of(u) < 0) continue;
        if (!std::binary_search(s.pending_expunge.begin(), s.pending_expunge.end(), u)) {
          s.pending_expunge.insert(std::upper_bound(s.pending_expunge.begin(), s.pending_expunge.end(), u), u);
        }
      }
      if (s.max_uid() >= s.uidnext) s.uidnext = s.max_uid() + 1;
      s.known_modseq = std::max(s.known_modseq, ch->highestmodseq);
      // Entries at or below known_modseq can no longer suppress anything.
      std::erase_if(s.shown_modseq, [&](const auto& e) { return e.second <= s.known_modseq; });
      s.uids.shrink_to_fit();
      if (s.count() != old_count) {
        // RFC 9051 §7.4.1: EXISTS whenever the size of the mailbox changes.
        untagged(std::to_string(s.count()) + " EXISTS");
        // RFC 3501 §7.3.2: and RECENT with it, this session being the first notified.
        if (!imap4rev2) {
          note_recent(s.uidnext);
          untagged(std::to_string(s.recent_count()) + " RECENT");
        }
      }
    }
  }
  // RFC 5267 §4.3 (no NOTIFY): live search updates go with the other unsolicited responses,
  // after the EXISTS that gives new numbers meaning; a message expunged elsewhere keeps its
  // number until its EXPUNGE, so its REMOVEFROM may go at once.
  if (!s.live.empty()) update_live();
  if (allow_expunge && !s.pending_expunge.empty()) announce_expunged(std::vector<uint32_t>(s.pending_expunge));
}

void Session::Impl::note_recent(uint32_t upto) {
  if (!sel || imap4rev2) return;
  Selected& s = *sel;
  // A failed claim leaves nothing recent: \Recent is advisory, the command goes on.
  auto first = backend.store().claim_recent(s.owner, s.name, upto, !s.read_only);
  if (!first || *first >= upto) return;
  // Kept disjoint and sorted (recent_count sums them): EXAMINE looks at the same unclaimed
  // range again at every sync, and claims can interleave with other sessions'.
  s.recent.emplace_back(*first, upto);
  std::sort(s.recent.begin(), s.recent.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : s.recent) {
    if (!merged.empty() && r.first <= merged.back().second) merged.back().second = std::max(merged.back().second, r.second);
    else merged.push_back(r);
  }
  s.recent = std::move(merged);
}

void Session::Impl::deselect() {
  if (!sel) return;
  sel.reset();  // drops the watch: no further callbacks once this returns
  if (state == State::selected) state = State::authenticated;
}

Status Session::Impl::open_selected(const MailboxRef& ref, bool read_only) {
  Selected s;
  const std::string& name = ref.name;
  s.name = name;
  s.owner = ref.owner;
  s.view = ref.view;
  s.rights = ref.rights;
  s.acl_version = ref.acl_version;
  s.read_only = read_only;
  // Watch first, then snapshot: a change committed in between is seen twice at worst.
  auto dirty = s.dirty;
  auto notify = backend.change_notifier();
  auto w = backend.store().watch(s.owner, name, [dirty, notify] {
    dirty->store(true);
    if (notify) notify();
  });
  if (!w) return w.error();
  s.watch = std::move(w.value());
  // Uids and flags only: a SELECT of 10,000 messages reads no ENVELOPE/BODYSTRUCTURE.
  auto snap = backend.store().snapshot_uids_flags(s.owner, name);
  if (!snap) return snap.error();
  s.uidvalidity = snap->status.uidvalidity;
  s.uidnext = snap->status.uidnext;
  s.mailbox_id = snap->status.mailbox_id;
  s.known_modseq = snap->status.highestmodseq;
  for (const auto& m : snap->messages) {
    if (!s.first_unseen && !(m.flags.system & store::kSeen)) s.first_unseen = s.count() + 1;
    s.uids.push_back(m.uid);
    for (const auto& k : m.flags.keywords) {
      bool seen = false;
      for (const auto& e : s.keywords) seen |= iequals(e, k);
      if (!seen) s.keywords.push_back(k);
    }
  }
  std::sort(s.keywords.begin(), s.keywords.end());
  s.uids.shrink_to_fit();
  // `dirty` may already be set by a change the snapshot includes: the next sync then finds
  // nothing new, which is cheaper than missing a change made right after the snapshot.
  sel = std::move(s);
  return {};
}

}  // namespace tern::imapd
