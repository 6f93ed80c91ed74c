// SEARCH grammar (RFC 9051 §6.4.4 / §9 search-key, RFC 3501 rev1 keys, RFC 4731 RETURN,
// RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER/YOUNGER) and its canonical rendering.
#include "imapd/search_key.h"

#include <cstdio>

#include "common/strings.h"
#include "imapd/imap_parser.h"

namespace tern::imapd {

namespace {

using detail::TokenReader;
using Kind = SearchKey::Kind;

enum class ArgType { none, astring, keyword, date, number64, nz_number, objectid, special };

struct KeyEntry {
  const char* wire;
  Kind kind;
  ArgType arg;
};

constexpr KeyEntry kKeys[] = {
    {"ALL", Kind::all, ArgType::none},
    {"ANSWERED", Kind::answered, ArgType::none},
    {"DELETED", Kind::deleted, ArgType::none},
    {"DRAFT", Kind::draft, ArgType::none},
    {"FLAGGED", Kind::flagged, ArgType::none},
    {"SEEN", Kind::seen, ArgType::none},
    {"UNANSWERED", Kind::unanswered, ArgType::none},
    {"UNDELETED", Kind::undeleted, ArgType::none},
    {"UNDRAFT", Kind::undraft, ArgType::none},
    {"UNFLAGGED", Kind::unflagged, ArgType::none},
    {"UNSEEN", Kind::unseen, ArgType::none},
    {"RECENT", Kind::recent, ArgType::none},  // RFC 3501 only
    {"NEW", Kind::new_, ArgType::none},       // RFC 3501: RECENT UNSEEN
    {"OLD", Kind::old, ArgType::none},        // RFC 3501: NOT RECENT
    {"KEYWORD", Kind::keyword, ArgType::keyword},
    {"UNKEYWORD", Kind::unkeyword, ArgType::keyword},
    {"BCC", Kind::bcc, ArgType::astring},
    {"BODY", Kind::body, ArgType::astring},
    {"CC", Kind::cc, ArgType::astring},
    {"FROM", Kind::from, ArgType::astring},
    {"SUBJECT", Kind::subject, ArgType::astring},
    {"TEXT", Kind::text, ArgType::astring},
    {"TO", Kind::to, ArgType::astring},
    {"HEADER", Kind::header, ArgType::special},
    {"BEFORE", Kind::before, ArgType::date},
    {"ON", Kind::on, ArgType::date},
    {"SINCE", Kind::since, ArgType::date},
    {"SENTBEFORE", Kind::sentbefore, ArgType::date},
    {"SENTON", Kind::senton, ArgType::date},
    {"SENTSINCE", Kind::sentsince, ArgType::date},
    {"LARGER", Kind::larger, ArgType::number64},
    {"SMALLER", Kind::smaller, ArgType::number64},
    {"OLDER", Kind::older, ArgType::nz_number},      // RFC 5032 §3
    {"YOUNGER", Kind::younger, ArgType::nz_number},  // RFC 5032 §3
    {"MODSEQ", Kind::modseq, ArgType::special},
    {"SAVEDBEFORE", Kind::savedbefore, ArgType::date},          // RFC 8514 §4.2
    {"SAVEDON", Kind::savedon, ArgType::date},
    {"SAVEDSINCE", Kind::savedsince, ArgType::date},
    {"SAVEDATESUPPORTED", Kind::savedatesupported, ArgType::none},
    {"EMAILID", Kind::emailid, ArgType::objectid},   // RFC 8474 §6
    {"THREADID", Kind::threadid, ArgType::objectid},
    {"UID", Kind::uid, ArgType::special},
    {"NOT", Kind::not_, ArgType::special},
    {"OR", Kind::or_, ArgType::special},
};

bool parse_key(TokenReader& r, SearchKey& out);

bool parse_key_inner(TokenReader& r, SearchKey& out) {
  char c = r.peek();
  if (c == '(') {
    // "(" search-key *(SP search-key) ")"
    r.consume('(');
    out.kind = Kind::and_;
    while (true) {
      out.children.emplace_back();
      if (!parse_key(r, out.children.back())) return false;
      if (r.consume(')')) return true;
      if (!r.sp()) return false;
    }
  }
  if ((c >= '0' && c <= '9') || c == '*' || c == '$') {
    auto set = r.sequence_set();
    if (!set) return false;
    out.kind = Kind::sequence_set;
    out.set = std::move(*set);
    return true;
  }
  std::string word = ascii_upper(r.peek_word());
  const KeyEntry* entry = nullptr;
  for (const KeyEntry& e : kKeys)
    if (word == e.wire) entry = &e;
  if (!entry) return r.fail("unknown search key");
  r.keyword(word);
  out.kind = entry->kind;
  if (entry->arg == ArgType::none) return true;
  if (!r.sp()) return false;
  switch (entry->arg) {
    case ArgType::none: return true;
    case ArgType::astring: {
      auto s = r.astring();
      if (!s) return false;
      out.text = std::move(*s);
      return true;
    }
    case ArgType::keyword: {
      auto a = r.atom();  // flag-keyword = atom
      if (!a) return false;
      out.text = std::string(*a);
      return true;
    }
    case ArgType::objectid: {
      // RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
      auto a = r.atom();
      if (!a) return false;
      if (a->size() > 255 || a->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != std::string_view::npos)
        return r.fail("bad objectid");
      out.text = std::string(*a);
      return true;
    }
    case ArgType::date: {
      auto d = r.date();
      if (!d) return false;
      out.date = *d;
      return true;
    }
    case ArgType::number64:
    case ArgType::nz_number: {
      auto n = r.number64();
      if (!n) return false;
      if (entry->arg == ArgType::nz_number && (*n == 0 || *n > 0xFFFFFFFFull)) return r.fail("bad interval");
      out.number = *n;
      return true;
    }
    case ArgType::special: break;
  }
  switch (out.kind) {
    case Kind::header: {
      // "HEADER" SP header-fld-name SP astring
      auto name = r.astring();
      if (!name || !r.sp()) return false;
      auto value = r.astring();
      if (!value) return false;
      out.header_name = std::move(*name);
      out.text = std::move(*value);
      return true;
    }
    case Kind::uid: {
      auto set = r.sequence_set();
      if (!set) return false;
      out.set = std::move(*set);
      return true;
    }
    case Kind::not_:
      out.children.emplace_back();
      return parse_key(r, out.children.back());
    case Kind::or_:
      out.children.resize(2);
      return parse_key(r, out.children[0]) && r.sp() && parse_key(r, out.children[1]);
    case Kind::modseq: {
      // RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
      if (r.peek() == '"') {
        auto entry_name = r.quoted();
        if (!entry_name) return false;
        if (!istarts_with(*entry_name, "/flags/") || entry_name->size() == 7) return r.fail("bad MODSEQ entry name");
        if (!r.sp()) return false;
        auto type = r.atom();
        if (!type) return false;
        std::string t = ascii_lower(*type);
        if (t != "priv" && t != "shared" && t != "all") return r.fail("bad MODSEQ entry type");
        out.modseq_entry = std::move(*entry_name);
        out.modseq_entry_type = std::move(t);
        if (!r.sp()) return false;
      }
      auto n = r.number64();
      if (!n) return false;
      out.number = *n;
      return true;
    }
    default: return r.fail("unknown search key");
  }
}

bool parse_key(TokenReader& r, SearchKey& out) {
  // Bounded nesting keeps recursive parsing and evaluation off the stack limit.
  if (++r.depth > kMaxSearchDepth) return r.fail("search expression too deeply nested");
  bool ok = parse_key_inner(r, out);
  --r.depth;
  return ok;
}

}  // namespace

namespace detail {

bool parse_partial_range(TokenReader& r, PartialRange& out) {
  bool negative = r.consume('-');
  auto a = r.nz_number();
  if (!a || !r.expect(':', "expected : in partial range")) return false;
  // Both ends count from the same side: "1:-5" and "-1:5" are not ranges.
  if (negative != (r.peek() == '-')) return r.fail("partial range ends differ in sign");
  if (negative) r.consume('-');
  auto b = r.nz_number();
  if (!b) return false;
  int64_t sign = negative ? -1 : 1;
  out.first = sign * static_cast<int64_t>(*a);
  out.last = sign * static_cast<int64_t>(*b);
  return true;
}

namespace {

// search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
// (RFC 4731 §3.1); the caller has consumed "RETURN". allow_save: RFC 5182 SAVE.
bool parse_return_opts(TokenReader& r, SearchReturn& ret, bool allow_save) {
  if (!r.sp() || !r.expect('(', "expected (")) return false;
  bool any = false;
  // RFC 4466 §2.6: a return option appears once.
  auto once = [&](bool& flag) {
    if (flag) return r.fail("search return option repeated");
    flag = true;
    return true;
  };
  while (!r.consume(')')) {
    bool good = true;
    if (r.keyword("MIN"))
      good = once(ret.min);
    else if (r.keyword("MAX"))
      good = once(ret.max);
    else if (r.keyword("ALL"))
      good = once(ret.all);
    else if (r.keyword("COUNT"))
      good = once(ret.count);
    else if (allow_save && r.keyword("SAVE"))
      good = once(ret.save);  // RFC 5182 §2.1
    else if (r.keyword("PARTIAL")) {
      PartialRange pr;
      if (ret.partial) return r.fail("search return option repeated");
      if (!r.sp() || !parse_partial_range(r, pr)) return false;
      ret.partial = pr;
    } else if (r.keyword("CONTEXT"))
      good = once(ret.context);  // RFC 5267 §4.2: a hint that more requests will follow
    else if (r.keyword("UPDATE")) {
      good = once(ret.update);  // RFC 5267 §4.3
      // RFC 5465 §7: modifier-update = "UPDATE" [SP "(" fetch-att *(SP fetch-att) ")"]
      TokenReader probe = r;
      if (good && probe.consume(' ') && probe.consume('(')) {
        r = probe;
        do {
          if (!parse_fetch_att(r, ret.update_fetch, false)) return false;
        } while (r.consume(' '));
        if (!r.expect(')', "expected ) after fetch-att")) return false;
      }
    }
    else
      return r.fail("unknown search return option");
    if (!good) return false;
    any = true;
    if (r.peek() != ')' && !r.sp()) return false;
  }
  if (!any) ret.all = true;  // RFC 4731 §3.1: "RETURN ()" is "RETURN (ALL)"
  // RFC 9394 §3.1: PARTIAL and ALL are mutually exclusive.
  if (ret.partial && ret.all) return r.fail("PARTIAL and ALL are mutually exclusive");
  return true;
}

std::optional<std::string> charset_name(TokenReader& r) {
  // charset = atom / quoted
  if (r.peek() == '"') return r.quoted();
  if (auto a = r.atom()) return ascii_upper(*a);
  return std::nullopt;
}

// search-key *(SP search-key), ANDed under args.key.
bool parse_keys(TokenReader& r, SearchArgs& args) {
  args.key.kind = Kind::and_;
  while (true) {
    args.key.children.emplace_back();
    if (!parse_key(r, args.key.children.back())) return false;
    if (!r.consume(' ')) return true;
  }
}

template <class T>
Result<T> syntax_error(const TokenReader& r) {
  return make_error(Errc::syntax, r.error().empty() ? "Syntax error" : r.error());
}

}  // namespace

Result<SearchArgs> parse_search(TokenReader& r) {
  SearchArgs args;
  if (!r.sp()) return syntax_error<SearchArgs>(r);
  if (r.keyword("RETURN")) {
    SearchReturn ret;
    if (!parse_return_opts(r, ret, true) || !r.sp()) return syntax_error<SearchArgs>(r);
    args.return_options = ret;
  }
  if (r.keyword("CHARSET")) {
    if (!r.sp()) return syntax_error<SearchArgs>(r);
    auto cs = charset_name(r);
    if (!cs || !r.sp()) return syntax_error<SearchArgs>(r);
    args.charset = ascii_upper(*cs);
  }
  if (!parse_keys(r, args)) return syntax_error<SearchArgs>(r);
  return args;
}

// RFC 5256 §5: sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria, where
// search-criteria = charset 1*(SP search-key) (the charset is not optional here);
// RFC 5267 §3 puts [SP sort-return-opts] before the criteria.
Result<SortArgs> parse_sort(TokenReader& r) {
  SortArgs args;
  if (!r.sp()) return syntax_error<SortArgs>(r);
  if (r.keyword("RETURN")) {
    SearchReturn ret;
    // RFC 5267 §3 lists MIN MAX ALL COUNT for ESORT; SAVE is not one of them.
    if (!parse_return_opts(r, ret, false) || !r.sp()) return syntax_error<SortArgs>(r);
    args.return_options = ret;
  }
  // sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"
  // sort-criterion = ["REVERSE" SP] sort-key
  if (!r.expect('(', "expected (")) return syntax_error<SortArgs>(r);
  static constexpr std::pair<const char*, SortKey> kSortKeys[] = {
      {"ARRIVAL", SortKey::arrival}, {"CC", SortKey::cc},           {"DATE", SortKey::date},
      {"FROM", SortKey::from},       {"SIZE", SortKey::size},       {"SUBJECT", SortKey::subject},
      {"TO", SortKey::to},           {"DISPLAYFROM", SortKey::display_from},  // RFC 5957 §4
      {"DISPLAYTO", SortKey::display_to}};
  while (true) {
    SortCriterion c;
    if (r.keyword("REVERSE")) {
      c.reverse = true;
      if (!r.sp()) return syntax_error<SortArgs>(r);
    }
    bool found = false;
    for (const auto& [wire, key] : kSortKeys) {
      if (r.keyword(wire)) {
        c.key = key;
        found = true;
        break;
      }
    }
    if (!found) {
      r.fail("unknown sort key");
      return syntax_error<SortArgs>(r);
    }
    args.criteria.push_back(c);
    if (r.consume(')')) break;
    if (!r.sp()) return syntax_error<SortArgs>(r);
  }
  if (!r.sp()) return syntax_error<SortArgs>(r);
  auto cs = charset_name(r);
  if (!cs || !r.sp()) return syntax_error<SortArgs>(r);
  args.search.charset = ascii_upper(*cs);
  if (!parse_keys(r, args.search)) return syntax_error<SortArgs>(r);
  return args;
}

// RFC 5256 §5: thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
Result<ThreadArgs> parse_thread(TokenReader& r) {
  ThreadArgs args;
  if (!r.sp()) return syntax_error<ThreadArgs>(r);
  auto alg = r.atom();
  if (!alg || !r.sp()) return syntax_error<ThreadArgs>(r);
  args.algorithm = ascii_upper(*alg);
  auto cs = charset_name(r);
  if (!cs || !r.sp()) return syntax_error<ThreadArgs>(r);
  args.search.charset = ascii_upper(*cs);
  if (!parse_keys(r, args.search)) return syntax_error<ThreadArgs>(r);
  return args;
}

}  // namespace detail

const char* to_string(Kind kind) {
  switch (kind) {
    case Kind::and_: return "AND";
    case Kind::or_: return "OR";
    case Kind::not_: return "NOT";
    case Kind::sequence_set: return "SEQ";
    default: break;
  }
  for (const KeyEntry& e : kKeys)
    if (e.kind == kind) return e.wire;
  return "?";
}

std::string to_string(const SearchKey& key) {
  using detail::debug_quote;
  switch (key.kind) {
    case Kind::and_: {
      std::string out = "(";
      for (size_t i = 0; i < key.children.size(); ++i) {
        if (i) out += ' ';
        out += to_string(key.children[i]);
      }
      return out + ")";
    }
    case Kind::or_: return "OR " + to_string(key.children.at(0)) + " " + to_string(key.children.at(1));
    case Kind::not_: return "NOT " + to_string(key.children.at(0));
    case Kind::sequence_set: return key.set.to_string();
    case Kind::uid: return "UID " + key.set.to_string();
    case Kind::keyword:
    case Kind::unkeyword:
    case Kind::emailid:
    case Kind::threadid: return std::string(to_string(key.kind)) + " " + key.text;
    case Kind::bcc: case Kind::body: case Kind::cc: case Kind::from:
    case Kind::subject: case Kind::text: case Kind::to:
      return std::string(to_string(key.kind)) + " " + debug_quote(key.text);
    case Kind::header: return "HEADER " + debug_quote(key.header_name) + " " + debug_quote(key.text);
    case Kind::before: case Kind::on: case Kind::since:
    case Kind::sentbefore: case Kind::senton: case Kind::sentsince:
    case Kind::savedbefore: case Kind::savedon: case Kind::savedsince: {
      static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
      char buf[32];
      std::snprintf(buf, sizeof buf, "%d-%s-%04d", key.date.day, kMonths[(key.date.month + 11) % 12], key.date.year);
      return std::string(to_string(key.kind)) + " " + buf;
    }
    case Kind::larger: case Kind::smaller: case Kind::older: case Kind::younger:
      return std::string(to_string(key.kind)) + " " + std::to_string(key.number);
    case Kind::modseq: {
      std::string out = "MODSEQ ";
      if (!key.modseq_entry.empty()) out += debug_quote(key.modseq_entry) + " " + key.modseq_entry_type + " ";
      return out + std::to_string(key.number);
    }
    default: return to_string(key.kind);
  }
}

}  // namespace tern::imapd
