#include <gtest/gtest.h>

#include "common/codec.h"

namespace tern {
namespace {

struct Pair {
  const char* utf8;
  const char* mutf7;
};

// RFC 3501 §5.1.3 examples and edge cases.
const Pair kPairs[] = {
    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
    {"INBOX", "INBOX"},
    {"&", "&-"},
    {"Tom & Jerry", "Tom &- Jerry"},
    {"", ""},
    {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},                 // ü
    {"\xc3\xa4\xc3\xb6\xc3\xbc", "&AOQA9gD8-"},         // äöü: one shift sequence
    {"\xf0\x9f\x98\x80", "&2D3eAA-"},                    // U+1F600: a surrogate pair
    {"a\tb", "a&AAk-b"},                                 // control characters are encoded
    {"\xe2\x82\xac&x", "&IKw-&-x"},                      // € then an ampersand
};

TEST(Mutf7, EncodesAndDecodesRfcExamples) {
  for (const Pair& p : kPairs) {
    auto enc = mutf7_encode(p.utf8);
    ASSERT_TRUE(enc) << p.mutf7;
    EXPECT_EQ(*enc, p.mutf7);
    auto dec = mutf7_decode(p.mutf7);
    ASSERT_TRUE(dec) << p.mutf7 << ": " << dec.error().message;
    EXPECT_EQ(*dec, p.utf8);
  }
}

TEST(Mutf7, RejectsMalformed) {
  const char* bad[] = {
      "&U,BTFw",      // unterminated
      "&-&",          // unterminated after a valid escape
      "&Jjo!-",       // bad base64 character
      "&U/BTFw-",     // "/" is standard base64, not modified
      "&AGE-",        // "a" (printable ASCII) encoded
      "&ACY-",        // "&" encoded instead of "&-"
      "&AOQ-&APY-",   // two adjacent shift sequences (not minimal)
      "&2D0-",        // lone high surrogate
      "&3gA-",        // lone low surrogate
      "&AOQA-",       // leftover non-zero / too many padding bits
      "&AOR-",        // non-zero padding bits
      "&AOQAA-",      // stray partial unit (14 leftover bits)
      "\xc3\xa4",     // raw 8-bit
      "a\tb",         // raw control character
      "&=-",
  };
  for (const char* s : bad) EXPECT_FALSE(mutf7_decode(s)) << s;
}

TEST(Mutf7, EncodeRejectsInvalidUtf8) {
  const char* bad[] = {"\xff", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xe2\x82"};
  for (const char* s : bad) {
    EXPECT_FALSE(mutf7_encode(s)) << s;
    EXPECT_FALSE(is_valid_utf8(s)) << s;
  }
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));
}

TEST(Mutf7, RoundTripsEveryBmpPlaneSample) {
  // Every 97th code point (skipping surrogates) survives encode then decode.
  for (uint32_t cp = 1; cp < 0x110000; cp += 97) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string u;
    append_utf8(u, cp);
    std::string s = "x" + u + "y";
    auto enc = mutf7_encode(s);
    ASSERT_TRUE(enc) << cp;
    auto dec = mutf7_decode(*enc);
    ASSERT_TRUE(dec) << cp << " " << *enc;
    EXPECT_EQ(*dec, s) << cp;
  }
}

}  // namespace
}  // namespace tern
