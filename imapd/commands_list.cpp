// LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.8-9), with LIST-EXTENDED (RFC 5258)
// selection and return options, SPECIAL-USE (RFC 6154), CHILDREN (RFC 3348) and
// LIST-STATUS (RFC 5819).
#include <algorithm>
#include <deque>
#include <map>

#include "common/strings.h"
#include "common/codec.h"
#include "imapd/session_impl.h"

namespace tern::imapd {

namespace {

struct Entry {
  bool exists = false;
  bool subscribed = false;
  bool has_children = false;           // some existing mailbox lies below
  bool has_subscribed_child = false;   // some subscribed name lies below
  bool has_unmatched_subscribed_child = false;  // ... and one of them matches no pattern
  const store::MailboxStatus* status = nullptr;
};

// RFC 9051 §6.3.9: "*" matches anything, "%" anything but the hierarchy delimiter.
bool wildcard_match(std::string_view name, std::string_view pat) {
  // Iterative matcher with backtracking to the last "*"; "%" backtracks within a level.
  std::vector<std::vector<char>> memo(pat.size() + 1, std::vector<char>(name.size() + 1, -1));
  auto rec = [&](auto&& self, size_t p, size_t n) -> bool {
    char& m = memo[p][n];
    if (m >= 0) return m;
    bool r;
    if (p == pat.size()) {
      r = n == name.size();
    } else if (pat[p] == '*') {
      r = self(self, p + 1, n) || (n < name.size() && self(self, p, n + 1));
    } else if (pat[p] == '%') {
      r = self(self, p + 1, n) || (n < name.size() && name[n] != '/' && self(self, p, n + 1));
    } else {
      r = n < name.size() && name[n] == pat[p] && self(self, p + 1, n + 1);
    }
    m = r ? 1 : 0;
    return r;
  };
  return rec(rec, 0, 0);
}

// RFC 9051 §5.1: INBOX is case-insensitive, also as the first level of a pattern.
std::string canonical_pattern(std::string p) {
  size_t slash = p.find('/');
  std::string_view first = std::string_view(p).substr(0, slash);
  if (iequals(first, "INBOX")) p.replace(0, first.size(), "INBOX");
  return p;
}

}  // namespace

void Session::Impl::cmd_list(const Command& c) {
  const auto& a = c.as<ListArgs>();
  bool lsub = c.name == CommandName::lsub;
  const char* verb = lsub ? "LSUB" : "LIST";
  // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root name.
  if (!lsub && !a.extended && a.patterns.size() == 1 && a.patterns[0].empty()) {
    untagged("LIST (\\Noselect) \"/\" \"\"");
    return ok(c.tag, "LIST completed");
  }
  // The counts only for RETURN (STATUS ...) (RFC 5819).
  auto boxes = backend.store().list_mailboxes(user, a.return_status.has_value());
  if (!boxes) return store_error(c.tag, boxes.error());
  auto subs = backend.store().list_subscriptions(user);
  if (!subs) return store_error(c.tag, subs.error());

  std::map<std::string, Entry> names;
  auto add_parents = [&](const std::string& n, bool existing, bool subscribed) {
    for (size_t pos = n.find('/'); pos != std::string::npos; pos = n.find('/', pos + 1)) {
      Entry& p = names[n.substr(0, pos)];
      if (existing) p.has_children = true;
      if (subscribed) p.has_subscribed_child = true;
    }
  };
  for (const auto& b : *boxes) {
    Entry& e = names[b.name];
    e.exists = true;
    e.status = &b;
    add_parents(b.name, true, false);
  }
  // RFC 2342 / RFC 4314 §4: other users' mailboxes this user may look up ("l") are listed in
  // the shared namespace as #shared/<owner>/<name> (their parents as \NonExistent/\Noselect).
  auto shared = backend.store().shared_with(user);
  if (!shared) return store_error(c.tag, shared.error());
  std::deque<store::MailboxStatus> shared_status;  // stable addresses for Entry::status
  for (const auto& m : *shared) {
    std::string view = "#shared/" + m.owner + "/" + m.mailbox;
    Entry& e = names[view];
    e.exists = true;
    // LIST-STATUS (RFC 5819) needs "r" as STATUS does (RFC 4314 §4).
    if (a.return_status && (m.rights & store::acl::kRead)) {
      auto st = backend.store().mailbox_status(m.owner, m.mailbox);
      if (st) {
        st->name = view;
        st->special_use.clear();  // the owner's \\Sent is not this user's
        e.status = &shared_status.emplace_back(std::move(*st));
      }
    }
    add_parents(view, true, false);
  }
  for (const auto& s : *subs) {
    names[s].subscribed = true;
    add_parents(s, false, true);
  }

  std::vector<std::string> patterns;
  std::string ref = a.reference;
  for (const auto& p : a.patterns) {
    std::string wire = ref + p;
    std::string decoded = wire;
    if (!(imap4rev2 || utf8_accept)) {
      auto d = mutf7_decode(wire);
      if (d) decoded = std::move(d.value());
    }
    patterns.push_back(canonical_pattern(decoded));
  }

  auto matches = [&](const std::string& n) {
    for (const auto& p : patterns)
      if (wildcard_match(n, p)) return true;
    return false;
  };
  // A parent not itself selected is still listed for a subscribed descendant that the
  // patterns do not reach (RFC 3501 §6.3.9 LSUB with "%"; RFC 5258 §3.3 rule 2B).
  for (const auto& sub : *subs) {
    if (matches(sub)) continue;
    for (size_t pos = sub.find('/'); pos != std::string::npos; pos = sub.find('/', pos + 1))
      names[sub.substr(0, pos)].has_unmatched_subscribed_child = true;
  }

  bool want_subscribed = lsub || a.select_subscribed || a.return_subscribed;
  bool nonexistent_word = imap4rev2 || a.extended;
  // RFC 5258 §3.5 (and §5 examples 8, 9): LIST (SUBSCRIBED ...) answers with the attributes
  // of its selection (\Subscribed, \NonExistent); \HasChildren / \HasNoChildren describe
  // existing mailboxes, not subscriptions, and come only when RETURN (CHILDREN) asks
  // (RFC 5258 §4). Plain LIST keeps them (CHILDREN, RFC 3348, clients rely on it).
  bool children_attrs = !lsub && (!a.select_subscribed || a.return_children);
  std::vector<std::pair<std::string, const Entry*>> order;
  for (const auto& [n, e] : names) order.emplace_back(n, &e);
  // INBOX first, as clients expect.
  std::stable_partition(order.begin(), order.end(), [](const auto& p) { return p.first == "INBOX"; });

  for (const auto& [n, e] : order) {
    if (!matches(n)) continue;
    bool childinfo = false;
    bool lsub_parent = false;  // LSUB: listed only for a subscribed child below
    if (lsub || a.select_subscribed) {
      if (!e->subscribed) {
        // RFC 3501 §6.3.9: LSUB "%" returns foo (\Noselect) when only foo/bar is subscribed.
        // RFC 5258 §3.5: RECURSIVEMATCH returns such a parent with CHILDINFO.
        if (!e->has_unmatched_subscribed_child) continue;
        if (lsub)
          lsub_parent = true;
        else if (a.select_recursive_match)
          childinfo = true;
        else
          continue;
      } else {
        // RFC 5258 §3.5 table: a subscribed name with a subscribed descendant also carries
        // CHILDINFO.
        childinfo = !lsub && a.select_recursive_match && e->has_subscribed_child;
      }
    } else if (!e->exists && !e->has_children) {
      continue;  // a subscription to a vanished mailbox: only listed with SUBSCRIBED
    }
    if (a.select_special_use && (!e->status || e->status->special_use.empty())) continue;

    std::vector<std::string> attrs;
    if (lsub_parent || (lsub && !e->exists))
      attrs.push_back("\\Noselect");
    else if (!e->exists)
      attrs.push_back(nonexistent_word ? "\\NonExistent" : "\\Noselect");
    if (children_attrs) attrs.push_back(e->has_children ? "\\HasChildren" : "\\HasNoChildren");
    if (want_subscribed && e->subscribed && !lsub) attrs.push_back("\\Subscribed");
    if (!lsub && e->status && !e->status->special_use.empty()) attrs.push_back(e->status->special_use);
    ResponseBuilder b(wopt());
    b.raw(verb).sp().raw("(");
    for (size_t i = 0; i < attrs.size(); ++i) b.raw(i ? " " : "").raw(attrs[i]);
    b.raw(") \"/\" ").mailbox(n);
    if (childinfo && !lsub) b.raw(" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
    untagged(b.str());
    // RFC 5819 §2: a STATUS response after each LIST response of a selectable mailbox.
    if (a.return_status && e->status && !lsub) untagged(status_line(*e->status, *a.return_status, n));
  }
  ok(c.tag, std::string(verb) + " completed");
}

}  // namespace tern::imapd
