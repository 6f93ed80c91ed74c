// IMAP FETCH ENVELOPE / BODY / BODYSTRUCTURE writers (RFC 9051 §7.5.2, RFC 3501 §7.4.2).
#include "common/strings.h"
#include "mime/internal.h"

namespace tern::mime {

std::string imap_string(std::string_view s) {
  // RFC 9051 §4.3: quoted strings carry 7-bit text without CR/LF; anything else is a literal.
  // NUL cannot appear in either (CHAR8 excludes it), so it is dropped.
  bool literal = false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u == '\r' || u == '\n' || u >= 0x80) literal = true;
  }
  std::string out;
  if (literal) {
    std::string body;
    body.reserve(s.size());
    for (char c : s)
      if (c != '\0') body += c;
    out = "{" + std::to_string(body.size()) + "}\r\n" + body;
    return out;
  }
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    if (c == '\0') continue;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string imap_nstring(const std::optional<std::string>& s) {
  return s ? imap_string(*s) : std::string("NIL");
}

namespace {

void write_address_list(std::string& out, const std::vector<Address>& list) {
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const auto& a : list) {
    // RFC 9051 §7.5.2: addr-name addr-adl addr-mailbox addr-host
    out += '(';
    out += imap_nstring(a.name);
    out += ' ';
    out += imap_nstring(a.adl);
    out += ' ';
    out += imap_nstring(a.mailbox);
    out += ' ';
    out += imap_nstring(a.host);
    out += ')';
  }
  out += ')';
}

std::optional<std::string> header_value(const Part& m, std::string_view name) {
  const HeaderField* h = m.header(name);
  if (!h) return std::nullopt;
  return h->value;
}

std::vector<Address> addresses(const Part& m, std::string_view name) {
  const HeaderField* h = m.header(name);
  return h ? parse_address_list(h->value) : std::vector<Address>{};
}

void write_params(std::string& out, const std::vector<Param>& params) {
  if (params.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  bool first = true;
  for (const auto& p : params) {
    if (!first) out += ' ';
    first = false;
    // RFC 9051 §7.5.2: servers SHOULD decode RFC 2231 continuations and charsets; the value
    // is then UTF-8 and goes out as a literal when it is not 7-bit.
    out += imap_string(ascii_upper(p.name));
    out += ' ';
    out += imap_string(p.value);
  }
  out += ')';
}

void write_disposition(std::string& out, const std::optional<Disposition>& d) {
  if (!d) {
    out += "NIL";
    return;
  }
  out += '(';
  out += imap_string(ascii_upper(d->type));
  out += ' ';
  write_params(out, d->params);
  out += ')';
}

void write_languages(std::string& out, const std::vector<std::string>& langs) {
  if (langs.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (size_t i = 0; i < langs.size(); ++i) {
    if (i) out += ' ';
    out += imap_string(langs[i]);
  }
  out += ')';
}

std::string encoding_name(const Part& p) {
  return p.encoding.empty() ? std::string("7BIT") : ascii_upper(p.encoding);
}

void write_body(std::string& out, const Part& p, bool ext);

void write_envelope(std::string& out, const Part& m) {
  out += '(';
  out += imap_nstring(header_value(m, "Date"));
  out += ' ';
  out += imap_nstring(header_value(m, "Subject"));
  auto from = addresses(m, "From");
  auto sender = addresses(m, "Sender");
  auto reply_to = addresses(m, "Reply-To");
  // RFC 9051 §7.5.2: if Sender or Reply-To is absent, the server sets it to From.
  if (sender.empty()) sender = from;
  if (reply_to.empty()) reply_to = from;
  for (const auto* list : {&from, &sender, &reply_to}) {
    out += ' ';
    write_address_list(out, *list);
  }
  for (const char* name : {"To", "Cc", "Bcc"}) {
    out += ' ';
    write_address_list(out, addresses(m, name));
  }
  out += ' ';
  out += imap_nstring(header_value(m, "In-Reply-To"));
  out += ' ';
  out += imap_nstring(header_value(m, "Message-ID"));
  out += ')';
}

void write_single(std::string& out, const Part& p, bool ext) {
  bool msg = p.is_message();
  // Parts we could not descend into must not claim a type whose syntax needs children.
  bool opaque_container = p.is_multipart() || (p.type == "message" && !msg &&
                                               (p.subtype == "rfc822" || p.subtype == "global"));
  out += '(';
  if (opaque_container) {
    out += "\"APPLICATION\" \"OCTET-STREAM\"";
  } else {
    out += imap_string(ascii_upper(p.type));
    out += ' ';
    out += imap_string(ascii_upper(p.subtype));
  }
  out += ' ';
  write_params(out, p.params);
  out += ' ';
  out += imap_nstring(p.id);
  out += ' ';
  out += imap_nstring(p.description);
  out += ' ';
  out += imap_string(encoding_name(p));
  out += ' ';
  out += std::to_string(p.size());
  if (msg) {
    // RFC 9051 §7.5.2: MESSAGE/RFC822 adds envelope, body structure and size in lines.
    out += ' ';
    write_envelope(out, p.children[0]);
    out += ' ';
    write_body(out, p.children[0], ext);
    out += ' ';
    out += std::to_string(p.lines);
  } else if (p.type == "text" && !opaque_container) {
    out += ' ';
    out += std::to_string(p.lines);
  }
  if (ext) {
    // body-ext-1part = body-fld-md5 SP body-fld-dsp SP body-fld-lang SP body-fld-loc
    out += ' ';
    out += imap_nstring(p.md5);
    out += ' ';
    write_disposition(out, p.disposition);
    out += ' ';
    write_languages(out, p.languages);
    out += ' ';
    out += imap_nstring(p.location);
  }
  out += ')';
}

void write_body(std::string& out, const Part& p, bool ext) {
  if (!p.is_multipart() || p.opaque || p.children.empty()) {
    write_single(out, p, ext);
    return;
  }
  // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
  out += '(';
  for (const auto& c : p.children) write_body(out, c, ext);
  out += ' ';
  out += imap_string(ascii_upper(p.subtype));
  if (ext) {
    out += ' ';
    write_params(out, p.params);
    out += ' ';
    write_disposition(out, p.disposition);
    out += ' ';
    write_languages(out, p.languages);
    out += ' ';
    out += imap_nstring(p.location);
  }
  out += ')';
}

}  // namespace

std::string envelope_imap(const Part& message) {
  std::string out;
  write_envelope(out, message);
  return out;
}

std::string bodystructure_imap(const Part& part, bool extensible) {
  std::string out;
  write_body(out, part, extensible);
  return out;
}

std::string Message::envelope_imap() const { return mime::envelope_imap(root_); }

std::string Message::bodystructure_imap(bool extensible) const {
  return mime::bodystructure_imap(root_, extensible);
}

}  // namespace tern::mime
