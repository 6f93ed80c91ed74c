// bayes/combine: Robinson's token estimate and Fisher's combining.
#include "bayes/combine.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace tern::bayes;

namespace {

TEST(Combine, ChiSquareSurvivalMatchesClosedForms) {
  // v = 2: Q = e^(-x/2); v = 4: Q = e^(-x/2) (1 + x/2).
  EXPECT_NEAR(chi2_survival(2.0, 2), std::exp(-1.0), 1e-12);
  EXPECT_NEAR(chi2_survival(6.0, 4), std::exp(-3.0) * 4.0, 1e-12);
  EXPECT_NEAR(chi2_survival(0.0, 10), 1.0, 1e-12);
  EXPECT_NEAR(chi2_survival(5000.0, 300), 0.0, 1e-12);  // far tail: no overflow, no NaN
}

TEST(Combine, TokenProbabilityUsesRatiosAndThePrior) {
  // Never seen: the prior.
  EXPECT_DOUBLE_EQ(token_probability(0, 0, 10, 10), 0.5);
  // In 1 of 10 spam and 1 of 100 ham: ratio 0.1 vs 0.01 -> p = 10/11, pulled to 0.5 by s.
  double p = 10.0 / 11.0, n = 2;
  EXPECT_NEAR(token_probability(1, 1, 10, 100), (0.45 * 0.5 + n * p) / (0.45 + n), 1e-12);
  // Seen often only in spam: close to 1; only in ham: close to 0.
  EXPECT_GT(token_probability(50, 0, 50, 50), 0.99);
  EXPECT_LT(token_probability(0, 50, 50, 50), 0.01);
}

TEST(Combine, FisherCombiningIsSymmetricAndUnsureWithoutEvidence) {
  EXPECT_DOUBLE_EQ(combine({}), 0.5);
  std::vector<double> spammy(20, 0.95), hammy(20, 0.05), mixed;
  for (int i = 0; i < 10; ++i) {
    mixed.push_back(0.95);
    mixed.push_back(0.05);
  }
  EXPECT_GT(combine(spammy), 0.99);
  EXPECT_LT(combine(hammy), 0.01);
  EXPECT_NEAR(combine(mixed), 0.5, 0.05);
  EXPECT_NEAR(combine(spammy), 1 - combine(hammy), 1e-9);
}

}  // namespace
