// Private to auth/: argon2id password hashing (libsodium crypto_pwhash_str*).
#pragma once

#include <string>
#include <string_view>

#include "auth/auth.h"
#include "common/result.h"

namespace tern::auth {

// An encoded "$argon2id$..." string with a fresh random salt.
Result<std::string> hash_password(std::string_view password, HashCost cost);
// Constant-time (libsodium) comparison; false for malformed hashes.
bool verify_password(const std::string& hash, std::string_view password);
// True when the hash was made with other parameters than `cost` asks for now.
bool password_needs_rehash(const std::string& hash, HashCost cost);

}  // namespace tern::auth
