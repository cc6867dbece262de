// Repulsive forces by FFT-accelerated interpolation (Linderman et al., "Fast interpolation-
// based t-SNE", Nature Methods 2019; the method of FIt-SNE and openTSNE), for 1-D and 2-D
// embeddings with the Cauchy kernel (dof = 1).
//
// With K(y, y') = (1 + |y - y'|^2)^-2 and charges q(y') = (1, y', |y'|^2), the sums
//   phi_c(y_i) = sum_j K(y_i, y_j) q_c(y_j)
// give both parts of the repulsion (van der Maaten 2014, eq. 13):
//   R_i = sum_j w_ij^2 (y_i - y_j)            = y_i phi_1 - phi_y
//   Z   = sum_{i != j} w_ij = sum_i [(1 + |y_i|^2) phi_1 - 2 y_i . phi_y + phi_|y|^2] - n
// because w (1 + d^2) w = w for w = (1 + d^2)^-1. The sums are evaluated on an equispaced
// grid: the embedding's bounding square is cut into boxes, each holding
// n_interpolation_points nodes per dimension; charges are spread to the nodes by Lagrange
// interpolation, convolved with K on the node grid by FFT (a circulant embedding of size
// 2N per dimension, N = boxes x nodes), and interpolated back to the points.
//
// The FFT is the caller's (GridConvolver; the bindings use scipy.fft). Spreading runs
// over box rows, each writing only its own nodes with its points in a fixed order, so the
// result does not depend on the number of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "acctsne/parallel.h"

namespace acctsne {

// Linear convolution of n_charges node grids (each n^dims doubles, row-major, last axis
// fastest) with the kernel at every node offset, in place:
//   grids[c][t] <- sum_t' K(t - t') grids[c][t'],   t, t' in [0, n)^dims.
// The kernel is even in every axis, so only offsets [0, n]^dims are passed (the value
// at offset n is never needed and is 0). Implementations use a circulant embedding of
// size 2n per axis.
class GridConvolver {
 public:
  virtual ~GridConvolver() = default;
  virtual void Convolve(int dims, int64_t n, const double* kernel, int n_charges,
                        double* grids) = 0;
};

struct InterpolationParams {
  int n_interpolation_points = 3;  // nodes per box and dimension
  int min_intervals = 50;          // boxes per dimension, at least
  double intervals_per_unit = 1.0; // boxes per unit of embedding extent ...
  int max_intervals = 200;         // ... at most (bounds the grid as the embedding grows)
};

// Boxes per dimension for an embedding spanning `span`: the params' rule, rounded up to a
// 5-smooth number (2N = 2 x boxes x nodes is then a fast FFT size).
int IntervalsFor(double span, const InterpolationParams& params);

// Writes R (n x dims, `neg`) and returns Z for Y (n x dims, dims 1 or 2).
double InterpolatedRepulsion(const float* Y, int64_t n, int dims,
                             const InterpolationParams& params, GridConvolver& convolver,
                             ThreadPool& pool, float* neg);

}  // namespace acctsne
