// One step of the perplexity binary search on a row of k squared distances (sklearn's
// _binary_search_perplexity), in float64:
//   p_j = exp(-beta d_j) (0 at j == skip),  S = sum_j p_j,  p_j /= S,  H' = sum_j d_j p_j
#pragma once

#include <cstdint>

#include "kernels/fast_math.h"
#include "kernels/vector_lanes.h"

namespace acctsne::kernels {
// Internal linkage on purpose: every kernels_<level>.cpp compiles these templates with
// its own ISA flags, and a shared (inline, external) instantiation would let the linker
// keep one level's code for all of them.
namespace {

// One step of sklearn's perplexity search on a row (see the header). Entry j is summed
// in lane j % 8 whatever the ISA (one or more native vectors per eight entries), and the
// eight lanes are added in a fixed order, so every level gives the same sums.
template <int W>
inline double PerplexityStepImpl(const float* __restrict dist, int64_t k, int64_t skip,
                                 double beta, double min_row_sum, double* __restrict p,
                                 double* sum_dist_p) {
  using D = typename DoubleLanes<W>::D;
  using I = typename DoubleLanes<W>::I;
  using F = typename DoubleLanes<W>::F;
  constexpr int kWidth = W / 2;  // doubles per native vector
  constexpr int kParts = 8 / kWidth;
  static_assert(kParts * kWidth == 8, "eight lanes split into whole vectors");
  auto sum8 = [](const D (&v)[kParts]) {
    double lane[8];
    for (int l = 0; l < 8; ++l) lane[l] = v[l / kWidth][l % kWidth];
    return SumOfEight(lane);
  };
  const int64_t full = k / 8 * 8;
  D acc[kParts] = {};
  for (int64_t j = 0; j < full; j += 8) {
    for (int part = 0; part < kParts; ++part) {
      const int64_t j0 = j + part * kWidth;
      F d;
      __builtin_memcpy(&d, dist + j0, sizeof(d));
      D e = ExpNonPositive<D, I>(-__builtin_convertvector(d, D) * beta);
      if (skip >= j0 && skip < j0 + kWidth) e[skip - j0] = 0.0;
      __builtin_memcpy(p + j0, &e, sizeof(e));
      acc[part] += e;
    }
  }
  if (full < k) {  // the remainder, padded with distance 0 and cleared
    for (int part = 0; part < kParts; ++part) {
      const int64_t j0 = full + part * kWidth;
      D d = D{};
      for (int l = 0; l < kWidth; ++l)
        if (j0 + l < k) d[l] = dist[j0 + l];
      D e = ExpNonPositive<D, I>(-d * beta);
      for (int l = 0; l < kWidth; ++l)
        if (j0 + l >= k || j0 + l == skip) e[l] = 0.0;
      for (int l = 0; l < kWidth; ++l)
        if (j0 + l < k) p[j0 + l] = e[l];
      acc[part] += e;
    }
  }
  double sum_p = sum8(acc);
  if (sum_p == 0.0) sum_p = min_row_sum;
  // Times the reciprocal rather than a division per entry (within an ulp of sklearn's
  // quotient; the divisions took half of the step), unless sum_p is subnormal, where the
  // reciprocal overflows (tiny perplexities).
  const bool divide = sum_p < 2.2250738585072014e-308;
  const double inv_sum_p = 1.0 / sum_p;
  D acc_dp[kParts] = {};
  for (int64_t j = 0; j < full; j += 8) {
    for (int part = 0; part < kParts; ++part) {
      const int64_t j0 = j + part * kWidth;
      F d;
      D pj;
      __builtin_memcpy(&d, dist + j0, sizeof(d));
      __builtin_memcpy(&pj, p + j0, sizeof(pj));
      pj = divide ? pj / sum_p : pj * inv_sum_p;
      __builtin_memcpy(p + j0, &pj, sizeof(pj));
      acc_dp[part] += __builtin_convertvector(d, D) * pj;
    }
  }
  double tail_dp = 0.0;
  for (int64_t j = full; j < k; ++j) {
    p[j] = divide ? p[j] / sum_p : p[j] * inv_sum_p;
    tail_dp += static_cast<double>(dist[j]) * p[j];
  }
  *sum_dist_p = sum8(acc_dp) + tail_dp;
  return sum_p;
}

}  // namespace
}  // namespace acctsne::kernels
