#include <gtest/gtest.h>

#include "imapd/sequence_set.h"

namespace tern::imapd {
namespace {

SequenceSet parse(const char* s) {
  auto r = SequenceSet::parse(s);
  EXPECT_TRUE(r) << s;
  return r ? *r : SequenceSet{};
}

TEST(SequenceSet, ParsesAndPrints) {
  for (const char* s : {"1", "1:3", "1,3:5,7:*", "*", "*:4", "4294967295", "2,2,2", "$"})
    EXPECT_EQ(parse(s).to_string(), s);
  for (const char* s : {"", "0", "01", "1:", ":1", "1,,2", "1:2:3", "4294967296", "a", "1 2", "$,1", "-1", "1,"})
    EXPECT_FALSE(SequenceSet::parse(s)) << s;
}

TEST(SequenceSet, StarAndReversedRanges) {
  SequenceSet s = parse("5:2,9:*");
  EXPECT_TRUE(s.uses_star());
  EXPECT_EQ(s.max_explicit(), 9u);
  EXPECT_TRUE(s.contains(2, 20));
  EXPECT_TRUE(s.contains(5, 20));
  EXPECT_FALSE(s.contains(6, 20));
  EXPECT_TRUE(s.contains(20, 20));
  EXPECT_FALSE(s.contains(21, 20));
  EXPECT_FALSE(s.contains(0, 20));
  // RFC 9051 §9: "559:*" with 559 beyond the largest value still includes the largest one.
  SequenceSet t = parse("559:*");
  EXPECT_TRUE(t.contains(100, 100));
  EXPECT_FALSE(t.contains(99, 100));
  EXPECT_EQ(t.count(100), 1u);
}

TEST(SequenceSet, ResolveSortsMergesAndClips) {
  SequenceSet s = parse("10:12,1,3:2,4,11:15,*");
  auto r = s.resolve(13);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (SeqRange{1, 4}));
  EXPECT_EQ(r[1], (SeqRange{10, 13}));
  EXPECT_EQ(s.count(13), 8u);
  EXPECT_TRUE(parse("1:*").resolve(0).empty());
  EXPECT_FALSE(parse("*").contains(1, 0));
}

TEST(SequenceSet, HugeRangesDoNotExpand) {
  SequenceSet s = parse("1:4294967295");
  EXPECT_EQ(s.count(4294967295u), 4294967295ull);
  EXPECT_EQ(s.resolve(4294967295u).size(), 1u);
  EXPECT_TRUE(s.contains(4294967295u, 4294967295u));
  uint64_t n = 0;
  s.for_each(5, [&](uint32_t v) { n += v; });
  EXPECT_EQ(n, 15u);  // iteration is bounded by max, not by the written range
}

TEST(SequenceSet, FromValuesCompresses) {
  EXPECT_EQ(SequenceSet::from_values({5, 1, 2, 3, 9, 10, 3}).to_string(), "1:3,5,9:10");
  EXPECT_EQ(SequenceSet::from_values({}).to_string(), "");
  EXPECT_TRUE(SequenceSet::from_values({}).empty());
  EXPECT_EQ(SequenceSet::from_values({4294967295u, 4294967294u}).to_string(), "4294967294:4294967295");
}

TEST(SequenceSet, SavedResult) {
  SequenceSet s = parse("$");
  EXPECT_TRUE(s.is_saved_result());
  EXPECT_FALSE(s.empty());
  EXPECT_FALSE(s.contains(1, 10));
}

}  // namespace
}  // namespace tern::imapd
