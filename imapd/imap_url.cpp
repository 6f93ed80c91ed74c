#include "imapd/imap_url.h"

#include <charconv>

#include "common/codec.h"
#include "common/strings.h"

namespace tern::imapd {

namespace {

Error bad(std::string msg) { return make_error(Errc::syntax, std::move(msg)); }

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// nz-number (RFC 5092 §11 / RFC 3501 §9); `allow_zero` for ;PARTIAL offsets.
std::optional<uint32_t> number(std::string_view s, bool allow_zero = false) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 0xFFFFFFFFull) return std::nullopt;
  if (v == 0 && !allow_zero) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  return static_cast<uint32_t>(v);
}

}  // namespace

Result<ImapUrl> parse_imap_url(std::string_view url) {
  ImapUrl out;
  std::string_view path = url;
  if (starts_with_ci(url, "imap://")) {
    // RFC 5092 §3: imap://[iuserinfo@]host[:port]/...; only the user matters here (the
    // message must be the session user's own: no URLAUTH, RFC 4469 §3).
    std::string_view rest = url.substr(7);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return bad("IMAP URL names no message");
    std::string_view authority = rest.substr(0, slash);
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
      std::string_view userinfo = authority.substr(0, at);
      size_t semi = userinfo.find(';');  // ";AUTH=..." follows the user name
      auto user = percent_decode(userinfo.substr(0, semi));
      if (!user) return bad("bad user in IMAP URL");
      if (!user->empty()) out.user = std::move(*user);
    }
    path = rest.substr(slash);
  }
  if (path.empty() || path[0] != '/') return bad("relative IMAP URL");
  path.remove_prefix(1);
  if (path.find('?') != std::string_view::npos) return bad("IMAP URL search is not a message");
  // enc-mailbox [";UIDVALIDITY=" nz-number] up to "/;UID=".
  size_t uidpos = std::string_view::npos;
  for (size_t i = 0; i + 6 <= path.size(); ++i)
    if (path[i] == '/' && starts_with_ci(path.substr(i + 1), ";UID=")) {
      uidpos = i;
      break;
    }
  if (uidpos == std::string_view::npos) return bad("IMAP URL names no message");
  std::string_view mbox = path.substr(0, uidpos);
  if (size_t v = mbox.find(';'); v != std::string_view::npos) {
    std::string_view param = mbox.substr(v);
    mbox = mbox.substr(0, v);
    if (!starts_with_ci(param, ";UIDVALIDITY=")) return bad("unknown IMAP URL mailbox parameter");
    auto n = number(param.substr(13));
    if (!n) return bad("bad UIDVALIDITY in IMAP URL");
    out.uidvalidity = *n;
  }
  auto name = percent_decode(mbox);
  if (!name || name->empty()) return bad("bad mailbox in IMAP URL");
  out.mailbox = iequals(*name, "INBOX") ? std::string("INBOX") : std::move(*name);

  // "/;UID=" n ["/;SECTION=" s] ["/;PARTIAL=" o["." l]], each segment "/;KEY=value".
  std::string_view rest = path.substr(uidpos);
  bool have_uid = false;
  while (!rest.empty()) {
    if (rest.size() < 2 || rest[0] != '/' || rest[1] != ';') return bad("bad IMAP URL");
    rest.remove_prefix(2);
    size_t end = rest.find("/;");
    std::string_view seg = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    size_t eq = seg.find('=');
    if (eq == std::string_view::npos) return bad("bad IMAP URL");
    std::string key = ascii_upper(seg.substr(0, eq));
    std::string_view value = seg.substr(eq + 1);
    if (key == "UID" && !have_uid) {
      // RFC 5092 §4 / RFC 4467: ";EXPIRE=", ";URLAUTH=" make it a URLAUTH URL, not offered.
      if (value.find(';') != std::string_view::npos) return bad("URLAUTH is not supported");
      auto n = number(value);
      if (!n) return bad("bad UID in IMAP URL");
      out.uid = *n;
      have_uid = true;
    } else if (key == "SECTION" && have_uid && out.section.empty() && !out.partial) {
      auto s = percent_decode(value);
      if (!s || s->empty()) return bad("bad SECTION in IMAP URL");
      out.section = std::move(*s);
    } else if (key == "PARTIAL" && have_uid && !out.partial) {
      if (value.find(';') != std::string_view::npos) return bad("URLAUTH is not supported");
      Partial p;
      size_t dot = value.find('.');
      auto off = number(value.substr(0, dot), true);
      if (!off) return bad("bad PARTIAL in IMAP URL");
      p.offset = *off;
      if (dot != std::string_view::npos) {
        auto len = number(value.substr(dot + 1));
        if (!len) return bad("bad PARTIAL in IMAP URL");
        p.length = *len;
      }
      out.partial = p;
    } else {
      return bad("unsupported IMAP URL part");
    }
  }
  if (!have_uid) return bad("IMAP URL names no message");
  return out;
}

}  // namespace tern::imapd
