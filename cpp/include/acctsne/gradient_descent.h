// The t-SNE optimisation loop: batch gradient descent with momentum and per-parameter
// gains, one call per phase of sklearn's schedule (_gradient_descent), run entirely in
// C++ on a GradientEngine that serves every phase of a fit. Per iteration:
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

#include "acctsne/gradient_engine.h"
#include "acctsne/parallel.h"

namespace acctsne {

struct PhaseParams {
  double exaggeration = 1.0;  // P is multiplied by it during the phase
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
