// FakeResolver zone parsing and drive() over synchronous and deferred answers.
#include <gtest/gtest.h>

#include "authn/resolver.h"

using namespace tern::authn;

namespace {

// A check that needs two answers at once, then a third that depends on them.
class TwoStep final : public Check {
 public:
  std::vector<Question> questions() override {
    if (!a_ || !b_) {
      std::vector<Question> q;
      if (!a_) q.push_back({"a.example", RrType::txt});
      if (!b_) q.push_back({"b.example", RrType::a});
      return q;
    }
    if (!c_) return {{"c.example", RrType::mx}};
    return {};
  }
  void answer(const Question& q, const Answer& a) override {
    ++answers;
    if (q.name == "a.example") a_ = a;
    if (q.name == "b.example") b_ = a;
    if (q.name == "c.example") c_ = a;
  }
  bool done() const override { return a_ && b_ && c_; }
  std::optional<Answer> a_, b_, c_;
  int answers = 0;
};

const char* kZone = R"(
# comment
a.example  TXT "v=spf1 " "-all"
b.example  A   192.0.2.1
b.example  A   192.0.2.2
c.example  MX  10 Mail.C.Example.
d.example  TXT plain text here
bad.example TEMPERROR
half.example A 192.0.2.9
half.example TEMPERROR AAAA
)";

}  // namespace

TEST(FakeResolver, AnswersFromZone) {
  FakeResolver r(kZone);
  Answer a = r.resolve({"a.example", RrType::txt});
  ASSERT_EQ(a.rcode, Rcode::ok);
  EXPECT_EQ(a.records, std::vector<std::string>{"v=spf1 -all"});  // strings concatenated
  EXPECT_EQ(r.resolve({"d.example", RrType::txt}).records, std::vector<std::string>{"plain text here"});
  EXPECT_EQ(r.resolve({"b.example", RrType::a}).records.size(), 2u);
  Answer mx = r.resolve({"C.example.", RrType::mx});
  ASSERT_EQ(mx.mx.size(), 1u);
  EXPECT_EQ(mx.mx[0].exchange, "mail.c.example");
  EXPECT_EQ(r.resolve({"b.example", RrType::aaaa}).rcode, Rcode::nodata);
  EXPECT_EQ(r.resolve({"nope.example", RrType::a}).rcode, Rcode::nxdomain);
  EXPECT_EQ(r.resolve({"bad.example", RrType::a}).rcode, Rcode::temperror);
  EXPECT_EQ(r.resolve({"half.example", RrType::a}).rcode, Rcode::ok);
  EXPECT_EQ(r.resolve({"half.example", RrType::aaaa}).rcode, Rcode::temperror);
}

TEST(FakeResolver, RejectsBadZoneLines) {
  FakeResolver r;
  EXPECT_FALSE(r.load("x.example BOGUS 1").ok());
  EXPECT_FALSE(r.load("x.example MX mail").ok());
  EXPECT_FALSE(r.load("lonely").ok());
}

TEST(Drive, SynchronousResolverCompletesInsideDrive) {
  FakeResolver r(kZone);
  auto check = std::make_shared<TwoStep>();
  bool done = false;
  drive(r, check, [&] { done = true; });
  EXPECT_TRUE(done);
  EXPECT_EQ(check->answers, 3);
  EXPECT_EQ(r.asked().size(), 3u);
}

TEST(Drive, DeferredResolverAsksIndependentQuestionsTogether) {
  FakeResolver r(kZone);
  r.set_deferred(true);
  auto check = std::make_shared<TwoStep>();
  int done = 0;
  drive(r, check, [&] { ++done; });
  EXPECT_EQ(done, 0);
  EXPECT_EQ(r.asked().size(), 2u);  // a and b in flight at once, c not yet
  r.run_pending();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(r.asked().size(), 3u);  // no question asked twice
}
