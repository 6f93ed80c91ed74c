#include "auth/password_schemes.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <optional>

#include "common/codec.h"

namespace tern::auth {

namespace {

constexpr std::string_view kSsha512 = "{SSHA512}";
// Below this, "salted" SHA-512 is barely salted; Dovecot writes 8 bytes.
constexpr size_t kMinSshaSalt = 4;

// crypt(3) prefixes we keep: sha512crypt, sha256crypt, bcrypt (three spellings), yescrypt,
// gost-yescrypt, scrypt. All are salted and slow (tunable cost).
constexpr std::array<std::string_view, 8> kStrongCrypt = {"$6$", "$5$", "$2b$", "$2y$", "$2a$", "$y$", "$gy$", "$7$"};

// Dovecot scheme names that store the password in the clear or behind a fast or unsalted
// digest; the text says what the scheme is so the admin knows why it was refused.
struct WeakScheme {
  std::string_view name;
  std::string_view what;
};
constexpr std::array<WeakScheme, 22> kWeakSchemes = {{
    {"PLAIN", "clear text"},          {"CLEARTEXT", "clear text"},       {"PLAIN-TRUNC", "clear text"},
    {"MD5", "md5-crypt"},             {"MD5-CRYPT", "md5-crypt"},        {"PLAIN-MD5", "unsalted MD5"},
    {"LDAP-MD5", "unsalted MD5"},     {"SMD5", "salted MD5"},            {"SHA", "unsalted SHA-1"},
    {"SHA1", "unsalted SHA-1"},       {"SSHA", "salted SHA-1"},          {"SHA256", "unsalted SHA-256"},
    {"SHA512", "unsalted SHA-512"},   {"DES-CRYPT", "DES crypt"},        {"CRAM-MD5", "HMAC-MD5 context"},
    {"HMAC-MD5", "HMAC-MD5 context"}, {"DIGEST-MD5", "MD5 digest"},      {"NTLM", "NT hash"},
    {"LANMAN", "LAN Manager hash"},   {"RPA", "MD5 digest"},             {"SKEY", "one-time password"},
    {"OTP", "one-time password"},
}};

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Error weak(std::string_view scheme, std::string_view what) {
  return make_error(Errc::refused, "weak password scheme " + std::string(scheme) + " (" + std::string(what) +
                                       ") refused: the user must set a new password");
}

bool sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

// crypt_rn over heap scratch space (struct crypt_data is ~32 KiB). nullopt when libxcrypt
// refuses the setting or the password (embedded NUL, too long).
std::optional<std::string> run_crypt(std::string_view password, const std::string& setting) {
  if (password.find('\0') != std::string_view::npos || password.size() >= CRYPT_MAX_PASSPHRASE_SIZE)
    return std::nullopt;
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof *data);
  std::string pw(password);
  const char* out = crypt_rn(pw.c_str(), setting.c_str(), data.get(), sizeof *data);
  sodium_memzero(pw.data(), pw.size());
  // On failure crypt_rn returns NULL (or, in some builds, a string starting with '*').
  if (out == nullptr || out[0] == '*') return std::nullopt;
  std::string result(out);
  sodium_memzero(data.get(), sizeof *data);
  return result;
}

bool equal_ct(std::string_view a, std::string_view b) {
  // The lengths of both are public (the stored hash's format fixes them).
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool is_argon2(std::string_view s) { return starts_with(s, "$argon2id$") || starts_with(s, "$argon2i$"); }

Result<std::string> check_argon2(std::string_view text, std::string_view scheme) {
  if (!sodium_ready()) return make_error(Errc::internal, "libsodium failed to initialise");
  std::string s(text);
  // crypto_pwhash_str_needs_rehash decodes the whole string: -1 means it does not parse.
  if (s.size() >= crypto_pwhash_STRBYTES || crypto_pwhash_str_needs_rehash(s.c_str(), 1, 8192) == -1)
    return make_error(Errc::syntax, "malformed " + std::string(scheme) + " hash");
  return s;
}

Result<std::string> check_crypt(std::string_view text, std::string_view scheme) {
  std::string s(text);
  if (starts_with(s, "$1$")) return weak(scheme, "md5-crypt");
  bool strong = std::any_of(kStrongCrypt.begin(), kStrongCrypt.end(), [&](std::string_view p) { return starts_with(s, p); });
  if (!strong) {
    // Legacy methods libxcrypt still knows (DES, bsdicrypt, $sha1$, Sun MD5, NT) are weak;
    // anything else is not a crypt(3) string we know.
    if (crypt_checksalt(s.c_str()) == CRYPT_SALT_METHOD_LEGACY)
      return weak(scheme, s.empty() || s[0] != '$' ? "DES crypt" : "legacy crypt");
    return make_error(Errc::syntax, "unsupported password hash for " + std::string(scheme) + ": not a known crypt(3) "
                                    "string (expected $6$, $5$, $2b$, $2y$, $y$ ...)");
  }
  // Our allowlist decides strength (libxcrypt marks sha256crypt "legacy" for new hashes,
  // which is no reason to refuse an existing one); checksalt only says whether it parses.
  int salt_state = crypt_checksalt(s.c_str());
  if (salt_state != CRYPT_SALT_OK && salt_state != CRYPT_SALT_METHOD_LEGACY) return make_error(Errc::syntax, "malformed " + std::string(scheme) + " hash");
  // Hashing once with the full string as the setting proves it parses: the result must keep
  // the same parameters and salt (everything before the last '$') and have the same length.
  auto out = run_crypt("tern-import-check", s);
  size_t head = s.rfind('$');
  if (!out || out->size() != s.size() || out->compare(0, head, s, 0, head) != 0)
    return make_error(Errc::syntax, "malformed " + std::string(scheme) + " hash");
  return s;
}

Result<std::string> check_ssha512(std::string_view b64) {
  auto raw = base64_decode(b64);
  if (!raw || raw->size() < SHA512_DIGEST_LENGTH) return make_error(Errc::syntax, "malformed {SSHA512} hash");
  if (raw->size() < SHA512_DIGEST_LENGTH + kMinSshaSalt) return weak("{SSHA512}", "salt missing or too short");
  return std::string(kSsha512) + std::string(b64);
}

bool verify_ssha512(std::string_view b64, std::string_view password) {
  auto raw = base64_decode(b64);
  if (!raw || raw->size() < SHA512_DIGEST_LENGTH + kMinSshaSalt) return false;
  std::string_view digest(raw->data(), SHA512_DIGEST_LENGTH);
  std::string_view salt(raw->data() + SHA512_DIGEST_LENGTH, raw->size() - SHA512_DIGEST_LENGTH);
  // Dovecot's SSHA512: SHA-512(password || salt), then the salt appended to the digest.
  std::string input(password);
  input.append(salt);
  unsigned char out[SHA512_DIGEST_LENGTH];
  SHA512(reinterpret_cast<const unsigned char*>(input.data()), input.size(), out);
  OPENSSL_cleanse(input.data(), input.size());
  bool ok = equal_ct(std::string_view(reinterpret_cast<char*>(out), sizeof out), digest);
  OPENSSL_cleanse(out, sizeof out);
  return ok;
}

}  // namespace

Result<std::string> import_password_hash(std::string_view text) {
  if (text.empty()) return make_error(Errc::syntax, "empty password hash");
  if (text.front() != '{') {
    // A bare string, as in /etc/shadow ("!" and "*" lock an account: nothing to import).
    if (is_argon2(text)) return check_argon2(text, starts_with(text, "$argon2id$") ? "{ARGON2ID}" : "{ARGON2I}");
    return check_crypt(text, "crypt(3)");
  }
  size_t close = text.find('}');
  if (close == std::string_view::npos) return make_error(Errc::syntax, "password hash: '{' without '}'");
  std::string scheme = upper(text.substr(1, close - 1));
  std::string shown = "{" + scheme + "}";
  std::string_view rest = text.substr(close + 1);
  for (const WeakScheme& w : kWeakSchemes)
    if (scheme == w.name) return weak(shown, w.what);
  if (scheme == "ARGON2ID" || scheme == "ARGON2I") {
    if (!starts_with(rest, scheme == "ARGON2ID" ? "$argon2id$" : "$argon2i$"))
      return make_error(Errc::syntax, "malformed " + shown + " hash");
    return check_argon2(rest, shown);
  }
  if (scheme == "SSHA512") return check_ssha512(rest);
  // Each crypt-based scheme names the one prefix it writes; {CRYPT} is the system's crypt(3)
  // and may hold any of them (or DES, refused by check_crypt).
  std::string_view want = scheme == "BLF-CRYPT" ? "$2" : scheme == "SHA512-CRYPT" ? "$6$" : scheme == "SHA256-CRYPT" ? "$5$" : "";
  if (scheme == "CRYPT" || !want.empty()) {
    if (!want.empty() && !starts_with(rest, want)) return make_error(Errc::syntax, "malformed " + shown + " hash");
    return check_crypt(rest, shown);
  }
  return make_error(Errc::syntax, "unsupported password scheme " + shown +
                                      " (supported: ARGON2ID, ARGON2I, BLF-CRYPT, SHA512-CRYPT, SHA256-CRYPT, "
                                      "SSHA512, CRYPT and bare crypt(3) strings)");
}

bool verify_stored_hash(const std::string& stored, std::string_view password) {
  if (is_argon2(stored)) {
    if (!sodium_ready() || stored.size() >= crypto_pwhash_STRBYTES) return false;
    return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
  }
  if (starts_with(stored, kSsha512)) return verify_ssha512(std::string_view(stored).substr(kSsha512.size()), password);
  if (!starts_with(stored, "$")) return false;
  auto out = run_crypt(password, stored);
  return out && equal_ct(*out, stored);
}

Result<PasswdLine> parse_passwd_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  size_t first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] == '#') return make_error(Errc::not_found, "blank or comment");
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return make_error(Errc::syntax, "no ':' after the user name");
  PasswdLine out;
  out.user = std::string(line.substr(0, colon));
  std::string_view rest = line.substr(colon + 1);
  out.password = std::string(rest.substr(0, rest.find(':')));
  if (out.user.empty()) return make_error(Errc::syntax, "empty user name");
  if (out.password.empty()) return make_error(Errc::syntax, "empty password field");
  return out;
}

}  // namespace tern::auth
