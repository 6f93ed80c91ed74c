// daemon/screen_glue.h: greylisting one recipient on the worker, and the correspondent
// exemption (a reply from a domain our user wrote to, SPF passed).
#include "daemon/screen_glue.h"

#include "bayes/bayes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace tern;
using namespace tern::daemon;

namespace {

class ScreenGlue : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tern-screen-glue-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    screen::GreylistSettings s;
    s.delay = 300;
    auto g = screen::Greylist::open((dir_ / "greylist.db").string(), s);
    ASSERT_TRUE(g);
    grey_ = std::shared_ptr<screen::Greylist>(std::move(*g));
    auto c = bayes::Classifier::open((dir_ / "classifier.db").string());
    ASSERT_TRUE(c);
    classifier_ = std::move(*c);
  }
  void TearDown() override {
    grey_.reset();
    classifier_.reset();
    std::filesystem::remove_all(dir_);
  }

  RecipientDecision local_bob() {
    RecipientDecision d;
    d.result.status = smtpd::RecipientResult::local;
    d.result.users = {"bob@example.test"};
    d.quotas["bob@example.test"] = 0;
    return d;
  }

  GreyQuery query(const std::string& spf_domain, int64_t now = 1700000000) {
    return GreyQuery{grey_, classifier_.get(), {"192.0.2.0/24", "ann@partner.example", "bob@example.test"},
                     spf_domain, now};
  }

  std::filesystem::path dir_;
  std::shared_ptr<screen::Greylist> grey_;
  std::unique_ptr<bayes::Classifier> classifier_;
};

}  // namespace

TEST_F(ScreenGlue, FirstAttemptDeferredRetryAccepted) {
  RecipientDecision d = local_bob();
  greylist_recipient(query(""), d);
  EXPECT_EQ(d.result.status, smtpd::RecipientResult::policy_deferred);
  EXPECT_EQ(d.result.text, "Greylisted, please try again in 300 seconds");
  EXPECT_TRUE(d.quotas.empty());  // nothing of a deferred recipient is kept for DATA
  d = local_bob();
  greylist_recipient(query("", 1700000000 + 301), d);
  EXPECT_EQ(d.result.status, smtpd::RecipientResult::local);
}

TEST_F(ScreenGlue, UnknownUsersAreNotGreylisted) {
  RecipientDecision d;
  d.result.status = smtpd::RecipientResult::unknown_user;
  greylist_recipient(query(""), d);
  EXPECT_EQ(d.result.status, smtpd::RecipientResult::unknown_user);
  EXPECT_EQ(grey_->rows(), 0);
}

TEST_F(ScreenGlue, ReplyFromACorrespondentPasses) {
  // bob wrote to someone at partner.example (the submission path records it).
  ASSERT_TRUE(classifier_->note_correspondent("bob@example.test", "ann@partner.example", 1));
  RecipientDecision d = local_bob();
  greylist_recipient(query("partner.example"), d);  // SPF passed for partner.example
  EXPECT_EQ(d.result.status, smtpd::RecipientResult::local);
  // Without an SPF pass, the same sender is greylisted.
  d = local_bob();
  greylist_recipient(query(""), d);
  EXPECT_EQ(d.result.status, smtpd::RecipientResult::policy_deferred);
  // SPF passed, but for a domain bob never wrote to.
  d = local_bob();
  greylist_recipient(GreyQuery{grey_, classifier_.get(), {"192.0.2.0/24", "z@stranger.example", "bob@example.test"},
                               "stranger.example", 1700000000},
                     d);
  EXPECT_EQ(d.result.status, smtpd::RecipientResult::policy_deferred);
}
