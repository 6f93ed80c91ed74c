// FETCH response rendering for one message (see fetch.h for the notes).
#include "imapd/fetch.h"

#include <algorithm>
#include <cstdio>

#include "imapd/response_writer.h"
#include "imapd/search.h"

namespace tern::imapd {
namespace {

using Kind = FetchItem::Kind;

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string part_spec(const Section& s) {
  std::string out;
  for (size_t i = 0; i < s.part.size(); ++i) {
    if (i) out += '.';
    out += std::to_string(s.part[i]);
  }
  return out;
}

std::string_view apply_partial(std::string_view data, const std::optional<Partial>& p) {
  if (!p) return data;
  // RFC 9051 §6.4.5: a partial starting beyond the end yields an empty string; a length
  // running past the end is cut at the end.
  if (p->offset >= data.size()) return {};
  return data.substr(static_cast<size_t>(p->offset),
                     static_cast<size_t>(std::min<uint64_t>(p->length, data.size() - p->offset)));
}

void write_flags(std::string& out, const store::Flags& f, bool recent) {
  std::vector<std::string> names;
  if (recent) names.emplace_back("\\Recent");
  static constexpr std::pair<uint32_t, const char*> kSystem[] = {
      {store::kSeen, "\\Seen"},       {store::kAnswered, "\\Answered"},
      {store::kFlagged, "\\Flagged"}, {store::kDeleted, "\\Deleted"},
      {store::kDraft, "\\Draft"}};
  for (const auto& [bit, name] : kSystem)
    if (f.system & bit) names.emplace_back(name);
  for (const auto& k : f.keywords) names.push_back(k);
  write_flag_list(out, names);
}

bool is_section_kind(Kind k) {
  return k == Kind::body_section || k == Kind::binary || k == Kind::binary_size ||
         k == Kind::rfc822 || k == Kind::rfc822_header || k == Kind::rfc822_text || k == Kind::preview;
}

// A section's bytes: a view into the message (the whole message, a MIME range) when it can be,
// an owned string when it has to be built (HEADER.FIELDS, decoded BINARY). The view stays
// valid while the MessageView lives: the whole-message path copies the bytes once, straight
// into the response.
class SectionData {
 public:
  SectionData() = default;  // the section does not exist (NIL)
  static SectionData view(std::string_view v) {
    SectionData d;
    d.present_ = true;
    d.view_ = v;
    return d;
  }
  static SectionData owned(std::string s) {
    SectionData d;
    d.present_ = true;
    d.owned_ = std::move(s);
    d.is_owned_ = true;
    return d;
  }
  bool present() const { return present_; }
  std::string_view data() const { return is_owned_ ? std::string_view(owned_) : view_; }

 private:
  bool present_ = false;
  bool is_owned_ = false;
  std::string_view view_;
  std::string owned_;
};

}  // namespace

std::optional<std::string_view> message_section(const mime::Message& m, const Section& s, std::string& owned) {
  std::string spec = part_spec(s);
  Result<std::string_view> r = make_error(Errc::not_found, "");
  switch (s.text) {
    case Section::Text::none: r = m.section(spec, mime::SectionKind::body); break;
    case Section::Text::header: r = m.section(spec, mime::SectionKind::header); break;
    case Section::Text::text: r = m.section(spec, mime::SectionKind::text); break;
    case Section::Text::mime: r = m.section(spec, mime::SectionKind::mime); break;
    case Section::Text::header_fields:
    case Section::Text::header_fields_not: {
      auto f = m.header_fields(spec, s.fields, s.text == Section::Text::header_fields_not);
      if (!f) return std::nullopt;
      owned = std::move(*f);
      return std::string_view(owned);
    }
  }
  if (!r) return std::nullopt;
  return *r;
}

namespace {

// The exact bytes of BODY[section] (before any partial); absent when the section does not
// exist in this message.
//
// RFC 9051 §4.3 / RFC 3501 §4.3: a literal cannot carry NUL, only BINARY's literal8 can. A
// message stored with NUL (a "binary" part APPENDed with literal8) is therefore served from
// its NUL-free form: those parts base64-encoded, their Content-Transfer-Encoding field saying
// so, as RFC 3516 §6 asks (BODY[...] in the form BODYSTRUCTURE describes). Chosen over
// answering BODY[...] with literal8 "~{n}" to clients that used BINARY: every client decodes
// base64 parts, while parsers that do not expect literal8 outside BINARY (Python's imaplib,
// most libraries) fail on "~{", and a BODY[] with two different encodings depending on the
// session's history would defeat clients' caches.
Result<SectionData> body_section(const Section& s, MessageView& msg) {
  if (s.part.empty() && s.text == Section::Text::none) {
    // BODY[] is the whole message: no MIME parse needed (the common full download).
    auto b = msg.text_bytes();
    if (!b) return b.error();
    return SectionData::view(*b);
  }
  auto parsed = msg.text_parsed();
  if (!parsed) return parsed.error();
  std::string owned;
  auto v = message_section(**parsed, s, owned);
  if (!v) return SectionData();
  if (s.text == Section::Text::header_fields || s.text == Section::Text::header_fields_not)
    return SectionData::owned(std::move(owned));
  return SectionData::view(*v);
}

// RFC 3516 §4.2: BINARY[part] is the part's content with its transfer encoding removed.
// BINARY[] is the whole message (a header has no transfer encoding to remove).
Result<SectionData> binary_section(const Section& s, MessageView& msg) {
  if (s.part.empty()) {
    auto b = msg.bytes();  // no MIME parse for the whole message
    if (!b) return b.error();
    return SectionData::view(*b);
  }
  auto parsed = msg.parsed();
  if (!parsed) return parsed.error();
  const mime::Message& m = **parsed;
  const mime::Part* p = m.find_part(part_spec(s));
  if (!p) return SectionData();
  auto d = mime::decode_body(m, *p);
  if (!d) return make_error(Errc::syntax, std::string(kUnknownCteMessage));
  return SectionData::owned(std::move(*d));
}

void write_body_data(std::string& out, const SectionData& data, const std::optional<Partial>& partial,
                     bool binary) {
  if (!data.present()) {
    out += "NIL";
    return;
  }
  std::string_view v = apply_partial(data.data(), partial);
  // RFC 3516 §4.3: literal8 only when the data cannot go in a plain literal (holds NUL).
  write_literal(out, v, binary && v.find('\0') != std::string_view::npos);
}

Status render_item(std::string& out, const FetchItem& item, std::string_view name, MessageView& msg,
                   const FetchContext& ctx) {
  out += name;
  out += ' ';
  switch (item.kind) {
    case Kind::flags: write_flags(out, msg.info().flags, ctx.recent); break;
    case Kind::internaldate:
      out += '"';
      out += format_internal_date(msg.info().internal_date);
      out += '"';
      break;
    case Kind::savedate:
      // RFC 8514 §4.1: NIL when the save date is not known (rows indexed before it was kept).
      if (msg.info().save_date)
        out += '"' + format_internal_date(*msg.info().save_date) + '"';
      else
        out += "NIL";
      break;
    // RFC 8474 §5.1: EMAILID (objectid).
    case Kind::emailid: out += "(" + msg.info().email_id + ")"; break;
    // RFC 8474 §5.2: "(" objectid ")", or NIL for a message without a thread (a row another
    // process indexed since ternd gave threads out; store/threads.h).
    case Kind::threadid:
      out += msg.info().thread_id.empty() ? std::string("NIL") : "(" + msg.info().thread_id + ")";
      break;
    case Kind::rfc822_size: out += std::to_string(msg.info().size); break;
    case Kind::uid: out += std::to_string(msg.info().uid); break;
    // RFC 7162 §3.1.4.1: "MODSEQ (" mod-sequence-value ")".
    case Kind::modseq: out += "(" + std::to_string(msg.info().modseq) + ")"; break;
    case Kind::envelope:
    case Kind::body:
    case Kind::bodystructure: {
      auto md = msg.metadata();
      if (!md) return md.error();
      out += item.kind == Kind::envelope ? (*md)->envelope
             : item.kind == Kind::body   ? (*md)->body
                                         : (*md)->bodystructure;
      break;
    }
    case Kind::rfc822:
    case Kind::rfc822_header:
    case Kind::rfc822_text: {
      // RFC 9051 §6.4.5 (rev1 items): RFC822 == BODY[], RFC822.HEADER == BODY.PEEK[HEADER],
      // RFC822.TEXT == BODY[TEXT].
      Section s;
      s.text = item.kind == Kind::rfc822          ? Section::Text::none
               : item.kind == Kind::rfc822_header ? Section::Text::header
                                                  : Section::Text::text;
      auto d = body_section(s, msg);
      if (!d) return d.error();
      write_body_data(out, *d, std::nullopt, false);
      break;
    }
    case Kind::body_section: {
      auto d = body_section(item.section, msg);
      if (!d) return d.error();
      write_body_data(out, *d, item.partial, false);
      break;
    }
    case Kind::binary: {
      auto d = binary_section(item.section, msg);
      if (!d) return d.error();
      write_body_data(out, *d, item.partial, true);
      break;
    }
    case Kind::preview: {
      // RFC 8970 §3.1: computed from the message here, so LAZY changes nothing (§3.2 lets
      // a server that has the preview at hand return it).
      auto p = msg.text_parsed();
      if (!p) return p.error();
      write_string(out, mime::preview_text(**p), WriterOptions{ctx.utf8_accept || ctx.imap4rev2});
      break;
    }
    case Kind::binary_size: {
      auto d = binary_section(item.section, msg);
      if (!d) return d.error();
      // RFC 3516 §4.2: the size of the decoded section; a missing part has none (NIL).
      if (d->present())
        out += std::to_string(d->data().size());
      else
        out += "NIL";
      break;
    }
  }
  return {};
}

bool has_kind(const std::vector<FetchItem>& items, Kind k) {
  return std::any_of(items.begin(), items.end(), [k](const FetchItem& i) { return i.kind == k; });
}

}  // namespace

bool is_unknown_cte(const Error& e) { return e.code == Errc::syntax && e.message == kUnknownCteMessage; }

std::string format_internal_date(int64_t unix_seconds) {
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) secs += 86400;
  Date day = utc_calendar_date(unix_seconds);
  // RFC 9051 §9: date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone
  // with date-day-fixed = (SP DIGIT) / 2DIGIT.
  char buf[40];
  snprintf(buf, sizeof buf, "%2d-%s-%04d %02d:%02d:%02d +0000", day.day, kMonths[day.month - 1], day.year,
           static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

std::vector<std::string> response_names(const std::vector<FetchItem>& items) {
  std::vector<std::string> names;
  names.reserve(items.size());
  for (const FetchItem& item : items) names.push_back(item.response_name());
  return names;
}

Status render_fetch_into(std::string& out, const std::vector<FetchItem>& items,
                         const std::vector<std::string>& names, MessageView& msg,
                         const FetchContext& ctx) {
  const size_t start = out.size();
  out += "* ";
  out += std::to_string(msg.seq());
  out += " FETCH (";
  // Response names already written: never twice. Views of static names or of `items`.
  std::vector<std::string_view> written;
  bool first = true;
  auto emit = [&](const FetchItem& item, std::string_view name) -> Status {
    if (std::find(written.begin(), written.end(), name) != written.end()) return {};
    if (!first) out += ' ';
    first = false;
    written.push_back(name);
    return render_item(out, item, name, msg, ctx);
  };
  auto fail = [&](const Error& e) -> Status {
    out.resize(start);  // nothing of a failed message is sent
    return e;
  };
  auto simple = [](Kind k) {
    FetchItem i;
    i.kind = k;
    return i;
  };
  // RFC 9051 §6.4.9: UID FETCH/STORE responses always include UID.
  if (ctx.uid_command && !has_kind(items, Kind::uid))
    if (auto s = emit(simple(Kind::uid), "UID"); !s) return fail(s.error());
  for (size_t i = 0; i < items.size(); ++i)
    if (auto s = emit(items[i], names[i]); !s) return fail(s.error());
  // RFC 9051 §6.4.5: when \Seen was set as a side effect, the new FLAGS are returned.
  if (ctx.include_flags && !has_kind(items, Kind::flags))
    if (auto s = emit(simple(Kind::flags), "FLAGS"); !s) return fail(s.error());
  // RFC 7162 §3.2.4 (via §3.1.4.1): with CONDSTORE enabled every FETCH response has MODSEQ.
  if (ctx.condstore && !has_kind(items, Kind::modseq))
    if (auto s = emit(simple(Kind::modseq), "MODSEQ"); !s) return fail(s.error());
  out += ")\r\n";
  return {};
}

Result<std::string> render_fetch(const std::vector<FetchItem>& items, MessageView& msg,
                                 const FetchContext& ctx) {
  std::string out;
  if (auto s = render_fetch_into(out, items, response_names(items), msg, ctx); !s) return s.error();
  return out;
}

namespace {
bool is_metadata_kind(Kind k) { return k == Kind::envelope || k == Kind::body || k == Kind::bodystructure; }
}  // namespace

bool fetch_wants_metadata(const std::vector<FetchItem>& items) {
  return std::any_of(items.begin(), items.end(), [](const FetchItem& i) { return is_metadata_kind(i.kind); });
}

bool fetch_needs_bytes(const std::vector<FetchItem>& items) {
  return std::any_of(items.begin(), items.end(), [](const FetchItem& i) { return is_section_kind(i.kind); });
}

bool fetch_needs_bytes(const std::vector<FetchItem>& items, const store::MessageInfo& info) {
  if (fetch_needs_bytes(items)) return true;
  return fetch_wants_metadata(items) && !mime::deserialize_metadata(info.cached_metadata).ok();
}

std::vector<FetchItem> items_without_bytes(const std::vector<FetchItem>& items, const store::MessageInfo& info) {
  bool cached = mime::deserialize_metadata(info.cached_metadata).ok();
  std::vector<FetchItem> out;
  for (const FetchItem& i : items) {
    if (is_section_kind(i.kind)) continue;
    if (is_metadata_kind(i.kind) && !cached) continue;
    out.push_back(i);
  }
  return out;
}

bool fetch_sets_seen(const std::vector<FetchItem>& items) {
  return std::any_of(items.begin(), items.end(), [](const FetchItem& i) { return i.sets_seen(); });
}

}  // namespace tern::imapd
