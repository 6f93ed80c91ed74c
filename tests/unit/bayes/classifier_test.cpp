// bayes::Classifier against a real SQLite file: learning, verdicts, changing one's mind,
// bounds, correspondents.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "bayes/bayes.h"

using namespace tern;
using namespace tern::bayes;

namespace {

const std::vector<std::string> kSpamWords = {"viagra", "casino", "winner", "prize", "bitcoin", "lottery",
                                             "unclaimed", "pharmacy", "discount", "guaranteed"};
const std::vector<std::string> kHamWords = {"meeting", "agenda", "budget", "minutes", "project",
                                            "quarterly", "review", "draft", "lunch", "invoice"};
const std::vector<std::string> kCommon = {"the", "and", "please", "today", "regards", "thanks",
                                          "about", "this", "week", "with"};

// A message of 30 words from `topic` and the common words, varied by `seed`.
std::string mail(const std::vector<std::string>& topic, const std::string& from, int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::string body;
  for (int i = 0; i < 30; ++i) {
    const auto& pool = (rng() % 3 == 0) ? kCommon : topic;
    body += pool[rng() % pool.size()] + " ";
  }
  return "From: " + from + "\r\nSubject: " + topic[rng() % topic.size()] + " " + std::to_string(seed) +
         "\r\n\r\n" + body + "\r\n";
}
std::string spam(int seed) { return mail(kSpamWords, "promo@bulk.test", seed); }
std::string ham(int seed) { return mail(kHamWords, "alice@office.test", seed); }

class ClassifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tern-bayes-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Classifier> open(const Limits& limits = {}) {
    auto c = Classifier::open((dir_ / "classifier.db").string(), limits);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? std::move(*c) : nullptr;
  }
  static void train(Classifier& c, const std::string& user, int n, int seed0 = 0) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(c.learn(user, spam(seed0 + i), Class::spam, 20000).ok());
      ASSERT_TRUE(c.learn(user, ham(seed0 + 1000 + i), Class::ham, 20000).ok());
    }
  }
  static double probability(Classifier& c, const std::string& user, const std::string& m) {
    auto v = c.classify(user, m);
    EXPECT_TRUE(v.ok());
    EXPECT_TRUE(v.ok() && v->has_value());
    return v.ok() && v->has_value() ? (*v)->spam_probability : -1;
  }

  std::filesystem::path dir_;
};

TEST_F(ClassifierTest, NoVerdictUntilBothClassesAreTrained) {
  auto c = open();
  auto v = c->classify("bob@x.test", spam(1));
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c->learn("bob@x.test", spam(i), Class::spam, 1).ok());
  v = c->classify("bob@x.test", spam(99));
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value()) << "only spam trained: no verdict";
}

TEST_F(ClassifierTest, LearnsEachUserSeparately) {
  auto c = open();
  train(*c, "bob@x.test", 12);
  EXPECT_GT(probability(*c, "bob@x.test", spam(500)), 0.9);
  EXPECT_LT(probability(*c, "bob@x.test", ham(600)), 0.1);
  auto v = c->classify("bob@x.test", spam(501));
  ASSERT_TRUE(v.ok() && v->has_value());
  ASSERT_FALSE((*v)->clues.empty());
  EXPECT_GT((*v)->clues.front().probability, 0.9);
  // Carol trained nothing: her mail is not judged by Bob's lessons.
  auto other = c->classify("carol@x.test", spam(500));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

TEST_F(ClassifierTest, SameLessonTwiceCountsOnceAndAChangeOfMindMovesIt) {
  auto c = open();
  train(*c, "bob@x.test", 6);
  std::string m = ham(7777);
  auto first = c->learn("bob@x.test", m, Class::spam, 1);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto again = c->learn("bob@x.test", m, Class::spam, 1);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  auto s = c->stats("bob@x.test");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->spam_messages, 7);
  EXPECT_EQ(s->ham_messages, 6);
  // Moved out of Junk: now ham, and the spam lesson is gone.
  auto back = c->learn("bob@x.test", m, Class::ham, 2);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back);
  s = c->stats("bob@x.test");
  EXPECT_EQ(s->spam_messages, 6);
  EXPECT_EQ(s->ham_messages, 7);
}

TEST_F(ClassifierTest, TokenTableStaysUnderItsBound) {
  Limits limits;
  limits.max_tokens = 60;
  auto c = open(limits);
  train(*c, "bob@x.test", 10);
  for (int i = 0; i < 20; ++i) {
    std::string unique = "Subject: s\r\n\r\n";
    for (int j = 0; j < 20; ++j) unique += "word" + std::to_string(i * 100 + j) + " ";
    ASSERT_TRUE(c->learn("bob@x.test", unique, Class::ham, 30000 + i).ok());
  }
  auto s = c->stats("bob@x.test");
  ASSERT_TRUE(s.ok());
  EXPECT_LE(s->tokens, 60);
  EXPECT_GT(s->tokens, 0);
}

TEST_F(ClassifierTest, CorrespondentsAndForget) {
  auto c = open();
  ASSERT_TRUE(c->note_correspondent("bob@x.test", "alice@office.test", 1).ok());
  EXPECT_TRUE(*c->is_correspondent("bob@x.test", "alice@office.test"));
  EXPECT_FALSE(*c->is_correspondent("bob@x.test", "mallory@office.test"));
  EXPECT_FALSE(*c->is_correspondent("carol@x.test", "alice@office.test"));
  // By domain (greylisting's reply exemption): any address there, only that domain.
  EXPECT_TRUE(*c->has_correspondent_at("bob@x.test", "office.test"));
  EXPECT_FALSE(*c->has_correspondent_at("bob@x.test", "test"));
  EXPECT_FALSE(*c->has_correspondent_at("bob@x.test", "box.office.test"));
  EXPECT_FALSE(*c->has_correspondent_at("carol@x.test", "office.test"));
  train(*c, "bob@x.test", 5);
  ASSERT_TRUE(c->forget("bob@x.test").ok());
  EXPECT_FALSE(*c->is_correspondent("bob@x.test", "alice@office.test"));
  EXPECT_EQ(c->stats("bob@x.test")->tokens, 0);
  // Data survives reopening (it is a file, not a cache).
  ASSERT_TRUE(c->note_correspondent("dan@x.test", "eve@y.test", 1).ok());
  c.reset();
  auto again = open();
  EXPECT_TRUE(*again->is_correspondent("dan@x.test", "eve@y.test"));
}

}  // namespace
