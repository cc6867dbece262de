// Sparse attraction; see acctsne/attraction.h. Forces come from the per-ISA kernel
// (kernels/: gathers of neighbour coordinates, W entries per vector); the KL term needs a
// log per entry and is only evaluated on check iterations, in a separate pass.
#include "acctsne/attraction.h"

#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"

namespace acctsne {
namespace {

constexpr int64_t kRowBlock = 256;

template <int kDims>
double KlTerm(const CsrView& P, const float* Y, int dof, double sum_q, ThreadPool& pool) {
  const float dof_f = static_cast<float>(dof);
  const float exponent = (dof + 1.0f) / 2.0f;
  return ParallelSum(pool, P.n_rows, kRowBlock, [&](int64_t begin, int64_t end) {
    double kl = 0.0;
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t e = P.indptr[i]; e < P.indptr[i + 1]; ++e) {
        const int64_t j = P.indices[e];
        float d2 = 0.0f;
        for (int a = 0; a < kDims; ++a) {
          const float diff = Y[i * kDims + a] - Y[j * kDims + a];
          d2 += diff * diff;
        }
        float w = dof_f / (dof_f + d2);
        if (dof != 1) w = std::pow(w, exponent);
        const float pij = P.data[e];
        const float qij = static_cast<float>(w / sum_q);
        kl += static_cast<double>(pij) *
              std::log(static_cast<double>(std::max(pij, kFloat32Tiny)) /
                       static_cast<double>(std::max(qij, kFloat32Tiny)));
      }
    }
    return kl;
  });
}

}  // namespace

double AttractiveForces(const CsrView& P, const float* Y, int dims, int dof, double sum_q,
                        bool compute_error, SimdLevel level, ThreadPool& pool,
                        float* pos_forces) {
  ACCTSNE_CHECK(dims >= 1 && dims <= 3, "attraction supports 1 to 3 dimensions, got ", dims);
  const kernels::AttractFn attract = kernels::GetAttract(level, dims, dof);
  ParallelForRange(pool, P.n_rows, kRowBlock, [&](int64_t begin, int64_t end) {
    attract(P.indptr, P.indices, P.data, Y, begin, end, pos_forces);
  });
  if (!compute_error) return 0.0;
  switch (dims) {
    case 1:
      return KlTerm<1>(P, Y, dof, sum_q, pool);
    case 2:
      return KlTerm<2>(P, Y, dof, sum_q, pool);
    default:
      return KlTerm<3>(P, Y, dof, sum_q, pool);
  }
}

}  // namespace acctsne
