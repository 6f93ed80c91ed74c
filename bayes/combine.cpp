#include "bayes/combine.h"

#include <algorithm>
#include <cmath>

namespace tern::bayes {

double token_probability(int64_t spam, int64_t ham, int64_t nspam, int64_t nham) {
  // Ratios, not counts: the user may have trained far more ham than spam (or the reverse).
  double spam_ratio = nspam > 0 ? static_cast<double>(spam) / static_cast<double>(nspam) : 0;
  double ham_ratio = nham > 0 ? static_cast<double>(ham) / static_cast<double>(nham) : 0;
  double n = static_cast<double>(spam + ham);
  double p = spam_ratio + ham_ratio > 0 ? spam_ratio / (spam_ratio + ham_ratio) : kPriorProbability;
  return (kPriorStrength * kPriorProbability + n * p) / (kPriorStrength + n);
}

double chi2_survival(double x2, int v) {
  // For even v the series is exact: e^-m * sum_{i < v/2} m^i / i!, m = x2 / 2.
  double m = x2 / 2.0;
  double term = std::exp(-m);
  double sum = term;
  for (int i = 1; i < v / 2; ++i) {
    term *= m / i;
    sum += term;
  }
  return std::min(sum, 1.0);
}

double combine(const std::vector<double>& probabilities) {
  if (probabilities.empty()) return 0.5;
  // Fisher's method on each side: the product of (1 - f) is tiny when the tokens are spammy,
  // so its chi-square tail is tiny and "spamminess" near 1; the same with f for hamminess.
  double ln_not_spam = 0, ln_spam = 0;
  for (double f : probabilities) {
    // Clamp: a probability of exactly 0 or 1 would make one token decide alone.
    f = std::clamp(f, 1e-6, 1 - 1e-6);
    ln_spam += std::log(f);
    ln_not_spam += std::log(1 - f);
  }
  int v = 2 * static_cast<int>(probabilities.size());
  double spamminess = 1 - chi2_survival(-2 * ln_not_spam, v);
  double hamminess = 1 - chi2_survival(-2 * ln_spam, v);
  // Their difference mapped onto 0..1: 0.5 when both or neither are strong.
  return (1 + spamminess - hamminess) / 2;
}

}  // namespace tern::bayes
