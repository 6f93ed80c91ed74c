#include "store/names.h"

#include <vector>

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

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    if (c < 0x80) { ++i; continue; }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF (RFC 3629 §3).
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

bool is_inbox(std::string_view name) { return name == "INBOX"; }

Result<std::string> canonical_mailbox(std::string_view name) {
  if (name.empty()) return bad("empty mailbox name");
  if (name.size() > 1000) return bad("mailbox name too long");
  if (!valid_utf8(name)) return bad("mailbox name is not UTF-8");
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

std::string mutf7_encode(std::string_view utf8) {
  static constexpr char kB64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
  std::string out;
  std::vector<uint16_t> units;
  auto flush = [&] {
    if (units.empty()) return;
    out += '&';
    uint32_t acc = 0;
    int bits = 0;
    for (uint16_t u : units) {
      acc = (acc << 16) | u;
      bits += 16;
      while (bits >= 6) {
        bits -= 6;
        out += kB64[(acc >> bits) & 0x3F];
      }
      acc &= (1u << bits) - 1;
    }
    if (bits > 0) out += kB64[(acc << (6 - bits)) & 0x3F];
    out += '-';
    units.clear();
  };
  size_t i = 0;
  while (i < utf8.size()) {
    unsigned char c = utf8[i];
    if (c >= 0x20 && c <= 0x7E) {
      flush();
      if (c == '&') out += "&-";
      else out += static_cast<char>(c);
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence (input is assumed valid: callers check valid_utf8 first;
    // malformed bytes are encoded as U+FFFD rather than trusted).
    uint32_t cp = 0xFFFD;
    int len = 1;
    if (c < 0x80) cp = c;  // controls are shifted like any other non-printable character
    else if ((c & 0xE0) == 0xC0 && i + 1 < utf8.size()) { cp = ((c & 0x1F) << 6) | (utf8[i + 1] & 0x3F); len = 2; }
    else if ((c & 0xF0) == 0xE0 && i + 2 < utf8.size()) {
      cp = ((c & 0x0F) << 12) | ((utf8[i + 1] & 0x3F) << 6) | (utf8[i + 2] & 0x3F); len = 3;
    } else if ((c & 0xF8) == 0xF0 && i + 3 < utf8.size()) {
      cp = ((c & 0x07) << 18) | ((utf8[i + 1] & 0x3F) << 12) | ((utf8[i + 2] & 0x3F) << 6) |
           (utf8[i + 3] & 0x3F);
      len = 4;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push_back(static_cast<uint16_t>(0xD800 | (cp >> 10)));
      units.push_back(static_cast<uint16_t>(0xDC00 | (cp & 0x3FF)));
    } else {
      units.push_back(static_cast<uint16_t>(cp));
    }
    i += len;
  }
  flush();
  return out;
}

std::optional<std::string> mutf7_decode(std::string_view in) {
  auto b64val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == ',') return 63;
    return -1;
  };
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    unsigned char c = in[i];
    if (c < 0x20 || c > 0x7E) return std::nullopt;
    if (c != '&') { out += static_cast<char>(c); ++i; continue; }
    size_t end = in.find('-', i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    if (end == i + 1) { out += '&'; i = end + 1; continue; }
    uint32_t acc = 0;
    int bits = 0;
    std::vector<uint16_t> units;
    for (size_t k = i + 1; k < end; ++k) {
      int v = b64val(in[k]);
      if (v < 0) return std::nullopt;
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 16) {
        bits -= 16;
        units.push_back(static_cast<uint16_t>((acc >> bits) & 0xFFFF));
        acc &= (1u << bits) - 1;
      }
    }
    if (bits >= 6 || acc != 0 || units.empty()) return std::nullopt;  // stray or non-zero pad bits
    for (size_t k = 0; k < units.size(); ++k) {
      uint32_t cp = units[k];
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (k + 1 >= units.size() || units[k + 1] < 0xDC00 || units[k + 1] > 0xDFFF)
          return std::nullopt;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (units[++k] - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return std::nullopt;
      }
      // RFC 3501 §5.1.3: printable US-ASCII must not be base64-encoded.
      // Controls are never valid in mailbox names, so they are refused here too.
      if (cp < 0x80) return std::nullopt;
      if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
      else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    i = end + 1;
  }
  return out;
}

std::string mailbox_dir(std::string_view name) {
  if (is_inbox(name)) return "";
  std::string out;
  for (const auto& comp : split(name, '/')) {
    out += '.';  // Maildir++: every folder starts with '.', '.' separates the hierarchy
    for (char c : mutf7_encode(comp)) {
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
                                uint32_t flags, bool with_info) {
  std::string out(base);
  out += ",S=" + std::to_string(size) + ",U=" + std::to_string(uid);
  if (with_info) out += ":2," + maildir_flag_letters(flags);
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
