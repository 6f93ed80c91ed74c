// The NOTIFY command's grammar (RFC 5465 §8) and the event combinations §5 forbids. The
// command parser (command.cpp) has no NOTIFY grammar: the session hands the raw command here,
// as it does for QUOTA and ACL.
#include "common/strings.h"
#include "imapd/imap_parser.h"
#include "imapd/notify.h"

namespace tern::imapd {

namespace {

using detail::TokenReader;
using Filter = NotifyGroup::Filter;
namespace ev = notify_event;

Error syntax(std::string message) { return make_error(Errc::syntax, std::move(message)); }

// one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
bool mailbox_list(TokenReader& r, std::vector<std::string>& out) {
  if (!r.consume('(')) {
    auto m = r.mailbox();
    if (!m) return false;
    out.push_back(std::move(*m));
    return true;
  }
  do {
    auto m = r.mailbox();
    if (!m) return false;
    out.push_back(std::move(*m));
  } while (r.consume(' '));
  return r.expect(')', "expected )");
}

// filter-mailboxes (RFC 5465 §8).
bool filter(TokenReader& r, NotifyGroup& g) {
  auto word = r.atom();
  if (!word) return false;
  if (iequals(*word, "selected")) g.filter = Filter::selected;
  else if (iequals(*word, "selected-delayed")) g.filter = Filter::selected_delayed;
  else if (iequals(*word, "inboxes")) g.filter = Filter::inboxes;
  else if (iequals(*word, "personal")) g.filter = Filter::personal;
  else if (iequals(*word, "subscribed")) g.filter = Filter::subscribed;
  else if (iequals(*word, "subtree")) g.filter = Filter::subtree;
  else if (iequals(*word, "mailboxes")) g.filter = Filter::mailboxes;
  else return r.fail("unknown mailbox filter");
  if (g.filter == Filter::subtree || g.filter == Filter::mailboxes) return r.sp() && mailbox_list(r, g.names);
  return true;
}

// events = ( "(" event *(SP event) ")" ) / "NONE"
bool events(TokenReader& r, NotifyGroup& g, bool& unsupported) {
  if (r.keyword("NONE")) return true;
  if (!r.expect('(', "expected ( or NONE")) return false;
  do {
    auto word = r.atom();
    if (!word) return false;
    if (iequals(*word, "MessageNew")) {
      g.events |= ev::kMessageNew;
      // message-event = "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]
      TokenReader probe = r;
      if (probe.consume(' ') && probe.consume('(')) {
        r = probe;
        do {
          if (!detail::parse_fetch_att(r, g.fetch, false)) return false;
        } while (r.consume(' '));
        if (!r.expect(')', "expected ) after fetch-att")) return false;
      }
    } else if (iequals(*word, "MessageExpunge")) {
      g.events |= ev::kMessageExpunge;
    } else if (iequals(*word, "FlagChange")) {
      g.events |= ev::kFlagChange;
    } else if (iequals(*word, "MailboxName")) {
      g.events |= ev::kMailboxName;
    } else if (iequals(*word, "SubscriptionChange")) {
      g.events |= ev::kSubscriptionChange;
    } else if (iequals(*word, "AnnotationChange")) {
      // RFC 5465 §5.1: like FlagChange it needs MessageNew and MessageExpunge (checked by
      // the caller through `annotation`); Tern keeps no per-message annotations: BADEVENT.
      unsupported = true;
      g.events |= 0x100;
    } else {
      // MailboxMetadataChange, ServerMetadataChange (§5.6, §5.7) and event-ext atoms: Tern
      // does not report them, which §3.1 answers with NO [BADEVENT].
      unsupported = true;
    }
  } while (r.consume(' '));
  return r.expect(')', "expected )");
}

}  // namespace

Result<NotifyArgs> parse_notify(std::string_view framed) {
  TokenReader r(framed);
  NotifyArgs out;
  if (!(r.atom(true) && r.sp() && r.keyword("NOTIFY") && r.sp())) return syntax("Syntax error in NOTIFY");
  if (r.keyword("NONE")) {
    if (!r.end()) return syntax("Syntax error in NOTIFY NONE");
    out.none = true;
    return out;
  }
  if (!r.keyword("SET") || !r.sp()) return syntax("NOTIFY SET or NOTIFY NONE expected");
  // notify-set = "SET" [status-indicator] SP event-groups; status-indicator = SP "STATUS"
  if (r.keyword("STATUS")) {
    out.status = true;
    if (!r.sp()) return syntax("Syntax error in NOTIFY SET STATUS");
  }
  bool selected_seen = false;
  do {
    NotifyGroup g;
    bool unsupported = false;
    if (!(r.expect('(', "expected event group") && filter(r, g) && r.sp() && events(r, g, unsupported) &&
          r.expect(')', "expected ) after events")))
      return syntax("Syntax error in NOTIFY: " + r.error());
    out.unsupported |= unsupported;
    bool annotation = g.events & 0x100;
    g.events &= ~0x100u;
    unsigned both = ev::kMessageNew | ev::kMessageExpunge;
    // RFC 5465 §5: MessageNew and MessageExpunge go together; FlagChange and AnnotationChange
    // need both of them.
    if ((g.events & both) != 0 && (g.events & both) != both)
      return syntax("MessageNew and MessageExpunge must be requested together");
    if ((g.events & ev::kFlagChange || annotation) && (g.events & both) != both)
      return syntax("FlagChange and AnnotationChange need MessageNew and MessageExpunge");
    if (g.is_selected()) {
      // RFC 5465 §6.1: only message events apply to the selected mailbox, and it is
      // named once (selected or selected-delayed).
      if (g.events & ev::kMailboxEvents) return syntax("Mailbox events cannot apply to the selected mailbox");
      if (selected_seen) return syntax("The selected mailbox is named in more than one event group");
      selected_seen = true;
    } else if (!g.fetch.empty()) {
      // RFC 5465 §5.2 / §8: the fetch-att list is only for the selected mailbox.
      return syntax("MessageNew fetch attributes apply to the selected mailbox only");
    }
    out.groups.push_back(std::move(g));
  } while (r.consume(' '));
  if (!r.end()) return syntax("Syntax error in NOTIFY: " + r.error());
  return out;
}

}  // namespace tern::imapd
