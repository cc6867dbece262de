// Gradient descent and the two gradient engines; see acctsne/optimizer.h.
#include "acctsne/optimizer.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "acctsne/attraction.h"
#include "acctsne/exact.h"
#include "acctsne/repulsion.h"

namespace acctsne {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

SparseEngine::SparseEngine(const CsrView& P, float exaggeration, int dims, int dof,
                           SimdLevel level, ThreadPool& pool)
    : dims_(dims), dof_(dof), level_(level), pool_(pool), P_(P), exaggeration_(exaggeration) {
  const int64_t nnz = P.indptr[P.n_rows];
  for (int64_t i = 0; i < P.n_rows; ++i)
    ACCTSNE_CHECK(P.indptr[i] <= P.indptr[i + 1], "P.indptr must be non-decreasing (row ", i, ")");
  for (int64_t e = 0; e < nnz; ++e)
    ACCTSNE_CHECK(P.indices[e] >= 0 && P.indices[e] < P.n_rows, "P column index ", P.indices[e],
                  " out of range [0, ", P.n_rows, ")");
  neg_.resize(static_cast<size_t>(P.n_rows * dims));
  pos_.resize(static_cast<size_t>(P.n_rows * dims));
}

void SparseEngine::Renumber(const float* Y) {
  const int64_t n = P_.n_rows;
  QuadTree tree;
  tree.Build(Y, n, dims_, pool_);
  perm_ = tree.order();
  std::vector<int32_t> inverse(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; ++s) inverse[perm_[s]] = static_cast<int32_t>(s);
  perm_indptr_.assign(static_cast<size_t>(n + 1), 0);
  for (int64_t s = 0; s < n; ++s) {
    const int64_t i = perm_[s];
    perm_indptr_[s + 1] = perm_indptr_[s] + (P_.indptr[i + 1] - P_.indptr[i]);
  }
  const int64_t nnz = perm_indptr_[n];
  perm_indices_.resize(static_cast<size_t>(nnz));
  perm_data_.resize(static_cast<size_t>(nnz));
  ParallelForRange(pool_, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t i = perm_[s];
      int64_t out = perm_indptr_[s];
      for (int64_t e = P_.indptr[i]; e < P_.indptr[i + 1]; ++e, ++out) {
        perm_indices_[out] = inverse[P_.indices[e]];
        perm_data_[out] = P_.data[e] * exaggeration_;  // the phase's P, relabelled
      }
    }
  });
  P_perm_.n_rows = n;
  P_perm_.indptr = perm_indptr_.data();
  P_perm_.indices = perm_indices_.data();
  P_perm_.data = perm_data_.data();
  p_sums_ = ComputePSums(P_perm_, 1.0f, pool_);
}

std::vector<int32_t> SparseEngine::AdoptOrder(const float* Y) {
  if (perm_.empty()) Renumber(Y);
  caller_in_perm_order_ = true;
  return perm_;
}

bool SparseEngine::SetGradientHook(BlockHook hook) {
  if (!caller_in_perm_order_) return false;  // (the gradient is scattered otherwise)
  hook_ = std::move(hook);
  return true;
}

double SparseEngine::Compute(const float* Y, bool compute_error, float* grad) {
  const int64_t n = P_.n_rows;
  const int dims = dims_;
  const double z = Repulsion(Y, neg_.data());
  if (perm_.empty()) Renumber(Y);

  auto t0 = Clock::now();
  const float* y_perm = Y;
  if (!caller_in_perm_order_) {
    y_perm_.resize(static_cast<size_t>(n * dims));
    ParallelForRange(pool_, n, kGradientBlock, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s)
        for (int a = 0; a < dims; ++a) y_perm_[s * dims + a] = Y[int64_t{perm_[s]} * dims + a];
    });
    y_perm = y_perm_.data();
  }
  const double kl = AttractiveForces(P_perm_, 1.0f, y_perm, dims, dof_, z, compute_error, p_sums_,
                                     level_, pool_, pos_.data());
  times.attraction += SecondsSince(t0);

  // grad = c (A - R / Z), and the fused update of the block when the optimiser asked.
  t0 = Clock::now();
  const float c = static_cast<float>(2.0 * (dof_ + 1.0) / dof_);
  const bool same_order = caller_in_perm_order_;
  ParallelForRange(pool_, n, kGradientBlock, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t i = same_order ? s : perm_[s];
      for (int a = 0; a < dims; ++a) {
        const float force = static_cast<float>(static_cast<double>(pos_[s * dims + a]) -
                                               static_cast<double>(neg_[i * dims + a]) / z);
        grad[i * dims + a] = force * c;
      }
    }
    if (hook_) hook_(begin, end);
  });
  times.update += SecondsSince(t0);
  return compute_error ? kl : std::numeric_limits<double>::quiet_NaN();
}

BarnesHutEngine::BarnesHutEngine(const CsrView& P, float exaggeration, int dims, float angle,
                                 int dof, SimdLevel level, ThreadPool& pool)
    : SparseEngine(P, exaggeration, dims, dof, level, pool), angle_(angle) {
  ACCTSNE_CHECK(dims >= 1 && dims <= 3, "Barnes-Hut needs 1 to 3 dimensions, got ", dims);
}

double BarnesHutEngine::Repulsion(const float* Y, float* neg) {
  auto t0 = Clock::now();
  tree_.Build(Y, P_n_rows(), dims_, pool_);
  times.tree_build += SecondsSince(t0);
  t0 = Clock::now();
  const double z = RepulsiveForces(tree_, angle_, dof_, level_, pool_, neg);
  times.repulsion += SecondsSince(t0);
  return z;
}

FftEngine::FftEngine(const CsrView& P, float exaggeration, int dims,
                     const InterpolationParams& params, GridConvolver& convolver,
                     SimdLevel level, ThreadPool& pool)
    : SparseEngine(P, exaggeration, dims, /*dof=*/1, level, pool),
      params_(params),
      convolver_(convolver) {
  ACCTSNE_CHECK(dims == 1 || dims == 2, "the FFT method needs 1 or 2 dimensions, got ", dims);
}

double FftEngine::Repulsion(const float* Y, float* neg) {
  auto t0 = Clock::now();
  const double z = InterpolatedRepulsion(Y, P_n_rows(), dims_, params_, convolver_, pool_, neg);
  times.repulsion += SecondsSince(t0);
  return z;
}

ExactEngine::ExactEngine(const double* P, int64_t n, double exaggeration, int dims, int dof,
                         ThreadPool& pool)
    : P_(P), n_(n), exaggeration_(exaggeration), dims_(dims), dof_(dof), pool_(pool),
      grad64_(static_cast<size_t>(n * dims)) {}

double ExactEngine::Compute(const float* Y, bool compute_error, float* grad) {
  auto t0 = Clock::now();
  const double kl =
      ExactGradient(P_, exaggeration_, Y, n_, dims_, dof_, compute_error, pool_, grad64_.data());
  for (int64_t e = 0; e < n_ * dims_; ++e) grad[e] = static_cast<float>(grad64_[e]);
  times.exact_gradient += SecondsSince(t0);
  return compute_error ? kl : std::numeric_limits<double>::quiet_NaN();
}

PhaseResult GradientDescent(GradientEngine& engine, float* Y, int64_t n, int dims,
                            const PhaseParams& params, ThreadPool& pool,
                            const ProgressFn& progress) {
  ACCTSNE_CHECK(params.n_iter_check >= 1, "n_iter_check must be >= 1, got ", params.n_iter_check);
  const int64_t size = n * dims;
  // The engine may prefer its own order of the points: then Y is worked on as a copy in
  // that order, written back to the caller's Y before every progress call and at the end.
  const std::vector<int32_t> order = engine.AdoptOrder(Y);
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
  struct HookReset {  // the hook refers to this frame
    GradientEngine& engine;
    bool set;
    ~HookReset() {
      if (set) engine.SetGradientHook(nullptr);
    }
  } hook_reset{engine, fused};

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
                                    " gradient): the gradient or embedding became non-finite at iteration ",
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
