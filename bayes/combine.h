// bayes (private): the arithmetic. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tern::bayes {

inline constexpr double kPriorStrength = 0.45;  // Robinson's s
inline constexpr double kPriorProbability = 0.5;  // Robinson's x
inline constexpr double kMinDeviation = 0.1;    // tokens with |f - 0.5| below this are ignored
inline constexpr size_t kMaxClues = 150;

// Robinson's f(w): the spam probability of one token seen in `spam` of `nspam` spam and
// `ham` of `nham` ham messages, pulled towards x by the prior when it was seen little.
double token_probability(int64_t spam, int64_t ham, int64_t nspam, int64_t nham);

// Fisher/Robinson combining of the f(w) values: 0..1, 0.5 when there is nothing to go on.
double combine(const std::vector<double>& probabilities);

// Q(chi2 >= x2) for v degrees of freedom (v even): the chi-square survival function.
double chi2_survival(double x2, int v);

}  // namespace tern::bayes
