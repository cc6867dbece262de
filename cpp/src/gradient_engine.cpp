// The sparse-P and exact gradient engines; see acctsne/gradient_engine.h.
//
// The sparse engine renumbers the points into the Morton order of the embedding at the
// start of every descent phase (unless the caller's order is already a locality order of
// P's graph, GradientParams::keep_caller_order), so that the neighbours of a row (close in the embedding)
// are close in memory: the optimiser then keeps Y, the gradient and its own state in that
// order, and every pass over the points reads them nearly in tree order. P itself does
// not move: its column indices are relabelled in place, and its rows, still streamed in
// storage order, name their point through CsrView::row_point; so no second copy of P
// exists (at a million points P is ~1 GB).
#include "acctsne/gradient_engine.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

#include "acctsne/exact_gradient.h"
#include "acctsne/quadtree.h"

namespace acctsne {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

class SparseGradientEngine final : public GradientEngine {
 public:
  SparseGradientEngine(const GradientParams& params, const BorrowedCsr& P,
                       std::unique_ptr<RepulsionMethod> repulsion, ThreadPool& pool)
      : method_(params.method),
        n_(P.n_rows),
        dims_(params.dims),
        dof_(params.dof),
        heavy_tail_dof_(params.heavy_tail_dof),
        level_(params.level),
        keep_caller_order_(params.keep_caller_order),
        pool_(pool),
        P_(P),
        repulsion_(std::move(repulsion)),
        neg_(static_cast<size_t>(n_ * dims_)),
        pos_(static_cast<size_t>(n_ * dims_)) {
    ACCTSNE_CHECK(P.indptr[0] == 0, "P.indptr must start at 0");
    for (int64_t i = 0; i < n_; ++i)
      ACCTSNE_CHECK(P.indptr[i] <= P.indptr[i + 1], "P.indptr must be non-decreasing (row ", i,
                    ")");
    for (int64_t e = 0; e < P.indptr[n_]; ++e)
      ACCTSNE_CHECK(P.indices[e] >= 0 && P.indices[e] < n_, "P column index ", P.indices[e],
                    " out of range [0, ", n_, ")");
  }

  ~SparseGradientEngine() override {
    if (!perm_.empty()) Relabel(std::vector<int32_t>{});  // the caller's labels again
  }

  const char* name() const override { return method_.c_str(); }
  int64_t n_points() const override { return n_; }
  int dims() const override { return dims_; }

  void SetExaggeration(double exaggeration) override {
    exaggeration_ = exaggeration;
    p_scale_ = static_cast<float>(exaggeration);
    p_sums_stale_ = true;  // computed by the next Compute that needs the KL
  }
  double exaggeration() const override { return exaggeration_; }

  std::vector<int32_t> AdoptOrder(const float* Y) override {
    if (keep_caller_order_) {
      // The first phase only: by its end the embedding reflects P's graph, and its
      // Morton order then serves the repulsion too (P's rows, still in the caller's
      // locality order, keep the attraction's gathers in nearby ranges).
      // (Still an adopted order, the identity: the optimiser's fused update stays on.)
      keep_caller_order_ = false;
      std::vector<int32_t> identity(static_cast<size_t>(n_));
      std::iota(identity.begin(), identity.end(), 0);
      Relabel(std::move(identity));
    } else {
      QuadTree tree;
      tree.Build(Y, n_, dims_, pool_);
      Relabel(tree.order());
    }
    caller_in_perm_order_ = true;
    return perm_;
  }

  void ReleaseOrder() override {
    caller_in_perm_order_ = false;
    hook_ = nullptr;
  }

  bool SetGradientHook(BlockHook hook) override {
    if (!caller_in_perm_order_) return false;  // (the gradient is scattered otherwise)
    hook_ = std::move(hook);
    return true;
  }

  double Compute(const float* Y, bool compute_error, float* grad) override;

 private:
  // P as the kernels read it: row r (storage order) is the row of the point labelled
  // inverse_[r], and its columns carry the current labels.
  CsrView View() const {
    CsrView v;
    v.n_rows = n_;
    v.indptr = P_.indptr;
    v.indices = P_.indices;
    v.data = P_.data;
    v.row_point = inverse_.empty() ? nullptr : inverse_.data();
    return v;
  }

  // Renumbers the points into `perm` (perm[s] = caller's index of point s; empty: the
  // caller's own order), relabelling P's columns in place. One serial pass: a relabelling
  // must not stop half-way (an interrupt between blocks would leave P mixed).
  void Relabel(std::vector<int32_t> perm) {
    std::vector<int32_t> relabel(static_cast<size_t>(n_));  // current label -> new label
    std::vector<int32_t> inverse(static_cast<size_t>(n_));  // caller's index -> new label
    for (int64_t s = 0; s < n_; ++s) inverse[perm.empty() ? s : perm[s]] = static_cast<int32_t>(s);
    for (int64_t s = 0; s < n_; ++s) relabel[s] = inverse[perm_.empty() ? s : perm_[s]];
    const int64_t nnz = P_.indptr[n_];
    for (int64_t e = 0; e < nnz; ++e) P_.indices[e] = relabel[P_.indices[e]];
    perm_ = std::move(perm);
    if (perm_.empty()) inverse.clear();
    inverse_ = std::move(inverse);
  }

  std::string method_;
  int64_t n_;
  int dims_;
  int dof_;
  double heavy_tail_dof_;  // > 0: the heavy-tailed kernel (dof_ not read)
  SimdLevel level_;
  bool keep_caller_order_;
  ThreadPool& pool_;
  BorrowedCsr P_;
  std::unique_ptr<RepulsionMethod> repulsion_;
  double exaggeration_ = 1.0;
  float p_scale_ = 1.0f;
  PSums p_sums_;
  bool p_sums_stale_ = true;
  std::vector<float> neg_, pos_, y_perm_;
  std::vector<int32_t> perm_;
  std::vector<int32_t> inverse_;  // caller's index -> label (perm_ inverted)
  bool caller_in_perm_order_ = false;
  BlockHook hook_;
};

double SparseGradientEngine::Compute(const float* Y, bool compute_error, float* grad) {
  const int dims = dims_;
  const bool same_order = caller_in_perm_order_ || perm_.empty();
  // Y in the order of P's labels: the caller's Y, or a gathered copy.
  const float* y_perm = Y;
  if (!same_order) {
    y_perm_.resize(static_cast<size_t>(n_ * dims));
    ParallelForRange(pool_, n_, kGradientBlock, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s)
        for (int a = 0; a < dims; ++a) y_perm_[s * dims + a] = Y[int64_t{perm_[s]} * dims + a];
    });
    y_perm = y_perm_.data();
  }
  const double z = repulsion_->Compute(y_perm, n_, pool_, times, neg_.data());

  auto t0 = Clock::now();
  if (compute_error && p_sums_stale_) {
    p_sums_ = ComputePSums(View(), p_scale_, pool_);
    p_sums_stale_ = false;
  }
  const double kl = AttractiveForces(View(), p_scale_, y_perm, dims, dof_, heavy_tail_dof_, z,
                                     compute_error, p_sums_, level_, pool_, pos_.data());
  times.attraction += SecondsSince(t0);

  // grad = c (A - R / Z), and the fused update of the block when the optimiser asked.
  // (The heavy-tailed kernel's c is 4: its w and u carry the rest.)
  t0 = Clock::now();
  const float c =
      heavy_tail_dof_ > 0.0 ? 4.0f : static_cast<float>(2.0 * (dof_ + 1.0) / dof_);
  ParallelForRange(pool_, n_, kGradientBlock, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t i = same_order ? s : perm_[s];
      for (int a = 0; a < dims; ++a) {
        const float force = static_cast<float>(static_cast<double>(pos_[s * dims + a]) -
                                               static_cast<double>(neg_[s * dims + a]) / z);
        grad[i * dims + a] = force * c;
      }
    }
    if (hook_) hook_(begin, end);
  });
  times.update += SecondsSince(t0);
  return compute_error ? kl : std::numeric_limits<double>::quiet_NaN();
}

// Exact O(N^2) gradient over a dense P (n x n), in float64.
class ExactGradientEngine final : public GradientEngine {
 public:
  ExactGradientEngine(const GradientParams& params, const double* P, int64_t n, ThreadPool& pool)
      : P_(P),
        n_(n),
        dims_(params.dims),
        dof_(params.dof),
        heavy_tail_dof_(params.heavy_tail_dof),
        pool_(pool),
        grad64_(static_cast<size_t>(n * params.dims)) {}

  const char* name() const override { return "exact"; }
  int64_t n_points() const override { return n_; }
  int dims() const override { return dims_; }
  void SetExaggeration(double exaggeration) override { exaggeration_ = exaggeration; }
  double exaggeration() const override { return exaggeration_; }

  double Compute(const float* Y, bool compute_error, float* grad) override {
    auto t0 = Clock::now();
    const double kl = ExactGradient(P_, exaggeration_, Y, n_, dims_, dof_, heavy_tail_dof_,
                                    compute_error, pool_, grad64_.data());
    for (int64_t e = 0; e < n_ * dims_; ++e) grad[e] = static_cast<float>(grad64_[e]);
    times.exact_gradient += SecondsSince(t0);
    return compute_error ? kl : std::numeric_limits<double>::quiet_NaN();
  }

 private:
  const double* P_;
  int64_t n_;
  int dims_;
  int dof_;
  double heavy_tail_dof_;
  ThreadPool& pool_;
  double exaggeration_ = 1.0;
  std::vector<double> grad64_;
};

}  // namespace

std::unique_ptr<GradientEngine> MakeGradientEngine(const GradientParams& requested, int64_t n,
                                                   const BorrowedCsr* sparse_P,
                                                   const double* dense_P,
                                                   const RepulsionContext& context,
                                                   ThreadPool& pool) {
  const GradientParams params = ResolveKernel(requested);
  const bool heavy_tail = params.heavy_tail_dof > 0.0;  // (dof is then not read)
  ACCTSNE_CHECK(params.dims >= 1, "the embedding needs at least 1 dimension, got ", params.dims);
  ACCTSNE_CHECK(heavy_tail || params.dof >= 1, "dof must be >= 1, got ", params.dof);
  if (params.method == "exact") {
    ACCTSNE_CHECK(dense_P != nullptr, "method 'exact' needs a dense P (n x n)");
    return std::make_unique<ExactGradientEngine>(params, dense_P, n, pool);
  }
  ACCTSNE_CHECK(sparse_P != nullptr, "method '", params.method, "' needs a sparse P (CSR)");
  ACCTSNE_CHECK(sparse_P->n_rows == n, "P has ", sparse_P->n_rows, " rows, the embedding ", n,
                " points");
  ACCTSNE_CHECK(heavy_tail || params.dof == 1 || params.dof == 2,
                "the sparse gradient needs dof 1 or 2, got ", params.dof);
  auto repulsion = MakeRepulsion(params, context);
  return std::make_unique<SparseGradientEngine>(params, *sparse_P, std::move(repulsion), pool);
}

}  // namespace acctsne
