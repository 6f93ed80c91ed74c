// DKIM signer: relaxed/relaxed canonicalisation, SHA-256 body hash, RSA or Ed25519 signature.
#include "common/codec.h"
#include "relay/dkim.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>

#include "common/strings.h"
#include "mime/mime.h"

namespace tern::relay {

struct DkimKey::Pkey {
  EVP_PKEY* pkey = nullptr;
  ~Pkey() { EVP_PKEY_free(pkey); }
};

namespace {

constexpr size_t kFoldWidth = 76;  // RFC 5322 §2.1.1: lines SHOULD be <= 78 characters
constexpr std::string_view kFold = "\r\n\t";

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// Splits into lines on LF, dropping a CR just before it. A final line without LF is kept;
// the terminator of the last line does not create an extra empty line.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t lf = text.find('\n', start);
    if (lf == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    size_t end = lf;
    if (end > start && text[end - 1] == '\r') --end;
    lines.push_back(text.substr(start, end - start));
    start = lf + 1;
  }
  return lines;
}

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

struct Field {
  std::string name_lower;
  std::string raw;  // "Name: value" with internal CRLF folds, no final CRLF
};

// Header lines -> fields (a line starting with WSP continues the previous field).
std::vector<Field> parse_fields(const std::vector<std::string_view>& lines) {
  std::vector<Field> fields;
  for (auto line : lines) {
    if (!line.empty() && is_wsp(line[0]) && !fields.empty()) {
      fields.back().raw += "\r\n";
      fields.back().raw += line;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // not a header field: cannot be signed
    Field f;
    f.name_lower = ascii_lower(trim(line.substr(0, colon)));
    f.raw = std::string(line);
    fields.push_back(std::move(f));
  }
  return fields;
}

int no_passphrase(char*, int, int, void*) { return -1; }  // never prompt on a terminal

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

// Appends `piece` to the header being built, folding before it when the line would overflow.
void append_folded(std::string& out, size_t& col, std::string_view piece, bool fold_allowed = true) {
  if (fold_allowed && col + piece.size() > kFoldWidth && col > 1) {
    out += kFold;
    col = 1;
    if (!piece.empty() && piece[0] == ' ') piece.remove_prefix(1);  // the fold is the space
  }
  out += piece;
  col += piece.size();
}

}  // namespace

const char* to_string(DkimAlgorithm algorithm) {
  return algorithm == DkimAlgorithm::ed25519_sha256 ? "ed25519-sha256" : "rsa-sha256";
}

const std::vector<std::string>& default_dkim_headers() {
  static const std::vector<std::string> names = {
      "from", "to", "cc", "subject", "date", "message-id", "reply-to", "in-reply-to",
      "references", "mime-version", "content-type", "content-transfer-encoding"};
  return names;
}

std::string dkim_relaxed_header(std::string_view field) {
  return mime::dkim_canon_header(field, mime::DkimCanon::relaxed);
}

std::string dkim_relaxed_body(std::string_view body) {
  return mime::dkim_canon_body(body, mime::DkimCanon::relaxed);
}

Result<DkimKey> DkimKey::from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return make_error(Errc::internal, "out of memory");
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, &no_passphrase, nullptr);
  BIO_free(bio);
  if (!pkey) return make_error(Errc::syntax, "not a PEM private key");
  DkimKey key;
  key.key_ = std::make_shared<Pkey>();
  key.key_->pkey = pkey;
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
      // RFC 8301 §3.2: RSA keys shorter than 1024 bits MUST NOT be used.
      if (EVP_PKEY_get_bits(pkey) < 1024) return make_error(Errc::refused, "RSA key shorter than 1024 bits");
      key.algorithm_ = DkimAlgorithm::rsa_sha256;
      break;
    case EVP_PKEY_ED25519: key.algorithm_ = DkimAlgorithm::ed25519_sha256; break;
    default: return make_error(Errc::refused, "DKIM key must be RSA or Ed25519");
  }
  return key;
}

std::string DkimKey::public_key_base64() const {
  if (algorithm_ == DkimAlgorithm::ed25519_sha256) {
    unsigned char raw[32];
    size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key_->pkey, raw, &len) != 1) return {};
    return base64_encode(std::string_view(reinterpret_cast<char*>(raw), len));
  }
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key_->pkey, &der);
  if (len <= 0) return {};
  std::string out = base64_encode(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  return out;
}

Result<std::string> DkimKey::sign_data(std::string_view data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return make_error(Errc::internal, "out of memory");
  std::string digest;
  std::string_view input = data;
  const EVP_MD* md = EVP_sha256();
  if (algorithm_ == DkimAlgorithm::ed25519_sha256) {
    // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the data (PureEdDSA, no prehash mode).
    digest = sha256(data);
    input = digest;
    md = nullptr;
  }
  std::string sig;
  size_t len = 0;
  bool ok = EVP_DigestSignInit(ctx, nullptr, md, nullptr, key_->pkey) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return make_error(Errc::internal, "DKIM signature failed");
  return sig;
}

Result<std::string> generate_dkim_key(DkimAlgorithm algorithm) {
  EVP_PKEY* pkey = algorithm == DkimAlgorithm::ed25519_sha256
                       ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                       : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  if (!pkey) return make_error(Errc::internal, "key generation failed");
  BIO* bio = BIO_new(BIO_s_mem());
  bool ok = bio && PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::string pem = ok ? bio_to_string(bio) : std::string{};
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  if (!ok) return make_error(Errc::internal, "PEM encoding failed");
  return pem;
}

std::string dkim_dns_txt_record(const DkimKey& key) {
  // RFC 6376 §3.6.1 (k=rsa), RFC 8463 §4.2 (k=ed25519).
  const char* k = key.algorithm() == DkimAlgorithm::ed25519_sha256 ? "ed25519" : "rsa";
  return std::string("v=DKIM1; k=") + k + "; p=" + key.public_key_base64();
}

std::string dkim_dns_name(std::string_view selector, std::string_view domain) {
  return std::string(selector) + "._domainkey." + std::string(domain);
}

Result<std::string> dkim_sign(std::string_view message, const DkimKey& key,
                              const DkimSignOptions& options) {
  if (options.domain.empty() || options.selector.empty()) {
    return make_error(Errc::syntax, "DKIM needs a domain and a selector");
  }
  auto lines = split_lines(message);
  auto blank = std::find_if(lines.begin(), lines.end(), [](std::string_view l) { return l.empty(); });
  std::vector<std::string_view> header_lines(lines.begin(), blank);
  auto fields = parse_fields(header_lines);

  // Body: everything after the first empty line, as CRLF lines.
  std::string body;
  if (blank != lines.end()) {
    for (auto it = blank + 1; it != lines.end(); ++it) {
      body.append(it->data(), it->size());
      body += "\r\n";
    }
  }
  std::string body_hash = base64_encode(sha256(dkim_relaxed_body(body)));

  // RFC 6376 §5.4.2: for each name in h=, take the last not-yet-used instance, bottom up.
  const auto& wanted = options.headers.empty() ? default_dkim_headers() : options.headers;
  std::vector<std::string> h_names;
  std::string canon_headers;
  std::vector<bool> used(fields.size(), false);
  for (const auto& want : wanted) {
    std::string name = ascii_lower(want);
    for (size_t i = fields.size(); i-- > 0;) {
      if (fields[i].name_lower != name || used[i]) continue;
      used[i] = true;
      h_names.push_back(name);
      canon_headers += dkim_relaxed_header(fields[i].raw) + "\r\n";
    }
  }
  if (std::find(h_names.begin(), h_names.end(), "from") == h_names.end()) {
    // RFC 6376 §5.4: the From header field MUST be signed.
    return make_error(Errc::syntax, "message has no From header field");
  }
  // Over-signing: a name listed once more than it occurs hashes as an empty field
  // (RFC 6376 §5.4.2), so a verifier rejects a From added after signing.
  if (options.oversign_from) h_names.push_back("from");

  std::string header = "DKIM-Signature:";
  size_t col = header.size();
  auto tag = [&](const std::string& text, bool last = false) {
    append_folded(header, col, " " + text + (last ? "" : ";"));
  };
  tag("v=1");
  tag(std::string("a=") + to_string(key.algorithm()));
  tag("c=relaxed/relaxed");
  tag("d=" + options.domain);
  tag("s=" + options.selector);
  tag("t=" + std::to_string(options.timestamp));
  // h= may be folded around its colons (RFC 6376 §3.5 "h=" grammar allows FWS there).
  append_folded(header, col, " h=" + h_names[0]);
  for (size_t i = 1; i < h_names.size(); ++i) append_folded(header, col, ":" + h_names[i]);
  append_folded(header, col, ";", false);
  tag("bh=" + body_hash);
  // Keep some room after "b=" so the signature starts on the same line.
  if (col + 24 > kFoldWidth) {
    header += kFold;
    col = 1;
    append_folded(header, col, "b=", false);
  } else {
    append_folded(header, col, " b=", false);
  }

  // RFC 6376 §3.7: hash the signed header fields, then this header with an empty b= value,
  // canonicalised, without its trailing CRLF.
  std::string signed_data = canon_headers + dkim_relaxed_header(header);
  auto sig = key.sign_data(signed_data);
  if (!sig) return sig.error();
  std::string b = base64_encode(*sig);
  // base64 in b= may contain FWS anywhere (RFC 6376 §3.5 "b=" grammar).
  size_t pos = 0;
  while (pos < b.size()) {
    size_t room = col < kFoldWidth ? kFoldWidth - col : 0;
    if (room == 0) {
      header += kFold;
      col = 1;
      continue;
    }
    size_t n = std::min(room, b.size() - pos);
    header.append(b, pos, n);
    col += n;
    pos += n;
  }
  header += "\r\n";
  return header;
}

}  // namespace tern::relay
