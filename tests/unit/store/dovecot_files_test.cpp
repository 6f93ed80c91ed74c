// Dovecot side files: dovecot-uidlist (v1, v3), dovecot-keywords, subscriptions. Malformed
// lines are skipped and reported; nothing throws.
#include <gtest/gtest.h>

#include "store/dovecot_files.h"

namespace tern::store::detail {
namespace {

TEST(DovecotUidlist, Version3WithExtensionsAndInfo) {
  auto u = parse_uidlist(
      "3 V1796564863 N6 Gb192e8387d67156bd008000083ecc375\n"
      "1 :1796564862.M25901P2256.vm,S=18,W=21\n"
      "3 S18 W21 G0123 :1796564862.M61916P2256.vm,S=18,W=21:2,Sab\n"
      "5 W21 :1796564862.M93927P2256.vm\n");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->version, 3);
  EXPECT_EQ(u->uidvalidity, 1796564863u);
  EXPECT_EQ(u->next_uid, 6u);
  EXPECT_EQ(u->guid, "b192e8387d67156bd008000083ecc375");
  ASSERT_EQ(u->entries.size(), 3u);
  EXPECT_EQ(u->entries[0].uid, 1u);
  EXPECT_EQ(u->entries[0].name, "1796564862.M25901P2256.vm,S=18,W=21");
  EXPECT_EQ(u->entries[0].base, "1796564862.M25901P2256.vm");
  EXPECT_EQ(u->entries[1].uid, 3u);
  EXPECT_EQ(u->entries[1].name, "1796564862.M61916P2256.vm,S=18,W=21");  // info dropped
  EXPECT_EQ(u->entries[2].base, "1796564862.M93927P2256.vm");
  EXPECT_TRUE(u->problems.empty());
}

TEST(DovecotUidlist, Version1) {
  auto u = parse_uidlist("1 1100000000 12\r\n4 1099999999.P1.host:2,S\r\n11 1099999999.P2.host,S=5\r\n");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->version, 1);
  EXPECT_EQ(u->uidvalidity, 1100000000u);
  EXPECT_EQ(u->next_uid, 12u);
  ASSERT_EQ(u->entries.size(), 2u);
  EXPECT_EQ(u->entries[0].base, "1099999999.P1.host");
  EXPECT_EQ(u->entries[0].uid, 4u);
  EXPECT_EQ(u->entries[1].base, "1099999999.P2.host");
}

TEST(DovecotUidlist, UnusableHeaders) {
  for (const char* text : {"", "\n", "9 V1 N2\n", "3 N5 G00\n1 :a\n", "3 V0 N5\n", "1 100\n",
                           "x V1\n", "3 Vxyz N1\n", "1 99999999999 3\n"})
    EXPECT_FALSE(parse_uidlist(text)) << text;
}

TEST(DovecotUidlist, MalformedLinesAreSkippedAndReported) {
  auto u = parse_uidlist(
      "3 V7 N100\n"
      "abc :x.1\n"           // no UID
      "0 :x.2\n"             // UID 0
      "2 S12 W13\n"          // no file name
      "4 :\n"                // empty name
      "5 :../../etc/passwd\n"  // a path
      "6 :good.6,S=1\n"
      "6 :dup.uid\n"         // not ascending
      "3 :lower\n"           // not ascending
      "8 :good.6,W=3\n"      // same base listed twice
      "9 :.hidden\n"         // a dot file
      "99999999999 :big\n"   // no 32-bit UID
      "10 : spaced name\n"); // names may hold spaces? not Maildir bases: still parsed
  ASSERT_TRUE(u);
  ASSERT_GE(u->entries.size(), 1u);
  EXPECT_EQ(u->entries[0].uid, 6u);
  EXPECT_EQ(u->entries[0].base, "good.6");
  for (const auto& e : u->entries) EXPECT_NE(e.uid, 8u);
  EXPECT_EQ(u->problems.size(), 10u);
  for (const auto& p : u->problems) EXPECT_NE(p.find("skipped"), std::string::npos) << p;
}

TEST(DovecotUidlist, FormatRoundTrips) {
  std::vector<UidlistEntry> entries = {{3, "1.M1P1.h,S=5,U=3", "1.M1P1.h"},
                                       {9, "2.M2P2.h,S=7,U=9", "2.M2P2.h"}};
  std::string text = format_uidlist(1700000000, 10, "", entries);
  EXPECT_EQ(text, "3 V1700000000 N10\n3 :1.M1P1.h,S=5,U=3\n9 :2.M2P2.h,S=7,U=9\n");
  auto u = parse_uidlist(text);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->uidvalidity, 1700000000u);
  EXPECT_EQ(u->next_uid, 10u);
  ASSERT_EQ(u->entries.size(), 2u);
  EXPECT_EQ(u->entries[1].name, entries[1].name);
  EXPECT_EQ(u->entries[1].base, "2.M2P2.h");
  EXPECT_TRUE(u->problems.empty());
}

// Every prefix of a valid file and of a hostile one parses without crashing (the shape a
// truncated copy leaves).
TEST(DovecotUidlist, EveryPrefixParses) {
  std::string text = "3 V5 N9 Gab\n1 S3 W4 :a.1,S=3:2,S\n4 :b.2\n\x01\xff 7 :\n8 :c";
  for (size_t n = 0; n <= text.size(); ++n) (void)parse_uidlist(text.substr(0, n));
}

TEST(DovecotKeywords, ParseFormatAndBadLines) {
  auto k = parse_dovecot_keywords("0 $Forwarded\n1 custom1\r\n\n3 Later\n26 tooFar\nx y\n2\n");
  EXPECT_EQ(k.by_index[0], "$Forwarded");
  EXPECT_EQ(k.by_index[1], "custom1");
  EXPECT_EQ(k.by_index[2], "");
  EXPECT_EQ(k.by_index[3], "Later");
  EXPECT_EQ(k.problems.size(), 3u);
  EXPECT_EQ(format_dovecot_keywords(k.by_index), "0 $Forwarded\n1 custom1\n3 Later\n");
}

TEST(DovecotKeywords, LettersFromFileNames) {
  EXPECT_EQ(keyword_letters("1.M1P1.h,S=1,W=2:2,FSab"), "ab");
  EXPECT_EQ(keyword_letters("1.M1P1.h,S=1:2,"), "");
  EXPECT_EQ(keyword_letters("1.M1P1.h,S=1"), "");
  EXPECT_EQ(keyword_letters("1.M1P1.h:1,abc"), "");  // experimental info: not flags
  EXPECT_EQ(keyword_letters("1.M1P1.h:2,zDa"), "za");
}

TEST(DovecotSubscriptions, Version2TabSeparated) {
  auto s = parse_dovecot_subscriptions("V\t2\n\nWork\tProjects\n&AMQ-rger\nINBOX\nWork\tProjects\n");
  ASSERT_EQ(s.names.size(), 3u);
  EXPECT_EQ(s.names[0], "Work/Projects");
  EXPECT_EQ(s.names[1], "Ärger");
  EXPECT_EQ(s.names[2], "INBOX");
  EXPECT_TRUE(s.problems.empty());
}

TEST(DovecotSubscriptions, PlainDotSeparated) {
  auto s = parse_dovecot_subscriptions("Work.Projects\r\nSent\n&Jjo-\n");
  ASSERT_EQ(s.names.size(), 3u);
  EXPECT_EQ(s.names[0], "Work/Projects");
  EXPECT_EQ(s.names[1], "Sent");
  EXPECT_EQ(s.names[2], "\xe2\x98\xba");  // U+263A
}

TEST(DovecotSubscriptions, UndecodableNamesAreReported) {
  auto s = parse_dovecot_subscriptions("V\t2\n\nok\n&bad\nA..B\nx\t\n*\n");
  ASSERT_EQ(s.names.size(), 1u);
  EXPECT_EQ(s.names[0], "ok");
  EXPECT_EQ(s.problems.size(), 4u);
}

}  // namespace
}  // namespace tern::store::detail
