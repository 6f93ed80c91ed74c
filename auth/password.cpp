#include "auth/password.h"

#include <sodium.h>

#include "auth/password_schemes.h"

namespace tern::auth {

namespace {

struct Limits {
  unsigned long long ops;
  size_t mem;
};

Limits limits_for(HashCost cost) {
  if (cost == HashCost::minimum) return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

bool sodium_ready() {
  // sodium_init() is idempotent and thread-safe; it returns 1 when already initialised.
  static const bool ok = sodium_init() >= 0;
  return ok;
}

}  // namespace

Result<std::string> hash_password(std::string_view password, HashCost cost) {
  if (!sodium_ready()) return make_error(Errc::internal, "libsodium failed to initialise");
  Limits l = limits_for(cost);
  char out[crypto_pwhash_STRBYTES];
  // crypto_pwhash_str uses argon2id (libsodium >= 1.0.15) with a random salt.
  if (crypto_pwhash_str(out, password.data(), password.size(), l.ops, l.mem) != 0)
    return make_error(Errc::internal, "password hashing failed (out of memory?)");
  return std::string(out);
}

bool verify_password(const std::string& hash, std::string_view password) {
  // Tern's own argon2id strings and the hashes imported from other systems
  // (auth/password_schemes.h) go through one verifier.
  return verify_stored_hash(hash, password);
}

bool password_needs_rehash(const std::string& hash, HashCost cost) {
  // Imported hashes (argon2i, crypt(3), SSHA512) are replaced by argon2id at the first
  // successful login.
  if (hash.rfind("$argon2id$", 0) != 0) return true;
  Limits l = limits_for(cost);
  // Returns 1 when the parameters differ, -1 when the string is not a valid argon2id hash.
  return crypto_pwhash_str_needs_rehash(hash.c_str(), l.ops, l.mem) != 0;
}

}  // namespace tern::auth
