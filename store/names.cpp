#include "store/names.h"

#include <algorithm>

#include "common/codec.h"
#include "common/strings.h"
#include "store/store.h"

namespace tern::store::detail {
namespace {

constexpr size_t kMaxLocal = 64;        // RFC 5321 §4.5.3.1.1
constexpr size_t kMaxDomain = 255;      // RFC 5321 §4.5.3.1.2
constexpr size_t kMaxDirName = 255;     // NAME_MAX on Linux file systems

bool local_char_ok(char c) {
  // RFC 5322 §3.2.3 atext (dot-atom), minus nothing that is unsafe in a path: '/' is not
  // atext, and '.' placement is checked separately.
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '&': case '\'': case '*': case '+': case '-':
    case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}':
    case '~': case '.':
      return true;
    default:
      return false;
  }
}

Error bad(std::string msg) { return make_error(Errc::syntax, std::move(msg)); }

}  // namespace

Result<UserName> canonical_user(std::string_view address) {
  auto parsed = parse_mail_address(address);
  if (!parsed) return bad("malformed address");
  UserName u;
  u.local = ascii_lower(parsed->local);
  u.domain = ascii_lower(parsed->domain);
  if (u.local.empty() || u.local.size() > kMaxLocal) return bad("bad local part length");
  for (char c : u.local)
    if (!local_char_ok(c)) return bad("unsupported character in local part");
  // A dot-atom never starts or ends with '.', nor has "..": this also rules out "." and ".."
  // as path components (RFC 5322 §3.2.3).
  if (u.local.front() == '.' || u.local.back() == '.' || u.local.find("..") != std::string::npos)
    return bad("bad dots in local part");
  if (u.domain.empty() || u.domain.size() > kMaxDomain) return bad("bad domain length");
  for (const auto& label : split(u.domain, '.')) {
    if (label.empty() || label.size() > 63) return bad("bad domain label");
    for (char c : label)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
        return bad("unsupported character in domain");
  }
  u.address = u.local + "@" + u.domain;
  return u;
}

bool is_inbox(std::string_view name) { return name == "INBOX"; }

Result<std::string> canonical_mailbox(std::string_view name) {
  if (name.empty()) return bad("empty mailbox name");
  if (name.size() > 1000) return bad("mailbox name too long");
  if (!is_valid_utf8(name)) return bad("mailbox name is not UTF-8");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F) return bad("control character in mailbox name");
    // RFC 9051 §5.1: '*' and '%' are LIST wildcards; we refuse them in names so that LIST
    // patterns stay unambiguous (and '%' is free to be our on-disk escape character).
    if (c == '*' || c == '%') return bad("wildcard character in mailbox name");
  }
  std::string out;
  auto parts = split(name, '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    if (p.empty()) return bad("empty hierarchy component");
    if (p == "." || p == "..") return bad("dot component in mailbox name");
    if (i > 0) out += '/';
    // RFC 9051 §5.1: INBOX is case-insensitive.
    if (i == 0 && iequals(p, "INBOX")) out += "INBOX";
    else out += p;
  }
  if (mailbox_dir(out).size() > kMaxDirName) return bad("mailbox name too long");
  return out;
}

std::string mailbox_dir(std::string_view name) {
  if (is_inbox(name)) return "";
  std::string out;
  for (const auto& comp : split(name, '/')) {
    out += '.';  // Maildir++: every folder starts with '.', '.' separates the hierarchy
    // Canonical names are valid UTF-8 (canonical_mailbox checks), so the encoding succeeds.
    auto encoded = mutf7_encode(comp);
    for (char c : encoded ? *encoded : std::string(comp)) {
      if (c == '.') out += "%2E";
      else out += c;
    }
  }
  return out;
}

std::optional<std::string> mailbox_from_dir(std::string_view dir) {
  if (dir.size() < 2 || dir[0] != '.') return std::nullopt;
  std::string name;
  for (const auto& comp : split(dir.substr(1), '.')) {
    std::string raw;
    for (size_t i = 0; i < comp.size(); ++i) {
      if (comp[i] != '%') { raw += comp[i]; continue; }
      if (comp.substr(i, 3) != "%2E" && comp.substr(i, 3) != "%2e") return std::nullopt;
      raw += '.';
      i += 2;
    }
    auto decoded = mutf7_decode(raw);
    if (!decoded) return std::nullopt;
    if (!name.empty()) name += '/';
    name += *decoded;
    if (decoded->empty()) return std::nullopt;
  }
  auto canon = canonical_mailbox(name);
  if (!canon.ok() || *canon == "INBOX") return std::nullopt;
  // Only accept the one spelling we would write ourselves, so two directories can never
  // claim the same mailbox.
  if (mailbox_dir(*canon) != dir) return std::nullopt;
  return *canon;
}

std::string maildir_flag_letters(uint32_t flags) {
  std::string out;
  if (flags & kDraft) out += 'D';
  if (flags & kFlagged) out += 'F';
  if (flags & kAnswered) out += 'R';
  if (flags & kSeen) out += 'S';
  if (flags & kDeleted) out += 'T';
  return out;
}

std::optional<MaildirName> parse_maildir_name(std::string_view name) {
  if (name.empty() || name[0] == '.' || name.size() > kMaxDirName) return std::nullopt;
  MaildirName out;
  std::string_view main = name;
  size_t colon = name.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view info = name.substr(colon + 1);
    main = name.substr(0, colon);
    if (info.substr(0, 2) == "2,") {
      out.has_info = true;
      for (char c : info.substr(2)) {
        switch (c) {
          case 'D': out.flags |= kDraft; break;
          case 'F': out.flags |= kFlagged; break;
          case 'R': out.flags |= kAnswered; break;
          case 'S': out.flags |= kSeen; break;
          case 'T': out.flags |= kDeleted; break;
          default: break;  // other letters (P, Dovecot keyword letters) are ignored
        }
      }
    }
  }
  size_t comma = main.find(',');
  out.base = std::string(main.substr(0, comma));
  if (out.base.empty()) return std::nullopt;
  if (comma != std::string_view::npos) {
    for (const auto& field : split(main.substr(comma + 1), ',')) {
      if (field.size() > 2 && field.substr(0, 2) == "S=") {
        out.size = parse_u64(field.substr(2));
      } else if (field.size() > 2 && field.substr(0, 2) == "U=") {
        auto v = parse_u64(field.substr(2));
        if (v && *v > 0 && *v <= 0xFFFFFFFFull) out.uid = static_cast<uint32_t>(*v);
      }
    }
  }
  return out;
}

std::string format_maildir_name(std::string_view base, uint64_t size, uint32_t uid,
                                uint32_t flags, bool with_info, std::string_view keyword_letters) {
  std::string out(base);
  out += ",S=" + std::to_string(size) + ",U=" + std::to_string(uid);
  if (with_info) {
    out += ":2," + maildir_flag_letters(flags);
    std::string letters(keyword_letters);
    std::sort(letters.begin(), letters.end());
    letters.erase(std::unique(letters.begin(), letters.end()), letters.end());
    out += letters;
  }
  return out;
}

std::string maildir_safe_host(std::string_view host) {
  std::string out;
  for (char c : host) {
    unsigned char u = c;
    if (u <= 0x20 || u >= 0x7F || c == '/' || c == ':' || c == ',' || c == '%')
      out += '_';
    else
      out += c;
  }
  if (out.empty()) out = "localhost";
  return out.substr(0, 64);
}

}  // namespace tern::store::detail
