// SORT / THREAD building blocks (RFC 5256): base subject, sent dates, envelope keys, orders
// and thread trees. RFC 5256 gives no worked data, so the fixtures here are our own, with the
// tricky subjects real mailing lists produce.
#include "imapd/sort.h"

#include <gtest/gtest.h>

namespace tern::imapd {
namespace {

std::string base(std::string_view s, bool* rf = nullptr) { return base_subject(s, rf); }

TEST(BaseSubject, Rfc5256_2_1_LeadersTrailersBlobsAndFwdWrappers) {
  bool rf = false;
  EXPECT_EQ(base("Re: Fwd: [list] subj (fwd)", &rf), "subj");
  EXPECT_TRUE(rf);
  EXPECT_EQ(base("Hello", &rf), "Hello");
  EXPECT_FALSE(rf);
  EXPECT_EQ(base("[fwd: Re: Hello]", &rf), "Hello");  // step 6, then again from step 2
  EXPECT_TRUE(rf);
  EXPECT_EQ(base("Re: [list] Re: x"), "x");
  EXPECT_EQ(base("RE [tag]: hi"), "hi");  // subj-refwd may carry a blob before ':'
  EXPECT_EQ(base("Fw: a"), "a");
  EXPECT_EQ(base("Fwd:b"), "b");
  EXPECT_EQ(base("re: RE: rE:Subj"), "Subj");
  EXPECT_EQ(base("Subject (fwd) (FWD)  ", &rf), "Subject");
  EXPECT_TRUE(rf);
  EXPECT_EQ(base("Hello  \t world"), "Hello world");  // step 1: one space
  EXPECT_EQ(base("Reply to this", &rf), "Reply to this");  // "re" without ':' is no leader
  EXPECT_FALSE(rf);
  // Step 4: a blob stays when nothing would be left after it.
  EXPECT_EQ(base("[list]"), "[list]");
  EXPECT_EQ(base("[list] [other] topic"), "topic");
  EXPECT_EQ(base("Re:"), "");
  EXPECT_EQ(base(""), "");
  // A blob is "[" *BLOBCHAR "]" with no nested '[': "[a[b] c" has none at its start.
  EXPECT_EQ(base("[a[b] c"), "[a[b] c");
}

TEST(BaseSubject, Rfc5256_2_1_EncodedWordsDecodedFirst) {
  bool rf = false;
  EXPECT_EQ(base("=?UTF-8?Q?Re=3A_caf=C3=A9?=", &rf), "caf\xC3\xA9");
  EXPECT_TRUE(rf);
  EXPECT_EQ(base("Re: =?ISO-8859-1?Q?[liste]_R=E9union?="), "R\xC3\xA9union");
}

TEST(SentDate, Rfc5322DateTimesInUtc) {
  EXPECT_EQ(parse_rfc5322_date("Tue, 14 Nov 2023 22:13:20 +0000"), 1700000000);
  EXPECT_EQ(parse_rfc5322_date("14 Nov 2023 23:13:20 +0100"), 1700000000);
  EXPECT_EQ(parse_rfc5322_date("Tue, 14 Nov 23 17:13:20 EST"), 1700000000);  // RFC 5322 §4.3
  EXPECT_EQ(parse_rfc5322_date("Tue, 14 Nov 2023 22:13 +0000 (UTC)"), 1700000000 - 20);
  EXPECT_EQ(parse_rfc5322_date("Tue,\r\n 14 Nov 2023 22:13:20 GMT"), 1700000000);
  EXPECT_FALSE(parse_rfc5322_date("yesterday"));
  EXPECT_FALSE(parse_rfc5322_date("14 Foo 2023 22:13:20 +0000"));
  EXPECT_FALSE(parse_rfc5322_date("14 Nov 2023 25:13:20 +0000"));
}

TEST(Envelope, ParsesQuotedLiteralAndNil) {
  auto e = parse_envelope(
      "(\"Tue, 14 Nov 2023 22:13:20 +0000\" {8}\r\nRe: \"q\"\\ ((\"Al \\\"A\\\"\" NIL \"alice\" \"x.test\")) NIL NIL "
      "((NIL NIL \"undisclosed\" NIL)(NIL NIL NIL NIL)(NIL NIL \"bob\" \"y.test\")) NIL NIL \"<p@x>\" \"<m@x>\")");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->subject, "Re: \"q\"\\");
  ASSERT_EQ(e->from.size(), 1u);
  EXPECT_EQ(e->from[0].name, "Al \"A\"");
  EXPECT_EQ(e->to.size(), 3u);
  EXPECT_EQ(e->in_reply_to, "<p@x>");
  EXPECT_EQ(e->message_id, "<m@x>");
  auto k = make_keys(1, 7, 10, 5, *e, std::nullopt);
  EXPECT_EQ(k.sent_date, 1700000000);
  EXPECT_EQ(k.from, "ALICE");
  EXPECT_EQ(k.to, "BOB");  // group markers skipped: the first real address
  EXPECT_EQ(k.display_from, "AL \"A\"");
  EXPECT_EQ(k.references, std::vector<std::string>{"<p@x>"});  // In-Reply-To without References
  EXPECT_FALSE(parse_envelope("(\"x\" NIL"));
  EXPECT_FALSE(parse_envelope("({99}\r\nshort)"));
}

TEST(Envelope, MissingDateFallsBackToInternalDate) {
  EnvelopeKeys env;
  env.date = "not a date";
  EXPECT_EQ(make_keys(1, 1, 0, 42, env, std::nullopt).sent_date, 42);
  env.date.reset();
  EXPECT_EQ(make_keys(1, 1, 0, 43, env, std::nullopt).sent_date, 43);
  // RFC 5957 §3: no display name -> the addr-spec.
  env.from.push_back({std::nullopt, "zed", "z.test"});
  EXPECT_EQ(make_keys(1, 1, 0, 0, env, std::nullopt).display_from, "ZED@Z.TEST");
  env.from[0].name = "=?UTF-8?Q?=C3=89mile?=";
  EXPECT_EQ(make_keys(1, 1, 0, 0, env, std::nullopt).display_from, "\xC3\x89MILE");
}

MessageKeys msg(uint32_t seq, std::string subject, int64_t date, std::string id = "",
                std::vector<std::string> refs = {}) {
  EnvelopeKeys env;
  env.subject = std::move(subject);
  if (!id.empty()) env.message_id = "<" + id + ">";
  std::string r;
  for (auto& x : refs) r += "<" + x + "> ";
  auto k = make_keys(seq, seq + 100, 0, date, env, refs.empty() ? std::nullopt : std::optional<std::string>(r));
  return k;
}

std::vector<uint32_t> seqs(const std::vector<MessageKeys>& m, const std::vector<SortCriterion>& c) {
  std::vector<uint32_t> out;
  for (size_t i : sort_order(m, c)) out.push_back(m[i].seq);
  return out;
}

TEST(SortOrder, Rfc5256_3_KeysReverseAndTies) {
  std::vector<MessageKeys> m = {msg(1, "b", 30), msg(2, "Re: a", 10), msg(3, "A", 20), msg(4, "c", 10)};
  m[0].size = 5, m[1].size = 9, m[2].size = 5, m[3].size = 1;
  m[0].internal_date = 4, m[1].internal_date = 3, m[2].internal_date = 2, m[3].internal_date = 1;
  using K = SortKey;
  // Base subjects "A", "A", "B", "C" (casemapped): the tie keeps sequence order.
  EXPECT_EQ(seqs(m, {{K::subject}}), (std::vector<uint32_t>{2, 3, 1, 4}));
  // REVERSE applies to its key only; ties still go by ascending sequence number.
  EXPECT_EQ(seqs(m, {{K::subject, true}}), (std::vector<uint32_t>{4, 1, 2, 3}));
  EXPECT_EQ(seqs(m, {{K::size}, {K::date, true}}), (std::vector<uint32_t>{4, 1, 3, 2}));
  EXPECT_EQ(seqs(m, {{K::arrival}}), (std::vector<uint32_t>{4, 3, 2, 1}));
  EXPECT_EQ(seqs(m, {{K::date}}), (std::vector<uint32_t>{2, 4, 3, 1}));
  // Absent addresses sort first (empty string).
  m[0].from = "ZOE";
  m[2].from = "ADAM";
  EXPECT_EQ(seqs(m, {{K::from}}), (std::vector<uint32_t>{2, 4, 3, 1}));
}

TEST(Thread, Rfc5256_OrderedSubject) {
  std::vector<MessageKeys> m = {msg(1, "Hello", 3), msg(2, "Re: hello", 1), msg(3, "Other", 2),
                                msg(4, "hello (fwd)", 4), msg(5, "Lone", 0)};
  // One thread per base subject, its first message (by date) the parent of the others,
  // threads by their first message's date.
  EXPECT_EQ(thread_orderedsubject(m, false), "(5)(2 (1)(4))(3)");
  EXPECT_EQ(thread_orderedsubject({msg(1, "x", 1), msg(2, "Re: x", 2)}, false), "(1 2)");
  EXPECT_EQ(thread_orderedsubject(m, true), "(105)(102 (101)(104))(103)");
  EXPECT_EQ(thread_orderedsubject({}, false), "");
}

TEST(Thread, Rfc5256_ReferencesLinksAndBranches) {
  std::vector<MessageKeys> m = {
      msg(1, "A", 1, "1"),
      msg(2, "Re: A", 2, "2", {"1"}),
      msg(3, "Re: A", 3, "3", {"1"}),
      msg(4, "B", 4, "4"),
      msg(5, "Re: A", 5, "5", {"1", "2"}),
  };
  EXPECT_EQ(thread_references(m, false), "(1 (2 5)(3))(4)");
  // Arrival order does not matter: a child seen before its parent still hangs under it.
  std::vector<MessageKeys> r = {m[4], m[1], m[0], m[3], m[2]};
  EXPECT_EQ(thread_references(r, false), "(1 (2 5)(3))(4)");
}

TEST(Thread, Rfc5256_ReferencesDummiesPrunedOrKept) {
  // Two replies to a message we do not have: a dummy root with both ("((7)(8))").
  // One reply to a missing message: promoted to the root.
  std::vector<MessageKeys> m = {msg(7, "Q", 1, "7", {"x"}), msg(8, "Re: Q", 2, "8", {"x"}),
                                msg(9, "Z", 3, "9", {"y", "z"})};
  EXPECT_EQ(thread_references(m, false), "((7)(8))(9)");
}

TEST(Thread, Rfc5256_ReferencesGathersSubjects) {
  // (5) No references, but "Re: C" replies to "C": a child of it. Two originals "D": both
  // under a new dummy. Two different subjects stay apart.
  std::vector<MessageKeys> m = {msg(1, "C", 1, "c1"), msg(2, "Re: C", 2, "c2"), msg(3, "D", 3, "d1"),
                                msg(4, "D", 4, "d2"), msg(5, "E", 5, "e1")};
  EXPECT_EQ(thread_references(m, false), "(1 2)((3)(4))(5)");
  // A reply arriving first is still placed under the original.
  std::vector<MessageKeys> n = {msg(1, "Re: C", 1, "r"), msg(2, "C", 2, "o")};
  EXPECT_EQ(thread_references(n, false), "(2 1)");
}

TEST(Thread, Rfc5256_ReferencesSurvivesLoopsDuplicatesAndDeepChains) {
  // a says its parent is b, b says its parent is a: no loop, both shown once.
  std::vector<MessageKeys> m = {msg(1, "L", 1, "a", {"b"}), msg(2, "L", 2, "b", {"a"})};
  // 1 hangs under its (then empty) parent b; b's own claim on a would close a loop, so
  // it is dropped.
  EXPECT_EQ(thread_references(m, false), "(2 1)");
  // Duplicate Message-IDs: each message keeps its own place.
  std::vector<MessageKeys> d = {msg(1, "S", 1, "same"), msg(2, "T", 2, "same")};
  EXPECT_EQ(thread_references(d, false), "(1)(2)");
  // A 5,000-message reply chain renders without recursion.
  std::vector<MessageKeys> chain;
  for (uint32_t i = 1; i <= 5000; ++i)
    chain.push_back(msg(i, "Re: long", i, std::to_string(i),
                        i == 1 ? std::vector<std::string>{} : std::vector<std::string>{std::to_string(i - 1)}));
  std::string big = thread_references(chain, false);
  EXPECT_EQ(big.substr(0, 8), "(1 2 3 4");
  EXPECT_EQ(big.substr(big.size() - 6), " 5000)");
}

}  // namespace
}  // namespace tern::imapd
