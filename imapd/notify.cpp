// IMAP NOTIFY (RFC 5465): NOTIFY SET / NOTIFY NONE, and writing the events the client asked
// for. The grammar is in notify_parse.cpp, the state in notify.h.
//
// Choices (the RFC leaves them to the server):
//  * "inboxes" (§6) is INBOX: Tern delivers new mail to INBOX only.
//  * STATUS for another mailbox (§5.1 FlagChange, §5.2 MessageNew, §5.3 MessageExpunge)
//    carries MESSAGES UIDNEXT UIDVALIDITY UNSEEN (and HIGHESTMODSEQ once CONDSTORE is
//    enabled), and is sent only when what the client asked for changed: MESSAGES/UIDNEXT/
//    UIDVALIDITY for MessageNew/MessageExpunge, UNSEEN or HIGHESTMODSEQ for FlagChange.
//  * The selected mailbox is left out of the other filters (§5: EXISTS, EXPUNGE and FETCH
//    report its changes). With no "selected" group it keeps the base RFC 9051 §7.5.1
//    behaviour (updates when a command completes and in IDLE); "(selected NONE)" freezes it
//    (no updates at all) until the next NOTIFY.
//  * MessageNew's fetch-att never sets \Seen (a BODY[] without PEEK is read as BODY.PEEK[]):
//    a notification must not change the mailbox.
#include <algorithm>
#include <iterator>

#include "common/strings.h"
#include "imapd/fetch.h"
#include "imapd/session_impl.h"

namespace tern::imapd {

namespace ev = notify_event;
using Filter = NotifyGroup::Filter;

namespace {

constexpr std::string_view kSharedPrefix = "#shared/";

bool in_subtree(const std::string& view, const std::string& root) {
  return view == root || (view.size() > root.size() && view.compare(0, root.size(), root) == 0 && view[root.size()] == '/');
}

}  // namespace

std::string Session::Impl::notify_own_key() const { return ascii_lower(user); }

std::string Session::Impl::notify_view(const std::string& owner, const std::string& name) const {
  if (owner == notify_own_key()) return name;
  return std::string(kSharedPrefix) + owner + "/" + name;
}

unsigned Session::Impl::notify_events_for(const std::string& view) const {
  const NotifyState& n = *notify;
  unsigned events = 0;
  for (const NotifyGroup& g : n.others) {
    bool match = false;
    switch (g.filter) {
      case Filter::inboxes: match = view == "INBOX"; break;  // RFC 5465 §6
      case Filter::personal: match = !in_shared_namespace(view); break;  // §6
      case Filter::subscribed: match = n.subscriptions.count(view) > 0; break;  // §6
      case Filter::subtree:  // §6
        for (const auto& root : g.names) match |= in_subtree(view, root);
        break;
      case Filter::mailboxes:  // §6
        for (const auto& m : g.names) match |= view == m;
        break;
      case Filter::selected:
      case Filter::selected_delayed: break;
    }
    if (match) events |= g.events;
  }
  return events;
}

void Session::Impl::cmd_notify(const Command& c) {
  std::string_view framed = raw_head;
  while (!framed.empty() && (framed.back() == '\n' || framed.back() == '\r')) framed.remove_suffix(1);
  if (raw_head.size() >= kRawHeadMax) return bad(c.tag, "NOTIFY command too long");
  auto args = parse_notify(framed);
  if (!args) return bad(c.tag, args.error().message);
  if (args->none) {
    // RFC 5465 §3: NOTIFY NONE turns every notification off (the watches go with it).
    notify.reset();
    if (sel) sync_selected(true);  // §3.1: NOTIFY does what NOOP does (see below)
    return ok(c.tag, "NOTIFY completed");
  }
  // RFC 5465 §3.1: an event the server does not support fails the whole command, and the
  // BADEVENT response code lists the ones it does.
  if (args->unsupported)
    return no(c.tag, "Unsupported event", ResponseCode{"BADEVENT", "(" + std::string(ev::kSupported) + ")"});
  auto next = std::make_unique<NotifyState>();
  for (NotifyGroup& g : args->groups) {
    if (g.is_selected()) {
      next->selected = std::move(g);
      continue;
    }
    for (auto& wire : g.names) {
      auto name = decode_mailbox(wire);
      if (!name) return bad(c.tag, std::string(text::InvalidName));
      wire = std::move(*name);
    }
    next->others.push_back(std::move(g));
  }
  // The new set replaces the old one (RFC 5465 §3.1), watches included.
  notify = std::move(next);
  notify_listing(false);
  // RFC 5465 §3.1: with STATUS, a STATUS response for every mailbox the message events now
  // cover (not the selected one, §5); without, what the client is assumed to know is taken
  // silently, so later STATUS responses say only what changed.
  for (const auto& [view, id] : notify->listed) {
    if (sel && view == sel->view) continue;
    unsigned e = notify_events_for(view);
    if (!(e & ev::kMessageEvents)) continue;
    std::string owner = notify_own_key(), name = view;
    if (in_shared_namespace(view)) {
      std::string_view rest = std::string_view(view).substr(kSharedPrefix.size());
      size_t slash = rest.find('/');
      owner = std::string(rest.substr(0, slash));
      name = std::string(rest.substr(slash + 1));
    }
    notify_status(owner, name, view, e, args->status ? NotifyReport::initial : NotifyReport::baseline);
  }
  // RFC 5465 §3.1: NOTIFY also does what NOOP does for the selected mailbox (under the new
  // rules: nothing with "(selected NONE)").
  if (sel) sync_selected(true);
  ok(c.tag, "NOTIFY completed");
}

void Session::Impl::notify_status(const std::string& owner, const std::string& name, const std::string& view,
                                  unsigned events, NotifyReport report) {
  NotifyState& n = *notify;
  if (owner != notify_own_key()) {
    // RFC 4314 §4: STATUS needs "r"; no events of mailboxes the user may not read. RFC 5465
    // §3.1: one that may be listed but not read is named \NoAccess when NOTIFY SET takes it in.
    auto rights = backend.store().rights(owner, name, user);
    if (!rights || !(*rights & store::acl::kRead)) {
      n.known.erase(view);
      if (rights && report != NotifyReport::change && (*rights & store::acl::kLookup))
        notify_list_line(view, "\\NoAccess", nullptr);
      return;
    }
  }
  auto st = backend.store().mailbox_status(owner, name);
  if (!st) {
    n.known.erase(view);  // deleted meanwhile: MailboxName says so
    return;
  }
  NotifyState::Known k{st->messages, st->uidnext, st->uidvalidity, st->unseen, st->highestmodseq};
  auto it = n.known.find(view);
  bool send = report == NotifyReport::initial || (report == NotifyReport::change && it == n.known.end());
  if (report == NotifyReport::change && it != n.known.end()) {
    const auto& o = it->second;
    // RFC 5465 §5.2/§5.3: new and expunged messages show in MESSAGES and UIDNEXT.
    if ((events & (ev::kMessageNew | ev::kMessageExpunge)) &&
        (o.messages != k.messages || o.uidnext != k.uidnext || o.uidvalidity != k.uidvalidity))
      send = true;
    // RFC 5465 §5.1: a flag change shows in UNSEEN (and HIGHESTMODSEQ).
    if ((events & ev::kFlagChange) && (o.unseen != k.unseen || o.highestmodseq != k.highestmodseq)) send = true;
  }
  n.known[view] = k;
  if (!send) return;
  ResponseBuilder b(wopt());
  b.raw("STATUS ").mailbox(view).raw(" (MESSAGES ").number(k.messages).raw(" UIDNEXT ").number(k.uidnext);
  b.raw(" UIDVALIDITY ").number(k.uidvalidity).raw(" UNSEEN ").number(k.unseen);
  // RFC 5465 §5.1 with RFC 7162: HIGHESTMODSEQ once the client uses CONDSTORE.
  if (condstore) b.raw(" HIGHESTMODSEQ ").number(k.highestmodseq);
  b.raw(")");
  untagged(b.str());
}

void Session::Impl::notify_list_line(const std::string& view, std::string_view attrs, const std::string* old_name) {
  ResponseBuilder b(wopt());
  b.raw("LIST (").raw(attrs).raw(") \"/\" ").mailbox(view);
  // RFC 5465 §5.4: a renamed mailbox is listed with its old name (RFC 5258 §3.3 OLDNAME).
  if (old_name) b.raw(" (\"OLDNAME\" (").mailbox(*old_name).raw("))");
  untagged(b.str());
}

void Session::Impl::notify_listing(bool emit) {
  NotifyState& n = *notify;
  auto own = backend.store().list_mailboxes(user);
  if (!own) return;  // tried again at the next change
  std::map<std::string, std::string> now;
  std::set<std::string> owners;
  for (const auto& m : *own) now[m.name] = m.mailbox_id;
  // RFC 4314 §4: other users' mailboxes only where this user holds "l" (shared_with).
  if (auto shared = backend.store().shared_with(user)) {
    for (const auto& m : *shared) {
      std::string view = std::string(kSharedPrefix) + m.owner + "/" + m.mailbox;
      now[view] = "";
    }
  }
  std::set<std::string> subs;
  if (auto s = backend.store().list_subscriptions(user)) subs.insert(s->begin(), s->end());

  if (emit) {
    // Events of a mailbox that is gone are those its name had before (old subscriptions).
    std::vector<std::string> removed, added;
    for (const auto& [v, id] : n.listed)
      if (!now.count(v)) removed.push_back(v);
    for (const auto& [v, id] : now)
      if (!n.listed.count(v)) added.push_back(v);
    std::map<std::string, std::string> removed_by_id;
    for (const auto& v : removed)
      if (!n.listed[v].empty()) removed_by_id[n.listed[v]] = v;
    std::set<std::string> renamed;
    for (const auto& v : added) {
      // RFC 8474 §4: RENAME keeps the MAILBOXID, which tells a rename from a delete + create.
      auto it = now[v].empty() ? removed_by_id.end() : removed_by_id.find(now[v]);
      unsigned events = notify_events_for(v);
      if (it != removed_by_id.end()) {
        const std::string old = it->second;
        renamed.insert(old);
        if ((events | notify_events_for(old)) & ev::kMailboxName) notify_list_line(v, "", &old);
        if (auto k = n.known.find(old); k != n.known.end()) {
          n.known[v] = k->second;
          n.known.erase(old);
        }
      } else if (events & ev::kMailboxName) {
        notify_list_line(v, subs.count(v) ? "\\Subscribed" : "", nullptr);
      }
    }
    for (const auto& v : removed) {
      if (renamed.count(v)) continue;
      // RFC 5465 §5.4: a deleted mailbox (or one the user may no longer see) is \NonExistent.
      if (notify_events_for(v) & ev::kMailboxName) notify_list_line(v, "\\NonExistent", nullptr);
      n.known.erase(v);
    }
    // RFC 5465 §5.5: SubscriptionChange is a LIST with or without \Subscribed.
    for (const auto& v : subs) {
      if (n.subscriptions.count(v)) continue;
      n.subscriptions.insert(v);  // so that a "subscribed" filter covers it now
      if (notify_events_for(v) & ev::kSubscriptionChange)
        notify_list_line(v, now.count(v) ? "\\Subscribed" : "\\Subscribed \\NonExistent", nullptr);
    }
    for (const auto& v : std::set<std::string>(n.subscriptions)) {
      if (subs.count(v)) continue;
      if (notify_events_for(v) & ev::kSubscriptionChange)
        notify_list_line(v, now.count(v) ? "" : "\\NonExistent", nullptr);
      n.subscriptions.erase(v);
    }
  }
  n.listed = std::move(now);
  n.subscriptions = std::move(subs);

  // Account watches: this user's own when any filter covers another mailbox, and those of
  // the owners of shared mailboxes a filter covers.
  std::string own_key = notify_own_key();
  if (!n.others.empty()) owners.insert(own_key);
  auto owner_of = [](std::string_view view) {
    std::string_view rest = view.substr(kSharedPrefix.size());
    return ascii_lower(rest.substr(0, rest.find('/')));
  };
  for (const auto& [v, id] : n.listed)
    if (in_shared_namespace(v) && notify_events_for(v)) owners.insert(owner_of(v));
  // A shared mailbox named outright may be readable ("r") without being listed ("l").
  for (const NotifyGroup& g : n.others)
    for (const auto& v : g.names)
      if (v.size() > kSharedPrefix.size() && v.compare(0, kSharedPrefix.size(), kSharedPrefix) == 0 &&
          v.find('/', kSharedPrefix.size()) != std::string::npos)
        owners.insert(owner_of(v));
  for (auto it = n.watches.begin(); it != n.watches.end();)
    it = owners.count(it->first) ? std::next(it) : n.watches.erase(it);
  for (const auto& owner : owners) {
    if (n.watches.count(owner)) continue;
    auto inbox = n.inbox;
    auto wake = backend.change_notifier();
    size_t max = settings.notify_max_pending;
    auto w = backend.store().watch_account(owner, [inbox, wake, owner, max](const store::Store::AccountChange& ch) {
      {
        std::lock_guard lock(inbox->mu);
        for (const auto& m : ch.mailboxes) inbox->changed.emplace(owner, m);
        inbox->listing |= ch.listing;
        // RFC 5465 §5.8: past this, the client is told NOTIFICATIONOVERFLOW instead.
        if (inbox->changed.size() > max) {
          inbox->overflow = true;
          inbox->changed.clear();
        }
      }
      if (wake) wake();
    });
    if (w) n.watches.emplace(owner, std::move(*w));
  }
}

void Session::Impl::notify_deliver() {
  if (!notify) return;
  std::set<std::pair<std::string, std::string>> changed;
  bool listing = false, overflow = false;
  {
    std::lock_guard lock(notify->inbox->mu);
    changed.swap(notify->inbox->changed);
    listing = std::exchange(notify->inbox->listing, false);
    overflow = std::exchange(notify->inbox->overflow, false);
  }
  if (overflow) {
    // RFC 5465 §5.8: the server could not keep up; it says so and behaves as after NOTIFY
    // NONE from then on (the client issues NOTIFY SET again to resynchronise).
    out.bytes += untagged_status(Condition::ok, "Too many changes; notifications are off",
                                 ResponseCode{"NOTIFICATIONOVERFLOW", ""});
    notify.reset();
    return;
  }
  // Renames first: a renamed mailbox's STATUS then goes under its new name.
  if (listing) notify_listing(true);
  for (const auto& [owner, name] : changed) {
    std::string view = notify_view(owner, name);
    if (sel && view == sel->view) continue;  // RFC 5465 §5: EXISTS/EXPUNGE/FETCH cover it
    unsigned e = notify_events_for(view);
    if (e & ev::kMessageEvents) notify_status(owner, name, view, e, NotifyReport::change);
    if (!notify) return;
  }
}

bool Session::Impl::notify_immediate_expunge() const {
  // RFC 5465 §6.1: with "selected" (not "selected-delayed") expunges are reported as they
  // happen, even where RFC 9051 §7.5.1 would hold them back; the client uses UIDs.
  return notify && notify->selected && notify->selected->filter == Filter::selected &&
         (notify->selected->events & ev::kMessageExpunge);
}

bool Session::Impl::notify_flag_uid() const {
  // RFC 5465 §5.1: FlagChange in the selected mailbox is a FETCH with UID and FLAGS.
  return notify && notify->selected && (notify->selected->events & ev::kFlagChange);
}

void Session::Impl::sync_selected(bool allow_expunge) {
  if (!sel) return;
  // RFC 5465 §5 / §8 (events = "NONE"): "(selected NONE)" asks for no events of the selected
  // mailbox; its changes wait (dirty) until the client says otherwise with another NOTIFY.
  if (notify && notify->selected && notify->selected->events == 0) return;
  uint32_t before = sel->max_uid();
  sync(allow_expunge);
  if (!sel || !notify || !notify->selected || notify->selected->fetch.empty()) return;
  // RFC 5465 §5.2: the fetch-att of MessageNew, for each new message, after its EXISTS.
  std::vector<uint32_t> uids;
  for (size_t i = sel->uids.lower_bound(before + 1); i < sel->count(); ++i) uids.push_back(sel->uid_at(i));
  notify_fetch(notify->selected->fetch, uids);
}

void Session::Impl::notify_fetch(const std::vector<FetchItem>& items, const std::vector<uint32_t>& uids) {
  if (uids.empty() || items.empty()) return;
  std::vector<std::string> paths;
  auto infos = backend.store().messages(sel->owner, sel->name, uids, fetch_needs_bytes(items) ? &paths : nullptr);
  if (!infos) return;
  FetchContext ctx;
  ctx.utf8_accept = utf8_accept;
  ctx.imap4rev2 = imap4rev2;
  ctx.condstore = condstore;
  const std::vector<std::string> names = response_names(items);
  for (size_t j = 0; j < infos->size(); ++j) {
    uint32_t uid = (*infos)[j].uid;
    long i = sel->index_of(uid);
    if (i < 0) continue;
    std::string path = paths.size() == infos->size() ? paths[j] : std::string();
    MessageView view(static_cast<uint32_t>(i + 1), std::move((*infos)[j]), [this, uid, path]() {
      return backend.store().read_message(sel->owner, sel->name, store::Store::MessageFile{uid, 0, path});
    });
    ctx.recent = sel->is_recent(uid);
    (void)render_fetch_into(out.bytes, items, names, view, ctx);  // expunged meanwhile: left out
  }
}

}  // namespace tern::imapd
