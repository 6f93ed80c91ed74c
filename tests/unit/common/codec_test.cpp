// common/codec.h against the RFC examples and malformed input.
#include "common/codec.h"

#include <gtest/gtest.h>

namespace tern {
namespace {

using namespace std::string_literals;

TEST(Base64, Rfc4648TestVectors) {
  // RFC 4648 §10.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    auto d = base64_decode(encoded);
    ASSERT_TRUE(d) << encoded;
    EXPECT_EQ(*d, plain);
  }
  auto nul = base64_decode(base64_encode("\0user\0pass"s));
  ASSERT_TRUE(nul);
  EXPECT_EQ(*nul, "\0user\0pass"s);
}

TEST(Base64, StrictRejectsMalformed) {
  for (const char* bad : {"aGVsbG8", "aGV=bG8=", "aGVs bG8", "Zg=", "Zm9v\r\n", "Zg==Zg==", "Z===",
                          "Zm9-", "Zm9_"}) {
    auto d = base64_decode(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code, Errc::syntax);
  }
}

TEST(Base64, FwsVariantSkipsFoldingWhitespaceOnly) {
  // RFC 6376 §3.5: b= may be folded; the whitespace is not part of the value.
  auto d = base64_decode_fws(" Zm9v\r\n\tYmFy ");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "foobar");
  EXPECT_FALSE(base64_decode_fws("Zm9v!YmFy"));
  EXPECT_FALSE(base64_decode_fws("Zm9vY"));
}

TEST(Base64, MimeVariantIsBestEffort) {
  // RFC 2045 §6.8: characters outside the alphabet are ignored, even garbage.
  EXPECT_EQ(base64_decode_mime("Zm9v\r\nYmFy"), "foobar");
  EXPECT_EQ(base64_decode_mime("Zm9v!!YmFy"), "foobar");
  EXPECT_EQ(base64_decode_mime("Zm9vYg"), "foob");  // a partial quantum gives its bytes
  EXPECT_EQ(base64_decode_mime("Zg==Zm8="), "ffo");   // padding ends each quantum
}

TEST(Hex, EncodeDecodeAndErrors) {
  EXPECT_EQ(hex_encode("\x01\xab\xff"s), "01abff");
  EXPECT_EQ(hex_encode("\x01\xab\xff"s, true), "01ABFF");
  auto d = hex_decode("01aBfF");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "\x01\xab\xff"s);
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("0g"));
  EXPECT_EQ(hex_value('7'), 7);
  EXPECT_EQ(hex_value('e'), 14);
  EXPECT_EQ(hex_value('G'), -1);
}

// RFC 3986 §2.1.
TEST(Percent, DecodeAndErrors) {
  EXPECT_EQ(*percent_decode("a%40b%2fc%2F"), "a@b/c/");
  EXPECT_EQ(*percent_decode("plain"), "plain");
  EXPECT_EQ(*percent_decode(""), "");
  EXPECT_EQ(*percent_decode("%00x"), "\0x"s);
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("ab%4"));
  EXPECT_FALSE(percent_decode("%4g"));
  EXPECT_FALSE(percent_decode("%g4"));
}

TEST(Utf8, EncodesEachLength) {
  // RFC 3629 §3 and its §7 examples.
  std::string out;
  append_utf8(out, 'A');
  append_utf8(out, 0x391);    // GREEK CAPITAL ALPHA
  append_utf8(out, 0xD55C);   // HANGUL SYLLABLE HAN
  append_utf8(out, 0x233B4);  // a CJK ideograph in plane 2
  EXPECT_EQ(out, "A\xce\x91\xed\x95\x9c\xf0\xa3\x8e\xb4");
  uint32_t cp = 0;
  EXPECT_EQ(utf8_decode_at(out, 3, cp), 3u);
  EXPECT_EQ(cp, 0xD55Cu);
  EXPECT_EQ(utf8_decode_at(out, 6, cp), 4u);
  EXPECT_EQ(cp, 0x233B4u);
}

TEST(Utf8, ValidationRejectsIllFormed) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  const char* bad[] = {"\xff", "\xc0\x80" /* overlong NUL */, "\xe0\x80\xaf", "\xed\xa0\x80" /* surrogate */,
                       "\xf4\x90\x80\x80" /* > U+10FFFF */, "a\xe2\x82" /* truncated */, "\x80"};
  for (const char* s : bad) EXPECT_FALSE(is_valid_utf8(s)) << s;
  EXPECT_EQ(sanitize_utf8("a\xff" "b\xe2\x82"), "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(Xtext, Rfc3461) {
  // RFC 3461 §4: "+" and "=" and anything outside "!".."~" is "+" 2 upper-case hex digits.
  EXPECT_EQ(xtext_encode("a+b=c d\xc3\xa9"), "a+2Bb+3Dc+20d+C3+A9");
  auto d = xtext_decode("a+2Bb+3Dc+20d");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "a+b=c d");
  auto utf8 = xtext_decode("caf\xc3\xa9");  // RFC 6533: UTF-8 is carried as is
  ASSERT_TRUE(utf8);
  EXPECT_EQ(*utf8, "caf\xc3\xa9");
  for (std::string s : {"x"s, "a+2B"s, "+00+7F"s, "\x01\x7f ="s, "\xff+"s}) {
    auto back = xtext_decode(xtext_encode(s));
    ASSERT_TRUE(back) << s;
    EXPECT_EQ(*back, s);
  }
}

TEST(Xtext, RejectsMalformed) {
  EXPECT_TRUE(is_valid_xtext(""));
  EXPECT_TRUE(is_valid_xtext("abc+2B+3D"));
  for (const char* bad : {"abc+2b" /* lower-case hex */, "abc+2", "abc+", "a=b", "a b", "+G0", "a\tb"}) {
    EXPECT_FALSE(is_valid_xtext(bad)) << bad;
    auto d = xtext_decode(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code, Errc::syntax);
  }
}

}  // namespace
}  // namespace tern
