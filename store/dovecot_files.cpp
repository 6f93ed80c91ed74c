#include "store/dovecot_files.h"

#include <algorithm>
#include <set>

#include "common/strings.h"
#include "store/names.h"

namespace tern::store::detail {
namespace {

std::optional<uint32_t> parse_u32(std::string_view s) {
  auto v = parse_u64(s);
  if (!v || *v > 0xFFFFFFFFull) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

std::string_view trim_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Shown in problem reports: a bounded, printable copy of a bad line.
std::string quote(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, 60)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
  if (line.size() > 60) out += "...";
  return "\"" + out + "\"";
}

// The name a uidlist line gives, without the ":2," info, and its base; nullopt when it
// is not a usable Maildir file name (empty, a path, a dot file).
std::optional<UidlistEntry> entry_for(uint32_t uid, std::string_view name) {
  size_t colon = name.find(':');
  if (colon != std::string_view::npos) name = name.substr(0, colon);
  if (name.empty() || name.find('/') != std::string_view::npos) return std::nullopt;
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7F) return std::nullopt;  // no Maildir name has control characters
  auto parsed = parse_maildir_name(name);
  if (!parsed) return std::nullopt;
  return UidlistEntry{uid, std::string(name), parsed->base};
}

}  // namespace

std::optional<Uidlist> parse_uidlist(std::string_view text) {
  auto lines = split(text, '\n');
  if (lines.empty()) return std::nullopt;
  Uidlist out;
  auto header = split(trim_cr(lines[0]), ' ');
  if (header.empty()) return std::nullopt;
  auto version = parse_u32(header[0]);
  if (!version || (*version != 1 && *version != 2 && *version != 3)) return std::nullopt;
  out.version = static_cast<int>(*version);
  if (out.version < 3) {
    // "1 <uidvalidity> <nextuid>" (version 2 has the same header).
    if (header.size() < 3) return std::nullopt;
    auto v = parse_u32(header[1]);
    auto n = parse_u32(header[2]);
    if (!v || !n || *v == 0) return std::nullopt;
    out.uidvalidity = *v;
    out.next_uid = *n;
  } else {
    for (size_t i = 1; i < header.size(); ++i) {
      std::string_view f = header[i];
      if (f.size() < 2) continue;
      if (f[0] == 'V') {
        if (auto v = parse_u32(f.substr(1))) out.uidvalidity = *v;
      } else if (f[0] == 'N') {
        if (auto n = parse_u32(f.substr(1))) out.next_uid = *n;
      } else if (f[0] == 'G') {
        out.guid = std::string(f.substr(1));
      }  // other header fields are Dovecot's own business
    }
    if (out.uidvalidity == 0) return std::nullopt;
  }

  std::set<std::string> bases;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = trim_cr(lines[i]);
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    auto uid = parse_u32(line.substr(0, sp));
    if (!uid || *uid == 0 || sp == std::string_view::npos) {
      out.problems.push_back("uidlist line " + std::to_string(i + 1) + " skipped (no UID): " + quote(line));
      continue;
    }
    std::string_view rest = line.substr(sp + 1);
    std::string_view name;
    if (out.version == 1) {
      name = rest;
    } else {
      // "[<ext> ...] :<filename>": extensions are space-separated words; the name follows
      // the first word that starts with ':' and may itself contain spaces.
      size_t pos = 0;
      bool found = false;
      while (pos < rest.size()) {
        if (rest[pos] == ' ') { ++pos; continue; }
        if (rest[pos] == ':') { name = rest.substr(pos + 1); found = true; break; }
        size_t end = rest.find(' ', pos);
        pos = end == std::string_view::npos ? rest.size() : end;
      }
      if (!found) {
        out.problems.push_back("uidlist line " + std::to_string(i + 1) + " skipped (no file name): " + quote(line));
        continue;
      }
    }
    auto entry = entry_for(*uid, name);
    if (!entry) {
      out.problems.push_back("uidlist line " + std::to_string(i + 1) + " skipped (bad file name): " + quote(line));
      continue;
    }
    // Dovecot keeps the list in ascending UID order; a line that breaks it, or names a file
    // already listed, cannot both be right, so the later one is dropped.
    if (!out.entries.empty() && *uid <= out.entries.back().uid) {
      out.problems.push_back("uidlist line " + std::to_string(i + 1) + " skipped (UID " +
                             std::to_string(*uid) + " not ascending)");
      continue;
    }
    if (!bases.insert(entry->base).second) {
      out.problems.push_back("uidlist line " + std::to_string(i + 1) + " skipped (file listed twice)");
      continue;
    }
    out.entries.push_back(std::move(*entry));
  }
  return out;
}

std::string format_uidlist(uint32_t uidvalidity, uint32_t next_uid, std::string_view guid,
                           const std::vector<UidlistEntry>& entries) {
  std::string out = "3 V" + std::to_string(uidvalidity) + " N" + std::to_string(next_uid);
  if (!guid.empty()) out += " G" + std::string(guid);
  out += '\n';
  for (const auto& e : entries) out += std::to_string(e.uid) + " :" + e.name + "\n";
  return out;
}

DovecotKeywords parse_dovecot_keywords(std::string_view text) {
  DovecotKeywords out;
  auto lines = split(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = trim_cr(lines[i]);
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    auto idx = sp == std::string_view::npos ? std::nullopt : parse_u32(line.substr(0, sp));
    std::string_view kw = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    if (!idx || kw.empty()) {
      out.problems.push_back("keywords line " + std::to_string(i + 1) + " skipped: " + quote(line));
      continue;
    }
    if (*idx >= kDovecotMaxKeywords) {
      out.problems.push_back("keyword " + quote(kw) + " skipped (index " + std::to_string(*idx) +
                             " has no file name letter)");
      continue;
    }
    out.by_index[*idx] = std::string(kw);
  }
  return out;
}

std::string format_dovecot_keywords(const std::array<std::string, kDovecotMaxKeywords>& by_index) {
  std::string out;
  for (size_t i = 0; i < by_index.size(); ++i)
    if (!by_index[i].empty()) out += std::to_string(i) + " " + by_index[i] + "\n";
  return out;
}

std::string keyword_letters(std::string_view file_name) {
  size_t colon = file_name.rfind(':');
  if (colon == std::string_view::npos || file_name.substr(colon + 1, 2) != "2,") return {};
  std::string out;
  for (char c : file_name.substr(colon + 3))
    if (c >= 'a' && c <= 'z') out += c;
  return out;
}

DovecotSubscriptions parse_dovecot_subscriptions(std::string_view text) {
  DovecotSubscriptions out;
  auto lines = split(text, '\n');
  size_t first = 0;
  // Dovecot 2.x: "V\t2" first; names then use '\t' between hierarchy levels.
  char sep = '.';
  if (!lines.empty() && trim_cr(lines[0]).substr(0, 2) == "V\t") {
    sep = '\t';
    first = 1;
  }
  std::set<std::string> seen;
  for (size_t i = first; i < lines.size(); ++i) {
    std::string_view line = trim_cr(lines[i]);
    if (line.empty()) continue;
    std::optional<std::string> name;
    if (iequals(line, "INBOX")) {
      name = "INBOX";
    } else {
      // Rebuild the Maildir++ directory name and decode it as our folders are decoded, so a
      // subscription names exactly the folder its directory becomes.
      std::string dir;
      bool ok = true;
      for (auto comp : split(line, sep)) {
        if (comp.empty() || comp.find(sep == '.' ? '\t' : '.') != std::string_view::npos) ok = false;
        dir += '.';
        dir += comp;
      }
      if (ok) name = mailbox_from_dir(dir);
      // "INBOX/x" is stored by Dovecot as "INBOX<sep>x" only with unusual layouts.
    }
    if (!name) {
      out.problems.push_back("subscription " + quote(line) + " skipped (name does not decode)");
      continue;
    }
    if (seen.insert(*name).second) out.names.push_back(*name);
  }
  return out;
}

}  // namespace tern::store::detail
