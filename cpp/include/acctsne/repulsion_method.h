// The repulsive half of the t-SNE gradient as a pluggable method, and the parameters
// that choose one (van der Maaten 2014, eq. 13):
//
//   R_i = sum_j w_ij^2 (y_i - y_j),   Z = sum_{i != j} w_ij,
//   w_ij = (dof / (dof + |y_i - y_j|^2))^((dof + 1) / 2)
//
// or, with the heavy-tailed kernel of openTSNE / FIt-SNE (GradientParams::heavy_tail_dof
// a > 0; a < 1 gives heavier tails than t-SNE's Cauchy kernel, which is a = 1),
//
//   R_i = sum_j w_ij u_ij (y_i - y_j),   w_ij = u_ij^a,   u_ij = 1 / (1 + |y_i - y_j|^2 / a).
//
// A method computes R and Z for the current embedding (Barnes-Hut in
// barnes_hut_repulsion.h, FFT interpolation in fft_repulsion.h). The sparse gradient
// engine (gradient_engine.h) combines them with the attraction. Adding a method: one file
// pair defining a RepulsionMethod subclass and its factory, one line in the registry
// (repulsion_registry.cpp) and the option string on the Python side.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acctsne/common.h"
#include "acctsne/parallel.h"
#include "acctsne/simd.h"

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

// Parameters of the FFT method (fft_repulsion.h).
struct InterpolationParams {
  int n_interpolation_points = 3;  // nodes per box and dimension
  int min_intervals = 50;          // boxes per dimension, at least
  double intervals_per_unit = 1.0; // boxes per unit of embedding extent ...
  int max_intervals = 200;         // ... at most (bounds the grid as the embedding grows)
};

// Seconds spent per phase of the gradient, accumulated over iterations.
struct PhaseTimes {
  double tree_build = 0.0;
  double repulsion = 0.0;
  double attraction = 0.0;
  double exact_gradient = 0.0;
  double update = 0.0;  // forces combined into the gradient, and the parameter step
};

// Everything that chooses and tunes a gradient engine. `method` is "exact" or the name of
// a registered repulsion method; the other fields are read by the methods that use them.
struct GradientParams {
  std::string method = "barnes_hut";
  int dims = 2;
  int dof = 1;                        // degrees of freedom of the Student-t kernel
  // > 0: the heavy-tailed kernel w = (1 + d^2 / a)^-a of a = heavy_tail_dof replaces the
  // one of `dof` (every method); 0: off. 1 is sklearn's dof-1 kernel (see ResolveKernel).
  double heavy_tail_dof = 0.0;
  float angle = 0.5f;                 // barnes_hut: sklearn's opening angle
  InterpolationParams interpolation;  // fft: the interpolation grid
  SimdLevel level = SimdLevel::kBaseline;
  // The caller's order of the points is already a locality order of P's graph (the fit
  // put them in point_order.h's order): the sparse engine keeps it rather than relabel
  // the points into the embedding's Morton order.
  bool keep_caller_order = false;
};

// Throws InvalidArgument (naming the value) unless heavy_tail_dof is finite and >= 0.
inline void CheckHeavyTailDof(double heavy_tail_dof) {
  ACCTSNE_CHECK(std::isfinite(heavy_tail_dof) && heavy_tail_dof >= 0.0,
                "heavy_tail_dof must be finite and >= 0 (0: off), got ", heavy_tail_dof);
}

// The kernel the engines run: heavy_tail_dof checked, and 1 (the Cauchy kernel) routed
// to the dof-1 kernels, so that it gives the same bits as the default 2-D fit.
inline GradientParams ResolveKernel(GradientParams params) {
  CheckHeavyTailDof(params.heavy_tail_dof);
  if (params.heavy_tail_dof == 1.0) {
    params.heavy_tail_dof = 0.0;
    params.dof = 1;
  }
  return params;
}

class RepulsionMethod {
 public:
  virtual ~RepulsionMethod() = default;
  // Writes R (n x dims, in the order of Y) into neg and returns Z. Adds its time to
  // `times` (tree_build, repulsion).
  virtual double Compute(const float* Y, int64_t n, ThreadPool& pool, PhaseTimes& times,
                         float* neg) = 0;
};

// The FFT method's convolution comes from the caller (the bindings: scipy.fft); methods
// that need no outside help ignore it.
struct RepulsionContext {
  GridConvolver* convolver = nullptr;
};

using RepulsionFactory = std::unique_ptr<RepulsionMethod> (*)(const GradientParams& params,
                                                              const RepulsionContext& context);

// The registered method named params.method; InvalidArgument (listing the names) if none.
std::unique_ptr<RepulsionMethod> MakeRepulsion(const GradientParams& params,
                                               const RepulsionContext& context);
std::vector<std::string> RepulsionMethodNames();

}  // namespace acctsne
