// DKIM-Signature and key record parsing (RFC 6376 §3.5, §3.6.1, §6.1.1; RFC 8463 §4).
#include "authn/dkim.h"
#include "common/codec.h"
#include "common/strings.h"

namespace tern::authn {

namespace {

Error bad(std::string why) { return make_error(Errc::syntax, std::move(why)); }

std::optional<int64_t> parse_time(std::string_view s) {
  // RFC 6376 §3.5 t=, x=: 1*12DIGIT.
  if (s.empty() || s.size() > 12) return std::nullopt;
  auto v = parse_u64(s);
  if (!v) return std::nullopt;
  return static_cast<int64_t>(*v);
}

bool is_subdomain_or_same(std::string_view sub, std::string_view domain) {
  if (iequals(sub, domain)) return true;
  return sub.size() > domain.size() && sub[sub.size() - domain.size() - 1] == '.' &&
         iequals(sub.substr(sub.size() - domain.size()), domain);
}

std::vector<std::string> colon_list(std::string_view v) {
  std::vector<std::string> out;
  std::string stripped = strip_fws(v);  // split() returns views into it
  for (auto p : split(stripped, ':')) {
    if (!p.empty()) out.push_back(ascii_lower(p));
  }
  return out;
}

}  // namespace

Result<DkimSignature> parse_dkim_signature(std::string_view value) {
  auto tags = parse_tag_list(value);
  if (!tags) return tags.error();
  DkimSignature sig;
  bool has_v = false, has_a = false, has_b = false, has_bh = false, has_d = false, has_h = false,
       has_s = false, has_i = false;
  for (const auto& t : *tags) {
    const std::string& n = t.name;
    const std::string& v = t.value;
    if (n == "v") {
      // RFC 6376 §6.1.1: v= must be "1".
      if (v != "1") return bad("unsupported version v=" + v);
      has_v = true;
    } else if (n == "a") {
      sig.algorithm = ascii_lower(v);
      has_a = true;
      if (sig.algorithm == "rsa-sha256") sig.alg = DkimAlgorithmId::rsa_sha256;
      else if (sig.algorithm == "ed25519-sha256") sig.alg = DkimAlgorithmId::ed25519_sha256;
      else if (sig.algorithm == "rsa-sha1") sig.alg = DkimAlgorithmId::rsa_sha1;
    } else if (n == "b") {
      sig.b = strip_fws(v);
      has_b = true;
    } else if (n == "bh") {
      sig.bh = strip_fws(v);
      has_bh = true;
    } else if (n == "c") {
      std::string c = ascii_lower(v);
      size_t slash = c.find('/');
      std::string hc = c.substr(0, slash);
      std::string bc = slash == std::string::npos ? "simple" : c.substr(slash + 1);
      auto canon = [](const std::string& s) -> std::optional<mime::DkimCanon> {
        if (s == "simple") return mime::DkimCanon::simple;
        if (s == "relaxed") return mime::DkimCanon::relaxed;
        return std::nullopt;
      };
      auto h = canon(hc), b = canon(bc);
      if (!h || !b) return bad("unknown canonicalization c=" + v);
      sig.header_canon = *h;
      sig.body_canon = *b;
    } else if (n == "d") {
      sig.domain = ascii_lower(v);
      has_d = true;
    } else if (n == "h") {
      std::string names = strip_fws(v);  // split() returns views into it
      for (auto name : split(names, ':')) {
        if (name.empty()) return bad("empty name in h=");
        sig.headers.push_back(ascii_lower(name));
      }
      has_h = true;
    } else if (n == "i") {
      sig.identity = v;
      has_i = true;
    } else if (n == "l") {
      // RFC 6376 §3.5 l=: 1*76DIGIT.
      auto l = v.size() <= 76 ? parse_u64(v) : std::nullopt;
      if (!l) return bad("bad l=");
      sig.length = *l;
    } else if (n == "q") {
      // RFC 6376 §3.5 q=: dns/txt is the only method defined; it must be among them.
      bool dns = false;
      for (const auto& m : colon_list(v)) dns = dns || m == "dns/txt" || m == "dns";
      if (!dns) return bad("unsupported query method q=" + v);
    } else if (n == "s") {
      sig.selector = ascii_lower(v);
      has_s = true;
    } else if (n == "t") {
      sig.timestamp = parse_time(v);
      if (!sig.timestamp) return bad("bad t=");
    } else if (n == "x") {
      sig.expiration = parse_time(v);
      if (!sig.expiration) return bad("bad x=");
    }
    // z= and unknown tags are ignored (RFC 6376 §3.2: unrecognized tags MUST be ignored).
  }
  // RFC 6376 §6.1.1: v, a, b, bh, d, h, s are required.
  if (!has_v || !has_a || !has_b || !has_bh || !has_d || !has_h || !has_s) {
    return bad("missing required tag");
  }
  if (sig.domain.empty() || sig.selector.empty() || sig.b.empty() || sig.bh.empty()) {
    return bad("empty required tag");
  }
  // RFC 6376 §6.1.1: the From header field MUST be signed.
  bool from = false;
  for (const auto& h : sig.headers) from = from || h == "from";
  if (!from) return bad("From is not signed (h= lacks from)");
  // RFC 6376 §6.1.1: i= must be d= or a subdomain of it.
  if (has_i) {
    size_t at = sig.identity.rfind('@');
    if (at == std::string::npos || !is_subdomain_or_same(std::string_view(sig.identity).substr(at + 1), sig.domain)) {
      return bad("i= is not within d=");
    }
  } else {
    sig.identity = "@" + sig.domain;
  }
  // RFC 6376 §3.5 x=: MUST be greater than t=.
  if (sig.timestamp && sig.expiration && *sig.expiration < *sig.timestamp) return bad("x= before t=");
  return sig;
}

bool DkimKeyRecord::testing() const {
  for (const auto& f : flags) {
    if (f == "y") return true;
  }
  return false;
}

bool DkimKeyRecord::strict() const {
  for (const auto& f : flags) {
    if (f == "s") return true;
  }
  return false;
}

Result<DkimKeyRecord> parse_dkim_key(std::string_view txt) {
  auto tags = parse_tag_list(txt);
  if (!tags) return tags.error();
  DkimKeyRecord key;
  bool has_p = false;
  for (size_t i = 0; i < tags->size(); ++i) {
    const auto& t = (*tags)[i];
    if (t.name == "v") {
      // RFC 6376 §3.6.1: if present, v= MUST be "DKIM1" and the first tag.
      if (i != 0 || t.value != "DKIM1") return bad("bad key record version");
    } else if (t.name == "k") {
      key.key_type = ascii_lower(t.value);
    } else if (t.name == "h") {
      key.hashes = colon_list(t.value);
    } else if (t.name == "s") {
      key.services = colon_list(t.value);
    } else if (t.name == "t") {
      key.flags = colon_list(t.value);
    } else if (t.name == "p") {
      has_p = true;
      // RFC 6376 §3.6.1: p= is base64 with FWS allowed; empty means a revoked key.
      auto raw = base64_decode_fws(t.value);
      if (!raw) return bad("key p= is not base64");
      key.public_key = std::move(*raw);
    }
  }
  if (!has_p) return bad("key record without p=");
  return key;
}

const char* to_string(DkimResult r) {
  switch (r) {
    case DkimResult::none: return "none";
    case DkimResult::pass: return "pass";
    case DkimResult::fail: return "fail";
    case DkimResult::policy: return "policy";
    case DkimResult::neutral: return "neutral";
    case DkimResult::temperror: return "temperror";
    case DkimResult::permerror: return "permerror";
  }
  return "?";
}

namespace {

std::string field_name_lower(std::string_view field) {
  size_t colon = field.find(':');
  return ascii_lower(trim(field.substr(0, colon)));
}

// RFC 6376 §3.5 b=: the signature field with the b= value (and the whitespace around it)
// deleted, everything else byte for byte.
std::string without_b_value(std::string_view field) {
  size_t colon = field.find(':');
  if (colon == std::string_view::npos) return std::string(field);
  std::string out(field.substr(0, colon + 1));
  size_t pos = colon + 1;
  while (pos <= field.size()) {
    size_t semi = field.find(';', pos);
    std::string_view spec = field.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    size_t eq = spec.find('=');
    bool is_b = false;
    if (eq != std::string_view::npos) {
      std::string_view name = spec.substr(0, eq);
      while (!name.empty() && (name.front() == ' ' || name.front() == '\t' || name.front() == '\r' || name.front() == '\n')) name.remove_prefix(1);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t' || name.back() == '\r' || name.back() == '\n')) name.remove_suffix(1);
      is_b = name == "b";
    }
    out.append(is_b ? spec.substr(0, eq + 1) : spec);
    if (semi == std::string_view::npos) break;
    out += ';';
    pos = semi + 1;
  }
  return out;
}

}  // namespace

std::string dkim_header_hash_input(const std::vector<std::string>& fields, size_t signature_index,
                                   const DkimSignature& sig) {
  std::string out;
  std::vector<bool> used(fields.size(), false);
  for (const auto& want : sig.headers) {
    // RFC 6376 §5.4.2: each name selects the last not yet used instance, bottom up; a name
    // with no instance left contributes nothing (that is how over-signing works).
    for (size_t i = fields.size(); i-- > 0;) {
      if (used[i] || field_name_lower(fields[i]) != want) continue;
      used[i] = true;
      out += mime::dkim_canon_header(fields[i], sig.header_canon);
      out += "\r\n";
      break;
    }
  }
  // RFC 6376 §3.7: then the DKIM-Signature field itself, b= empty, without the final CRLF.
  out += mime::dkim_canon_header(without_b_value(fields[signature_index]), sig.header_canon);
  return out;
}

}  // namespace tern::authn
