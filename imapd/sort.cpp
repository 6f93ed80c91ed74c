// SORT orderings and THREAD trees (RFC 5256 §3, §4); the keys come from sort_keys.cpp.
#include "imapd/sort.h"

#include <algorithm>
#include <unordered_map>

namespace tern::imapd {

namespace {

// ---- threads --------------------------------------------------------------------------------

struct Container {
  int msg = -1;  // index into msgs, -1 for a dummy
  int parent = -1;
  std::vector<int> children;
};

class Forest {
 public:
  explicit Forest(const std::vector<MessageKeys>& msgs) : msgs_(msgs) {}

  int add(int msg) {
    nodes_.push_back(Container{msg, -1, {}});
    return static_cast<int>(nodes_.size()) - 1;
  }
  Container& at(int i) { return nodes_[static_cast<size_t>(i)]; }
  size_t size() const { return nodes_.size(); }

  bool is_ancestor(int maybe_ancestor, int node) {
    for (int p = node; p != -1; p = at(p).parent)
      if (p == maybe_ancestor) return true;
    return false;
  }
  void unlink(int child) {
    int p = at(child).parent;
    if (p == -1) return;
    auto& ch = at(p).children;
    ch.erase(std::find(ch.begin(), ch.end(), child));
    at(child).parent = -1;
  }
  void link(int parent, int child) {
    unlink(child);
    at(child).parent = parent;
    at(parent).children.push_back(child);
  }

  // (sent date, sequence) of a container: its message's, or its first child's for a dummy
  // (children already sorted).
  std::pair<int64_t, uint32_t> date_key(int c) {
    while (at(c).msg == -1 && !at(c).children.empty()) c = at(c).children.front();
    if (at(c).msg == -1) return {0, 0};
    const MessageKeys& m = msgs_[static_cast<size_t>(at(c).msg)];
    return {m.sent_date, m.seq};
  }
  void sort_siblings(std::vector<int>& v) {
    std::stable_sort(v.begin(), v.end(), [&](int a, int b) { return date_key(a) < date_key(b); });
  }

  // Containers below `roots`, every child after its parent (reverse: children first).
  std::vector<int> preorder(const std::vector<int>& roots) {
    std::vector<int> out, stack(roots.rbegin(), roots.rend());
    while (!stack.empty()) {
      int c = stack.back();
      stack.pop_back();
      out.push_back(c);
      for (auto it = at(c).children.rbegin(); it != at(c).children.rend(); ++it) stack.push_back(*it);
    }
    return out;
  }

  // RFC 5256 §4 thread: "(" thread-members / thread-nested ")" per root.
  std::string render(const std::vector<int>& roots, bool use_uid) {
    std::string out;
    struct Item {
      int node;         // -1: emit text
      const char* text;
    };
    std::vector<Item> stack;
    for (auto it = roots.rbegin(); it != roots.rend(); ++it) {
      stack.push_back({-1, ")"});
      stack.push_back({*it, nullptr});
      stack.push_back({-1, "("});
    }
    while (!stack.empty()) {
      Item item = stack.back();
      stack.pop_back();
      if (item.node == -1) {
        out += item.text;
        continue;
      }
      const Container& c = at(item.node);
      if (c.msg != -1) {
        const MessageKeys& m = msgs_[static_cast<size_t>(c.msg)];
        out += std::to_string(use_uid ? m.uid : m.seq);
        if (!c.children.empty()) out += ' ';
      }
      if (c.children.size() == 1) {
        stack.push_back({c.children.front(), nullptr});  // a chain: "a b c"
      } else {
        for (auto it = c.children.rbegin(); it != c.children.rend(); ++it) {
          stack.push_back({-1, ")"});
          stack.push_back({*it, nullptr});
          stack.push_back({-1, "("});
        }
      }
    }
    return out;
  }

 private:
  const std::vector<MessageKeys>& msgs_;
  std::vector<Container> nodes_;
};

}  // namespace

std::vector<size_t> sort_order(const std::vector<MessageKeys>& msgs, const std::vector<SortCriterion>& criteria) {
  std::vector<size_t> order(msgs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto cmp_one = [](const MessageKeys& a, const MessageKeys& b, SortKey key) -> int {
    auto three = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
    switch (key) {
      case SortKey::arrival: return three(a.internal_date, b.internal_date);
      case SortKey::date: return three(a.sent_date, b.sent_date);
      case SortKey::size: return three(a.size, b.size);
      case SortKey::subject: return three(a.subject, b.subject);
      case SortKey::from: return three(a.from, b.from);
      case SortKey::to: return three(a.to, b.to);
      case SortKey::cc: return three(a.cc, b.cc);
      case SortKey::display_from: return three(a.display_from, b.display_from);
      case SortKey::display_to: return three(a.display_to, b.display_to);
    }
    return 0;
  };
  // RFC 5256 §3: full ties are broken by sequence number.
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    for (const SortCriterion& c : criteria) {
      int r = cmp_one(msgs[x], msgs[y], c.key);
      if (r != 0) return c.reverse ? r > 0 : r < 0;
    }
    return msgs[x].seq < msgs[y].seq;
  });
  return order;
}

std::string thread_orderedsubject(const std::vector<MessageKeys>& msgs, bool use_uid) {
  // RFC 5256 §3 ORDEREDSUBJECT: sort by base subject then sent date; each run of one subject
  // is a thread whose first message is the parent of all the others; threads in the order of
  // their first messages' sent dates.
  auto order = sort_order(msgs, {{SortKey::subject, false}, {SortKey::date, false}});
  Forest f(msgs);
  std::vector<int> roots;
  for (size_t i = 0; i < order.size(); ++i) {
    int c = f.add(static_cast<int>(order[i]));
    if (i > 0 && msgs[order[i]].subject == msgs[order[i - 1]].subject)
      f.link(roots.back(), c);
    else
      roots.push_back(c);
  }
  f.sort_siblings(roots);
  return f.render(roots, use_uid);
}

std::string thread_references(const std::vector<MessageKeys>& msgs, bool use_uid) {
  Forest f(msgs);
  std::unordered_map<std::string, int> by_id;
  auto container_for = [&](const std::string& id) {
    auto [it, fresh] = by_id.emplace(id, -1);
    if (fresh) it->second = f.add(-1);
    return it->second;
  };
  // (1) Containers per message-id, linked along each message's references.
  for (size_t i = 0; i < msgs.size(); ++i) {
    const MessageKeys& m = msgs[i];
    int self;
    // (1A) No or duplicate Message-ID: the message gets a container of its own.
    if (m.message_id.empty()) {
      self = f.add(static_cast<int>(i));
    } else {
      self = container_for(m.message_id);
      if (f.at(self).msg != -1) self = f.add(static_cast<int>(i));
      else f.at(self).msg = static_cast<int>(i);
    }
    // (1B) Each reference the parent of the next, unless already parented or a loop.
    int prev = -1;
    for (const std::string& ref : m.references) {
      int c = container_for(ref);
      if (prev != -1 && c != prev && f.at(c).parent == -1 && !f.is_ancestor(c, prev)) f.link(prev, c);
      prev = c;
    }
    // (1C) The last reference becomes the message's parent (replacing any other), unless
    // that would make a loop; with no references the message has no parent.
    if (prev != -1 && prev != self && !f.is_ancestor(self, prev))
      f.link(prev, self);
    else if (prev == -1)
      f.unlink(self);
  }
  // (2) The root set.
  std::vector<int> roots;
  for (size_t c = 0; c < f.size(); ++c)
    if (f.at(static_cast<int>(c)).parent == -1) roots.push_back(static_cast<int>(c));
  // (4) Prune dummies, children before parents: an empty dummy goes, a dummy with children
  // is replaced by them (at the root only when it has just one).
  auto pre = f.preorder(roots);
  for (auto it = pre.rbegin(); it != pre.rend(); ++it) {
    Container& c = f.at(*it);
    std::vector<int> kept;
    for (int ch : c.children) {
      if (f.at(ch).msg != -1) {
        kept.push_back(ch);
        continue;
      }
      for (int g : f.at(ch).children) {
        f.at(g).parent = *it;
        kept.push_back(g);
      }
      f.at(ch).children.clear();
      f.at(ch).parent = -1;
    }
    c.children = std::move(kept);
  }
  std::vector<int> pruned;
  for (int r : roots) {
    Container& c = f.at(r);
    if (c.msg != -1 || c.children.size() > 1) {
      pruned.push_back(r);
    } else if (c.children.size() == 1) {
      int only = c.children.front();
      f.at(only).parent = -1;
      c.children.clear();
      pruned.push_back(only);
    }
  }
  roots = std::move(pruned);
  // (6, early) Children in date order, so a dummy's "first child" below is well defined.
  pre = f.preorder(roots);
  for (auto it = pre.rbegin(); it != pre.rend(); ++it) f.sort_siblings(f.at(*it).children);
  // (5) Roots with the same base subject gathered together.
  auto subject_msg = [&](int c) -> const MessageKeys* {
    if (f.at(c).msg == -1) {
      if (f.at(c).children.empty()) return nullptr;
      c = f.at(c).children.front();
      if (f.at(c).msg == -1) return nullptr;
    }
    return &msgs[static_cast<size_t>(f.at(c).msg)];
  };
  std::unordered_map<std::string, int> table;
  for (int r : roots) {
    const MessageKeys* m = subject_msg(r);
    if (!m || m->subject.empty()) continue;
    auto [it, fresh] = table.emplace(m->subject, r);
    if (fresh) continue;
    int old = it->second;
    bool r_dummy = f.at(r).msg == -1, old_dummy = f.at(old).msg == -1;
    // (5B) Prefer a dummy, then a message whose subject is not a reply or forward.
    if ((r_dummy && !old_dummy) || (!r_dummy && !old_dummy && subject_msg(old)->reply_or_forward &&
                                    !m->reply_or_forward))
      it->second = r;
  }
  std::vector<bool> gone(f.size(), false);
  std::vector<int> merged;
  for (int r : roots) {
    if (gone[static_cast<size_t>(r)]) continue;
    const MessageKeys* m = subject_msg(r);
    auto it = (m && !m->subject.empty()) ? table.find(m->subject) : table.end();
    if (it == table.end() || it->second == r) {
      merged.push_back(r);
      continue;
    }
    int t = it->second;
    bool r_dummy = f.at(r).msg == -1, t_dummy = f.at(t).msg == -1;
    gone[static_cast<size_t>(r)] = true;
    if (r_dummy && t_dummy) {
      // (5C) Both dummies: r's children join t's.
      std::vector<int> kids = f.at(r).children;
      for (int k : kids) f.link(t, k);
    } else if (t_dummy) {
      f.link(t, r);
    } else if (r_dummy) {
      // The table keeps dummies first, so this only happens with equal roles: t joins r.
      gone[static_cast<size_t>(r)] = false;
      gone[static_cast<size_t>(t)] = true;
      f.link(r, t);
      it->second = r;
      merged.push_back(r);
    } else if (!subject_msg(t)->reply_or_forward && m->reply_or_forward) {
      f.link(t, r);  // a reply to the thread's original subject
    } else {
      // Neither: both become children of a new dummy, which takes t's place.
      int d = f.add(-1);
      gone.push_back(false);
      auto pos = std::find(merged.begin(), merged.end(), t);
      f.link(d, t);
      f.link(d, r);
      if (pos != merged.end()) {
        *pos = d;
      } else {
        gone[static_cast<size_t>(t)] = true;  // t is still ahead in `roots`
        merged.push_back(d);
      }
      it->second = d;
    }
  }
  // Roots still to come that were replaced by a dummy above are already inside it.
  roots.clear();
  for (int r : merged)
    if (!gone[static_cast<size_t>(r)] && f.at(r).parent == -1) roots.push_back(r);
  // (6) Siblings by sent date (ties: sequence), dummies by their first child.
  pre = f.preorder(roots);
  for (auto it = pre.rbegin(); it != pre.rend(); ++it) f.sort_siblings(f.at(*it).children);
  f.sort_siblings(roots);
  return f.render(roots, use_uid);
}

}  // namespace tern::imapd
