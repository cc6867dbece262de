// Sparse attraction; see acctsne/attraction.h. Forces come from the per-ISA kernel
// (kernels/: gathers of neighbour coordinates, W entries per vector); the KL term is only
// evaluated on check iterations, in a separate vectorised pass.
#include "acctsne/attraction.h"

#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"

namespace acctsne {
namespace {

constexpr int64_t kRowBlock = 256;

}  // namespace

PSums ComputePSums(const CsrView& P, float p_scale, ThreadPool& pool) {
  // Entries are stored in [indptr[0], indptr[n_rows]) whatever the row order.
  const int64_t first = P.indptr[0], nnz = P.indptr[P.n_rows] - first;
  const float* data = P.data + first;
  PSums out;
  out.p_log_p = ParallelSum(pool, nnz, 1 << 14, [&](int64_t begin, int64_t end) {
    double s = 0.0;
    for (int64_t e = begin; e < end; ++e) {
      const float p = data[e] * p_scale;
      if (p > 0.0f) s += static_cast<double>(p) * std::log(static_cast<double>(p));
    }
    return s;
  });
  out.p_sum = ParallelSum(pool, nnz, 1 << 14, [&](int64_t begin, int64_t end) {
    double s = 0.0;
    for (int64_t e = begin; e < end; ++e) s += data[e] * p_scale;
    return s;
  });
  return out;
}


double AttractiveForces(const CsrView& P, float p_scale, const float* Y, int dims, int dof,
                        double heavy_tail_dof, double sum_q, bool compute_error,
                        const PSums& sums, SimdLevel level, ThreadPool& pool,
                        float* pos_forces) {
  ACCTSNE_CHECK(dims >= 1 && dims <= 3, "attraction supports 1 to 3 dimensions, got ", dims);
  const bool heavy_tail = heavy_tail_dof > 0.0;
  const float alpha = static_cast<float>(heavy_tail_dof);
  if (heavy_tail) {
    const kernels::AttractHeavyTailFn attract = kernels::GetAttractHeavyTail(level, dims);
    ParallelForRange(pool, P.n_rows, kRowBlock, [&](int64_t begin, int64_t end) {
      attract(P, p_scale, Y, begin, end, alpha, pos_forces);
    });
  } else {
    const kernels::AttractFn attract = kernels::GetAttract(level, dims, dof);
    ParallelForRange(pool, P.n_rows, kRowBlock, [&](int64_t begin, int64_t end) {
      attract(P, p_scale, Y, begin, end, pos_forces);
    });
  }
  if (!compute_error) return 0.0;
  // KL = sum p log p - sum p log w + log Z sum p, with log w = -((dof+1)/2) log(1 + d2/dof)
  // (heavy tails: -a log(1 + d2/a)): only the middle sum changes between iterations.
  const kernels::LogSumFn log_sum = kernels::GetLogSum(level, dims);
  const float log_dof = heavy_tail ? alpha : static_cast<float>(dof);
  const double s_log = ParallelSum(pool, P.n_rows, kRowBlock, [&](int64_t begin, int64_t end) {
    return log_sum(P, p_scale, Y, begin, end, log_dof);
  });
  const double exponent = heavy_tail ? heavy_tail_dof : (dof + 1.0) / 2.0;
  return sums.p_log_p + exponent * s_log + std::log(sum_q) * sums.p_sum;
}

}  // namespace acctsne
