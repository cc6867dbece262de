// Runs every pipeline phase of the core library on small synthetic data, without Python,
// and checks a few invariants. Built by `ACCTSNE_BUILD_TESTS=ON` for the sanitizer runs
// (.ci/sanitize: AddressSanitizer + UndefinedBehaviorSanitizer, or ThreadSanitizer),
// which catch memory and threading errors the Python tests cannot see.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "acctsne/affinity.h"
#include "acctsne/common.h"
#include "acctsne/barnes_hut_repulsion.h"
#include "acctsne/exact_gradient.h"
#include "acctsne/fft_repulsion.h"
#include "acctsne/gradient_descent.h"
#include "acctsne/gradient_engine.h"
#include "acctsne/knn.h"
#include "acctsne/knn_blocks.h"
#include "acctsne/parallel.h"
#include "acctsne/quadtree.h"
#include "acctsne/reference_field.h"
#include "acctsne/simd.h"
#include "acctsne/transform.h"

namespace {

int g_failures = 0;

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++g_failures;
  }
}

// Direct O(m^2) circular convolution, the FFT's stand-in in a Python-free build.
class DirectConvolver : public acctsne::GridConvolver {
 public:
  void Convolve(int dims, int64_t n, const double* kernel, int n_charges,
                double* grids) override {
    const int64_t cells = dims == 1 ? n : n * n;
    const int64_t side = n + 1;
    std::vector<double> out(static_cast<size_t>(cells));
    for (int c = 0; c < n_charges; ++c) {
      double* g = grids + c * cells;
      for (int64_t t = 0; t < cells; ++t) {
        double sum = 0.0;
        for (int64_t s = 0; s < cells; ++s) {
          if (dims == 1) {
            sum += kernel[std::abs(t - s)] * g[s];
          } else {
            const int64_t dy = std::abs(t / n - s / n), dx = std::abs(t % n - s % n);
            sum += kernel[dy * side + dx] * g[s];
          }
        }
        out[static_cast<size_t>(t)] = sum;
      }
      std::copy(out.begin(), out.end(), g);
    }
  }
};

std::vector<float> Blobs(int64_t n, int64_t d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> centres(4 * d);
  for (auto& v : centres) v = 6.0f * normal(rng);
  std::vector<float> X(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < d; ++f) X[i * d + f] = centres[(i % 4) * d + f] + normal(rng);
  return X;
}

void RunPipeline(int n_threads, int64_t n, int64_t d, int dims, const char* method) {
  acctsne::ThreadPool pool(n_threads, nullptr);
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  const std::vector<float> X = Blobs(n, d, 7);
  const int64_t k = 30;

  std::vector<int32_t> idx(static_cast<size_t>(n * k));
  std::vector<float> d2(static_cast<size_t>(n * k));
  acctsne::ExactKnn(X.data(), n, d, k, level, pool, idx.data(), d2.data());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t m = 1; m < k; ++m) Check(d2[i * k + m - 1] <= d2[i * k + m], "kNN rows sorted");

  std::vector<int32_t> refined(idx);
  std::vector<float> refined_d2(d2.size());
  acctsne::RefineNeighbors(X.data(), n, d, k, level, pool, refined.data(), refined_d2.data());
  Check(refined == idx, "refining an exact graph keeps it");

  std::vector<float> cond(static_cast<size_t>(n * k));
  std::vector<double> betas(static_cast<size_t>(n));
  acctsne::ConditionalProbabilities(d2.data(), n, k, false, 10.0f,
                                    acctsne::DefaultSimdLevel(), pool, cond.data(), betas.data());
  acctsne::SparseP P = acctsne::SymmetrizeKnn(idx.data(), cond.data(), n, k, pool);
  double total = 0.0;
  for (float p : P.data) total += p;
  Check(std::abs(total - 1.0) < 1e-3, "P sums to 1");

  const std::vector<int32_t> original_indices = P.indices;
  acctsne::BorrowedCsr borrowed{n, P.indptr.data(), P.indices.data(), P.data.data()};
  std::vector<float> Y(static_cast<size_t>(n * dims));
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1e-4f);
  for (auto& v : Y) v = normal(rng);

  acctsne::QuadTree tree;
  tree.Build(Y.data(), n, dims, pool);
  std::vector<float> neg(Y.size());
  const double z = acctsne::RepulsiveForces(tree, 0.5f, 1, 0.0, level, pool, neg.data());
  Check(std::isfinite(z) && z > 0, "Barnes-Hut Z finite");

  // One engine for both phases of the schedule, as a fit uses it.
  acctsne::GradientParams gradient;
  gradient.method = method;
  gradient.dims = dims;
  gradient.level = level;
  gradient.interpolation.min_intervals = 6;
  gradient.interpolation.max_intervals = 12;
  DirectConvolver convolver;
  acctsne::RepulsionContext context{&convolver};
  acctsne::PhaseParams params;
  params.max_iter = 30;
  params.n_iter_check = 20;
  params.learning_rate = 50.0;
  params.exaggeration = 12.0;
  acctsne::PhaseResult result;
  {
    auto engine = acctsne::MakeGradientEngine(gradient, n, &borrowed, nullptr, context, pool);
    result = acctsne::GradientDescent(*engine, Y.data(), n, dims, params, pool, {});
    params.start_iter = 30;
    params.max_iter = 60;
    params.exaggeration = 1.0;
    result = acctsne::GradientDescent(*engine, Y.data(), n, dims, params, pool, {});
  }
  Check(std::isfinite(result.error), std::string(method) + " optimisation KL finite");
  Check(P.indices == original_indices, "the engine restores P's column labels");
  for (float v : Y) Check(std::isfinite(v), "embedding finite");

  // Bad input must throw, not crash.
  bool threw = false;
  try {
    acctsne::ExactKnn(X.data(), n, d, n, level, pool, idx.data(), d2.data());
  } catch (const acctsne::InvalidArgument&) {
    threw = true;
  }
  Check(threw, "k >= n rejected");
}

// transform: new points' neighbours among a reference, their P rows, and their descent in
// each kind of reference field; a point's result must not depend on its batch.
void RunTransform(int n_threads, int dims, acctsne::FieldKind kind) {
  acctsne::ThreadPool pool(n_threads, nullptr);
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  const int64_t n = 400, m = 70, d = 6, k = 16;
  const std::vector<float> X = Blobs(n, d, 11), X_new = Blobs(m, d, 12);
  std::vector<int32_t> idx(static_cast<size_t>(m * k));
  std::vector<float> d2(static_cast<size_t>(m * k));
  acctsne::QueryKnn(X.data(), n, X_new.data(), m, d, k, level, pool, idx.data(), d2.data());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 1; j < k; ++j) Check(d2[i * k + j - 1] <= d2[i * k + j], "query rows sorted");
  std::vector<double> rows(static_cast<size_t>(m * k)), betas(static_cast<size_t>(m));
  acctsne::ConditionalProbabilities(d2.data(), m, k, false, 5.0f, level, pool, rows.data(),
                                    betas.data());
  std::vector<int64_t> indptr(static_cast<size_t>(m + 1));
  for (int64_t i = 0; i <= m; ++i) indptr[static_cast<size_t>(i)] = i * k;

  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  std::vector<float> reference(static_cast<size_t>(n * dims));
  for (auto& v : reference) v = normal(rng);
  acctsne::FieldParams params;
  params.kind = kind;
  params.kernel = {1.0, 1.0};
  params.grid.min_intervals = 4;
  params.grid.max_intervals = 8;
  DirectConvolver convolver;
  auto field = acctsne::MakeReferenceField(reference.data(), n, dims, params, &convolver, pool);
  acctsne::TransformParams descent;
  descent.phases = {{20, 4.0, 0.5}, {30, 1.5, 0.8}};
  std::vector<float> Y(static_cast<size_t>(m * dims));
  for (int64_t i = 0; i < m; ++i)
    for (int a = 0; a < dims; ++a)
      Y[i * dims + a] = reference[int64_t{idx[i * k]} * dims + a];
  std::vector<float> Y_part(Y.begin() + 10 * dims, Y.end());
  const auto result = acctsne::EmbedNewPoints(*field, indptr.data(), idx.data(), rows.data(), m,
                                              Y.data(), descent, pool, {});
  Check(std::isfinite(result.kl) && result.n_iter == 50, "transform KL finite");
  for (float v : Y) Check(std::isfinite(v), "transformed points finite");
  // The last m - 10 points alone (their rows start at entry 10 k).
  std::vector<int64_t> indptr_part(indptr.begin() + 10, indptr.end());
  for (auto& e : indptr_part) e -= 10 * k;
  acctsne::EmbedNewPoints(*field, indptr_part.data(), idx.data() + 10 * k, rows.data() + 10 * k,
                          m - 10, Y_part.data(), descent, pool, {});
  Check(std::equal(Y_part.begin(), Y_part.end(), Y.begin() + 10 * dims),
        "a transformed point does not depend on its batch");
}

// The blocked search (acctsne.dask's kernel) over uneven blocks gives ExactKnn's graph.
void RunBlockedKnn(int n_threads, int64_t n, int64_t d) {
  acctsne::ThreadPool pool(n_threads, nullptr);
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  const std::vector<float> X = Blobs(n, d, 11);
  const int64_t k = 20;
  std::vector<int32_t> idx(static_cast<size_t>(n * k));
  std::vector<float> d2(static_cast<size_t>(n * k));
  acctsne::ExactKnn(X.data(), n, d, k, level, pool, idx.data(), d2.data());

  const std::vector<int64_t> starts = {0, 1, n / 3, n / 3 + 7, n};
  std::vector<double> sums(static_cast<size_t>(d), 0.0), mean(static_cast<size_t>(d));
  for (size_t b = 0; b + 1 < starts.size(); ++b)
    acctsne::KnnColumnSums(X.data() + starts[b] * d, starts[b + 1] - starts[b], d, sums.data());
  for (int64_t f = 0; f < d; ++f) mean[f] = sums[f] / static_cast<double>(n);
  double max_abs = 0.0;
  for (size_t b = 0; b + 1 < starts.size(); ++b)
    max_abs = std::max(max_abs, acctsne::KnnMaxAbsDeviation(X.data() + starts[b] * d,
                                                            starts[b + 1] - starts[b], d,
                                                            mean.data()));
  bool same = true;
  for (size_t q = 0; q + 1 < starts.size(); ++q) {
    const int64_t nq = starts[q + 1] - starts[q];
    std::vector<float> values(static_cast<size_t>(nq * k), INFINITY);
    std::vector<int32_t> ids(static_cast<size_t>(nq * k), INT32_MAX);
    std::vector<double> exact(static_cast<size_t>(nq * k), INFINITY);
    for (size_t r = 0; r + 1 < starts.size(); ++r)
      acctsne::BlockKnnStep(X.data() + starts[q] * d, nq, starts[q], X.data() + starts[r] * d,
                            starts[r + 1] - starts[r], starts[r], d, k, mean.data(), max_abs,
                            level, pool, values.data(), ids.data(), exact.data());
    for (int64_t i = 0; i < nq; ++i) {
      std::vector<std::pair<double, int32_t>> row;
      for (int64_t m = 0; m < k; ++m) row.emplace_back(exact[i * k + m], ids[i * k + m]);
      std::sort(row.begin(), row.end());
      for (int64_t m = 0; m < k; ++m) {
        const int64_t e = (starts[q] + i) * k + m;
        same = same && row[m].second == idx[e] && static_cast<float>(row[m].first) == d2[e];
      }
    }
  }
  Check(same, "blocked kNN steps give ExactKnn's graph");
}

}  // namespace

int main() {
  for (int threads : {1, 3}) {
    for (int dims : {1, 2}) {
      RunPipeline(threads, 300, 12, dims, "barnes_hut");
      RunPipeline(threads, 200, 8, dims, "fft");
    }
    RunPipeline(threads, 300, 280, 2, "barnes_hut");  // the screened (wide-row) kNN
    RunPipeline(threads, 250, 6, 3, "barnes_hut");
    RunPipeline(threads, 1500, 5, 2, "barnes_hut");  // six query blocks: kNN pair rounds
    RunBlockedKnn(threads, 700, 9);
    RunBlockedKnn(threads, 400, 260);  // wide rows: the screened search's values
    for (int dims : {1, 2}) RunTransform(threads, dims, acctsne::FieldKind::kGrid);
    RunTransform(threads, 3, acctsne::FieldKind::kTree);
    RunTransform(threads, 2, acctsne::FieldKind::kExact);
  }
  if (g_failures == 0) std::printf("selftest: all phases passed\n");
  return g_failures == 0 ? 0 : 1;
}
