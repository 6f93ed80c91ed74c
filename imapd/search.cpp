// SEARCH evaluation for one message (see search.h for the notes).
#include "imapd/search.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <tuple>

#include "common/codec.h"
#include "common/strings.h"

namespace tern::imapd {
namespace {

using Kind = SearchKey::Kind;

// ---- dates ----

std::tuple<int, int, int> key(const Date& d) { return {d.year, d.month, d.day}; }

int month_from_name(std::string_view s) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  if (s.size() < 3) return 0;
  std::string m = ascii_lower(s.substr(0, 3));
  for (int i = 0; i < 12; ++i)
    if (m == kMonths[i]) return i + 1;
  return 0;
}

// The calendar date written in an RFC 5322 §3.3 date-time (the zone is ignored on purpose:
// RFC 9051 §6.4.4 SENT* keys disregard time and timezone). Accepts obsolete forms (2-digit
// years, RFC 5322 §4.3) and missing day names; nullopt when no date is recognisable.
std::optional<Date> parse_header_date(std::string_view v) {
  std::vector<std::string> tokens;
  std::string cur;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n' || c == '-') {
      if (!cur.empty()) tokens.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  auto all_digits = [](const std::string& t) {
    return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  for (size_t i = 0; i + 2 < tokens.size(); ++i) {
    if (!all_digits(tokens[i]) || tokens[i].size() > 2) continue;
    int month = month_from_name(tokens[i + 1]);
    if (!month || !all_digits(tokens[i + 2]) || tokens[i + 2].size() > 4) continue;
    Date d;
    d.day = std::stoi(tokens[i]);
    d.month = month;
    d.year = std::stoi(tokens[i + 2]);
    // RFC 5322 §4.3: 2-digit years < 50 are 20xx, others (and 3-digit years) 19xx + n.
    if (tokens[i + 2].size() == 2) d.year += d.year < 50 ? 2000 : 1900;
    else if (tokens[i + 2].size() == 3) d.year += 1900;
    if (d.day < 1 || d.day > 31) continue;
    return d;
  }
  return std::nullopt;
}

// ---- keys ----

bool has_flag(const MessageView& m, uint32_t bit) { return (m.info().flags.system & bit) != 0; }

bool has_keyword(const MessageView& m, std::string_view kw) {
  // RFC 9051 §2.3.2: keywords compare case-insensitively.
  for (const auto& k : m.info().flags.keywords)
    if (iequals(k, kw)) return true;
  return false;
}

bool contains_uid(const std::vector<uint32_t>* uids, uint32_t uid) {
  return uids && std::binary_search(uids->begin(), uids->end(), uid);
}

const char* header_for(Kind k) {
  switch (k) {
    case Kind::bcc: return "Bcc";
    case Kind::cc: return "Cc";
    case Kind::from: return "From";
    case Kind::subject: return "Subject";
    case Kind::to: return "To";
    default: return "";
  }
}

bool is_address_field(std::string_view name) {
  for (const char* f : {"From", "To", "Cc", "Bcc", "Sender", "Reply-To"})
    if (iequals(name, f)) return true;
  return false;
}

// "Display Name <local@domain>, ..." for every address of the field, display names decoded.
std::string canonical_addresses(std::string_view raw) {
  std::string out;
  // Parsed before decoding: an encoded word may hide specials such as "," or "<".
  for (const mime::Address& a : mime::parse_address_list(raw)) {
    if (!a.mailbox) continue;  // end of a group
    if (!out.empty()) out += ", ";
    if (a.name) out += mime::decode_header_value(*a.name) + " ";
    out += "<" + *a.mailbox;
    if (a.host) out += "@" + *a.host;
    out += ">";
  }
  return out;
}

class Evaluator {
 public:
  Evaluator(MessageView& msg, const SearchContext& ctx) : msg_(msg), ctx_(ctx) {}
  bool recent() const { return ctx_.is_recent && ctx_.is_recent(msg_.info().uid); }

  Result<bool> eval(const SearchKey& k) {
    switch (k.kind) {
      case Kind::and_:
        for (const auto& c : k.children) {
          auto r = eval(c);
          if (!r || !*r) return r;
        }
        return true;
      case Kind::or_:
        for (const auto& c : k.children) {
          auto r = eval(c);
          if (!r || *r) return r;
        }
        return false;
      case Kind::not_: {
        if (k.children.empty()) return true;
        auto r = eval(k.children[0]);
        if (!r) return r;
        return !*r;
      }
      case Kind::all: return true;
      case Kind::sequence_set:
        // RFC 5182 §2.1: "$" is the saved result, kept as UIDs.
        if (k.set.is_saved_result()) return contains_uid(ctx_.saved_uids, msg_.info().uid);
        return k.set.contains(msg_.seq(), ctx_.max_seq);
      case Kind::uid:
        if (k.set.is_saved_result()) return contains_uid(ctx_.saved_uids, msg_.info().uid);
        return k.set.contains(msg_.info().uid, ctx_.max_uid);
      case Kind::answered: return has_flag(msg_, store::kAnswered);
      case Kind::deleted: return has_flag(msg_, store::kDeleted);
      case Kind::draft: return has_flag(msg_, store::kDraft);
      case Kind::flagged: return has_flag(msg_, store::kFlagged);
      case Kind::seen: return has_flag(msg_, store::kSeen);
      case Kind::unanswered: return !has_flag(msg_, store::kAnswered);
      case Kind::undeleted: return !has_flag(msg_, store::kDeleted);
      case Kind::undraft: return !has_flag(msg_, store::kDraft);
      case Kind::unflagged: return !has_flag(msg_, store::kFlagged);
      case Kind::unseen: return !has_flag(msg_, store::kSeen);
      // RFC 3501 §6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT.
      case Kind::recent: return recent();
      case Kind::new_: return recent() && !has_flag(msg_, store::kSeen);
      case Kind::old: return !recent();
      case Kind::keyword: return has_keyword(msg_, k.text);
      case Kind::unkeyword: return !has_keyword(msg_, k.text);
      case Kind::bcc:
      case Kind::cc:
      case Kind::from:
      case Kind::subject:
      case Kind::to: return match_header(header_for(k.kind), k.text);
      case Kind::header: return match_header(k.header_name, k.text);
      case Kind::body: return match_body(k.text);
      case Kind::text: {
        // RFC 9051 §6.4.4 TEXT: "in the header or body of the message".
        auto h = msg_.folded_header_text();
        if (!h) return h.error();
        if (h->find(needle(k.text)) != std::string_view::npos) return true;
        return match_body(k.text);
      }
      // RFC 9051 §6.4.4: internal date, disregarding time and timezone.
      case Kind::before: return key(internal_day()) < key(k.date);
      case Kind::on: return key(internal_day()) == key(k.date);
      case Kind::since: return key(internal_day()) >= key(k.date);
      case Kind::sentbefore:
      case Kind::senton:
      case Kind::sentsince: {
        auto d = sent_day();
        if (!d) return d.error();
        if (k.kind == Kind::sentbefore) return key(*d) < key(k.date);
        if (k.kind == Kind::senton) return key(*d) == key(k.date);
        return key(*d) >= key(k.date);
      }
      case Kind::larger: return msg_.info().size > k.number;
      case Kind::smaller: return msg_.info().size < k.number;
      // RFC 5032 §3: OLDER n: internal date more than n seconds ago; YOUNGER n: within n.
      case Kind::older: return ctx_.now - msg_.info().internal_date > static_cast<int64_t>(k.number);
      case Kind::younger: return ctx_.now - msg_.info().internal_date <= static_cast<int64_t>(k.number);
      // RFC 7162 §3.1.5: mod-sequence equal to or greater than the given value. The entry
      // name only narrows which metadata item is meant; we keep one modseq per message.
      case Kind::modseq: return msg_.info().modseq >= k.number;
      // RFC 8514 §4.2: the save date, disregarding time and timezone. A message indexed
      // before the store kept save dates has none (FETCH SAVEDATE NIL); its internal date,
      // when it was delivered or appended, stands in for it here, as Dovecot does.
      case Kind::savedbefore: return key(saved_day()) < key(k.date);
      case Kind::savedon: return key(saved_day()) == key(k.date);
      case Kind::savedsince: return key(saved_day()) >= key(k.date);
      // Every mailbox of this store keeps save dates.
      case Kind::savedatesupported: return true;
      // RFC 8474 §6: the messages with this EMAILID / THREADID (objectids compare exactly).
      case Kind::emailid: return msg_.info().email_id == k.text;
      case Kind::threadid: return !k.text.empty() && msg_.info().thread_id == k.text;
    }
    return false;
  }

 private:
  // The search string in UTF-8 (RFC 9051 §6.4.4: converted from the CHARSET), folded.
  std::string needle(std::string_view text) const { return search_needle(text, ctx_.charset); }

  Result<bool> match_header(std::string_view name, std::string_view text) {
    auto p = msg_.parsed();
    if (!p) return p.error();
    auto fields = (*p)->root().headers_named(name);
    // RFC 9051 §6.4.4 HEADER: an empty string matches every message that has the field.
    if (text.empty()) return !fields.empty();
    std::string n = needle(text);
    const bool address = is_address_field(name);
    for (const mime::HeaderField* f : fields) {
      if (fold_for_search(mime::decode_header_value(f->raw_value)).find(n) != std::string::npos)
        return true;
      // RFC 5322 §3.4.1: CFWS may sit inside an addr-spec ("<user (c)@ (c) example.org>").
      // The addresses as parsed (comments and folding white space gone) are matched too, so
      // "FROM user@example.org" finds them as a client expects.
      if (address && fold_for_search(canonical_addresses(f->raw_value)).find(n) != std::string::npos)
        return true;
    }
    return false;
  }

  Result<bool> match_body(std::string_view text) {
    auto b = msg_.folded_body_text();
    if (!b) return b.error();
    return b->find(needle(text)) != std::string_view::npos;
  }

  Date internal_day() const { return utc_calendar_date(msg_.info().internal_date); }
  Date saved_day() const {
    return utc_calendar_date(msg_.info().save_date.value_or(msg_.info().internal_date));
  }

  Result<Date> sent_day() {
    auto p = msg_.parsed();
    if (!p) return p.error();
    if (const mime::HeaderField* f = (*p)->root().header("Date"))
      if (auto d = parse_header_date(f->value)) return *d;
    // RFC 5256 §2.2 uses the internal date when the sent date is missing or invalid.
    return internal_day();
  }

  MessageView& msg_;
  const SearchContext& ctx_;
};

}  // namespace

std::string fold_for_search(std::string_view s) { return mime::fold_for_search(s); }

std::string search_needle(std::string_view text, std::string_view charset) {
  return fold_for_search(mime::to_utf8(text, ascii_lower(charset)));
}

std::vector<IndexNeedle> index_needles(const SearchKey& key, std::string_view charset) {
  std::vector<IndexNeedle> out;
  std::function<void(const SearchKey&)> walk = [&](const SearchKey& k) {
    if (k.kind == Kind::and_) {
      for (const auto& c : k.children) walk(c);
    } else if (k.kind == Kind::text || k.kind == Kind::body) {
      out.push_back(IndexNeedle{k.kind == Kind::body, search_needle(k.text, charset)});
    }
  };
  walk(key);
  return out;
}

Date utc_calendar_date(int64_t unix_seconds) {
  int64_t z = unix_seconds / 86400;
  if (unix_seconds % 86400 < 0) --z;
  // Days since 1970-01-01 -> proleptic Gregorian date.
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  Date d;
  d.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  d.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  d.year = static_cast<int>(yoe + era * 400 + (d.month <= 2 ? 1 : 0));
  return d;
}

Result<bool> search_matches(const SearchKey& key, MessageView& msg, const SearchContext& ctx) {
  return Evaluator(msg, ctx).eval(key);
}

bool search_needs_bytes(const SearchKey& key) {
  switch (key.kind) {
    case Kind::and_:
    case Kind::or_:
    case Kind::not_:
      return std::any_of(key.children.begin(), key.children.end(),
                         [](const SearchKey& c) { return search_needs_bytes(c); });
    case Kind::bcc:
    case Kind::body:
    case Kind::cc:
    case Kind::from:
    case Kind::subject:
    case Kind::text:
    case Kind::to:
    case Kind::header:
    case Kind::sentbefore:
    case Kind::senton:
    case Kind::sentsince: return true;
    default: return false;
  }
}

}  // namespace tern::imapd
