// POP3 IN-USE locks and the wire-size cache.
#include "daemon/pop3/maildrops.h"

#include <gtest/gtest.h>

namespace tern::daemon {
namespace {

TEST(Pop3Maildrops, OneSessionPerMaildrop) {
  Pop3Maildrops d(*pop3d::UidlFormat::parse("%v.%u"));
  EXPECT_TRUE(d.acquire("ann"));
  EXPECT_FALSE(d.acquire("ann"));  // RFC 1939 §8: the second session gets [IN-USE]
  EXPECT_TRUE(d.acquire("bob"));
  EXPECT_TRUE(d.held("ann"));
  d.release("ann");
  EXPECT_FALSE(d.held("ann"));
  EXPECT_TRUE(d.acquire("ann"));
}

TEST(Pop3Maildrops, SizesSurviveOnlyWhileUidValidityStays) {
  Pop3Maildrops d(*pop3d::UidlFormat::parse("%v.%u"));
  d.put_sizes("ann", 7, {{1, 100}, {2, 200}});
  auto got = d.take_sizes("ann", 7);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[2], 200u);
  // take moved them out.
  EXPECT_TRUE(d.take_sizes("ann", 7).empty());
  d.put_sizes("ann", 7, {{1, 100}});
  // A new UIDVALIDITY: UIDs may name other messages now.
  EXPECT_TRUE(d.take_sizes("ann", 8).empty());
  EXPECT_TRUE(d.take_sizes("ann", 7).empty());
}

TEST(Pop3Maildrops, CacheStartsOverPastItsUserLimit) {
  Pop3Maildrops d(*pop3d::UidlFormat::parse("%v.%u"));
  for (size_t i = 0; i < Pop3Maildrops::kMaxCachedUsers; ++i)
    d.put_sizes("u" + std::to_string(i), 1, {{1, i}});
  // Updating a cached user keeps the rest.
  d.put_sizes("u5", 1, {{1, 55}});
  EXPECT_EQ(d.take_sizes("u6", 1).at(1), 6u);
  d.put_sizes("u6", 1, {{1, 6}});
  // One user more: memory stays bounded, everything is forgotten (recomputed on need).
  d.put_sizes("new", 1, {{1, 1}});
  EXPECT_TRUE(d.take_sizes("u7", 1).empty());
  EXPECT_EQ(d.take_sizes("new", 1).at(1), 1u);
}

}  // namespace
}  // namespace tern::daemon
