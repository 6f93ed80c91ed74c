// ESEARCH result lines with RFC 9394 PARTIAL: the positions a partial range selects, the
// "PARTIAL (<range> <set>/NIL)" form, and the parser's partial-range rules.
#include "imapd/esearch.h"

#include <gtest/gtest.h>

#include "parser_harness.h"

namespace tern::imapd {
namespace {

using Slice = std::pair<size_t, size_t>;

TEST(PartialSlice, Rfc9394_3_1_PositiveRangesCountFromTheLowest) {
  EXPECT_EQ(partial_slice({1, 5}, 10), (Slice{0, 5}));
  EXPECT_EQ(partial_slice({5, 1}, 10), (Slice{0, 5}));  // 500:400 is 400:500
  EXPECT_EQ(partial_slice({8, 20}, 10), (Slice{7, 10}));  // clipped at the end
  EXPECT_EQ(partial_slice({11, 20}, 10), (Slice{0, 0}));  // past the end: nothing
  EXPECT_EQ(partial_slice({1, 1}, 0), (Slice{0, 0}));
  EXPECT_EQ(partial_slice({10, 10}, 10), (Slice{9, 10}));
}

TEST(PartialSlice, Rfc9394_3_1_NegativeRangesCountFromTheHighest) {
  EXPECT_EQ(partial_slice({-1, -3}, 10), (Slice{7, 10}));
  EXPECT_EQ(partial_slice({-3, -1}, 10), (Slice{7, 10}));
  EXPECT_EQ(partial_slice({-1, -1}, 10), (Slice{9, 10}));
  EXPECT_EQ(partial_slice({-5, -20}, 10), (Slice{0, 6}));  // clipped at the start
  EXPECT_EQ(partial_slice({-11, -20}, 10), (Slice{0, 0}));
  EXPECT_EQ(partial_slice({-1, -100}, 0), (Slice{0, 0}));
  EXPECT_EQ(partial_slice({-4294967295LL, -4294967295LL}, 3), (Slice{0, 0}));
}

SearchResult result(std::vector<uint32_t> v, bool sorted = false) {
  SearchResult r;
  r.values = std::move(v);
  r.modseqs.assign(r.values.size(), 1);
  r.sort_order = sorted;
  return r;
}

TEST(EsearchLine, Rfc9394_3_1_PartialResponseForm) {
  SearchReturn ret;
  ret.partial = PartialRange{1, 3};
  // The values at positions 1..3 of 23500..24000-style UIDs, as a sequence-set.
  EXPECT_EQ(esearch_line("\"A1\"", true, ret, result({200, 201, 202, 350, 400})),
            "ESEARCH (TAG \"A1\") UID PARTIAL (1:3 200:202)");
  ret.partial = PartialRange{-1, -2};
  EXPECT_EQ(esearch_line("\"A2\"", true, ret, result({200, 201, 202, 350, 400})),
            "ESEARCH (TAG \"A2\") UID PARTIAL (-1:-2 350,400)");
  // No result at those positions: NIL.
  ret.partial = PartialRange{100, 200};
  EXPECT_EQ(esearch_line("\"A3\"", false, ret, result({1, 2})), "ESEARCH (TAG \"A3\") PARTIAL (100:200 NIL)");
  EXPECT_EQ(esearch_line("\"A4\"", false, ret, result({})), "ESEARCH (TAG \"A4\") PARTIAL (100:200 NIL)");
}

TEST(EsearchLine, Rfc9394_3_1_PartialWithMinMaxCountIsOverTheWholeResult) {
  SearchReturn ret;
  ret.min = ret.max = ret.count = true;
  ret.partial = PartialRange{2, 3};
  EXPECT_EQ(esearch_line("\"B\"", false, ret, result({3, 5, 7, 9})),
            "ESEARCH (TAG \"B\") MIN 3 MAX 9 COUNT 4 PARTIAL (2:3 5,7)");
}

TEST(EsearchLine, Rfc5267_4_4_EsortPartialKeepsSortOrder) {
  SearchReturn ret;
  ret.partial = PartialRange{2, 4};
  EXPECT_EQ(esearch_line("\"S\"", false, ret, result({9, 3, 4, 5, 1}, true)), "ESEARCH (TAG \"S\") PARTIAL (2:4 3:5)");
  ret.partial = PartialRange{1, 3};
  EXPECT_EQ(esearch_line("\"S\"", false, ret, result({9, 3, 1, 5}, true)), "ESEARCH (TAG \"S\") PARTIAL (1:3 9,3,1)");
}

TEST(EsearchLine, Rfc7162_3_1_5_PartialModseqIsThatOfReturnedMessages) {
  SearchReturn ret;
  ret.partial = PartialRange{1, 2};
  SearchResult r = result({1, 2, 3});
  r.report_modseq = true;
  r.modseqs = {5, 7, 90};
  EXPECT_EQ(esearch_line("\"M\"", false, ret, r), "ESEARCH (TAG \"M\") PARTIAL (1:2 1:2) MODSEQ 7");
}

std::string parse(const std::string& line) {
  auto out = test::run(line + "\r\n");
  return out.empty() ? "" : out.front();
}

TEST(PartialParser, Rfc9394_3_1_SearchReturnPartialGrammar) {
  EXPECT_EQ(parse("a UID SEARCH RETURN (PARTIAL -1:-100) UNDELETED"),
            "CMD a UID SEARCH return=(PARTIAL -1:-100) (UNDELETED)");
  EXPECT_EQ(parse("a SEARCH RETURN (MIN PARTIAL 500:400 COUNT) ALL"),
            "CMD a SEARCH return=(MIN COUNT PARTIAL 500:400) (ALL)");
  EXPECT_EQ(parse("a SORT RETURN (PARTIAL 1:10) (DATE) UTF-8 ALL"),
            "CMD a SORT return=(PARTIAL 1:10) by=(DATE) charset=UTF-8 (ALL)");
  EXPECT_EQ(parse("a UID FETCH 1:* (FLAGS) (PARTIAL -1:-30)"), "CMD a UID FETCH set=1:* items=[FLAGS] partial=-1:-30");
  EXPECT_EQ(parse("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 PARTIAL 1:2)"),
            "CMD a UID FETCH set=1:* items=[FLAGS] changedsince=5 partial=1:2");
  // Errors: zero, mixed signs, "*", ALL together with PARTIAL, a missing range.
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL 0:5) ALL"), "ERR syntax a expected non-zero number");
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL 1:-5) ALL"), "ERR syntax a partial range ends differ in sign");
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL -1:5) ALL"), "ERR syntax a partial range ends differ in sign");
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL 1:*) ALL"), "ERR syntax a expected number");
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL 1:5 ALL) ALL"), "ERR syntax a PARTIAL and ALL are mutually exclusive");
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL) ALL"), "ERR syntax a expected SP");
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL 5) ALL"), "ERR syntax a expected : in partial range");
  EXPECT_EQ(parse("a FETCH 1 FLAGS (PARTIAL 1)"), "ERR syntax a expected : in partial range");
  EXPECT_EQ(parse("a UID FETCH 1:* FLAGS (PARTIAL 1:5 PARTIAL 1:2)"), "ERR syntax a PARTIAL repeated");
  EXPECT_EQ(parse("a UID FETCH 1:* FLAGS (PARTIAL)"), "ERR syntax a expected SP");
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL"), "ERR syntax a search return option repeated");
  EXPECT_EQ(parse("a SEARCH RETURN (UPDATE UPDATE) ALL"), "ERR syntax a search return option repeated");
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL 1:4294967296) ALL"), "ERR syntax a number too large");
  EXPECT_EQ(parse("a SEARCH RETURN (PARTIAL \"1:5\") ALL"), "ERR syntax a expected number");
  EXPECT_EQ(parse("a CANCELUPDATE \"A1\" \"B2\""), "CMD a CANCELUPDATE \"A1\" \"B2\"");
  EXPECT_EQ(parse("a CANCELUPDATE A1"), "ERR syntax a expected string");
}

}  // namespace
}  // namespace tern::imapd
