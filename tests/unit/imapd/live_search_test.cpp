// RFC 5267 §4.3 ADDTO / REMOVEFROM lines from two results of a live SEARCH or SORT.
#include "imapd/live_search.h"

#include <gtest/gtest.h>

namespace tern::imapd {
namespace {

using Lines = std::vector<std::string>;

LiveSearch live(bool uid, bool sort, SearchReturn ret = {}) {
  LiveSearch ls;
  ls.uid = uid;
  ls.sort = sort;
  if (!ret.min && !ret.max && !ret.count) ret.all = true;
  ls.ret = ret;
  return ls;
}

// UIDs 10, 20, 30, ... are at sequence numbers 1, 2, 3, ...; `gone` are expunged.
std::function<long(uint32_t)> numbers(bool uid, std::vector<uint32_t> gone = {}) {
  return [uid, gone](uint32_t u) -> long {
    if (std::find(gone.begin(), gone.end(), u) != gone.end()) return -1;
    long seq = static_cast<long>(u / 10);
    for (uint32_t g : gone) seq -= g < u ? 1 : 0;
    return uid ? static_cast<long>(u) : seq;
  };
}

TEST(LiveSearch, Rfc5267_4_3_3_SearchAddToUsesPositionZero) {
  EXPECT_EQ(live_update_lines(live(true, false), "\"B01\"", {10, 20}, {10, 20, 30, 40}, numbers(true)),
            (Lines{"ESEARCH (TAG \"B01\") UID ADDTO (0 30,40)"}));
  EXPECT_EQ(live_update_lines(live(false, false), "\"B01\"", {10}, {10, 30}, numbers(false)),
            (Lines{"ESEARCH (TAG \"B01\") ADDTO (0 3)"}));
  EXPECT_TRUE(live_update_lines(live(true, false), "\"B\"", {10, 20}, {10, 20}, numbers(true)).empty());
}

TEST(LiveSearch, Rfc5267_4_3_4_SearchRemoveFrom) {
  // A flag change took 20 out and put 30 in.
  EXPECT_EQ(live_update_lines(live(true, false), "\"C\"", {10, 20}, {10, 30}, numbers(true)),
            (Lines{"ESEARCH (TAG \"C\") UID REMOVEFROM (0 20) ADDTO (0 30)"}));
  // Expunged 20 whose number is gone already: a UID context is told, a sequence context
  // already had the EXPUNGE.
  EXPECT_EQ(live_update_lines(live(true, false), "\"C\"", {10, 20, 30}, {10, 30}, numbers(true, {20})),
            (Lines{"ESEARCH (TAG \"C\") UID REMOVEFROM (0 20)"}));
  EXPECT_TRUE(live_update_lines(live(false, false), "\"C\"", {10, 20, 30}, {10, 30}, numbers(false, {20})).empty());
  // After the expunge of 20, 30 is number 2.
  EXPECT_EQ(live_update_lines(live(false, false), "\"C\"", {10, 20, 30}, {10}, numbers(false, {20})),
            (Lines{"ESEARCH (TAG \"C\") REMOVEFROM (0 2)"}));
}

TEST(LiveSearch, Rfc5267_4_3_2_SortPositions) {
  // Sort order 30 10 20; 10 leaves (position 2), then 40 comes in first and 50 last.
  EXPECT_EQ(live_update_lines(live(true, true), "\"S\"", {30, 10, 20}, {40, 30, 20, 50}, numbers(true)),
            (Lines{"ESEARCH (TAG \"S\") UID REMOVEFROM (2 10) ADDTO (1 40 4 50)"}));
  // Removals count positions in the list as each leaves it: 30 (1), then 20 (1 again).
  EXPECT_EQ(live_update_lines(live(false, true), "\"S\"", {30, 20, 10}, {10}, numbers(false)),
            (Lines{"ESEARCH (TAG \"S\") REMOVEFROM (1 3 1 2)"}));
  // A sequence context: the expunged 30 is already gone from the client's list.
  EXPECT_EQ(live_update_lines(live(false, true), "\"S\"", {30, 20, 10}, {10}, numbers(false, {30})),
            (Lines{"ESEARCH (TAG \"S\") REMOVEFROM (1 2)"}));
}

// RFC 5267 §4.3: "There is no interaction between UPDATE and any other return options;
// therefore, use of RETURN (UPDATE MIN), for example, does not notify about the minimum UID or
// sequence number, but notifies instead about all changes to the set of matching messages."
// (§4.3.3: "only the ADDTO is included, and not the (now changed) COUNT".)
TEST(LiveSearch, Rfc5267_4_3_UpdateWithMinMaxCountSendsAddToNotTheValues) {
  SearchReturn ret;
  ret.count = true;
  ret.max = true;
  EXPECT_EQ(live_update_lines(live(true, false, ret), "\"M\"", {10, 20}, {10, 20, 30}, numbers(true)),
            (Lines{"ESEARCH (TAG \"M\") UID ADDTO (0 30)"}));
  ret = {};
  ret.min = true;
  // A change that leaves MIN as it was is still a change of the set.
  EXPECT_EQ(live_update_lines(live(false, true, ret), "\"N\"", {10, 30}, {10, 20, 30}, numbers(false)),
            (Lines{"ESEARCH (TAG \"N\") ADDTO (2 2)"}));
  EXPECT_TRUE(live_update_lines(live(true, false, ret), "\"M\"", {10, 20}, {10, 20}, numbers(true)).empty());
}

}  // namespace
}  // namespace tern::imapd
