// The descent loop; see acctsne/gradient_descent.h.
#include "acctsne/gradient_descent.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

namespace acctsne {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

PhaseResult GradientDescent(GradientEngine& engine, float* Y, int64_t n, int dims,
                            const PhaseParams& params, ThreadPool& pool,
                            const ProgressFn& progress) {
  ACCTSNE_CHECK(params.n_iter_check >= 1, "n_iter_check must be >= 1, got ", params.n_iter_check);
  ACCTSNE_CHECK(params.n_iter_report >= 0, "n_iter_report must be >= 0, got ",
                params.n_iter_report);
  ACCTSNE_CHECK(n == engine.n_points() && dims == engine.dims(), "the embedding is ", n, " x ",
                dims, ", the engine's ", engine.n_points(), " x ", engine.dims());
  const int64_t size = n * dims;
  engine.SetExaggeration(params.exaggeration);
  // The engine may prefer its own order of the points: then Y is worked on as a copy in
  // that order, written back to the caller's Y before every progress call and at the end.
  // The order is released (and the fused-update hook, which refers to this frame,
  // dropped) however the phase ends.
  const std::vector<int32_t> order = engine.AdoptOrder(Y);
  struct ReleaseOrder {
    GradientEngine& engine;
    ~ReleaseOrder() { engine.ReleaseOrder(); }
  } release_order{engine};
  std::vector<float> y_internal;
  float* y = Y;
  if (!order.empty()) {
    ACCTSNE_CHECK(static_cast<int64_t>(order.size()) == n, "engine order has ", order.size(),
                  " points, expected ", n);
    y_internal.resize(static_cast<size_t>(size));
    ParallelForRange(pool, n, kGradientBlock, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s)
        for (int a = 0; a < dims; ++a) y_internal[s * dims + a] = Y[int64_t{order[s]} * dims + a];
    });
    y = y_internal.data();
  }
  auto publish = [&] {
    if (order.empty()) return;
    ParallelForRange(pool, n, kGradientBlock, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s)
        for (int a = 0; a < dims; ++a) Y[int64_t{order[s]} * dims + a] = y_internal[s * dims + a];
    });
  };
  std::vector<float> grad(static_cast<size_t>(size));
  std::vector<float> gains(static_cast<size_t>(size), 1.0f);
  std::vector<double> update(static_cast<size_t>(size), 0.0);
  const int64_t n_blocks = NumBlocks(n, kGradientBlock);
  std::vector<double> block_norm2(static_cast<size_t>(n_blocks));
  std::vector<char> block_bad(static_cast<size_t>(n_blocks));
  const float min_gain = params.min_gain;

  // sklearn's step on the points [begin, end) (one fixed block, so the norm's partial sums
  // are the same for any thread count).
  auto step_points = [&](int64_t begin, int64_t end) {
    double norm2 = 0.0;
    bool bad = false;
    for (int64_t e = begin * dims; e < end * dims; ++e) {
      float g = grad[e];
      float gain = gains[e];
      gain = (update[e] * g < 0.0) ? gain + 0.2f : gain * 0.8f;
      gain = std::max(gain, min_gain);
      gains[e] = gain;
      g *= gain;
      update[e] = params.momentum * update[e] - params.learning_rate * static_cast<double>(g);
      y[e] = static_cast<float>(static_cast<double>(y[e]) + update[e]);
      norm2 += static_cast<double>(g) * g;
      bad |= !std::isfinite(y[e]) || !std::isfinite(g);
    }
    block_norm2[static_cast<size_t>(begin / kGradientBlock)] = norm2;
    block_bad[static_cast<size_t>(begin / kGradientBlock)] = bad;
  };
  const bool fused = engine.SetGradientHook(step_points);

  PhaseResult result;
  result.last_iter = params.start_iter;
  result.error = std::numeric_limits<double>::max();
  double best_error = std::numeric_limits<double>::max();
  int best_iter = params.start_iter;
  auto tic = Clock::now();

  for (int it = params.start_iter; it < params.max_iter; ++it) {
    pool.check_interrupt();
    result.last_iter = it;
    const bool check = (it + 1) % params.n_iter_check == 0;
    const bool report = params.n_iter_report > 0 && (it + 1) % params.n_iter_report == 0;
    const bool compute_error = check || report || it == params.max_iter - 1;
    result.error = engine.Compute(y, compute_error, grad.data());
    if (!fused) {
      auto t0 = Clock::now();
      ParallelForRange(pool, n, kGradientBlock, step_points);
      engine.times.update += SecondsSince(t0);
    }
    for (char bad : block_bad) {
      if (bad)
        throw NumericalError(StrCat("optimisation (", engine.name(),
                                    " gradient): the gradient or embedding became non-finite "
                                    "at iteration ",
                                    it + 1, "; check the scale of init and learning_rate (",
                                    params.learning_rate, ")"));
    }
    if (!check && !report) continue;

    double norm2 = 0.0;
    for (double v : block_norm2) norm2 += v;
    result.grad_norm = std::sqrt(norm2);
    if (progress) publish();
    if (progress && progress(it + 1, result.error, result.grad_norm, SecondsSince(tic))) {
      result.reason = StopReason::kStopRequested;
      break;
    }
    if (!check) continue;
    tic = Clock::now();
    if (result.error < best_error) {
      best_error = result.error;
      best_iter = it;
    } else if (it - best_iter > params.n_iter_without_progress) {
      result.reason = StopReason::kNoProgress;
      break;
    }
    if (result.grad_norm <= params.min_grad_norm) {
      result.reason = StopReason::kSmallGradient;
      break;
    }
  }
  publish();
  return result;
}

}  // namespace acctsne
