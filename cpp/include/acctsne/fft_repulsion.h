// Repulsive forces by FFT-accelerated interpolation (Linderman et al., "Fast interpolation-
// based t-SNE", Nature Methods 2019; the method of FIt-SNE and openTSNE), for 1-D and 2-D
// embeddings with the Cauchy kernel (dof = 1) or the heavy-tailed kernel of
// repulsion_method.h (heavy_tail_dof a > 0).
//
// With K(y, y') = (1 + |y - y'|^2)^-2 and charges q(y') = (1, y', |y'|^2), the sums
//   phi_c(y_i) = sum_j K(y_i, y_j) q_c(y_j)
// give both parts of the repulsion (van der Maaten 2014, eq. 13):
//   R_i = sum_j w_ij^2 (y_i - y_j)            = y_i phi_1 - phi_y
//   Z   = sum_{i != j} w_ij = sum_i [(1 + |y_i|^2) phi_1 - 2 y_i . phi_y + phi_|y|^2] - n
// because w (1 + d^2) w = w for w = (1 + d^2)^-1. That identity holds for a = 1 only; the
// heavy-tailed kernel (w = u^a, u = (1 + d^2 / a)^-1) takes two kernels instead,
// K2 = w u with charges (1, y') and K1 = w with the charge 1:
//   R_i = sum_j w_ij u_ij (y_i - y_j) = y_i phi2_1 - phi2_y,   Z = sum_i phi1_1(y_i) - n.
// The sums are evaluated on an equispaced grid: the embedding's bounding square is cut
// into boxes, each holding n_interpolation_points nodes per dimension; charges are spread
// to the nodes by Lagrange interpolation, convolved with K on the node grid by FFT (a
// circulant embedding of size 2N per dimension, N = boxes x nodes), and interpolated back
// to the points.
//
// The FFT is the caller's (GridConvolver in repulsion_method.h; the bindings use scipy.fft). Spreading runs
// over box rows, each writing only its own nodes with its points in a fixed order, so the
// result does not depend on the number of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "acctsne/parallel.h"
#include "acctsne/repulsion_method.h"

namespace acctsne {

// Lagrange interpolation on the p nodes of a box, at j + 0.5 (j < p) in node units (the
// FFT method's grid and transform's reference field). LagrangeDenominators writes
// 1 / prod_{l != j} (j - l); LagrangeBasis writes the p weights at u in [0, p].
inline void LagrangeDenominators(int p, double* denominators) {
  for (int j = 0; j < p; ++j) {
    double den = 1.0;
    for (int l = 0; l < p; ++l)
      if (l != j) den *= static_cast<double>(j - l);
    denominators[j] = 1.0 / den;
  }
}
inline void LagrangeBasis(double u, int p, const double* denominators, double* w) {
  for (int j = 0; j < p; ++j) {
    double num = 1.0;
    for (int l = 0; l < p; ++l)
      if (l != j) num *= u - (l + 0.5);
    w[j] = num * denominators[j];
  }
}

// Boxes per dimension for an embedding spanning `span`: the params' rule, rounded up to a
// 5-smooth number (2N = 2 x boxes x nodes is then a fast FFT size).
int IntervalsFor(double span, const InterpolationParams& params);

// Writes R (n x dims, `neg`) and returns Z for Y (n x dims, dims 1 or 2), with the Cauchy
// kernel (heavy_tail_dof 0) or the heavy-tailed kernel of a = heavy_tail_dof.
double InterpolatedRepulsion(const float* Y, int64_t n, int dims, double heavy_tail_dof,
                             const InterpolationParams& params, GridConvolver& convolver,
                             ThreadPool& pool, float* neg);

// The registered "fft" method (dims 1 or 2, dof 1 or heavy tails; needs context.convolver).
std::unique_ptr<RepulsionMethod> MakeFftRepulsion(const GradientParams& params,
                                                  const RepulsionContext& context);

}  // namespace acctsne
