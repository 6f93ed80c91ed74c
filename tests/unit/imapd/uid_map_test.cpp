// UidMap against a plain vector: the same operations must give the same answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "imapd/uid_map.h"

namespace tern::imapd {
namespace {

void expect_same(const UidMap& m, const std::vector<uint32_t>& ref) {
  ASSERT_EQ(m.count(), ref.size());
  EXPECT_EQ(m.max_uid(), ref.empty() ? 0u : ref.back());
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_EQ(m.uid_at(i), ref[i]) << "index " << i;
    ASSERT_EQ(m.index_of(ref[i]), static_cast<long>(i));
  }
  uint32_t top = ref.empty() ? 5 : ref.back() + 5;
  for (uint32_t u = 0; u <= top; ++u) {
    auto it = std::lower_bound(ref.begin(), ref.end(), u);
    ASSERT_EQ(m.lower_bound(u), static_cast<size_t>(it - ref.begin())) << "uid " << u;
    if (it == ref.end() || *it != u) ASSERT_EQ(m.index_of(u), -1) << "uid " << u;
  }
}

TEST(UidMap, ConsecutiveUidsAreOneRun) {
  UidMap m;
  std::vector<uint32_t> ref;
  for (uint32_t u = 1; u <= 10000; ++u) {
    m.push_back(u);
    ref.push_back(u);
  }
  EXPECT_EQ(m.runs(), 1u);
  expect_same(m, ref);
  m.shrink_to_fit();
  EXPECT_LE(m.memory_bytes(), 16u);  // 10,000 messages in one run, not 40 KB
}

TEST(UidMap, ErasingSplitsAndMergesRunEdges) {
  UidMap m;
  std::vector<uint32_t> ref;
  for (uint32_t u : {1u, 2u, 3u, 4u, 5u, 8u, 9u, 20u}) {
    m.push_back(u);
    ref.push_back(u);
  }
  EXPECT_EQ(m.runs(), 3u);
  expect_same(m, ref);
  // Middle of a run (split), first of a run, last of a run, a single-message run.
  for (uint32_t u : {3u, 1u, 9u, 20u, 5u}) {
    long i = m.index_of(u);
    ASSERT_GE(i, 0);
    m.erase_at(static_cast<size_t>(i));
    ref.erase(ref.begin() + i);
    expect_same(m, ref);
  }
  m.push_back(21);
  ref.push_back(21);
  expect_same(m, ref);
  while (!ref.empty()) {
    m.erase_at(0);
    ref.erase(ref.begin());
    expect_same(m, ref);
  }
  EXPECT_EQ(m.runs(), 0u);
}

TEST(UidMap, RandomOperationsMatchAVector) {
  std::mt19937 rng(7);
  UidMap m;
  std::vector<uint32_t> ref;
  uint32_t next = 1;
  for (int step = 0; step < 3000; ++step) {
    if (ref.empty() || rng() % 3 != 0) {
      next += (rng() % 4 == 0) ? 1 + rng() % 5 : 0;  // sometimes a gap
      m.push_back(next);
      ref.push_back(next);
      ++next;
    } else {
      size_t i = rng() % ref.size();
      m.erase_at(i);
      ref.erase(ref.begin() + static_cast<long>(i));
    }
    if (step % 100 == 0) expect_same(m, ref);
  }
  expect_same(m, ref);
}

}  // namespace
}  // namespace tern::imapd
