// Private to imapd/: IMAP NOTIFY (RFC 5465), the command's grammar (§8) and the state a
// session keeps while NOTIFY SET is in force (imapd/notify.cpp).
//
// Events for mailboxes other than the selected one come from Store::watch_account callbacks
// (run on the committing thread): they only record what changed in a NotifyInbox and call the
// backend's change notifier, as the selected mailbox's watch does; the daemon then schedules
// Session::on_mailbox_changed() on the session's strand, which writes the STATUS / LIST
// responses between commands or in IDLE (RFC 5465 §1: at any time). Every store read happens
// there, on a worker, never on the loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "imapd/fetch_item.h"
#include "store/store.h"

namespace tern::imapd {

// RFC 5465 §5: the events Tern reports (bits of NotifyGroup::events).
namespace notify_event {
inline constexpr unsigned kMessageNew = 1, kMessageExpunge = 2, kFlagChange = 4, kMailboxName = 8,
                          kSubscriptionChange = 16;
inline constexpr unsigned kMessageEvents = kMessageNew | kMessageExpunge | kFlagChange;
inline constexpr unsigned kMailboxEvents = kMailboxName | kSubscriptionChange;
// RFC 5465 §3.1: what NO [BADEVENT (...)] lists, the events this server supports.
inline constexpr std::string_view kSupported = "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange";
}  // namespace notify_event

// One event group (RFC 5465 §8 event-group): a mailbox filter and its events.
struct NotifyGroup {
  enum class Filter { selected, selected_delayed, inboxes, personal, subscribed, subtree, mailboxes };
  Filter filter = Filter::personal;
  std::vector<std::string> names;  // subtree / mailboxes: as sent (wire form) until decoded
  unsigned events = 0;             // notify_event bits; 0 = NONE
  std::vector<FetchItem> fetch;    // MessageNew's fetch-att list (selected filters only)
  bool is_selected() const { return filter == Filter::selected || filter == Filter::selected_delayed; }
};

struct NotifyArgs {
  bool none = false;    // NOTIFY NONE
  bool status = false;  // NOTIFY SET STATUS
  std::vector<NotifyGroup> groups;
  bool unsupported = false;  // an event Tern does not report (RFC 5465 §3.1: NO [BADEVENT])
};

// Parses a framed NOTIFY command (tag included, no final CRLF). Errc::syntax: the command is
// BAD (grammar, or the combinations RFC 5465 §5 forbids), with the reason.
Result<NotifyArgs> parse_notify(std::string_view framed);

// Filled by the store's account watch callbacks (any thread), emptied on the strand.
struct NotifyInbox {
  std::mutex mu;
  std::set<std::pair<std::string, std::string>> changed;  // (owner address, mailbox name)
  bool listing = false;   // a mailbox list / subscription / ACL change
  bool overflow = false;  // more than SessionSettings::notify_max_pending changes waited
};

struct NotifyState {
  std::optional<NotifyGroup> selected;  // the selected / selected-delayed group, if any
  std::vector<NotifyGroup> others;      // the other filters, names decoded to UTF-8
  std::shared_ptr<NotifyInbox> inbox = std::make_shared<NotifyInbox>();
  std::map<std::string, store::WatchHandle> watches;  // account watches, by owner address
  // What the client was last told (or had at NOTIFY SET) of each mailbox, by client name.
  struct Known {
    uint32_t messages = 0, uidnext = 0, uidvalidity = 0, unseen = 0;
    uint64_t highestmodseq = 0;
  };
  std::map<std::string, Known> known;
  // The mailboxes this user sees (client name -> RFC 8474 MAILBOXID, "" for shared ones) and
  // the subscriptions, as last listed: MailboxName / SubscriptionChange are their differences.
  std::map<std::string, std::string> listed;
  std::set<std::string> subscriptions;
};

}  // namespace tern::imapd
