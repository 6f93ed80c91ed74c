// Private to auth/: argon2id password hashing (libsodium crypto_pwhash_str*).
#pragma once

#include <string>
#include <string_view>

#include "auth/auth.h"
#include "common/result.h"

namespace tern::auth {

// An encoded "$argon2id$..." string with a fresh random salt.
Result<std::string> hash_password(std::string_view password, HashCost cost);
// Any stored form (argon2id, or an imported hash: auth/password_schemes.h); constant-time
// comparison; false for malformed hashes.
bool verify_password(const std::string& hash, std::string_view password);
// True when the hash is not argon2id or was made with other parameters than `cost` asks for.
bool password_needs_rehash(const std::string& hash, HashCost cost);

}  // namespace tern::auth
