#include "ctl/import_plan.h"

#include <algorithm>
#include <array>
#include <set>

#include "common/strings.h"

namespace tern::ctl::import {

namespace {

struct Role {
  std::string_view attribute;  // RFC 6154 §2 (and XLIST's names for the same roles)
  std::string_view tern;       // Tern's special-use attribute ("" = virtual, skipped)
};
constexpr std::array<Role, 9> kRoles = {{
    {"\\Sent", "\\Sent"},
    {"\\Drafts", "\\Drafts"},
    {"\\Trash", "\\Trash"},
    {"\\Junk", "\\Junk"},
    {"\\Spam", "\\Junk"},  // XLIST
    {"\\Archive", "\\Archive"},
    // Virtual folders show messages that live elsewhere too: importing them would copy
    // every message twice.
    {"\\All", ""},
    {"\\AllMail", ""},  // XLIST
    {"\\Flagged", ""},
}};

struct CommonName {
  std::string_view name;
  std::string_view tern;
};
constexpr std::array<CommonName, 14> kCommonNames = {{
    {"Sent", "\\Sent"},
    {"Sent Items", "\\Sent"},
    {"Sent Messages", "\\Sent"},
    {"Sent Mail", "\\Sent"},
    {"Drafts", "\\Drafts"},
    {"Trash", "\\Trash"},
    {"Deleted Items", "\\Trash"},
    {"Deleted Messages", "\\Trash"},
    {"Junk", "\\Junk"},
    {"Junk E-mail", "\\Junk"},
    {"Spam", "\\Junk"},
    {"Archive", "\\Archive"},
    {"Archives", "\\Archive"},
    {"Bulk Mail", "\\Junk"},
}};

bool ascii_less(const std::string& a, const std::string& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

Target map_folder(std::string_view name, std::string_view delimiter, const std::vector<std::string>& attributes) {
  Target t;
  for (const std::string& attr : attributes) {
    for (const Role& r : kRoles) {
      if (!iequals(attr, r.attribute)) continue;
      if (r.tern.empty()) {
        t.skip_reason = "virtual folder (" + attr + ")";
        return t;
      }
      t.special_use = std::string(r.tern);
    }
    if (iequals(attr, "\\Inbox")) {  // XLIST names a localised inbox
      t.mailbox = "INBOX";
      return t;
    }
  }
  // Tern's names use '/' between levels.
  std::string mapped;
  for (char c : name) mapped += (!delimiter.empty() && c == delimiter[0]) ? '/' : c;
  t.mailbox = mapped;
  if (t.special_use.empty()) {
    // Courier and Cyrus keep every folder under INBOX: "INBOX.Sent" is the Sent folder.
    std::string_view bare = name;
    if (!delimiter.empty() && bare.size() > 6 && iequals(bare.substr(0, 5), "INBOX") && bare[5] == delimiter[0])
      bare.remove_prefix(6);
    for (const CommonName& c : kCommonNames)
      if (iequals(bare, c.name)) t.special_use = std::string(c.tern);
  }
  return t;
}

store::Flags map_flags(const std::vector<std::string>& flags) {
  store::Flags out;
  for (const std::string& f : flags) {
    if (f.empty()) continue;
    if (f[0] == '\\') {
      if (iequals(f, "\\Seen")) out.system |= store::kSeen;
      else if (iequals(f, "\\Answered")) out.system |= store::kAnswered;
      else if (iequals(f, "\\Flagged")) out.system |= store::kFlagged;
      else if (iequals(f, "\\Deleted")) out.system |= store::kDeleted;
      else if (iequals(f, "\\Draft")) out.system |= store::kDraft;
      // \Recent is per session (RFC 3501 §2.3.2), other '\' flags are not ours to keep.
      continue;
    }
    // RFC 9051 §9: flag-keyword = atom; the parser only gives atoms, but be strict anyway.
    bool atom = std::all_of(f.begin(), f.end(), [](char c) {
      auto u = static_cast<unsigned char>(c);
      return u > 0x20 && u < 0x7f && std::string_view("(){%*\"\\]").find(c) == std::string_view::npos;
    });
    if (atom) out.keywords.push_back(f);
  }
  std::sort(out.keywords.begin(), out.keywords.end(), ascii_less);
  out.keywords.erase(std::unique(out.keywords.begin(), out.keywords.end(),
                                 [](const std::string& a, const std::string& b) { return iequals(a, b); }),
                     out.keywords.end());
  return out;
}

std::vector<std::string> batches(const std::vector<SourceMessage>& messages, size_t max_count, uint64_t max_bytes) {
  std::vector<std::string> out;
  std::string set;
  size_t count = 0;
  uint64_t bytes = 0;
  uint32_t run_start = 0, run_end = 0;
  auto close_run = [&] {
    if (run_start == 0) return;
    if (!set.empty()) set += ',';
    set += std::to_string(run_start);
    if (run_end != run_start) set += ":" + std::to_string(run_end);
    run_start = run_end = 0;
  };
  auto close_batch = [&] {
    close_run();
    if (!set.empty()) out.push_back(std::move(set));
    set.clear();
    count = 0;
    bytes = 0;
  };
  for (const SourceMessage& m : messages) {
    if (count > 0 && (count >= max_count || bytes + m.size > max_bytes)) close_batch();
    if (run_start != 0 && m.uid == run_end + 1) {
      run_end = m.uid;
    } else {
      close_run();
      run_start = run_end = m.uid;
    }
    ++count;
    bytes += m.size;
  }
  close_batch();
  return out;
}

Plan plan_folder(uint32_t uidvalidity, const std::vector<SourceMessage>& listed, const std::vector<Imported>& done) {
  Plan p;
  std::set<uint32_t> seen;
  std::multiset<std::pair<uint64_t, int64_t>> earlier;  // (size, internaldate) under other UIDVALIDITYs
  for (const Imported& i : done) {
    if (i.uidvalidity == uidvalidity) {
      seen.insert(i.uid);
    } else {
      earlier.insert({i.size, i.internaldate});
      p.old_uidvalidity = i.uidvalidity;
    }
  }
  for (const SourceMessage& m : listed) {
    if (seen.count(m.uid)) {
      ++p.already;
      continue;
    }
    auto it = earlier.find({m.size, m.internaldate});
    if (it != earlier.end()) {
      earlier.erase(it);
      p.matched.push_back(m);
      continue;
    }
    p.fetch.push_back(m);
  }
  return p;
}

// ---- State -------------------------------------------------------------------------------

Result<std::unique_ptr<State>> State::open(const std::string& path) {
  sqlite::OpenOptions o;
  o.label = "import.db";
  auto db = sqlite::Connection::open(path, o);
  if (!db) return db.error();
  Status s = (*db)->try_exec(R"sql(
CREATE TABLE IF NOT EXISTS imported(
  user        TEXT NOT NULL,
  source      TEXT NOT NULL,
  folder      TEXT NOT NULL,
  uidvalidity INTEGER NOT NULL,
  uid         INTEGER NOT NULL,
  size        INTEGER NOT NULL,
  internaldate INTEGER NOT NULL,
  mailbox     TEXT NOT NULL,
  dest_uid    INTEGER NOT NULL,
  PRIMARY KEY(user, source, folder, uidvalidity, uid)
);)sql");
  if (!s.ok()) return s.error();
  return std::unique_ptr<State>(new State(std::move(*db)));
}

Result<std::vector<Imported>> State::imported(const std::string& user, const std::string& source,
                                              const std::string& folder) {
  sqlite::Stmt st(*db_,
                  "SELECT uidvalidity, uid, size, internaldate FROM imported WHERE user=?1 AND source=?2 AND folder=?3");
  st.bind(1, user).bind(2, source).bind(3, folder);
  std::vector<Imported> out;
  Result<bool> rc = false;
  while ((rc = st.try_step("read import state")) && *rc)
    out.push_back(Imported{static_cast<uint32_t>(st.i64(0)), static_cast<uint32_t>(st.i64(1)),
                           static_cast<uint64_t>(st.i64(2)), st.i64(3)});
  if (!rc) return rc.error();
  return out;
}

Status State::record(const std::string& user, const std::string& source, const std::string& folder,
                     const Imported& m, const std::string& mailbox, uint32_t dest_uid) {
  sqlite::Stmt st(*db_,
                  "INSERT OR REPLACE INTO imported(user, source, folder, uidvalidity, uid, size, internaldate,"
                  " mailbox, dest_uid) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  st.bind(1, user).bind(2, source).bind(3, folder).bind(4, int64_t(m.uidvalidity)).bind(5, int64_t(m.uid));
  st.bind(6, static_cast<int64_t>(m.size)).bind(7, m.internaldate).bind(8, mailbox).bind(9, int64_t(dest_uid));
  return st.try_run("record imported message");
}

}  // namespace tern::ctl::import
