// The canonical debug rendering of a parsed Command (to_debug_string): what the parser
// tests and the fuzzer compare, with secrets masked unless asked for.
#include <cstdio>

#include "common/codec.h"
#include "common/strings.h"
#include "imapd/command.h"

namespace tern::imapd {

namespace detail {
std::string debug_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7F) {
      out += "\\x";
      out += hex_encode(std::string_view(&c, 1), true);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}
}  // namespace detail

namespace {

using detail::debug_quote;

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::string status_list(const std::vector<StatusItem>& items) {
  std::vector<std::string> names;
  for (StatusItem i : items) names.push_back(to_string(i));
  return join(names, " ");
}

std::string date_time_string(const DateTime& d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d%02d", d.date.year, d.date.month, d.date.day,
                d.hour, d.minute, d.second, d.zone_minutes < 0 ? '-' : '+', std::abs(d.zone_minutes) / 60,
                std::abs(d.zone_minutes) % 60);
  return buf;
}

struct DebugVisitor {
  std::string& out;
  bool secrets;

  void operator()(const NoArgs&) {}
  void operator()(const UnknownArgs& a) { out += " name=" + debug_quote(a.name); }
  void operator()(const IdArgs& a) {
    if (!a.params) {
      out += " NIL";
      return;
    }
    std::vector<std::string> parts;
    for (const auto& [k, v] : a.params.value()) parts.push_back(debug_quote(k) + "=" + (v ? debug_quote(*v) : "NIL"));
    out += " (" + join(parts) + ")";
  }
  void operator()(const AuthenticateArgs& a) {
    out += " mech=" + a.mechanism;
    if (a.initial_response) out += " ir=" + (secrets ? debug_quote(*a.initial_response) : std::string("***"));
  }
  void operator()(const LoginArgs& a) {
    out += " user=" + debug_quote(a.user) + " pass=" + (secrets ? debug_quote(a.password) : std::string("***"));
  }
  void operator()(const EnableArgs& a) { out += " caps=[" + join(a.capabilities) + "]"; }
  void operator()(const CompressArgs& a) { out += " mechanism=" + a.mechanism; }
  void operator()(const SelectArgs& a) {
    out += " mbox=" + debug_quote(a.mailbox);
    if (a.condstore) out += " condstore";
    if (a.qresync) {
      const QresyncParams& q = *a.qresync;
      out += " qresync=" + std::to_string(q.uidvalidity) + "," + std::to_string(q.modseq);
      if (q.known_uids) out += ",known=" + q.known_uids->to_string();
      if (q.seq_match) out += ",match=(" + q.seq_match->first.to_string() + " " + q.seq_match->second.to_string() + ")";
    }
  }
  void operator()(const MailboxArgs& a) {
    out += " mbox=" + debug_quote(a.mailbox);
    if (!a.use.empty()) {
      out += " use=(";
      for (size_t i = 0; i < a.use.size(); ++i) out += (i ? " " : "") + a.use[i];
      out += ")";
    }
  }
  void operator()(const RenameArgs& a) { out += " from=" + debug_quote(a.from) + " to=" + debug_quote(a.to); }
  void operator()(const ListArgs& a) {
    std::vector<std::string> pats;
    for (const auto& p : a.patterns) pats.push_back(debug_quote(p));
    out += " ref=" + debug_quote(a.reference) + " pats=[" + join(pats) + "]";
    std::vector<std::string> sel;
    if (a.select_subscribed) sel.push_back("SUBSCRIBED");
    if (a.select_remote) sel.push_back("REMOTE");
    if (a.select_recursive_match) sel.push_back("RECURSIVEMATCH");
    if (a.select_special_use) sel.push_back("SPECIAL-USE");
    if (!sel.empty()) out += " sel=[" + join(sel) + "]";
    std::vector<std::string> ret;
    if (a.return_subscribed) ret.push_back("SUBSCRIBED");
    if (a.return_children) ret.push_back("CHILDREN");
    if (a.return_special_use) ret.push_back("SPECIAL-USE");
    if (a.return_status) ret.push_back("STATUS(" + status_list(*a.return_status) + ")");
    if (!ret.empty()) out += " ret=[" + join(ret) + "]";
    if (a.extended) out += " ext";
  }
  void operator()(const StatusArgs& a) { out += " mbox=" + debug_quote(a.mailbox) + " items=(" + status_list(a.items) + ")"; }
  void operator()(const AppendArgs& a) {
    out += " mbox=" + debug_quote(a.mailbox);
    for (const AppendMessage& m : a.messages) {
      out += " {";
      out += "flags=(" + join(m.flags, " ") + ")";
      if (m.internal_date) out += " date=" + date_time_string(*m.internal_date);
      if (m.literal8) out += " lit8";
      for (const CatenatePart& p : m.catenate)
        out += std::string(p.url ? " url=" : p.literal8 ? " text8=" : " text=") + debug_quote(p.data);
      if (!m.catenate.empty()) {
        // CATENATE: the parts say it all.
      } else if (m.data.size() <= 64)
        out += " data=" + debug_quote(m.data);
      else
        out += " len=" + std::to_string(m.data.size());
      out += "}";
    }
  }
  void operator()(const CancelUpdateArgs& a) {
    for (const auto& t : a.tags) out += " " + debug_quote(t);
  }
  void operator()(const UidExpungeArgs& a) { out += " set=" + a.set.to_string(); }
  void return_opts(const std::optional<SearchReturn>& ro) {
    if (!ro) return;
    const SearchReturn& r = *ro;
    std::vector<std::string> opts;
    if (r.min) opts.push_back("MIN");
    if (r.max) opts.push_back("MAX");
    if (r.all) opts.push_back("ALL");
    if (r.count) opts.push_back("COUNT");
    if (r.save) opts.push_back("SAVE");
    if (r.partial) opts.push_back("PARTIAL " + to_string(*r.partial));
    if (r.context) opts.push_back("CONTEXT");
    if (r.update) opts.push_back("UPDATE");
    out += " return=(" + join(opts, " ") + ")";
  }
  void operator()(const SearchArgs& a) {
    return_opts(a.return_options);
    if (a.charset) out += " charset=" + *a.charset;
    out += " " + to_string(a.key);
  }
  void operator()(const SortArgs& a) {
    return_opts(a.return_options);
    std::vector<std::string> keys;
    for (const SortCriterion& c : a.criteria) keys.push_back(std::string(c.reverse ? "REVERSE " : "") + to_string(c.key));
    out += " by=(" + join(keys, " ") + ")";
    (*this)(a.search);
  }
  void operator()(const ThreadArgs& a) {
    out += " alg=" + a.algorithm;
    (*this)(a.search);
  }
  void operator()(const FetchArgs& a) {
    std::vector<std::string> items;
    for (const FetchItem& i : a.items) items.push_back(to_string(i));
    out += " set=" + a.set.to_string() + " items=[" + join(items) + "]";
    if (a.changed_since) out += " changedsince=" + std::to_string(*a.changed_since);
    if (a.partial) out += " partial=" + to_string(*a.partial);
    if (a.vanished) out += " vanished";
  }
  void operator()(const StoreArgs& a) {
    out += " set=" + a.set.to_string();
    if (a.unchanged_since) out += " unchangedsince=" + std::to_string(*a.unchanged_since);
    out += a.mode == StoreArgs::Mode::add ? " +FLAGS" : a.mode == StoreArgs::Mode::remove ? " -FLAGS" : " FLAGS";
    if (a.silent) out += ".SILENT";
    out += " (" + join(a.flags, " ") + ")";
  }
  void operator()(const CopyArgs& a) { out += " set=" + a.set.to_string() + " mbox=" + debug_quote(a.mailbox); }
  void operator()(const GetMetadataArgs& a) {
    out += " mbox=" + debug_quote(a.mailbox) + " depth=" + std::to_string(a.depth);
    if (a.maxsize) out += " maxsize=" + std::to_string(*a.maxsize);
    out += " entries=(" + join(a.entries, " ") + ")";
  }
  void operator()(const SetMetadataArgs& a) {
    out += " mbox=" + debug_quote(a.mailbox);
    for (const auto& [name, value] : a.entries) out += " " + name + "=" + (value ? debug_quote(*value) : "NIL");
  }
};

}  // namespace

std::string to_debug_string(const Command& cmd, bool show_secrets) {
  std::string out = cmd.tag + " ";
  if (cmd.uid) out += "UID ";
  out += to_string(cmd.name);
  std::visit(DebugVisitor{out, show_secrets}, cmd.args);
  return out;
}

}  // namespace tern::imapd
