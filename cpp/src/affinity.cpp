// Perplexity calibration and symmetrisation; see acctsne/affinity.h.
#include "acctsne/affinity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "acctsne/common.h"
#include "kernels/kernels.h"

namespace acctsne {
namespace {

// sklearn's constants are C floats; keep their float32 rounding.
const double kPerplexityTolerance = static_cast<double>(1e-5f);
const double kMinRowSum = static_cast<double>(1e-8f);
constexpr int kMaxSteps = 100;

double SearchRow(kernels::PerplexityStepFn step, const float* dist, int64_t k, int64_t skip,
                 double desired_entropy, double* p) {
  double beta = 1.0;
  double beta_min = -std::numeric_limits<double>::infinity();
  double beta_max = std::numeric_limits<double>::infinity();
  for (int iteration = 0; iteration < kMaxSteps; ++iteration) {
    double sum_dist_p = 0.0;
    const double sum_p = step(dist, k, skip, beta, kMinRowSum, p, &sum_dist_p);
    const double entropy = std::log(sum_p) + beta * sum_dist_p;
    const double diff = entropy - desired_entropy;
    if (std::fabs(diff) <= kPerplexityTolerance) break;
    if (diff > 0.0) {
      beta_min = beta;
      beta = (beta_max == std::numeric_limits<double>::infinity()) ? beta * 2.0
                                                                   : (beta + beta_max) / 2.0;
    } else {
      beta_max = beta;
      beta = (beta_min == -std::numeric_limits<double>::infinity()) ? beta / 2.0
                                                                    : (beta + beta_min) / 2.0;
    }
  }
  return beta;
}

}  // namespace

template <typename T>
void ConditionalProbabilities(const float* sq_distances, int64_t n, int64_t k,
                              bool skip_diagonal, const float* perplexities,
                              int64_t n_perplexities, SimdLevel level, ThreadPool& pool,
                              T* cond_p, double* betas) {
  const kernels::PerplexityStepFn step = kernels::GetPerplexityStep(level);
  ACCTSNE_CHECK(n_perplexities >= 1, "perplexity: the list of perplexities is empty");
  for (int64_t s = 0; s < n_perplexities; ++s) {
    ACCTSNE_CHECK(std::isfinite(perplexities[s]) && perplexities[s] > 0.0f,
                  "perplexity must be finite and > 0, got ", perplexities[s],
                  n_perplexities > 1 ? StrCat(" (perplexity[", s, "])") : std::string());
  }
  ACCTSNE_CHECK(!skip_diagonal || k == n, "exact affinities need a square matrix, got ", n,
                " x ", k);
  const int64_t n_scales = n_perplexities;
  std::vector<double> desired_entropy(static_cast<size_t>(n_scales));
  for (int64_t s = 0; s < n_scales; ++s)
    desired_entropy[s] = std::log(static_cast<double>(perplexities[s]));
  // Multiscale: the sum over s in list order, divided by S (fixed per row, so any thread
  // count gives the same bits); one perplexity skips the sum and stays bitwise single-scale.
  const double scales = static_cast<double>(n_scales);
  ParallelForRange(pool, n, 64, [&](int64_t begin, int64_t end) {
    // The search runs in float64 whatever T is; the row is rounded to T once at the end.
    // The block's own buffers: p for one search, sum for the average over scales.
    std::vector<double> p(static_cast<size_t>(k));
    std::vector<double> sum(n_scales > 1 ? static_cast<size_t>(k) : 0);
    for (int64_t i = begin; i < end; ++i) {
      const float* dist = sq_distances + i * k;
      const int64_t skip = skip_diagonal ? i : -1;
      for (int64_t s = 0; s < n_scales; ++s) {
        const double beta = SearchRow(step, dist, k, skip, desired_entropy[s], p.data());
        betas[i * n_scales + s] = beta;
        for (int64_t j = 0; j < k; ++j) {
          if (!std::isfinite(p[j]))
            throw NumericalError(StrCat("affinities: non-finite conditional probability in row ",
                                        i, " (beta = ", beta, ", perplexity = ",
                                        perplexities[s], ")"));
        }
        if (n_scales > 1) {
          if (s == 0) {
            std::copy(p.begin(), p.end(), sum.begin());
          } else {
            for (int64_t j = 0; j < k; ++j) sum[j] += p[j];
          }
        }
      }
      // Every search of the row has read dist; only now may cond_p (maybe dist) be written.
      T* out = cond_p + i * k;
      if (n_scales == 1) {
        for (int64_t j = 0; j < k; ++j) out[j] = static_cast<T>(p[j]);
      } else {
        for (int64_t j = 0; j < k; ++j) out[j] = static_cast<T>(sum[j] / scales);
      }
    }
  });
}

template void ConditionalProbabilities<double>(const float*, int64_t, int64_t, bool,
                                               const float*, int64_t, SimdLevel, ThreadPool&,
                                               double*, double*);
template void ConditionalProbabilities<float>(const float*, int64_t, int64_t, bool,
                                              const float*, int64_t, SimdLevel, ThreadPool&,
                                              float*, double*);

namespace {

// SymmetrizeKnn for an entry-position type wide enough for n * k.
template <typename Position>
SparseP SymmetrizeWith(const int32_t* neighbors, const float* cond, int64_t n, int64_t k,
                       ThreadPool& pool) {
  constexpr int64_t kBlock = 1024;
  // Transpose C by counting sort: column j of C becomes row j of T, stored as positions
  // e = i * k + m of C's entries (row of origin i = e / k, value cond[e]). The rows are cut
  // into a few contiguous chunks, each with its own column counts (no shared counters
  // between threads); chunk c's entries of column j go after those of chunks < c, so every
  // row of T comes out ordered by row of origin.
  const int64_t n_chunks = std::min<int64_t>(pool.n_threads(), 8);
  const int64_t chunk_rows = NumBlocks(n, n_chunks);
  std::vector<int32_t> chunk_count(static_cast<size_t>(n_chunks * n), 0);
  pool.run(n_chunks, [&](int64_t c) {
    int32_t* count = &chunk_count[static_cast<size_t>(c * n)];
    const int64_t end = std::min(n, (c + 1) * chunk_rows);
    for (int64_t e = c * chunk_rows * k; e < end * k; ++e) ++count[neighbors[e]];
  });
  std::vector<int64_t> t_ptr(static_cast<size_t>(n + 1), 0);
  for (int64_t j = 0; j < n; ++j) {
    int64_t total = 0;
    for (int64_t c = 0; c < n_chunks; ++c) total += chunk_count[static_cast<size_t>(c * n + j)];
    t_ptr[j + 1] = t_ptr[j] + total;
  }
  std::vector<Position> t_pos(static_cast<size_t>(n * k));
  pool.run(n_chunks, [&](int64_t c) {
    // This chunk's write position in each column: after the row's start and the earlier
    // chunks' entries.
    std::vector<int64_t> cursor(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      int64_t before = t_ptr[j];
      for (int64_t c2 = 0; c2 < c; ++c2) before += chunk_count[static_cast<size_t>(c2 * n + j)];
      cursor[j] = before;
    }
    const int64_t end = std::min(n, (c + 1) * chunk_rows);
    for (int64_t e = c * chunk_rows * k; e < end * k; ++e)
      t_pos[static_cast<size_t>(cursor[neighbors[e]]++)] = static_cast<Position>(e);
  });
  std::vector<int32_t>().swap(chunk_count);

  // Per row: merge the forward entries (sorted by column) with the transposed ones (in
  // order of origin), summing equal columns (forward value first). Rows are independent;
  // two passes: count, then fill at prefix-summed offsets.
  using Entry = std::pair<int32_t, float>;
  auto merge_row = [&](int64_t i, std::vector<Entry>& fwd, std::vector<Entry>& merged) {
    fwd.resize(static_cast<size_t>(k));
    for (int64_t m = 0; m < k; ++m) fwd[m] = {neighbors[i * k + m], cond[i * k + m]};
    std::sort(fwd.begin(), fwd.end());
    merged.clear();
    auto push = [&](const Entry& entry) {  // (a graph may repeat a neighbour: summed too)
      if (!merged.empty() && merged.back().first == entry.first) {
        merged.back().second += entry.second;
      } else {
        merged.push_back(entry);
      }
    };
    size_t f = 0;
    for (int64_t t = t_ptr[i]; t < t_ptr[i + 1]; ++t) {
      const int64_t e = static_cast<int64_t>(t_pos[static_cast<size_t>(t)]);
      const Entry entry{static_cast<int32_t>(e / k), cond[e]};
      while (f < fwd.size() && fwd[f].first <= entry.first) push(fwd[f++]);
      push(entry);
    }
    while (f < fwd.size()) push(fwd[f++]);
  };
  std::vector<int64_t> row_nnz(static_cast<size_t>(n), 0);
  ParallelForRange(pool, n, kBlock, [&](int64_t begin, int64_t end) {
    std::vector<Entry> fwd, merged;
    for (int64_t i = begin; i < end; ++i) {
      merge_row(i, fwd, merged);
      row_nnz[i] = static_cast<int64_t>(merged.size());
    }
  });
  SparseP P;
  P.indptr.assign(static_cast<size_t>(n + 1), 0);
  for (int64_t i = 0; i < n; ++i) P.indptr[i + 1] = P.indptr[i] + row_nnz[i];
  const int64_t nnz = P.indptr[n];
  P.indices.resize(static_cast<size_t>(nnz));
  // Merged values are float sums, so they go straight into P.data (a float64 staging copy
  // would add 8 bytes per entry to the peak: 1.2 GB at 1M points) and are normalised in
  // place; the total is summed in double, in block order.
  P.data.resize(static_cast<size_t>(nnz));
  ParallelForRange(pool, n, kBlock, [&](int64_t begin, int64_t end) {
    std::vector<Entry> fwd, merged;
    for (int64_t i = begin; i < end; ++i) {
      merge_row(i, fwd, merged);
      int64_t pos = P.indptr[i];
      for (const auto& [col, val] : merged) {
        P.indices[pos] = col;
        P.data[pos] = val;
        ++pos;
      }
    }
  });
  std::vector<Position>().swap(t_pos);  // free before normalising
  const double total = ParallelSum(pool, nnz, kBlock * 16, [&](int64_t begin, int64_t end) {
    double s = 0.0;
    for (int64_t e = begin; e < end; ++e) s += static_cast<double>(P.data[e]);
    return s;
  });
  const double sum_p = std::max(total, kFloat64Eps);
  if (!std::isfinite(sum_p)) throw NumericalError("affinities: the sum of P is not finite");
  ParallelForRange(pool, nnz, kBlock * 16, [&](int64_t begin, int64_t end) {
    for (int64_t e = begin; e < end; ++e)
      P.data[e] = static_cast<float>(static_cast<double>(P.data[e]) / sum_p);
  });
  return P;
}

}  // namespace

SparseP SymmetrizeKnn(const int32_t* neighbors, const float* cond, int64_t n, int64_t k,
                      ThreadPool& pool) {
  for (int64_t e = 0; e < n * k; ++e) {
    ACCTSNE_CHECK(neighbors[e] >= 0 && neighbors[e] < n, "neighbour index ", neighbors[e],
                  " out of range [0, ", n, ")");
  }
  if (n * k <= int64_t{std::numeric_limits<uint32_t>::max()})
    return SymmetrizeWith<uint32_t>(neighbors, cond, n, k, pool);
  return SymmetrizeWith<int64_t>(neighbors, cond, n, k, pool);
}

void SymmetrizeDense(double* p, int64_t n, ThreadPool& pool) {
  // Symmetrise in place over the upper triangle (each (i, j>i) pair owned by row i).
  ParallelForRange(pool, n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = i + 1; j < n; ++j) {
        const double s = p[i * n + j] + p[j * n + i];
        p[i * n + j] = s;
        p[j * n + i] = s;
      }
  });
  const double total = ParallelSum(pool, n, 16, [&](int64_t begin, int64_t end) {
    double s = 0.0;
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = 0; j < n; ++j) s += p[i * n + j];
    return s;
  });
  const double sum_p = std::max(total, kFloat64Eps);
  if (!std::isfinite(sum_p)) throw NumericalError("affinities: the sum of P is not finite");
  ParallelForRange(pool, n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = 0; j < n; ++j)
        p[i * n + j] = (i == j) ? 0.0 : std::max(p[i * n + j] / sum_p, kFloat64Eps);
  });
}

}  // namespace acctsne
