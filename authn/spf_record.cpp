// SPF record syntax (RFC 7208 §4.5, §5, §6, §12) and macros (RFC 7208 §7).
#include <algorithm>
#include <cstdio>

#include "authn/spf.h"
#include "common/strings.h"

namespace tern::authn {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

constexpr std::string_view kDelimiters = ".-+,/_=";  // RFC 7208 §7.1 delimiter

// RFC 7208 §12: toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool valid_toplabel(std::string_view l) {
  if (l.empty()) return false;
  bool alpha = false;
  for (char c : l) {
    if (is_alpha(c)) alpha = true;
    else if (!is_digit(c) && c != '-') return false;
  }
  if (l.find('-') == std::string_view::npos) return alpha;
  return is_alnum(l.front()) && is_alnum(l.back());
}

// A macro-expand at [i] ("%{...}", "%%", "%_", "%-"); returns its length, 0 when invalid.
size_t macro_expand_len(std::string_view s, size_t i, bool explanation) {
  if (i + 1 >= s.size() || s[i] != '%') return 0;
  char n = s[i + 1];
  if (n == '%' || n == '_' || n == '-') return 2;
  if (n != '{') return 0;
  size_t j = i + 2;
  if (j >= s.size()) return 0;
  char letter = static_cast<char>(s[j] | 0x20);
  // RFC 7208 §7.2: c, r and t are only allowed in explanation strings.
  std::string_view letters = explanation ? "slodiphcrtv" : "slodiphv";
  if (!is_alpha(s[j]) || letters.find(letter) == std::string_view::npos) return 0;
  ++j;
  size_t digits = 0;
  bool nonzero = false;
  while (j < s.size() && is_digit(s[j])) {
    if (s[j] != '0') nonzero = true;
    ++digits;
    ++j;
  }
  // RFC 7208 §7.3: a DIGIT transformer of zero is not allowed.
  if (digits > 0 && !nonzero) return 0;
  if (j < s.size() && (s[j] == 'r' || s[j] == 'R')) ++j;
  while (j < s.size() && kDelimiters.find(s[j]) != std::string_view::npos) ++j;
  if (j >= s.size() || s[j] != '}') return 0;
  return j + 1 - i;
}

// RFC 7208 §7.1 domain-spec = macro-string domain-end; domain-end = ("." toplabel ["."]) / macro-expand
bool valid_domain_spec(std::string_view s) {
  if (s.empty() || !valid_macro_string(s, false)) return false;
  // Ends in a macro-expand? Find the last one and see whether it reaches the end.
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    size_t n = macro_expand_len(s, i, false);
    if (i + n == s.size()) return true;
    i += n - 1;
  }
  std::string_view t = s;
  if (t.back() == '.') t.remove_suffix(1);
  size_t dot = t.rfind('.');
  if (dot == std::string_view::npos) return false;
  return valid_toplabel(t.substr(dot + 1));
}

// "/" ("0" / %x31-39 0*N DIGIT) with value <= max (RFC 7208 §5.6 cidr lengths).
std::optional<int> parse_cidr(std::string_view digits, int max) {
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  int v = 0;
  for (char c : digits) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

// Strips a trailing dual-cidr-length ("/24", "//64", "/24//64") from `s` (a and mx).
bool take_dual_cidr(std::string_view& s, SpfMechanism& m) {
  size_t dd = s.rfind("//");
  if (dd != std::string_view::npos) {
    auto v = parse_cidr(s.substr(dd + 2), 128);
    if (!v) return false;
    m.cidr6 = *v;
    s = s.substr(0, dd);
  }
  size_t sl = s.rfind('/');
  if (sl != std::string_view::npos) {
    // Only digits after the slash make it a cidr (a "/" inside a macro-literal is legal).
    std::string_view tail = s.substr(sl + 1);
    bool digits = !tail.empty() && tail.find_first_not_of("0123456789") == std::string_view::npos;
    if (digits) {
      auto v = parse_cidr(tail, 32);
      if (!v) return false;
      m.cidr4 = *v;
      s = s.substr(0, sl);
    }
  }
  return true;
}

bool valid_modifier_name(std::string_view n) {
  if (n.empty() || !is_alpha(n[0])) return false;
  for (char c : n) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

Error syntax(std::string what) { return make_error(Errc::syntax, std::move(what)); }

}  // namespace

bool valid_macro_string(std::string_view s, bool explanation) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      size_t n = macro_expand_len(s, i, explanation);
      if (n == 0) return false;
      i += n - 1;
      continue;
    }
    // macro-literal = %x21-24 / %x26-7E; explanations may also hold SP (§6.2 explain-string).
    bool literal = (c >= 0x21 && c <= 0x7e) || (explanation && c == ' ');
    if (!literal) return false;
  }
  return true;
}

bool uses_p_macro(std::string_view s) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] == '%' && s[i + 1] == '%') {
      ++i;
      continue;
    }
    if (s[i] == '%' && s[i + 1] == '{' && (s[i + 2] | 0x20) == 'p') return true;
  }
  return false;
}

bool is_spf_record(std::string_view txt) {
  // RFC 7208 §4.5: exactly "v=spf1" followed by a space or the end of the record.
  return istarts_with(txt, "v=spf1") && (txt.size() == 6 || txt[6] == ' ');
}

Result<SpfRecord> parse_spf_record(std::string_view txt) {
  if (!is_spf_record(txt)) return syntax("not an SPF record");
  SpfRecord rec;
  // RFC 7208 §12: terms are separated by 1*SP.
  for (auto term : split(txt.substr(6), ' ')) {
    if (term.empty()) continue;
    std::string text(term);
    // Modifier: name "=" macro-string (§6, §12); checked before mechanisms since a name may
    // look like one ("a=b" is a modifier named "a").
    size_t eq = term.find('=');
    size_t sep = term.find_first_of(":/");
    if (eq != std::string_view::npos && (sep == std::string_view::npos || eq < sep) &&
        valid_modifier_name(term.substr(0, eq))) {
      std::string name = ascii_lower(term.substr(0, eq));
      std::string_view value = term.substr(eq + 1);
      if (name == "redirect" || name == "exp") {
        // RFC 7208 §6: each of these MUST NOT appear more than once.
        auto& slot = name == "redirect" ? rec.redirect : rec.exp;
        if (slot) return syntax("duplicate " + name + "=");
        if (!valid_domain_spec(value)) return syntax("bad domain-spec in " + text);
        slot = std::string(value);
      } else if (!valid_macro_string(value, false)) {
        // RFC 7208 §6: unknown modifiers are ignored, but must still be well-formed.
        return syntax("bad modifier " + text);
      }
      continue;
    }
    SpfMechanism m;
    m.text = text;
    std::string_view t = term;
    if (t[0] == '+' || t[0] == '-' || t[0] == '~' || t[0] == '?') {
      m.qualifier = static_cast<SpfQualifier>(t[0]);
      t.remove_prefix(1);
    }
    size_t name_end = t.find_first_of(":/");
    std::string name = ascii_lower(t.substr(0, name_end));
    std::string_view arg = name_end == std::string_view::npos ? std::string_view{} : t.substr(name_end);
    if (name == "all") {
      if (!arg.empty()) return syntax("bad term " + text);
      m.kind = SpfMechanismKind::all;
    } else if (name == "include" || name == "exists") {
      m.kind = name == "include" ? SpfMechanismKind::include : SpfMechanismKind::exists;
      if (arg.size() < 2 || arg[0] != ':' || !valid_domain_spec(arg.substr(1))) return syntax("bad term " + text);
      m.domain_spec = std::string(arg.substr(1));
    } else if (name == "a" || name == "mx") {
      m.kind = name == "a" ? SpfMechanismKind::a : SpfMechanismKind::mx;
      if (!take_dual_cidr(arg, m)) return syntax("bad cidr in " + text);
      if (!arg.empty()) {
        if (arg[0] != ':' || !valid_domain_spec(arg.substr(1))) return syntax("bad term " + text);
        m.domain_spec = std::string(arg.substr(1));
      }
    } else if (name == "ptr") {
      m.kind = SpfMechanismKind::ptr;
      if (!arg.empty()) {
        if (arg[0] != ':' || !valid_domain_spec(arg.substr(1))) return syntax("bad term " + text);
        m.domain_spec = std::string(arg.substr(1));
      }
    } else if (name == "ip4" || name == "ip6") {
      bool v6 = name == "ip6";
      m.kind = v6 ? SpfMechanismKind::ip6 : SpfMechanismKind::ip4;
      if (arg.size() < 2 || arg[0] != ':') return syntax("bad term " + text);
      std::string_view net = arg.substr(1);
      size_t sl = net.find('/');
      if (sl != std::string_view::npos) {
        auto v = parse_cidr(net.substr(sl + 1), v6 ? 128 : 32);
        if (!v) return syntax("bad cidr in " + text);
        (v6 ? m.cidr6 : m.cidr4) = *v;
        net = net.substr(0, sl);
      }
      auto ip = IpAddress::parse(net);
      // An ip6 network written as a mapped IPv4 address parses as IPv4: refuse the mix.
      bool bad = !ip || ip->v6 != v6 || (v6 && net.find(':') == std::string_view::npos);
      if (!v6 && net.find(':') != std::string_view::npos) bad = true;
      if (bad) return syntax("bad address in " + text);
      m.network = *ip;
    } else {
      // RFC 7208 §4.6: an unknown mechanism is a syntax error -> permerror.
      return syntax("unknown mechanism " + text);
    }
    rec.mechanisms.push_back(std::move(m));
  }
  return rec;
}

namespace {

std::string url_escape(std::string_view s) {
  // RFC 7208 §7.3: upper-case macro letters URL-escape all but the unreserved characters.
  std::string out;
  for (unsigned char c : s) {
    if (is_alnum(static_cast<char>(c)) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

Result<std::string> expand_spf_macros(std::string_view s, const SpfMacroContext& ctx, bool explanation) {
  if (!valid_macro_string(s, explanation)) return syntax("bad macro string");
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    size_t n = macro_expand_len(s, i, explanation);
    std::string_view m = s.substr(i, n);
    i += n - 1;
    if (m == "%%") { out += '%'; continue; }
    if (m == "%_") { out += ' '; continue; }
    if (m == "%-") { out += "%20"; continue; }
    char letter = m[2];
    std::string value;
    switch (letter | 0x20) {
      case 's': value = ctx.sender; break;
      case 'l': value = ctx.local; break;
      case 'o': value = ctx.sender_domain; break;
      case 'd': value = ctx.domain; break;
      case 'i': value = ctx.ip.spf_dotted(); break;
      case 'p': value = ctx.validated.empty() ? "unknown" : ctx.validated; break;
      case 'v': value = ctx.ip.v6 ? "ip6" : "in-addr"; break;
      case 'h': value = ctx.helo; break;
      case 'c': value = ctx.ip.str(); break;
      case 'r': value = ctx.receiver.empty() ? "unknown" : ctx.receiver; break;
      case 't': value = std::to_string(ctx.now); break;
    }
    // Transformers: *DIGIT ["r"] then delimiters, up to "}".
    size_t j = 3;
    size_t keep = 0;
    while (j < m.size() && is_digit(m[j])) keep = std::min<size_t>(keep * 10 + static_cast<size_t>(m[j++] - '0'), 1000);
    bool reverse = j < m.size() && (m[j] == 'r' || m[j] == 'R');
    if (reverse) ++j;
    std::string_view delims = m.substr(j, m.size() - 1 - j);
    if (delims.empty()) delims = ".";
    // RFC 7208 §7.3: split on the delimiters, optionally reverse, keep the rightmost N
    // parts, join with ".".
    std::vector<std::string> parts;
    std::string cur;
    for (char c : value) {
      if (delims.find(c) != std::string_view::npos) {
        parts.push_back(std::move(cur));
        cur.clear();
      } else {
        cur += c;
      }
    }
    parts.push_back(std::move(cur));
    if (reverse) std::reverse(parts.begin(), parts.end());
    size_t start = keep > 0 && keep < parts.size() ? parts.size() - keep : 0;
    std::string joined;
    for (size_t k = start; k < parts.size(); ++k) {
      if (k > start) joined += '.';
      joined += parts[k];
    }
    out += is_alpha(letter) && letter >= 'A' && letter <= 'Z' ? url_escape(joined) : joined;
  }
  return out;
}

bool valid_spf_domain(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.empty() || d.size() > 253) return false;
  // An address literal ("[192.0.2.1]", RFC 5321 §4.1.3) is no domain: no DNS query for it.
  if (d.front() == '[') return false;
  size_t labels = 0;
  for (auto label : split(d, '.')) {
    if (label.empty() || label.size() > 63) return false;
    ++labels;
  }
  return labels >= 2;
}

const char* to_string(SpfResult r) {
  switch (r) {
    case SpfResult::none: return "none";
    case SpfResult::neutral: return "neutral";
    case SpfResult::pass: return "pass";
    case SpfResult::fail: return "fail";
    case SpfResult::softfail: return "softfail";
    case SpfResult::temperror: return "temperror";
    case SpfResult::permerror: return "permerror";
  }
  return "?";
}

const char* to_string(SpfIdentity i) { return i == SpfIdentity::helo ? "helo" : "mailfrom"; }

}  // namespace tern::authn
