#include "smtpd/command.h"

#include <array>

#include "common/codec.h"

namespace tern::smtpd {
namespace {

struct VerbName {
  std::string_view name;
  Verb verb;
};

constexpr std::array<VerbName, 14> kVerbs = {{
    {"HELO", Verb::helo},
    {"EHLO", Verb::ehlo},
    {"MAIL", Verb::mail},
    {"RCPT", Verb::rcpt},
    {"DATA", Verb::data},
    {"BDAT", Verb::bdat},
    {"RSET", Verb::rset},
    {"NOOP", Verb::noop},
    {"QUIT", Verb::quit},
    {"VRFY", Verb::vrfy},
    {"EXPN", Verb::expn},
    {"HELP", Verb::help},
    {"STARTTLS", Verb::starttls},
    {"AUTH", Verb::auth},
}};

// RFC 5321 §4.5.3.1: limits on the parts of a path.
constexpr size_t kMaxLocalPart = 64;
constexpr size_t kMaxDomain = 255;
constexpr size_t kMaxPath = 256;
constexpr size_t kMaxEnvid = 100;   // RFC 3461 §4.4
constexpr size_t kMaxOrcpt = 500;   // RFC 3461 §4.2 (generous)

Error syntax(std::string text) { return make_error(Errc::syntax, std::move(text)); }

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_8bit(char c) { return static_cast<unsigned char>(c) >= 0x80; }

// RFC 5322 §3.2.3 atext.
bool is_atext(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(c) != std::string_view::npos;
}

bool is_ldh(char c) { return is_alpha(c) || is_digit(c) || c == '-'; }

// RFC 5321 §4.1.2 Domain = sub-domain *("." sub-domain), or an address literal.
// U-labels (8-bit bytes) are allowed when the caller accepts UTF-8 (RFC 6531 §3.3).
bool valid_domain(std::string_view d, bool* utf8) {
  if (d.empty() || d.size() > kMaxDomain) return false;
  if (d.front() == '[') {
    // RFC 5321 §4.1.3 address literal: dcontent is printable ASCII except [ ] \.
    if (d.size() < 3 || d.back() != ']') return false;
    for (char c : d.substr(1, d.size() - 2))
      if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\') return false;
    return true;
  }
  size_t label_len = 0;
  char prev = '.';
  for (char c : d) {
    if (c == '.') {
      if (label_len == 0 || prev == '-') return false;
      label_len = 0;
    } else if (is_ldh(c) || is_8bit(c)) {
      if (label_len == 0 && c == '-') return false;
      if (is_8bit(c)) *utf8 = true;
      if (++label_len > 63) return false;
    } else {
      return false;
    }
    prev = c;
  }
  return label_len > 0 && prev != '-';
}

// RFC 5321 §4.1.2 Local-part = Dot-string / Quoted-string.
bool valid_local_part(std::string_view l, bool* utf8) {
  if (l.empty() || l.size() > kMaxLocalPart) return false;
  if (l.front() == '"') {
    if (l.size() < 2 || l.back() != '"') return false;
    std::string_view inner = l.substr(1, l.size() - 2);
    for (size_t i = 0; i < inner.size(); ++i) {
      char c = inner[i];
      if (c == '\\') {
        // quoted-pairSMTP = "\" %d32-126
        if (++i >= inner.size() || inner[i] < 32 || inner[i] > 126) return false;
      } else if (c == '"') {
        return false;
      } else if (is_8bit(c)) {
        *utf8 = true;
      } else if (c < 32 || c > 126) {
        return false;
      }
    }
    return true;
  }
  char prev = '.';
  for (char c : l) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (is_8bit(c)) {
      *utf8 = true;
    } else if (!is_atext(c)) {
      return false;
    }
    prev = c;
  }
  return prev != '.';
}

// Finds the '>' closing a path that starts at s[0] == '<', honouring quoted local parts.
size_t find_path_end(std::string_view s) {
  bool quoted = false;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

// Parses "<...>" at the start of `s`; leaves the rest (parameters) in `rest`.
Status parse_path(std::string_view s, bool allow_null, bool allow_postmaster, Command* cmd,
                  std::string_view* rest) {
  if (s.empty() || s.front() != '<') return syntax("Path must be enclosed in <>");
  size_t end = find_path_end(s);
  if (end == std::string_view::npos) return syntax("Missing closing >");
  std::string_view inner = s.substr(1, end - 1);
  *rest = s.substr(end + 1);
  if (end + 1 > kMaxPath + 2) return syntax("Path too long");
  if (inner.empty()) {
    if (!allow_null) return syntax("Empty path not allowed here");
    cmd->path.clear();
    cmd->address = {};
    return {};
  }
  // RFC 5321 §4.1.1.3 / Appendix C: a source route "@a,@b:" MUST be accepted and ignored.
  if (inner.front() == '@') {
    size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return syntax("Bad source route");
    for (auto hop : split(inner.substr(0, colon), ',')) {
      bool utf8 = false;
      if (hop.size() < 2 || hop.front() != '@' || !valid_domain(hop.substr(1), &utf8))
        return syntax("Bad source route");
    }
    inner = inner.substr(colon + 1);
  }
  // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain MUST be accepted for RCPT.
  if (allow_postmaster && iequals(inner, "postmaster")) {
    cmd->path = std::string(inner);
    cmd->address = MailAddress{std::string(inner), ""};
    return {};
  }
  size_t at = inner.rfind('@');
  if (at == std::string_view::npos) return syntax("Address must contain a domain");
  std::string_view local = inner.substr(0, at);
  std::string_view domain = inner.substr(at + 1);
  bool utf8 = false;
  if (!valid_local_part(local, &utf8)) return syntax("Bad local part");
  if (!valid_domain(domain, &utf8)) return syntax("Bad domain");
  cmd->path = std::string(inner);
  cmd->address = MailAddress{std::string(local), ascii_lower(domain)};
  cmd->path_is_utf8 = utf8;
  return {};
}

// RFC 5321 §4.1.2 esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
// esmtp-value = 1*(%d33-60 / %d62-126); RFC 6531 §3.3 also allows UTF-8 in values.
bool valid_keyword(std::string_view k) {
  if (k.empty() || !(is_alpha(k[0]) || is_digit(k[0]))) return false;
  for (char c : k)
    if (!is_ldh(c)) return false;
  return true;
}

bool valid_value(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v)
    if (!is_8bit(c) && (c < 33 || c > 126 || c == '=')) return false;
  return true;
}

struct Param {
  std::string_view key;
  std::optional<std::string_view> value;
};

// Splits the text after the path into KEY[=VALUE] words separated by spaces.
Result<std::vector<Param>> split_params(std::string_view rest) {
  std::vector<Param> out;
  if (!rest.empty() && rest.front() != ' ') return syntax("Expected space before parameters");
  for (auto word : split(rest, ' ')) {
    if (word.empty()) continue;  // tolerate repeated spaces
    Param p;
    size_t eq = word.find('=');
    p.key = word.substr(0, eq);
    if (eq != std::string_view::npos) {
      p.value = word.substr(eq + 1);
      if (!valid_value(*p.value)) return syntax("Bad parameter value");
    }
    if (!valid_keyword(p.key)) return syntax("Bad parameter keyword");
    for (const auto& seen : out)
      if (iequals(seen.key, p.key)) return syntax("Duplicate parameter");
    out.push_back(p);
  }
  return out;
}

Error unknown_param(std::string_view key) {
  return make_error(Errc::not_found, "Parameter not supported: " + std::string(key.substr(0, 32)));
}

Status parse_mail_params(std::string_view rest, MailParams* mp) {
  auto params = split_params(rest);
  if (!params) return params.error();
  for (const auto& p : *params) {
    std::string key = ascii_upper(p.key);
    std::string_view v = p.value.value_or("");
    if (key == "SIZE") {  // RFC 1870 §3: SIZE=<digits>
      if (!p.value) return syntax("SIZE needs a value");
      for (char c : v)
        if (!is_digit(c)) return syntax("Bad SIZE value");
      auto n = parse_u64(v);
      // A number too large for 64 bits is still "too big", not a syntax error.
      mp->size = n ? *n : UINT64_MAX;
    } else if (key == "BODY") {  // RFC 6152 §2; BINARYMIME is not advertised, so refused.
      if (iequals(v, "7BIT")) mp->body = BodyType::seven_bit;
      else if (iequals(v, "8BITMIME")) mp->body = BodyType::eight_bit_mime;
      else return syntax("Unsupported BODY value");
    } else if (key == "SMTPUTF8") {  // RFC 6531 §3.4: no value
      if (p.value) return syntax("SMTPUTF8 takes no value");
      mp->smtputf8 = true;
    } else if (key == "RET") {  // RFC 3461 §4.3
      if (iequals(v, "FULL")) mp->ret = DsnRet::full;
      else if (iequals(v, "HDRS")) mp->ret = DsnRet::hdrs;
      else return syntax("Bad RET value");
    } else if (key == "ENVID") {  // RFC 3461 §4.4: xtext, at most 100 characters
      if (!p.value || v.size() > kMaxEnvid || !is_valid_xtext(v)) return syntax("Bad ENVID value");
      mp->envid = std::string(v);
    } else if (key == "AUTH") {  // RFC 4954 §5: accepted, and we do not trust it
      if (!p.value) return syntax("AUTH needs a value");
      mp->auth_given = true;
    } else {
      return unknown_param(p.key);
    }
  }
  return {};
}

Status parse_rcpt_params(std::string_view rest, RcptParams* rp) {
  auto params = split_params(rest);
  if (!params) return params.error();
  for (const auto& p : *params) {
    std::string key = ascii_upper(p.key);
    std::string_view v = p.value.value_or("");
    if (key == "NOTIFY") {
      // RFC 3461 §4.1: "NEVER" alone, or a comma list of SUCCESS, FAILURE, DELAY.
      if (!p.value) return syntax("NOTIFY needs a value");
      uint8_t flags = 0;
      for (auto word : split(v, ',')) {
        uint8_t f = 0;
        if (iequals(word, "NEVER")) f = kNotifyNever;
        else if (iequals(word, "SUCCESS")) f = kNotifySuccess;
        else if (iequals(word, "FAILURE")) f = kNotifyFailure;
        else if (iequals(word, "DELAY")) f = kNotifyDelay;
        else return syntax("Bad NOTIFY value");
        if (flags & f) return syntax("Bad NOTIFY value");
        flags |= f;
      }
      if ((flags & kNotifyNever) && flags != kNotifyNever) return syntax("NOTIFY=NEVER must be alone");
      rp->notify = flags;
    } else if (key == "ORCPT") {
      // RFC 3461 §4.2: ORCPT=addr-type ";" xtext
      size_t semi = v.find(';');
      if (!p.value || semi == std::string_view::npos || semi == 0 || v.size() > kMaxOrcpt ||
          !valid_keyword(v.substr(0, semi)) || semi + 1 == v.size() ||
          !is_valid_xtext(v.substr(semi + 1)))
        return syntax("Bad ORCPT value");
      rp->orcpt = std::string(v);
    } else {
      return unknown_param(p.key);
    }
  }
  return {};
}

bool has_only_spaces(std::string_view s) { return s.find_first_not_of(' ') == std::string_view::npos; }

// HELO/EHLO argument: a domain or address literal. We accept what clients really send
// (RFC 5321 §4.1.4: do not refuse on a mismatch) but only characters that are safe to put
// in our Received: header.
bool valid_helo(std::string_view s) {
  if (s.empty() || s.size() > kMaxDomain) return false;
  for (char c : s)
    if (!(is_ldh(c) || c == '.' || c == '_' || c == ':' || c == '[' || c == ']')) return false;
  return true;
}

}  // namespace

const char* to_string(Verb verb) {
  for (const auto& v : kVerbs)
    if (v.verb == verb) return v.name.data();
  return "UNKNOWN";
}

Verb parse_verb(std::string_view line) {
  std::string_view verb = line.substr(0, line.find(' '));
  for (const auto& v : kVerbs)
    if (iequals(verb, v.name)) return v.verb;
  return Verb::unknown;
}

Result<Command> parse_command(std::string_view line) {
  Command cmd;
  size_t sp = line.find(' ');
  std::string_view verb = line.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  cmd.verb_text = std::string(verb.substr(0, 16));
  cmd.verb = parse_verb(verb);

  switch (cmd.verb) {
    case Verb::unknown:
      return cmd;
    case Verb::helo:
    case Verb::ehlo: {
      // RFC 5321 §4.1.1.1: a domain (or address literal) is required.
      std::string_view arg = trim(rest);
      if (arg.empty()) return syntax("Domain name required");
      if (!valid_helo(arg)) return syntax("Invalid domain name");
      cmd.argument = std::string(arg);
      return cmd;
    }
    case Verb::mail:
    case Verb::rcpt: {
      bool mail = cmd.verb == Verb::mail;
      std::string_view key = mail ? "FROM:" : "TO:";
      if (!istarts_with(rest, key)) return syntax(mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
      rest.remove_prefix(key.size());
      // Not in the grammar, but common: "MAIL FROM: <a@b>". Accepted.
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      std::string_view params;
      auto st = parse_path(rest, mail, !mail, &cmd, &params);
      if (!st) return st.error();
      st = mail ? parse_mail_params(params, &cmd.mail) : parse_rcpt_params(params, &cmd.rcpt);
      if (!st) return st.error();
      return cmd;
    }
    case Verb::data:
    case Verb::rset:
    case Verb::quit:
    case Verb::starttls:
      // RFC 5321 §4.1.1.4, §4.1.1.5, §4.1.1.10, RFC 3207 §4: no parameters.
      if (!has_only_spaces(rest)) return syntax("No parameters allowed");
      return cmd;
    case Verb::noop:
    case Verb::help:
      cmd.argument = std::string(trim(rest).substr(0, 64));
      return cmd;
    case Verb::vrfy:
    case Verb::expn:
      if (trim(rest).empty()) return syntax("Argument required");
      cmd.argument = std::string(trim(rest).substr(0, 64));
      return cmd;
    case Verb::bdat: {
      // RFC 3030 §2: "BDAT" SP chunk-size [ SP end-marker ]; chunk-size = 1*DIGIT
      auto words = split(rest, ' ');
      if (rest.empty() || words.size() > 2) return syntax("Syntax: BDAT <size> [LAST]");
      for (char c : words[0])
        if (!is_digit(c)) return syntax("Syntax: BDAT <size> [LAST]");
      auto n = parse_u64(words[0]);
      if (!n) return syntax("Bad chunk size");
      cmd.bdat_size = *n;
      if (words.size() == 2) {
        if (!iequals(words[1], "LAST")) return syntax("Syntax: BDAT <size> [LAST]");
        cmd.bdat_last = true;
      }
      return cmd;
    }
    case Verb::auth: {
      // RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response]
      auto words = split(rest, ' ');
      if (rest.empty() || words.size() > 2 || words[0].empty() || words[0].size() > 20)
        return syntax("Syntax: AUTH <mechanism> [initial-response]");
      for (char c : words[0])
        if (!(is_ldh(c) || c == '_')) return syntax("Bad mechanism name");
      cmd.argument = ascii_upper(words[0]);
      if (words.size() == 2) {
        if (words[1].empty()) return syntax("Empty initial response");
        cmd.initial_response = std::string(words[1]);
      }
      return cmd;
    }
  }
  return cmd;
}

}  // namespace tern::smtpd
