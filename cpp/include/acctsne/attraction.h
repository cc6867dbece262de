// Attractive forces over the sparse P (van der Maaten 2014, eq. 12), and the KL term.
//
//   A_i = sum_j p_ij w_ij (y_i - y_j),  w_ij = (dof / (dof + |y_i - y_j|^2))^((dof+1)/2)
//   KL  = sum_ij p_ij log(p_ij / (w_ij / Z))                        (only when asked)
//       = sum p log p + ((dof+1)/2) sum p log(1 + d^2/dof) + log Z sum p
//
// With the heavy-tailed kernel (heavy_tail_dof a > 0, repulsion_method.h), which
// replaces dof's:
//   A_i = sum_j p_ij u_ij (y_i - y_j),   u_ij = 1 / (1 + |y_i - y_j|^2 / a)
//   KL  = sum p log p + a sum p log(1 + d^2/a) + log Z sum p
//
// Rows are independent; fixed blocks of rows; KL partials reduced in block order.
// dof must be 1 or 2 (when heavy_tail_dof is 0). Every p is data * p_scale rounded as a float (the exaggeration is
// a scalar: the same values as a P multiplied beforehand, without a second copy of P).
#pragma once

#include <cstdint>

#include "acctsne/common.h"
#include "acctsne/parallel.h"
#include "acctsne/simd.h"

namespace acctsne {

// Constants of the KL divergence for a fixed P and scale (computed once per phase), in
// the storage order of P's entries (so they do not depend on the visiting order).
struct PSums {
  double p_log_p = 0.0;  // sum of p log p over the non-zero p
  double p_sum = 0.0;    // sum of p
};
PSums ComputePSums(const CsrView& P, float p_scale, ThreadPool& pool);

// Writes A (n x dims) and returns KL (0 when compute_error is false). sum_q is Z;
// `sums` must be ComputePSums(P, p_scale). heavy_tail_dof > 0 chooses the heavy-tailed
// kernel (dof is then not read).
double AttractiveForces(const CsrView& P, float p_scale, const float* Y, int dims, int dof,
                        double heavy_tail_dof, double sum_q, bool compute_error,
                        const PSums& sums, SimdLevel level, ThreadPool& pool,
                        float* pos_forces);

}  // namespace acctsne
