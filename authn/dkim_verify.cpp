// Streaming DKIM verifier (RFC 6376 §6; RFC 8463 §3; RFC 8301).
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>

#include "authn/dkim.h"
#include "common/codec.h"
#include "common/strings.h"

namespace tern::authn {

namespace {

struct MdCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~MdCtx() { EVP_MD_CTX_free(ctx); }
};

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

// Finds the end of the header block: returns the offset just past the empty line, or npos.
size_t header_end(std::string_view buf, size_t from) {
  if (buf.starts_with("\r\n")) return 2;
  if (buf.starts_with("\n")) return 1;
  for (size_t pos = buf.find('\n', from); pos != std::string_view::npos; pos = buf.find('\n', pos + 1)) {
    if (pos + 1 < buf.size() && buf[pos + 1] == '\n') return pos + 2;
    if (pos + 2 < buf.size() && buf[pos + 1] == '\r' && buf[pos + 2] == '\n') return pos + 3;
  }
  return std::string_view::npos;
}

// Header block -> fields with internal folds as CRLF, no final CRLF.
std::vector<std::string> split_fields(std::string_view block) {
  std::vector<std::string> fields;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t lf = block.find('\n', pos);
    std::string_view line = block.substr(pos, lf == std::string_view::npos ? std::string_view::npos : lf - pos);
    pos = lf == std::string_view::npos ? block.size() : lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !fields.empty()) {
      fields.back() += "\r\n";
      fields.back() += line;
      continue;
    }
    // RFC 5322 §2.2: a field needs a colon; a line without one cannot be signed and is dropped.
    if (line.find(':') == std::string_view::npos) continue;
    fields.emplace_back(line);
  }
  return fields;
}

}  // namespace

struct DkimVerifier::State {
  DkimSignature sig;
  std::optional<DkimVerdict> early;  // decided before crypto (syntax, policy, ...)
  DkimVerdict verdict;
  std::string header_input;
  std::string key_name;
  MdCtx body;
  uint64_t hashed = 0;
  uint64_t canon_total = 0;
};

DkimVerifier::DkimVerifier(DkimOptions options) : options_(options) {}
DkimVerifier::~DkimVerifier() = default;

bool DkimVerifier::feed(std::string_view bytes) {
  if (headers_done_) {
    hash_body(bytes);
    return false;
  }
  size_t before = header_buf_.size();
  header_buf_.append(bytes);
  // Look for the empty line from a little before the new bytes (it may straddle chunks).
  size_t from = before > 3 ? before - 3 : 0;
  size_t end = header_end(std::string_view(header_buf_), from);
  if (end == std::string::npos) {
    if (header_buf_.size() > options_.max_header_bytes) {
      too_big_ = true;
      complete_headers(header_buf_.size());
      return true;
    }
    return false;
  }
  std::string rest = header_buf_.substr(end);
  complete_headers(end);
  hash_body(rest);
  return true;
}

bool DkimVerifier::end_of_message() {
  bool completed_now = false;
  if (!headers_done_) {
    complete_headers(header_buf_.size());
    completed_now = true;
  }
  for (int idx = 0; idx < 2; ++idx) {
    if (!canon_[idx]) continue;
    std::string out;
    canon_[idx]->finish(out);
    absorb(idx, out);
  }
  ended_ = true;
  return completed_now;
}

void DkimVerifier::complete_headers(size_t header_len) {
  headers_done_ = true;
  fields_ = split_fields(std::string_view(header_buf_).substr(0, header_len));
  std::string().swap(header_buf_);
  for (size_t i = 0; i < fields_.size() && sigs_.size() < kMaxSignatures; ++i) {
    size_t colon = fields_[i].find(':');
    if (!iequals(trim(std::string_view(fields_[i]).substr(0, colon)), "dkim-signature")) continue;
    auto st = std::make_unique<State>();
    auto early = [&](DkimResult r, std::string reason) {
      DkimVerdict v = st->verdict;
      v.result = r;
      v.reason = std::move(reason);
      st->early = v;
    };
    auto parsed = parse_dkim_signature(std::string_view(fields_[i]).substr(colon + 1));
    if (!parsed) {
      early(DkimResult::permerror, parsed.error().message);
      sigs_.push_back(std::move(st));
      continue;
    }
    st->sig = std::move(*parsed);
    DkimVerdict& v = st->verdict;
    v.domain = st->sig.domain;
    v.selector = st->sig.selector;
    v.algorithm = st->sig.algorithm;
    v.identity = st->sig.identity;
    v.b_prefix = st->sig.b.substr(0, 8);
    if (too_big_) {
      early(DkimResult::permerror, "header block too large");
    } else if (st->sig.alg == DkimAlgorithmId::rsa_sha1) {
      // RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 signatures valid.
      early(DkimResult::policy, "rsa-sha1 is not accepted (RFC 8301)");
    } else if (st->sig.alg == DkimAlgorithmId::unknown) {
      early(DkimResult::neutral, "unknown algorithm " + st->sig.algorithm);
    } else if (st->sig.expiration && *st->sig.expiration < options_.now) {
      // RFC 6376 §3.5 x=: a signature past its expiration is not valid.
      early(DkimResult::fail, "signature expired");
    } else if (!base64_decode(st->sig.bh) || !base64_decode(st->sig.b)) {
      early(DkimResult::permerror, "b= or bh= is not base64");
    } else {
      st->header_input = dkim_header_hash_input(fields_, i, st->sig);
      st->key_name = st->sig.selector + "._domainkey." + st->sig.domain;
      keys_.emplace(normalize_domain(st->key_name), std::nullopt);
      EVP_DigestInit_ex(st->body.ctx, EVP_sha256(), nullptr);
      int idx = st->sig.body_canon == mime::DkimCanon::simple ? 0 : 1;
      if (!canon_[idx]) canon_[idx] = std::make_unique<mime::DkimBodyCanonicalizer>(st->sig.body_canon);
    }
    sigs_.push_back(std::move(st));
  }
}

void DkimVerifier::hash_body(std::string_view chunk) {
  if (chunk.empty() || ended_) return;
  for (int idx = 0; idx < 2; ++idx) {
    if (!canon_[idx]) continue;
    std::string out;
    canon_[idx]->feed(chunk, out);
    absorb(idx, out);
  }
}

void DkimVerifier::absorb(int idx, std::string_view out) {
  if (out.empty()) return;
  auto canon = idx == 0 ? mime::DkimCanon::simple : mime::DkimCanon::relaxed;
  for (auto& s : sigs_) {
    if (s->early || s->sig.body_canon != canon) continue;
    s->canon_total += out.size();
    uint64_t take = out.size();
    // RFC 6376 §3.5 l=: only the first l octets of the canonical body are hashed.
    if (s->sig.length) take = std::min<uint64_t>(take, *s->sig.length > s->hashed ? *s->sig.length - s->hashed : 0);
    if (take > 0) EVP_DigestUpdate(s->body.ctx, out.data(), take);
    s->hashed += take;
  }
}

std::vector<Question> DkimVerifier::questions() {
  std::vector<Question> out;
  for (const auto& [name, answer] : keys_) {
    if (!answer) out.push_back({name, RrType::txt});
  }
  return out;
}

void DkimVerifier::answer(const Question& question, const Answer& answer) {
  auto it = keys_.find(question.name);
  // The first answer stands: a late one after abandon() must not change reported verdicts.
  if (it != keys_.end() && question.type == RrType::txt && !it->second) it->second = answer;
}

bool DkimVerifier::done() const {
  if (!headers_done_) return false;
  for (const auto& [name, answer] : keys_) {
    if (!answer) return false;
  }
  return true;
}

namespace {

DkimKeyCache::PublicKey decode_ed25519(std::string_view raw) {
  // RFC 8463 §4.2: p= is the raw 32-byte Ed25519 public key.
  if (raw.size() != 32) return nullptr;
  return adopt_public_key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
}

DkimKeyCache::PublicKey decode_rsa(std::string_view der) {
  // RFC 6376 §3.6.1: an RSA p= is a SubjectPublicKeyInfo; some publish a bare RSAPublicKey.
  const auto* bytes = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = bytes;
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (!key) {
    p = bytes;
    key = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size()));
  }
  if (key && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
    EVP_PKEY_free(key);
    key = nullptr;
  }
  return adopt_public_key(key);
}

// Loads p= into an OpenSSL key for the signature's algorithm (through the process-wide
// cache when there is one); sets verdict fields on failure.
std::optional<DkimVerdict> load_key(const DkimKeyRecord& key, DkimAlgorithmId alg, DkimKeyCache* cache,
                                    DkimKeyCache::PublicKey& out, DkimVerdict v) {
  const bool ed25519 = alg == DkimAlgorithmId::ed25519_sha256;
  const std::string wanted = ed25519 ? "ed25519" : "rsa";
  if (key.key_type != wanted) {
    v.result = DkimResult::permerror;
    v.reason = "key type " + key.key_type + " does not match a=" + (ed25519 ? "ed25519-sha256" : "rsa-sha256");
    return v;
  }
  auto decode = ed25519 ? decode_ed25519 : decode_rsa;
  out = cache ? cache->get(wanted, key.public_key, decode) : decode(key.public_key);
  if (!out) {
    v.result = DkimResult::permerror;
    v.reason = ed25519 ? "bad Ed25519 public key" : "bad RSA public key";
    return v;
  }
  // RFC 8301 §3.2: keys shorter than 1024 bits MUST NOT be considered valid.
  if (!ed25519 && EVP_PKEY_get_bits(out.get()) < 1024) {
    v.result = DkimResult::policy;
    v.reason = "RSA key shorter than 1024 bits";
    return v;
  }
  return std::nullopt;
}

}  // namespace

std::vector<DkimVerdict> DkimVerifier::results() const {
  std::vector<DkimVerdict> out;
  for (const auto& s : sigs_) {
    if (s->early) {
      out.push_back(*s->early);
      continue;
    }
    DkimVerdict v = s->verdict;
    auto finish = [&](DkimResult r, std::string reason) {
      v.result = r;
      v.reason = std::move(reason);
      out.push_back(v);
    };
    auto it = keys_.find(normalize_domain(s->key_name));
    if (it == keys_.end() || !it->second) {
      finish(DkimResult::temperror, "key lookup not finished");
      continue;
    }
    const Answer& a = *it->second;
    if (a.rcode == Rcode::temperror) {
      finish(DkimResult::temperror, "key lookup failed: " + s->key_name);
      continue;
    }
    if (a.rcode != Rcode::ok || a.records.empty()) {
      // RFC 6376 §6.1.2: no key record -> PERMFAIL (no key for signature).
      finish(DkimResult::permerror, "no key at " + s->key_name);
      continue;
    }
    auto key = parse_dkim_key(a.records.front());
    if (!key) {
      finish(DkimResult::permerror, "bad key record: " + key.error().message);
      continue;
    }
    v.testing = key->testing();
    if (key->public_key.empty()) {
      // RFC 6376 §3.6.1: an empty p= means the key was revoked.
      finish(DkimResult::fail, "key revoked");
      continue;
    }
    if (!key->hashes.empty() && std::find(key->hashes.begin(), key->hashes.end(), "sha256") == key->hashes.end()) {
      // RFC 6376 §3.6.1 h=: the key restricts the hash algorithms.
      finish(DkimResult::permerror, "key does not allow sha256");
      continue;
    }
    if (!key->services.empty() && std::find(key->services.begin(), key->services.end(), "*") == key->services.end() &&
        std::find(key->services.begin(), key->services.end(), "email") == key->services.end()) {
      finish(DkimResult::permerror, "key is not for email (s=)");
      continue;
    }
    if (key->strict()) {
      // RFC 6376 §3.6.1 t=s: the i= domain must be exactly d=, no subdomain.
      size_t at = s->sig.identity.rfind('@');
      if (!iequals(std::string_view(s->sig.identity).substr(at + 1), s->sig.domain)) {
        finish(DkimResult::permerror, "key has t=s but i= is a subdomain");
        continue;
      }
    }
    DkimKeyCache::PublicKey pkey;
    if (auto bad = load_key(*key, s->sig.alg, options_.key_cache.get(), pkey, v)) {
      out.push_back(*bad);
      continue;
    }
    // RFC 6376 §3.5 l=: a length beyond the body is a broken signature.
    if (s->sig.length && *s->sig.length > s->canon_total) {
      finish(DkimResult::fail, "l= is longer than the body");
      continue;
    }
    // Body hash first (RFC 6376 §6.1.3): a copy of the context so results() stays const.
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    MdCtx copy;
    EVP_MD_CTX_copy_ex(copy.ctx, s->body.ctx);
    EVP_DigestFinal_ex(copy.ctx, md, &md_len);
    if (base64_encode(std::string_view(reinterpret_cast<char*>(md), md_len)) != s->sig.bh) {
      finish(DkimResult::fail, "body hash did not verify");
      continue;
    }
    std::string sigbytes = *base64_decode(s->sig.b);
    std::string digest;
    std::string_view input = s->header_input;
    const EVP_MD* md_alg = EVP_sha256();
    if (s->sig.alg == DkimAlgorithmId::ed25519_sha256) {
      // RFC 8463 §3: Ed25519 (PureEdDSA) over the SHA-256 hash of the header hash input.
      digest = sha256(s->header_input);
      input = digest;
      md_alg = nullptr;
    }
    MdCtx vctx;
    bool ok = EVP_DigestVerifyInit(vctx.ctx, nullptr, md_alg, nullptr, pkey.get()) == 1 &&
              EVP_DigestVerify(vctx.ctx, reinterpret_cast<const unsigned char*>(sigbytes.data()), sigbytes.size(),
                               reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    if (!ok) {
      finish(DkimResult::fail, "signature did not verify");
      continue;
    }
    finish(DkimResult::pass, "");
  }
  return out;
}

}  // namespace tern::authn
