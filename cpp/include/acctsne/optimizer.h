// The t-SNE optimisation loop: batch gradient descent with momentum and per-parameter
// gains, one call per phase of sklearn's schedule (_gradient_descent), run entirely in
// C++. Per iteration:
//   g = dKL/dY (from a GradientEngine)
//   gains = (update * g < 0) ? gains + 0.2 : gains * 0.8, floored at min_gain (0.01)
//   g *= gains;  update = momentum * update - learning_rate * g;  Y += update
// Every n_iter_check iterations (and on the last one) the KL error is computed and the
// stopping rules are applied: no improvement for more than n_iter_without_progress
// iterations, or |g| <= min_grad_norm. `update` and `gains` start afresh in each phase,
// as in sklearn. Gains and Y are float32 and `update` is float64, which is what sklearn's
// numpy arithmetic produces with learning_rate="auto".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "acctsne/attraction.h"
#include "acctsne/common.h"
#include "acctsne/interpolation.h"
#include "acctsne/parallel.h"
#include "acctsne/quadtree.h"
#include "acctsne/simd.h"

namespace acctsne {

// Seconds spent per phase, accumulated over iterations.
struct PhaseTimes {
  double tree_build = 0.0;
  double repulsion = 0.0;
  double attraction = 0.0;
  double exact_gradient = 0.0;
  double update = 0.0;  // forces combined into the gradient, and the parameter step
};

// Points per block of the gradient combination and the parameter update.
inline constexpr int64_t kGradientBlock = 1024;

class GradientEngine {
 public:
  virtual ~GradientEngine() = default;
  // Writes dKL/dY (n x dims) for the current Y; returns KL when compute_error, else NaN.
  virtual double Compute(const float* Y, bool compute_error, float* grad) = 0;
  virtual const char* name() const = 0;
  // Called once before the first Compute: may return an order of the points (order[s] is
  // the caller's index of point s) in which Compute then takes Y and returns the
  // gradient. Empty (the default): the caller's order.
  virtual std::vector<int32_t> AdoptOrder(const float* /*Y*/) { return {}; }
  // Fused update: an engine that accepts the hook (returns true) calls it on each fixed
  // block [begin, end) of kGradientBlock points right after writing their gradient, on the
  // same thread while the block is in cache; the optimiser then makes no pass of its own.
  using BlockHook = std::function<void(int64_t begin, int64_t end)>;
  virtual bool SetGradientHook(BlockHook /*hook*/) { return false; }
  PhaseTimes times;
};

// The sparse-P engines: grad = c (A - R / Z), c = 2 (dof + 1) / dof, with the attraction A
// over P (multiplied by `exaggeration`) and the repulsion R, Z from the subclass.
// The engine renumbers the points into the Morton order of the embedding at the start
// and relabels P accordingly, so that the neighbours of a row (close in the embedding)
// are close in memory. AdoptOrder hands that order to the optimiser, which then keeps
// Y, the gradient and its own state in it: every pass over the points reads them nearly
// in tree order (the tree's sort finds them almost sorted; the attraction needs no
// gather of Y). Without AdoptOrder the renumbering happens on the first Compute and
// stays internal: Y and the gradient are in the caller's order.
class SparseEngine : public GradientEngine {
 public:
  double Compute(const float* Y, bool compute_error, float* grad) final;
  std::vector<int32_t> AdoptOrder(const float* Y) final;
  bool SetGradientHook(BlockHook hook) final;

 protected:
  SparseEngine(const CsrView& P, float exaggeration, int dims, int dof, SimdLevel level,
               ThreadPool& pool);
  // Writes R (n x dims, in the order of Y) into neg and returns Z.
  virtual double Repulsion(const float* Y, float* neg) = 0;

  int64_t P_n_rows() const { return P_.n_rows; }
  int dims_;
  int dof_;
  SimdLevel level_;
  ThreadPool& pool_;

 private:
  void Renumber(const float* Y);
  CsrView P_;
  float exaggeration_;  // applied while relabelling P (Renumber)
  std::vector<float> neg_, pos_;
  // Points renumbered into Morton order: perm_[s] is the original index of point s.
  std::vector<int32_t> perm_;
  bool caller_in_perm_order_ = false;  // AdoptOrder was called
  BlockHook hook_;
  std::vector<int64_t> perm_indptr_;
  std::vector<int32_t> perm_indices_;
  std::vector<float> perm_data_, y_perm_;
  CsrView P_perm_;
  PSums p_sums_;
};

// Barnes-Hut: tree rebuilt every call.
class BarnesHutEngine : public SparseEngine {
 public:
  BarnesHutEngine(const CsrView& P, float exaggeration, int dims, float angle, int dof,
                  SimdLevel level, ThreadPool& pool);
  const char* name() const override { return "barnes_hut"; }

 private:
  double Repulsion(const float* Y, float* neg) override;
  float angle_;
  QuadTree tree_;
};

// FFT-accelerated interpolation (acctsne/interpolation.h); dims 1 or 2, dof 1.
class FftEngine : public SparseEngine {
 public:
  FftEngine(const CsrView& P, float exaggeration, int dims, const InterpolationParams& params,
            GridConvolver& convolver, SimdLevel level, ThreadPool& pool);
  const char* name() const override { return "fft"; }

 private:
  double Repulsion(const float* Y, float* neg) override;
  InterpolationParams params_;
  GridConvolver& convolver_;
};

// Exact O(N^2) gradient over a dense P (n x n) multiplied by `exaggeration`.
class ExactEngine : public GradientEngine {
 public:
  ExactEngine(const double* P, int64_t n, double exaggeration, int dims, int dof,
              ThreadPool& pool);
  double Compute(const float* Y, bool compute_error, float* grad) override;
  const char* name() const override { return "exact"; }

 private:
  const double* P_;
  int64_t n_;
  double exaggeration_;
  int dims_;
  int dof_;
  ThreadPool& pool_;
  std::vector<double> grad64_;
};

struct PhaseParams {
  int start_iter = 0;
  int max_iter = 250;
  int n_iter_check = 50;
  int n_iter_report = 0;  // extra progress calls every this many iterations (0: none)
  int n_iter_without_progress = 300;
  double momentum = 0.8;
  double learning_rate = 200.0;
  float min_gain = 0.01f;
  double min_grad_norm = 1e-7;
};

enum class StopReason { kMaxIter = 0, kNoProgress = 1, kSmallGradient = 2, kStopRequested = 3 };

struct PhaseResult {
  int last_iter = 0;       // index of the last iteration run (sklearn's `it`)
  double error = 0.0;      // KL at the last iteration that computed it
  double grad_norm = 0.0;  // at the last check
  StopReason reason = StopReason::kMaxIter;
};

// Called on every check and report iteration: (iteration + 1, error, grad norm, seconds
// since the previous check). Returning true stops the phase after this iteration
// (StopReason::kStopRequested). May throw (the exception propagates out of
// GradientDescent).
using ProgressFn = std::function<bool(int, double, double, double)>;

// Runs iterations [start_iter, max_iter) on Y (n x dims, updated in place).
PhaseResult GradientDescent(GradientEngine& engine, float* Y, int64_t n, int dims,
                            const PhaseParams& params, ThreadPool& pool,
                            const ProgressFn& progress);

}  // namespace acctsne
