// CONTEXT=SEARCH / CONTEXT=SORT (RFC 5267 §4): searches made with RETURN (UPDATE) stay live
// while the mailbox is selected. update_live() re-evaluates each live search when the mailbox
// changed and sends ADDTO / REMOVEFROM (imapd/live_search.*); it runs at every sync (after
// EXISTS) and before any EXPUNGE is announced. CANCELUPDATE ends them; leaving the mailbox
// ends them all.
#include <algorithm>

#include "imapd/session_impl.h"

namespace tern::imapd {

namespace {

// Live searches one session may keep; more are refused with NOUPDATE (RFC 5267 §4.3.1).
constexpr size_t kMaxLiveSearches = 10;

}  // namespace

bool Session::Impl::live_tag_free(const Command& c) {
  for (const LiveSearch& ls : sel->live)
    if (ls.tag == c.tag) {
      // The tag names the context in ADDTO/REMOVEFROM and CANCELUPDATE: two live searches
      // with one tag could not be told apart.
      bad(c.tag, "Tag already names a live search");
      return false;
    }
  return true;
}

void Session::Impl::start_live(const Command& c, bool sort, const SearchArgs& search,
                               const std::vector<SortCriterion>& criteria, const SearchReturn& ret,
                               std::vector<uint32_t> uids) {
  std::string quoted;
  write_string(quoted, c.tag, wopt());
  // RFC 5267 §4.3.1: a server may refuse to keep a context; the search itself succeeded.
  // A PARTIAL one is kept like any other: RFC 5267 §4.4 "these return options do not
  // interact -- the UPDATE will provide notifications for all matching results" (`uids`
  // holds every match, not the page).
  if (sel->live.size() >= kMaxLiveSearches) {
    untagged("NO [NOUPDATE " + quoted + "] Search results will not be updated");
    return;
  }
  auto st = backend.store().mailbox_status(sel->owner, sel->name);
  LiveSearch ls;
  ls.tag = c.tag;
  ls.uid = c.uid;
  ls.sort = sort;
  ls.search = search;
  ls.criteria = criteria;
  ls.ret = ret;
  ls.uids = std::move(uids);
  if (st) {
    ls.modseq = st->highestmodseq;
    ls.exists = st->messages;
  }
  ls.known = sel->count();
  sel->live.push_back(std::move(ls));
}

Result<std::vector<uint32_t>> Session::Impl::live_result(const LiveSearch& ls) {
  std::vector<uint32_t> uids;
  const std::string& charset = *ls.search.charset;
  if (!ls.sort) {
    Status st = for_each_match(ls.search.key, charset, [&](MessageView& view) -> Status {
      uids.push_back(view.info().uid);
      return {};
    });
    if (!st) return st.error();
    return uids;
  }
  std::vector<MessageKeys> keys;
  std::vector<uint64_t> modseqs;
  Status st = sort_keys(ls.search.key, charset, keys, modseqs);
  if (!st) return st.error();
  for (size_t i : sort_order(keys, ls.criteria)) uids.push_back(keys[i].uid);
  return uids;
}

void Session::Impl::update_live() {
  Selected& s = *sel;
  // Every change (a flag, a new message, an expunge) raises HIGHESTMODSEQ or the size, and
  // new messages count once the session announced them (EXISTS): a live search is evaluated
  // again only then.
  auto st = backend.store().mailbox_status(s.owner, s.name);
  if (!st) return;  // tried again at the next point
  auto number_of = [&](bool uid) {
    return [&s, uid](uint32_t u) -> long {
      long i = s.index_of(u);
      if (i < 0) return -1;
      return uid ? static_cast<long>(u) : i + 1;
    };
  };
  for (LiveSearch& ls : s.live) {
    if (ls.modseq == st->highestmodseq && ls.exists == st->messages && ls.known == s.count()) continue;
    auto now = live_result(ls);
    if (!now) continue;
    std::string quoted;
    write_string(quoted, ls.tag, wopt());
    for (const std::string& line : live_update_lines(ls, quoted, ls.uids, *now, number_of(ls.uid))) untagged(line);
    if (!ls.ret.update_fetch.empty()) {
      // RFC 5465 §7 / §5.2: the FETCH of each added message follows the ESEARCH ADDTO.
      std::vector<uint32_t> old = ls.uids, added;
      std::sort(old.begin(), old.end());
      for (uint32_t u : *now)
        if (!std::binary_search(old.begin(), old.end(), u)) added.push_back(u);
      notify_fetch(ls.ret.update_fetch, added);
    }
    ls.uids = std::move(*now);
    ls.modseq = st->highestmodseq;
    ls.exists = st->messages;
    ls.known = s.count();
  }
}

void Session::Impl::cmd_cancelupdate(const Command& c) {
  const auto& a = c.as<CancelUpdateArgs>();
  auto& live = sel->live;
  for (const std::string& t : a.tags)
    if (std::none_of(live.begin(), live.end(), [&](const LiveSearch& ls) { return ls.tag == t; }))
      return bad(c.tag, "No live search has that tag");
  for (const std::string& t : a.tags)
    std::erase_if(live, [&](const LiveSearch& ls) { return ls.tag == t; });
  ok(c.tag, "CANCELUPDATE completed");
}

}  // namespace tern::imapd
