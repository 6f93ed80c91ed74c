// Authentication-Results rendering and §5 removal (RFC 8601).
#include "authn/auth_results.h"

#include "common/strings.h"

namespace tern::authn {

namespace {

// RFC 2045 §5.1 token: printable ASCII except SP and tspecials.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    if (std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos) return false;
  }
  return true;
}

// RFC 8601 §2.2 pvalue: a token, [local-part] "@" domain, or a quoted-string.
std::string pvalue(std::string_view s) {
  size_t at = s.rfind('@');
  if (is_token(s)) return std::string(s);
  if (at != std::string_view::npos && (at == 0 || is_token(s.substr(0, at))) && is_token(s.substr(at + 1))) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A comment: ( ) and \ escaped (RFC 5322 §3.2.2 quoted-pair), control bytes dropped.
std::string comment(std::string_view s) {
  std::string out = " (";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out += c;
  }
  return out + ")";
}

void spf_clause(std::vector<std::string>& out, const SpfVerdict& s, bool helo) {
  std::string r = std::string("spf=") + to_string(s.result);
  std::string why = s.problem.empty() ? (s.mechanism.empty() ? "" : "matched " + s.mechanism) : s.problem;
  if (!why.empty()) r += comment(why);
  // RFC 8601 §2.7.2: smtp.mailfrom (the address, or the domain for <> via HELO) or smtp.helo.
  if (helo) r += " smtp.helo=" + pvalue(s.domain);
  else r += " smtp.mailfrom=" + pvalue(s.sender);
  out.push_back(std::move(r));
}

}  // namespace

std::string render_authentication_results(std::string_view authserv_id, const AuthVerdicts& v) {
  std::vector<std::string> parts;
  if (v.iprev) {
    std::string r = std::string("iprev=") + to_string(v.iprev->result);
    if (!v.iprev->name.empty()) r += comment(v.iprev->name);
    else if (!v.iprev->reason.empty()) r += comment(v.iprev->reason);
    // RFC 8601 §3: the property is policy.iprev, the client address.
    r += " policy.iprev=" + pvalue(v.iprev->ip);
    parts.push_back(std::move(r));
  }
  if (v.spf_helo) spf_clause(parts, *v.spf_helo, true);
  if (v.spf) spf_clause(parts, *v.spf, false);
  if (v.dkim_checked && v.dkim.empty()) parts.push_back("dkim=none");
  for (const auto& d : v.dkim) {
    std::string r = std::string("dkim=") + to_string(d.result);
    if (!d.reason.empty()) r += comment(d.reason);
    else if (d.testing) r += comment("key in testing mode");
    if (!d.domain.empty()) {
      // RFC 8601 §2.7.1 header.d/header.i/header.s/header.a; RFC 6008 header.b.
      r += " header.d=" + pvalue(d.domain);
      if (!d.identity.empty() && d.identity != "@" + d.domain) r += " header.i=" + pvalue(d.identity);
      r += " header.s=" + pvalue(d.selector);
      if (!d.algorithm.empty()) r += " header.a=" + pvalue(d.algorithm);
      if (!d.b_prefix.empty()) r += " header.b=" + pvalue(d.b_prefix);
    }
    parts.push_back(std::move(r));
  }
  if (v.dmarc) {
    const auto& m = *v.dmarc;
    std::string r = std::string("dmarc=") + to_string(m.result);
    if (m.record) {
      r += comment(std::string("p=") + to_string(m.record->p) +
                   (m.record->sp ? std::string(" sp=") + to_string(*m.record->sp) : "") +
                   " dis=" + to_string(m.disposition) + (m.result == DmarcResult::pass ? "" : "; " + m.reason));
    } else if (!m.reason.empty()) {
      r += comment(m.reason);
    }
    // RFC 7489 §11.2: header.from is the RFC5322.From domain.
    if (!m.from_domain.empty()) r += " header.from=" + pvalue(m.from_domain);
    parts.push_back(std::move(r));
  }
  std::string out = "Authentication-Results: " + std::string(authserv_id);
  if (parts.empty()) return out + "; none\r\n";  // RFC 8601 §2.2 no-result
  for (const auto& p : parts) out += ";\r\n\t" + p;
  return out + "\r\n";
}

std::optional<std::string> authserv_id_of(std::string_view field) {
  size_t colon = field.find(':');
  if (colon == std::string_view::npos || !iequals(trim(field.substr(0, colon)), "authentication-results")) {
    return std::nullopt;
  }
  std::string_view v = field.substr(colon + 1);
  size_t i = 0;
  // Skip CFWS: whitespace, folds and (nested) comments.
  for (;;) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) ++i;
    if (i < v.size() && v[i] == '(') {
      int depth = 0;
      for (; i < v.size(); ++i) {
        if (v[i] == '\\') { ++i; continue; }
        if (v[i] == '(') ++depth;
        if (v[i] == ')' && --depth == 0) { ++i; break; }
      }
      continue;
    }
    break;
  }
  // RFC 8601 §2.2: authserv-id = value (a token or a quoted-string).
  std::string id;
  if (i < v.size() && v[i] == '"') {
    for (++i; i < v.size() && v[i] != '"'; ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      id += v[i];
    }
  } else {
    while (i < v.size() && v[i] != ';' && v[i] != '(' && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n') id += v[i++];
  }
  if (id.empty()) return std::nullopt;
  return id;
}

std::string strip_authentication_results(std::string_view message, std::string_view authserv_id) {
  std::string out;
  out.reserve(message.size());
  size_t pos = 0;
  bool dropping = false;
  while (pos < message.size()) {
    size_t lf = message.find('\n', pos);
    size_t end = lf == std::string_view::npos ? message.size() : lf + 1;
    std::string_view line = message.substr(pos, end - pos);
    std::string_view bare = line;
    while (!bare.empty() && (bare.back() == '\n' || bare.back() == '\r')) bare.remove_suffix(1);
    if (bare.empty()) {  // end of the header section: the rest is copied untouched
      out.append(message.substr(pos));
      return out;
    }
    bool continuation = bare[0] == ' ' || bare[0] == '\t';
    if (!continuation) {
      // A new field: gather it with its continuation lines to read the authserv-id.
      size_t fend = end;
      while (fend < message.size() && (message[fend] == ' ' || message[fend] == '\t')) {
        size_t nlf = message.find('\n', fend);
        fend = nlf == std::string_view::npos ? message.size() : nlf + 1;
      }
      auto id = authserv_id_of(message.substr(pos, fend - pos));
      // RFC 8601 §5: fields claiming our authserv-id are forgeries (or stale) and go.
      dropping = id && iequals(*id, authserv_id);
    }
    if (!dropping) out.append(line);
    pos = end;
  }
  return out;
}

}  // namespace tern::authn
