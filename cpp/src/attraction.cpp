// Sparse attraction; see acctsne/attraction.h.
#include "acctsne/attraction.h"

#include <algorithm>
#include <cmath>

namespace acctsne {
namespace {

constexpr int64_t kRowBlock = 256;

template <int kDims, bool kDofIsOne>
double Attract(const CsrView& P, const float* Y, int dof, double sum_q, bool compute_error,
               ThreadPool& pool, float* out) {
  const float dof_f = static_cast<float>(dof);
  const float exponent = (dof + 1.0f) / 2.0f;
  return ParallelSum(pool, P.n_rows, kRowBlock, [&](int64_t begin, int64_t end) {
    double kl = 0.0;
    for (int64_t i = begin; i < end; ++i) {
      float yi[kDims];
      for (int a = 0; a < kDims; ++a) yi[a] = Y[i * kDims + a];
      float force[kDims] = {};
      for (int64_t e = P.indptr[i]; e < P.indptr[i + 1]; ++e) {
        const int64_t j = P.indices[e];
        const float pij = P.data[e];
        float diff[kDims];
        float d2 = 0.0f;
        for (int a = 0; a < kDims; ++a) {
          diff[a] = yi[a] - Y[j * kDims + a];
          d2 += diff[a] * diff[a];
        }
        float w = dof_f / (dof_f + d2);
        if constexpr (!kDofIsOne) w = std::pow(w, exponent);
        const float mult = pij * w;
        for (int a = 0; a < kDims; ++a) force[a] += mult * diff[a];
        if (compute_error) {
          const float qij = static_cast<float>(w / sum_q);
          kl += static_cast<double>(pij) *
                std::log(static_cast<double>(std::max(pij, kFloat32Tiny)) /
                         static_cast<double>(std::max(qij, kFloat32Tiny)));
        }
      }
      for (int a = 0; a < kDims; ++a) out[i * kDims + a] = force[a];
    }
    return kl;
  });
}

template <int kDims>
double AttractDims(const CsrView& P, const float* Y, int dof, double sum_q, bool compute_error,
                   ThreadPool& pool, float* out) {
  return dof == 1 ? Attract<kDims, true>(P, Y, dof, sum_q, compute_error, pool, out)
                  : Attract<kDims, false>(P, Y, dof, sum_q, compute_error, pool, out);
}

}  // namespace

double AttractiveForces(const CsrView& P, const float* Y, int dims, int dof, double sum_q,
                        bool compute_error, ThreadPool& pool, float* pos_forces) {
  switch (dims) {
    case 1:
      return AttractDims<1>(P, Y, dof, sum_q, compute_error, pool, pos_forces);
    case 2:
      return AttractDims<2>(P, Y, dof, sum_q, compute_error, pool, pos_forces);
    case 3:
      return AttractDims<3>(P, Y, dof, sum_q, compute_error, pool, pos_forces);
    default:
      throw InvalidArgument(StrCat("attraction supports 1 to 3 dimensions, got ", dims));
  }
}

}  // namespace acctsne
