// Attractive forces over the sparse P (van der Maaten 2014, eq. 12), and the KL term.
//
//   A_i = sum_j p_ij w_ij (y_i - y_j),  w_ij = (dof / (dof + |y_i - y_j|^2))^((dof+1)/2)
//   KL  = sum_ij p_ij log(max(p_ij, tiny) / max(w_ij / Z, tiny))   (only when asked)
//
// Rows are independent; fixed blocks of rows; KL partials reduced in block order.
// dof must be 1 or 2.
#pragma once

#include <cstdint>

#include "acctsne/common.h"
#include "acctsne/parallel.h"
#include "acctsne/simd.h"

namespace acctsne {

// Writes A (n x dims) and returns KL (0 when compute_error is false). sum_q is Z.
double AttractiveForces(const CsrView& P, const float* Y, int dims, int dof, double sum_q,
                        bool compute_error, SimdLevel level, ThreadPool& pool,
                        float* pos_forces);

}  // namespace acctsne
