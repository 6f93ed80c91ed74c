// Imported password hashes: fixed vectors per scheme (made by `doveadm pw -s SCHEME -p
// "secret pw"` with Dovecot 2.3.19, and libxcrypt's crypt_gensalt for yescrypt and $2b$),
// weak schemes refused, and the account database's first-login rehash.
#include <sqlite3.h>

#include "auth/password_schemes.h"
#include "auth_fixture.h"

using namespace tern;
using namespace tern::auth;

namespace {

constexpr const char* kPassword = "secret pw";

struct Vector {
  const char* input;   // as given to `ternctl user add --hash`
  const char* stored;  // what accounts.db keeps
};

const Vector kVectors[] = {
    {"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$szohnWDDe4hRy1OuRcBKLA$CBIfzKANrHQex/fMZ3zNBYxks2LvrBWunJLZ40hhPJs",
     "$argon2id$v=19$m=65536,t=3,p=1$szohnWDDe4hRy1OuRcBKLA$CBIfzKANrHQex/fMZ3zNBYxks2LvrBWunJLZ40hhPJs"},
    {"{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$jVTZA+TasLExK90qVLnWug$APuExfjY7A8WTS7d4RFHkX234dTRzB/VxHTMun33EL8",
     "$argon2i$v=19$m=32768,t=4,p=1$jVTZA+TasLExK90qVLnWug$APuExfjY7A8WTS7d4RFHkX234dTRzB/VxHTMun33EL8"},
    {"{BLF-CRYPT}$2y$05$izLLSRIv2ncG8nnt9ipOrua68XXnpNvxkkNMK7y7ZZCWsjdSoZSyq",
     "$2y$05$izLLSRIv2ncG8nnt9ipOrua68XXnpNvxkkNMK7y7ZZCWsjdSoZSyq"},
    {"{SHA512-CRYPT}$6$IwUQoPpiCTO3zcsl$1MdkFgwGq1JP7LAPBTOaxZ5OospfvwXykzUDLxqmUoGPnv37Lzme62s56dKXf2pYr4NhUBGHb/"
     "y1mGObLiq5L1",
     "$6$IwUQoPpiCTO3zcsl$1MdkFgwGq1JP7LAPBTOaxZ5OospfvwXykzUDLxqmUoGPnv37Lzme62s56dKXf2pYr4NhUBGHb/y1mGObLiq5L1"},
    {"{SHA256-CRYPT}$5$TLMuBguptGHR4cAj$9XSgeqIy.G9.jhCmYf0rQ1LP.j99yOAzPav2Fw5Qi.7",
     "$5$TLMuBguptGHR4cAj$9XSgeqIy.G9.jhCmYf0rQ1LP.j99yOAzPav2Fw5Qi.7"},
    {"{SSHA512}pCxQZh3fM/Li73ZEU7iAZoWqRvR1Isf4d33Vyv9XV581mWmt7+4Qs74ejlBdO5w/g3dsFtMCa7zM1ZCn6okf4aMxpHs=",
     "{SSHA512}pCxQZh3fM/Li73ZEU7iAZoWqRvR1Isf4d33Vyv9XV581mWmt7+4Qs74ejlBdO5w/g3dsFtMCa7zM1ZCn6okf4aMxpHs="},
    // Scheme names are case-insensitive in Dovecot; {CRYPT} holds any modular crypt string.
    {"{sha256-crypt}$5$TLMuBguptGHR4cAj$9XSgeqIy.G9.jhCmYf0rQ1LP.j99yOAzPav2Fw5Qi.7",
     "$5$TLMuBguptGHR4cAj$9XSgeqIy.G9.jhCmYf0rQ1LP.j99yOAzPav2Fw5Qi.7"},
    {"{CRYPT}$2b$05$wKEtykvdAU9brJqNcEwTCuOxDQYET295I1XIy7fjPsgemIn/FRx1S",
     "$2b$05$wKEtykvdAU9brJqNcEwTCuOxDQYET295I1XIy7fjPsgemIn/FRx1S"},
    // Bare /etc/shadow strings.
    {"$6$IwUQoPpiCTO3zcsl$1MdkFgwGq1JP7LAPBTOaxZ5OospfvwXykzUDLxqmUoGPnv37Lzme62s56dKXf2pYr4NhUBGHb/y1mGObLiq5L1",
     "$6$IwUQoPpiCTO3zcsl$1MdkFgwGq1JP7LAPBTOaxZ5OospfvwXykzUDLxqmUoGPnv37Lzme62s56dKXf2pYr4NhUBGHb/y1mGObLiq5L1"},
    {"$y$j9T$FcUCR/ZZhBZ4BISlZ/xCi.$h0j50WPiCEZgJSElOqNqRRG5.ZghXW2n10wS7AFB6K6",
     "$y$j9T$FcUCR/ZZhBZ4BISlZ/xCi.$h0j50WPiCEZgJSElOqNqRRG5.ZghXW2n10wS7AFB6K6"},
    {"$2b$05$wKEtykvdAU9brJqNcEwTCuOxDQYET295I1XIy7fjPsgemIn/FRx1S",
     "$2b$05$wKEtykvdAU9brJqNcEwTCuOxDQYET295I1XIy7fjPsgemIn/FRx1S"},
};

TEST(PasswordSchemes, EachSchemeImportsAndVerifies) {
  for (const Vector& v : kVectors) {
    SCOPED_TRACE(v.input);
    auto stored = import_password_hash(v.input);
    ASSERT_TRUE(stored.ok()) << stored.error().message;
    EXPECT_EQ(*stored, v.stored);
    EXPECT_TRUE(verify_stored_hash(*stored, kPassword));
    EXPECT_FALSE(verify_stored_hash(*stored, "secret pW"));
    EXPECT_FALSE(verify_stored_hash(*stored, ""));
    EXPECT_FALSE(verify_stored_hash(*stored, std::string("secret pw\0x", 11)));
  }
}

TEST(PasswordSchemes, WeakSchemesAreRefusedByName) {
  const std::pair<const char*, const char*> weak[] = {
      {"{PLAIN}secret pw", "{PLAIN}"},
      {"{CLEARTEXT}secret pw", "{CLEARTEXT}"},
      {"{MD5}$1$ALzulS8g$bEN7Lw2qN/57557bksytw1", "{MD5}"},
      {"{PLAIN-MD5}a3bd1d3c56f5d7d0e0c2e40e2b8c4a3c", "{PLAIN-MD5}"},
      {"{SHA}rS7uKHTXnyVCt9RR2Lh+fJ2k/DM=", "{SHA}"},
      {"{SHA256}q1MKE+RZFJgrefm34/uplM/R8/si9xzqGvvwK0YMbR0=", "{SHA256}"},
      {"{SHA512}abc=", "{SHA512}"},
      {"{CRYPT}abvOVwEVZZ8hM", "{CRYPT}"},
      {"$1$ALzulS8g$bEN7Lw2qN/57557bksytw1", "md5-crypt"},
      {"abvOVwEVZZ8hM", "DES"},
  };
  for (auto [input, name] : weak) {
    SCOPED_TRACE(input);
    auto r = import_password_hash(input);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::refused);
    EXPECT_NE(r.error().message.find(name), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}

TEST(PasswordSchemes, MalformedOrUnknownHashesAreSyntaxErrors) {
  const char* bad[] = {
      "",
      "{SSHA512",
      "{SCRYPT}whatever",
      "{SHA512-CRYPT}$5$TLMuBguptGHR4cAj$9XSgeqIy.G9.jhCmYf0rQ1LP.j99yOAzPav2Fw5Qi.7",  // wrong prefix
      "{SHA512-CRYPT}$6$IwUQoPpiCTO3zcsl$1MdkFgwGq1JP7LAPBTOaxZ5Oosp",                     // truncated
      "$2b$05$wKEtykvdAU9brJqNcEwTCuOxDQYET295I1XIy7fjPsgemIn",                           // truncated
      "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$szohnWDDe4hRy1OuRcBKLA",                 // no hash
      "{ARGON2ID}$argon2i$v=19$m=32768,t=4,p=1$jVTZA+TasLExK90qVLnWug$APuExfjY7A8WTS7d4RFHkX234dTRzB/VxHTMun33EL8",
      "{SSHA512}not base64!",
      "{SSHA512}AAAA",  // shorter than a digest
      "!",               // a locked /etc/shadow entry
      "*",
      "$9$whatever",
  };
  for (const char* input : bad) {
    SCOPED_TRACE(input);
    auto r = import_password_hash(input);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().code == Errc::syntax || r.error().code == Errc::refused) << r.error().message;
  }
  // A stored string that is none of ours never verifies.
  EXPECT_FALSE(verify_stored_hash("secret pw", kPassword));
  EXPECT_FALSE(verify_stored_hash("{PLAIN}secret pw", kPassword));
  EXPECT_FALSE(verify_stored_hash("", ""));
}

TEST(PasswordSchemes, SshaWithoutSaltIsWeak) {
  // 64 bytes of digest and nothing after: unsalted SHA-512 dressed as SSHA512.
  std::string b64 = "{SSHA512}" + std::string(86, 'A') + "==";
  auto r = import_password_hash(b64);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::refused);
}

TEST(PasswordSchemes, PasswdFileLines) {
  auto l = parse_passwd_line("ann@example.test:{SHA512-CRYPT}$6$abc$def:1000:1000::/home/ann::userdb_quota_rule=*:storage=1G\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->user, "ann@example.test");
  EXPECT_EQ(l->password, "{SHA512-CRYPT}$6$abc$def");
  auto two = parse_passwd_line("bob:{PLAIN}x");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->user, "bob");
  EXPECT_EQ(two->password, "{PLAIN}x");
  EXPECT_EQ(parse_passwd_line("").error().code, Errc::not_found);
  EXPECT_EQ(parse_passwd_line("  # comment").error().code, Errc::not_found);
  EXPECT_EQ(parse_passwd_line("no colon here").error().code, Errc::syntax);
  EXPECT_EQ(parse_passwd_line(":{PLAIN}x").error().code, Errc::syntax);
  EXPECT_EQ(parse_passwd_line("ann@example.test::1000").error().code, Errc::syntax);
}

std::string stored_password(const std::string& db_path) {
  sqlite3* raw = nullptr;
  sqlite3_open(db_path.c_str(), &raw);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(raw, "SELECT password FROM users", -1, &st, nullptr);
  std::string h;
  if (sqlite3_step(st) == SQLITE_ROW) h = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(raw);
  return h;
}

}  // namespace

TEST_F(AuthDbTest, ImportedHashLogsInAndBecomesArgon2id) {
  ASSERT_OK(db_->add_domain("example.test"));
  // argon2i with libsodium's MIN parameters would not "need rehash" by parameters alone.
  for (const Vector& v : kVectors) {
    SCOPED_TRACE(v.input);
    ASSERT_OK(db_->add_user_with_hash("ann@example.test", v.input, 0));
    EXPECT_EQ(stored_password(db_path_), v.stored);
    // No SCRAM keys until the password has been seen.
    auto none = db_->scram_keys("ann@example.test");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    EXPECT_EQ(db_->check_password("ann@example.test", "wrong")->outcome, PasswordCheck::bad_password);
    EXPECT_EQ(stored_password(db_path_), v.stored);
    EXPECT_EQ(db_->check_password("ann@example.test", kPassword)->outcome, PasswordCheck::ok);
    std::string after = stored_password(db_path_);
    EXPECT_EQ(after.rfind("$argon2id$", 0), 0u) << after;
    EXPECT_NE(after, v.stored);
    auto keys = db_->scram_keys("ann@example.test");
    ASSERT_TRUE(keys.ok());
    ASSERT_TRUE(keys->has_value());
    EXPECT_EQ((*keys)->stored_key, scram_keys(kPassword, (*keys)->salt, (*keys)->iterations).stored_key);
    EXPECT_EQ(db_->check_password("ann@example.test", kPassword)->outcome, PasswordCheck::ok);
    EXPECT_EQ(db_->check_password("ann@example.test", "wrong")->outcome, PasswordCheck::bad_password);
    ASSERT_OK(db_->remove_user("ann@example.test"));
  }
}

TEST_F(AuthDbTest, WeakHashIsRefusedAndNoUserMade) {
  ASSERT_OK(db_->add_domain("example.test"));
  Status s = db_->add_user_with_hash("ann@example.test", "{PLAIN-MD5}a3bd1d3c56f5d7d0e0c2e40e2b8c4a3c", 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::refused);
  EXPECT_FALSE(db_->find_user("ann@example.test")->has_value());
}

TEST_F(AuthDbTest, SetPasswordHashReplacesPasswordAndScramKeys) {
  ASSERT_OK(db_->add_domain("example.test"));
  ASSERT_OK(db_->add_user("ann@example.test", "old password", 0));
  ASSERT_TRUE(db_->scram_keys("ann@example.test")->has_value());
  ASSERT_OK(db_->set_password_hash("ann@example.test", kVectors[4].input));
  EXPECT_FALSE(db_->scram_keys("ann@example.test")->has_value());
  EXPECT_EQ(db_->check_password("ann@example.test", "old password")->outcome, PasswordCheck::bad_password);
  EXPECT_EQ(db_->check_password("ann@example.test", kPassword)->outcome, PasswordCheck::ok);
  EXPECT_EQ(db_->set_password_hash("nobody@example.test", kVectors[4].input).error().code, Errc::not_found);
}
