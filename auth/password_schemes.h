// auth/: password hashes made by other systems (Dovecot passdb schemes, /etc/shadow crypt(3)
// strings), so users keep their password when they move to Tern.
//
// Implementation notes
// - Stored forms in users.password: Tern's own "$argon2id$..." (libsodium); an imported
//   argon2 string "$argon2id$..."/"$argon2i$..." as is (libsodium verifies both); a crypt(3)
//   string as is ("$6$", "$5$", "$2b$"/"$2y$"/"$2a$", "$y$"; libxcrypt's crypt_rn); and
//   salted SHA-512 as "{SSHA512}<base64 of digest||salt>" (OpenSSL). Nothing else is stored.
// - Dovecot's "{SCHEME}" prefix is taken off when the rest is a crypt(3) or argon2 string, so
//   one verifier serves both origins.
// - Weak schemes (plain text, unsalted or fast digests, DES and md5-crypt) are refused at
//   import with Errc::refused naming the scheme: accepting them would keep a hash that leaks
//   the password to anyone who reads accounts.db. Unknown schemes are Errc::syntax.
// - Every imported hash is replaced by argon2id at the user's first successful login
//   (AccountDb::check_password: password_needs_rehash is true for all but argon2id).
// - Verification is slow by design (bcrypt, yescrypt, argon2): call from workers or ternctl.
//   Comparisons of computed and stored values are constant-time.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::auth {

// "{SHA512-CRYPT}$6$..." or a bare "$6$..." -> the stored form, after checking it is well
// formed (a crypt(3) string is hashed once with a dummy password to prove it parses).
Result<std::string> import_password_hash(std::string_view text);

// True when `stored` (any stored form above) matches `password`. False for malformed hashes.
bool verify_stored_hash(const std::string& stored, std::string_view password);

// One line of a Dovecot passwd-file: "user:{SCHEME}hash:uid:gid:gecos:home:shell:extra".
// Only the first two fields matter. Errc::syntax for a line without a user or password;
// blank lines and '#' comments are Errc::not_found (skipped silently by callers).
struct PasswdLine {
  std::string user;
  std::string password;  // still "{SCHEME}..." as in the file
};
Result<PasswdLine> parse_passwd_line(std::string_view line);

}  // namespace tern::auth
