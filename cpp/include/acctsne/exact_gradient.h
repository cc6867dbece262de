// Exact O(N^2) t-SNE gradient and KL divergence in float64: method="exact" and the
// oracle the approximate methods are tested against (sklearn's _kl_divergence).
//
//   w_ij = (1 + |y_i - y_j|^2 / dof)^(-(dof + 1) / 2),  Z = sum_{i != j} w_ij
//   q_ij = max(w_ij / Z, eps)
//   grad_i = c * sum_j (p_ij - q_ij) w_ij (y_i - y_j),  c = 2 (dof + 1) / dof
//   KL = sum_{i != j} p_ij log(max(p_ij, eps) / q_ij)
//
// or with the heavy-tailed kernel of a = heavy_tail_dof > 0 (repulsion_method.h):
//   w_ij = u_ij^a,  u_ij = 1 / (1 + |y_i - y_j|^2 / a),
//   grad_i = 4 sum_j (p_ij - q_ij) u_ij (y_i - y_j)           (a = 1: the dof-1 kernel)
//
// Any number of embedding dimensions. Rows in parallel blocks; sums in block order.
#pragma once

#include <cstdint>

#include "acctsne/parallel.h"

namespace acctsne {

// P: dense n x n (zero diagonal), scaled by p_scale (early exaggeration). Y: n x dims.
// Writes grad (n x dims) and returns KL (0 when compute_error is false). heavy_tail_dof:
// 0 (sklearn's kernel of `dof`), or a > 0; InvalidArgument if negative or not finite.
double ExactGradient(const double* P, double p_scale, const float* Y, int64_t n, int dims,
                     int dof, double heavy_tail_dof, bool compute_error, ThreadPool& pool,
                     double* grad);

}  // namespace acctsne
