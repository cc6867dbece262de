// Gradient engines: dKL/dY of t-SNE for the current embedding (van der Maaten 2014):
//
//   grad_i = c (A_i - R_i / Z),   c = 2 (dof + 1) / dof   (heavy-tailed kernel: c = 4),
//
// the attraction A over a sparse P (attraction.h) and the repulsion R, Z of a registered
// RepulsionMethod (repulsion_method.h), or the exact O(N^2) gradient over a dense P
// (exact_gradient.h). One engine serves a whole fit: the early exaggeration is a scalar
// (SetExaggeration: the same values as P multiplied beforehand), and P is borrowed from
// the caller, never copied.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "acctsne/attraction.h"
#include "acctsne/common.h"
#include "acctsne/parallel.h"
#include "acctsne/repulsion_method.h"

namespace acctsne {

// Points per block of the gradient combination and the parameter update.
inline constexpr int64_t kGradientBlock = 1024;

class GradientEngine {
 public:
  virtual ~GradientEngine() = default;
  // Writes dKL/dY (n x dims) for the current Y; returns KL when compute_error, else NaN.
  virtual double Compute(const float* Y, bool compute_error, float* grad) = 0;
  virtual const char* name() const = 0;
  virtual int64_t n_points() const = 0;
  virtual int dims() const = 0;
  // P is multiplied by this factor from now on (1 at construction).
  virtual void SetExaggeration(double exaggeration) = 0;
  virtual double exaggeration() const = 0;

  // An engine may prefer its own order of the points. AdoptOrder (at the start of a
  // descent phase) returns it, derived from Y in the caller's order: order[s] is the
  // caller's index of point s, and until ReleaseOrder, Compute takes Y and returns the
  // gradient in that order. Empty (the default): the caller's order.
  virtual std::vector<int32_t> AdoptOrder(const float* /*Y*/) { return {}; }
  virtual void ReleaseOrder() {}
  // Fused update: while an order is adopted, an engine that accepts the hook (returns
  // true) calls it on each fixed block [begin, end) of kGradientBlock points right after
  // writing their gradient, on the same thread while the block is in cache; the
  // optimiser then makes no pass of its own. ReleaseOrder drops the hook.
  using BlockHook = std::function<void(int64_t begin, int64_t end)>;
  virtual bool SetGradientHook(BlockHook /*hook*/) { return false; }

  PhaseTimes times;
};

// A sparse P borrowed from the caller (CSR, n x n). The engine relabels the column indices
// in place while it lives (the Morton renumbering below) and restores them when destroyed,
// so the caller must not read `indices` in between.
struct BorrowedCsr {
  int64_t n_rows = 0;
  const int64_t* indptr = nullptr;
  int32_t* indices = nullptr;
  const float* data = nullptr;
};

// Builds the engine for params.method: "exact" needs dense_P (n x n float64, zero
// diagonal), every other method a sparse P. InvalidArgument for an unknown method, a P
// that does not fit, or a heavy_tail_dof that is negative or not finite (the message
// names it). The kernel is ResolveKernel(params)'s.
std::unique_ptr<GradientEngine> MakeGradientEngine(const GradientParams& params, int64_t n,
                                                   const BorrowedCsr* sparse_P,
                                                   const double* dense_P,
                                                   const RepulsionContext& context,
                                                   ThreadPool& pool);

}  // namespace acctsne
