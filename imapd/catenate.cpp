// APPEND ... CATENATE (RFC 4469): the message is composed from TEXT literals and IMAP URLs
// (RFC 5092) naming messages, or sections of them, in the user's own mailboxes. The URLs are
// read through the store on the session's worker strand, like every other read; the
// composed message is then appended by cmd_append as a plain one (so MULTIAPPEND stays
// all-or-none).
#include "common/strings.h"
#include "imapd/fetch.h"
#include "imapd/imap_parser.h"
#include "imapd/imap_url.h"
#include "imapd/session_impl.h"
#include "mime/mime.h"

namespace tern::imapd {

namespace {

// The bytes a URL's section names in `msg`, or nullopt when the message has no such section.
std::optional<std::string> section_bytes(const std::string& msg, const std::string& section_text) {
  if (section_text.empty()) return msg;
  // The section-text of an IMAP URL is FETCH's (RFC 5092 §11 "section"): reuse its parser.
  std::string att = "BODY.PEEK[" + section_text + "]";
  detail::TokenReader r(att);
  std::vector<FetchItem> items;
  if (!detail::parse_fetch_att(r, items, false) || !r.at_end() || items.size() != 1) return std::nullopt;
  const mime::Message m = mime::Message::parse(msg);
  std::string owned;
  auto v = message_section(m, items.front().section, owned);
  if (!v) return std::nullopt;
  return std::string(*v);
}

}  // namespace

bool Session::Impl::compose_catenate(std::string_view tag, const AppendMessage& m, std::string& out) {
  out.clear();
  auto bad_url = [&](const std::string& url) {
    // RFC 4469 §6: NO [BADURL <url>] names the first URL that could not be used.
    std::string arg;
    write_string(arg, url, wopt());
    no(tag, "CATENATE: bad URL", ResponseCode{code::BadUrl, arg});
    return false;
  };
  for (const CatenatePart& p : m.catenate) {
    std::string piece;
    if (!p.url) {
      // RFC 4469 §5 with RFC 3501 §4.3: NUL may only travel in a literal8 TEXT part.
      if (!p.literal8 && p.data.find('\0') != std::string::npos) {
        bad(tag, "NUL in a TEXT literal: use literal8");
        return false;
      }
      out += p.data;
    } else {
      auto url = parse_imap_url(p.data);
      if (!url) return bad_url(p.data);
      // RFC 4469 §3: without URLAUTH only the user's own messages can be referred to.
      if (url->user && !iequals(*url->user, user)) return bad_url(p.data);
      auto st = backend.store().mailbox_status(user, url->mailbox);
      if (!st || (url->uidvalidity && *url->uidvalidity != st->uidvalidity)) return bad_url(p.data);
      auto bytes = backend.store().read_message(user, url->mailbox, url->uid);
      if (!bytes) {
        if (bytes.error().code == Errc::not_found) return bad_url(p.data);
        store_error(tag, bytes.error());
        return false;
      }
      auto sec = section_bytes(*bytes, url->section);
      if (!sec) return bad_url(p.data);
      std::string_view v = *sec;
      if (url->partial) {
        // RFC 5092 §3.3 ;PARTIAL=offset.length: a range past the end gives what is there.
        v = url->partial->offset >= v.size() ? std::string_view() : v.substr(url->partial->offset);
        if (url->partial->length > 0 && v.size() > url->partial->length) v = v.substr(0, url->partial->length);
      }
      out += v;
    }
    // RFC 4469 §5 / RFC 7889: the composed message is held to APPENDLIMIT like a literal.
    if (out.size() > settings.max_literal_size) {
      no(tag, "Composed message too big", ResponseCode{code::TooBig, ""});
      return false;
    }
  }
  return true;
}

}  // namespace tern::imapd
