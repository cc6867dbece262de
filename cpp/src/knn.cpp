// Blocked brute-force exact kNN; see acctsne/knn.h.
#include "acctsne/knn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "acctsne/common.h"
#include "acctsne/projection.h"
#include "kernels/kernels.h"

#if defined(_MSC_VER)
#include <intrin.h>
#endif

namespace acctsne {
namespace {

constexpr int64_t kQueryBlock = 256;  // query rows per parallel task
constexpr int kTile = kernels::kRefTile;

// Index of the lowest set bit of a non-zero mask.
inline int LowestBit(uint64_t bits) {
#if defined(_MSC_VER)
  unsigned long index;
  _BitScanForward64(&index, bits);
  return static_cast<int>(index);
#else
  return __builtin_ctzll(bits);
#endif
}

// The k smallest (distance, index) pairs offered, by lexicographic order, so the kept set
// does not depend on the order of the offers. Offers below the current bound are appended
// to a buffer of 2k + kTile; a full buffer is cut back to its k smallest (nth_element),
// which tightens the bound. Amortised O(1) per offer: a binary heap's sift per accepted
// offer was a fifth of the whole kNN time (MNIST PCA-50 accepts ~600 offers per row).
class TopK {
 public:
  TopK(std::pair<float, int32_t>* buffer, int64_t k)
      : buffer_(buffer), k_(k), capacity_(2 * k + kTile) {}

  static int64_t Capacity(int64_t k) { return 2 * k + kTile; }

  // Offers at or above this distance cannot enter.
  float threshold() const { return bound_.first; }

  void push(float d, int32_t j) {
    if (!(std::make_pair(d, j) < bound_)) return;
    if (size_ == capacity_) Shrink();
    buffer_[size_++] = {d, j};
  }

  // Cuts the buffer to the k smallest pairs and returns them (unordered).
  const std::pair<float, int32_t>* Finish() {
    if (size_ > k_) Shrink();
    return buffer_;
  }
  int64_t size() const { return size_; }

 private:
  void Shrink() {
    std::nth_element(buffer_, buffer_ + (k_ - 1), buffer_ + size_);
    bound_ = buffer_[k_ - 1];
    size_ = k_;
  }

  std::pair<float, int32_t>* buffer_;
  int64_t k_;
  int64_t capacity_;
  int64_t size_ = 0;
  std::pair<float, int32_t> bound_{std::numeric_limits<float>::infinity(),
                                   std::numeric_limits<int32_t>::max()};
};

// Rows with at least this many features are searched through the projection bound
// (acctsne/projection.h). Below it, two sweeps over the bound coordinates plus the
// candidates' full distances cost more than one plain sweep (measured on MNIST PCA
// projections, 30k rows: 100-d 2.1 s plain vs 4.0 s screened; 300-d 6.0 vs 5.5 s; raw
// 784-d at 70k: 61 s plain vs 21 s screened).
constexpr int64_t kProjectionMinFeatures = 256;

// Projected coordinates for d features: about 2.3 sqrt(d), a multiple of 4, at most 64
// (on MNIST 784-d, 64 coordinates leave ~1% of the pairs as candidates; 48..96 measure
// within noise of each other).
int ProjectedDims(int64_t d) {
  const int m = static_cast<int>(std::ceil(2.3 * std::sqrt(static_cast<double>(d)) / 4.0)) * 4;
  return std::min(m, 64);
}

// Relative slack on the bound test covering float32 rounding of the bound (a dot product
// of <= 65 terms: error below 65 * 2^-24 of the norms).
constexpr float kBoundSlack = 1e-5f;

// Exact squared distance in double, in the same association as the float kernel
// kernels::SquaredDistance64 (which serves float inputs).
template <typename T>
double SquaredDistanceDouble(const T* a, const T* b, int64_t d) {
  double sums[kernels::kDistanceSums64] = {};
  for (int64_t f = 0; f < d; ++f) {
    const double diff = static_cast<double>(a[f]) - static_cast<double>(b[f]);
    sums[f % kernels::kDistanceSums64] += diff * diff;
  }
  return ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
}

// Candidates evaluated ahead of their rows' prefetches.
constexpr size_t kPrefetchAhead = 2;

// Asks for the cache lines of a row of d values.
template <typename T>
inline void PrefetchRow(const T* row, int64_t d) {
  constexpr int64_t kLine = 64 / sizeof(T);
  for (int64_t f = 0; f < d; f += kLine) __builtin_prefetch(row + f);
}

// The float32 rows the selection works on.
struct SelectionRows {
  std::vector<float> rows;   // n x d centred and rescaled copy of X
  std::vector<float> norms;  // |row|^2
};

template <typename T>
SelectionRows CentreAndRescale(const T* X, int64_t n, int64_t d, ThreadPool& pool) {
  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < d; ++f) mean[f] += static_cast<double>(X[i * d + f]);
  for (auto& m : mean) m /= static_cast<double>(n);
  double max_abs = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < d; ++f)
      max_abs = std::max(max_abs, std::abs(static_cast<double>(X[i * d + f]) - mean[f]));
  if (!std::isfinite(max_abs)) throw NumericalError("kNN: input contains non-finite values");
  const double scale = max_abs > 0.0 ? 1.0 / max_abs : 1.0;

  SelectionRows sel;
  sel.rows.resize(static_cast<size_t>(n * d));
  sel.norms.resize(static_cast<size_t>(n));
  ParallelForRange(pool, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* row = &sel.rows[static_cast<size_t>(i * d)];
      double norm = 0.0;
      for (int64_t f = 0; f < d; ++f) {
        const float v = static_cast<float>((static_cast<double>(X[i * d + f]) - mean[f]) * scale);
        row[f] = v;
        norm += static_cast<double>(v) * v;
      }
      sel.norms[static_cast<size_t>(i)] = static_cast<float>(norm);
    }
  });
  return sel;
}

// Rows w = (V^T x, rho(x)) for the orthonormal basis V (m vectors): the squared distance
// of two such rows is the lower bound of acctsne/projection.h. Sums run in double so the
// bound's rounding stays far below kBoundSlack.
std::vector<float> BoundRows(const SelectionRows& sel, int64_t n, int64_t d,
                             const std::vector<double>& basis, int m, ThreadPool& pool) {
  std::vector<double> basis_t(static_cast<size_t>(d * m));  // feature-major
  for (int c = 0; c < m; ++c)
    for (int64_t f = 0; f < d; ++f) basis_t[f * m + c] = basis[c * d + f];
  const int64_t width = m + 1;
  std::vector<float> w(static_cast<size_t>(n * width));
  ParallelForRange(pool, n, 256, [&](int64_t begin, int64_t end) {
    std::vector<double> z(static_cast<size_t>(m));
    for (int64_t i = begin; i < end; ++i) {
      std::fill(z.begin(), z.end(), 0.0);
      const float* x = &sel.rows[static_cast<size_t>(i * d)];
      for (int64_t f = 0; f < d; ++f) {
        const double xf = x[f];
        const double* v = &basis_t[static_cast<size_t>(f * m)];
        for (int c = 0; c < m; ++c) z[c] += xf * v[c];
      }
      double projected = 0.0;
      float* out = &w[static_cast<size_t>(i * width)];
      for (int c = 0; c < m; ++c) {
        out[c] = static_cast<float>(z[c]);
        projected += z[c] * z[c];
      }
      double full = 0.0;
      for (int64_t f = 0; f < d; ++f) full += static_cast<double>(x[f]) * x[f];
      out[m] = static_cast<float>(std::sqrt(std::max(0.0, full - projected)));
    }
  });
  return w;
}

// Exact float64 distances from row i to its k neighbours `cols`, written in increasing
// (distance, index) order.
template <typename T>
void SortRowByDistance(const T* X, int64_t d, int64_t i, const int32_t* cols, int64_t k,
                       kernels::SquaredDistance64Fn squared_distance64, int32_t* out_indices,
                       float* out_sq_distances) {
  constexpr int64_t kAhead = static_cast<int64_t>(kPrefetchAhead);
  thread_local std::vector<std::pair<double, int32_t>> row;
  row.resize(static_cast<size_t>(k));
  const T* xi = X + i * d;
  for (int64_t m = 0; m < k; ++m) {
    if (m + kAhead < k) PrefetchRow(X + static_cast<int64_t>(cols[m + kAhead]) * d, d);
    const T* xj = X + static_cast<int64_t>(cols[m]) * d;
    double dist;
    if constexpr (std::is_same_v<T, float>)
      dist = squared_distance64(xi, xj, d);
    else
      dist = SquaredDistanceDouble(xi, xj, d);
    row[static_cast<size_t>(m)] = {dist, cols[m]};
  }
  std::sort(row.begin(), row.end());
  for (int64_t m = 0; m < k; ++m) {
    out_indices[m] = row[static_cast<size_t>(m)].second;
    out_sq_distances[m] = static_cast<float>(row[static_cast<size_t>(m)].first);
  }
}

}  // namespace

template <typename T>
void ExactKnn(const T* X, int64_t n, int64_t d, int64_t k, SimdLevel level, ThreadPool& pool,
              int32_t* out_indices, float* out_sq_distances) {
  ACCTSNE_CHECK(n >= 2, "kNN needs at least 2 samples, got ", n);
  ACCTSNE_CHECK(d >= 1, "kNN needs at least 1 feature, got ", d);
  ACCTSNE_CHECK(k >= 1 && k < n, "n_neighbors must be in [1, n_samples - 1] = [1, ", n - 1,
                "], got ", k);
  ACCTSNE_CHECK(n < std::numeric_limits<int32_t>::max(), "too many samples for kNN: ", n);
  const kernels::DotTileFn dot_tile = kernels::GetDotTile(level);
  const kernels::SquaredDistanceFn squared_distance = kernels::GetSquaredDistance(level);
  const kernels::SquaredDistance64Fn squared_distance64 = kernels::GetSquaredDistance64(level);

  // Centre and rescale into float32 (selection only; final distances are exact).
  const SelectionRows sel = CentreAndRescale(X, n, d, pool);

  // High-dimensional rows are screened by the projection bound: the tiles then hold the
  // m + 1 bound coordinates, and a candidate's true float32 distance is computed only
  // when its bound can beat the row's current k-th distance.
  int m = 0;
  std::vector<float> bound_rows;
  if (d >= kProjectionMinFeatures) {
    const std::vector<double> basis =
        PrincipalSubspace(sel.rows.data(), n, d, ProjectedDims(d), pool);
    m = static_cast<int>(static_cast<int64_t>(basis.size()) / d);
    if (m > 0) bound_rows = BoundRows(sel, n, d, basis, m, pool);
  }
  const bool screened = m > 0;
  const int64_t tile_d = screened ? m + 1 : d;
  const float* tile_rows = screened ? bound_rows.data() : sel.rows.data();
  const float max_norm = *std::max_element(sel.norms.begin(), sel.norms.end());

  const int64_t n_tiles = NumBlocks(n, kTile);
  // Padding references get an infinite norm, so they are never candidates.
  std::vector<float> norms(static_cast<size_t>(n_tiles * kTile),
                           std::numeric_limits<float>::infinity());
  std::copy(sel.norms.begin(), sel.norms.end(), norms.begin());
  std::vector<float> tiles(static_cast<size_t>(n_tiles * tile_d * kTile), 0.0f);
  ParallelForRange(pool, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* tile = &tiles[static_cast<size_t>((i / kTile) * tile_d * kTile)];
      const int64_t lane = i % kTile;
      for (int64_t f = 0; f < tile_d; ++f) tile[f * kTile + lane] = tile_rows[i * tile_d + f];
    }
  });

  ParallelForRange(pool, n, kQueryBlock, [&](int64_t q_begin, int64_t q_end) {
    const int nq = static_cast<int>(q_end - q_begin);
    std::vector<float> dists(static_cast<size_t>(nq) * kTile);
    std::vector<float> thresholds(static_cast<size_t>(nq));
    std::vector<uint64_t> masks(static_cast<size_t>(nq));
    const int64_t capacity = TopK::Capacity(k);
    std::vector<std::pair<float, int32_t>> heap_buffer(static_cast<size_t>(nq * capacity));
    std::vector<TopK> heaps;
    heaps.reserve(static_cast<size_t>(nq));
    for (int q = 0; q < nq; ++q) heaps.emplace_back(&heap_buffer[static_cast<size_t>(q * capacity)], k);
    // The kept indices of row q, k of them, ascending.
    std::vector<int32_t> kept(static_cast<size_t>(nq * k));
    auto finish = [&](TopK& top, int q) {
      const std::pair<float, int32_t>* pairs = top.Finish();
      int32_t* row = &kept[static_cast<size_t>(q * k)];
      for (int64_t s = 0; s < k; ++s) row[s] = pairs[s].second;
      std::sort(row, row + k);
      return row;
    };

    // One sweep of the kernel over every reference tile: visit(q, j, value) for each entry
    // below its row's threshold (never the row itself), then end_tile(), then the
    // thresholds of the rows visited are refreshed from threshold_of(q).
    auto sweep = [&](auto&& visit, auto&& end_tile, auto&& threshold_of) {
      for (int q = 0; q < nq; ++q) thresholds[static_cast<size_t>(q)] = threshold_of(q);
      for (int64_t t = 0; t < n_tiles; ++t) {
        dot_tile(&tile_rows[static_cast<size_t>(q_begin * tile_d)], tile_d, nq,
                 &tiles[static_cast<size_t>(t * tile_d * kTile)], static_cast<int>(tile_d),
                 &norms[static_cast<size_t>(q_begin)], &norms[static_cast<size_t>(t * kTile)],
                 thresholds.data(), dists.data(), masks.data());
        for (int q = 0; q < nq; ++q) {
          uint64_t bits = masks[static_cast<size_t>(q)];
          if (bits == 0) continue;  // nothing in this tile can enter the row's top k
          const int64_t i = q_begin + q;
          const float* dq = &dists[static_cast<size_t>(q) * kTile];
          do {
            const int r = LowestBit(bits);
            bits &= bits - 1;
            const int64_t j = t * kTile + r;
            if (j != i) visit(q, static_cast<int32_t>(j), dq[r]);
          } while (bits != 0);
        }
        end_tile();
        for (int q = 0; q < nq; ++q)
          if (masks[static_cast<size_t>(q)] != 0) thresholds[static_cast<size_t>(q)] = threshold_of(q);
      }
    };
    auto no_op = [] {};
    auto heap_threshold = [&](int q) { return heaps[static_cast<size_t>(q)].threshold(); };
    auto true_distance = [&](int q, int32_t j) {
      return squared_distance(&sel.rows[static_cast<size_t>((q_begin + q) * d)],
                              &sel.rows[static_cast<size_t>(j) * d], d);
    };

    if (!screened) {
      sweep([&](int q, int32_t j, float dist) { heaps[q].push(std::max(dist, 0.0f), j); }, no_op,
            heap_threshold);
    } else {
      // Sweep 1 keeps each row's k smallest bounds; their true distances seed the heap,
      // so sweep 2 starts near the final k-th distance instead of at infinity (with a
      // cold start, MNIST's 784-d rows evaluated ~3x more candidates).
      std::vector<std::pair<float, int32_t>> seed_buffer(static_cast<size_t>(nq * capacity));
      std::vector<TopK> seeds;
      seeds.reserve(static_cast<size_t>(nq));
      for (int q = 0; q < nq; ++q) seeds.emplace_back(&seed_buffer[static_cast<size_t>(q * capacity)], k);
      sweep([&](int q, int32_t j, float bound) { seeds[q].push(bound, j); }, no_op,
            [&](int q) { return seeds[static_cast<size_t>(q)].threshold(); });
      // Candidates' rows are scattered over memory: evaluate them in batches with the
      // rows a few candidates ahead prefetched (the evaluation is latency-bound).
      std::vector<std::pair<int, int32_t>> batch;
      auto evaluate_batch = [&] {
        const size_t size = batch.size();
        for (size_t b = 0; b < std::min<size_t>(kPrefetchAhead, size); ++b)
          PrefetchRow(&sel.rows[static_cast<size_t>(batch[b].second) * d], d);
        for (size_t b = 0; b < size; ++b) {
          if (b + kPrefetchAhead < size)
            PrefetchRow(&sel.rows[static_cast<size_t>(batch[b + kPrefetchAhead].second) * d], d);
          const auto [q, j] = batch[b];
          heaps[q].push(true_distance(q, j), j);
        }
        batch.clear();
      };
      std::vector<int32_t> seed_rows(static_cast<size_t>(nq * k));  // ascending per row
      for (int q = 0; q < nq; ++q) {
        const int32_t* row_seeds = finish(seeds[static_cast<size_t>(q)], q);
        std::copy_n(row_seeds, k, &seed_rows[static_cast<size_t>(q * k)]);
        for (int64_t s = 0; s < k; ++s) batch.emplace_back(q, row_seeds[s]);
      }
      evaluate_batch();
      sweep(
          [&](int q, int32_t j, float) {
            const int32_t* row_seeds = &seed_rows[static_cast<size_t>(q * k)];
            if (!std::binary_search(row_seeds, row_seeds + k, j)) batch.emplace_back(q, j);
          },
          evaluate_batch,
          [&](int q) {
            return heaps[static_cast<size_t>(q)].threshold() +
                   kBoundSlack * (norms[static_cast<size_t>(q_begin + q)] + max_norm);
          });
    }

    // Exact float64 distances for the kept neighbours, then sort by (distance, index).
    for (int q = 0; q < nq; ++q) {
      const int64_t i = q_begin + q;
      SortRowByDistance(X, d, i, finish(heaps[static_cast<size_t>(q)], q), k, squared_distance64,
                        out_indices + i * k, out_sq_distances + i * k);
    }
  });
}

template <typename T>
void RefineNeighbors(const T* X, int64_t n, int64_t d, int64_t k, SimdLevel level,
                     ThreadPool& pool, int32_t* indices, float* out_sq_distances) {
  ACCTSNE_CHECK(n >= 2 && d >= 1 && k >= 1 && k < n, "bad neighbour graph shape: n=", n,
                ", d=", d, ", k=", k);
  for (int64_t e = 0; e < n * k; ++e)
    ACCTSNE_CHECK(indices[e] >= 0 && indices[e] < n && indices[e] != e / k,
                  "neighbour index ", indices[e], " of row ", e / k, " is invalid");
  const kernels::SquaredDistance64Fn squared_distance64 = kernels::GetSquaredDistance64(level);
  ParallelForRange(pool, n, kQueryBlock, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> row(static_cast<size_t>(k));
    for (int64_t i = begin; i < end; ++i) {
      std::copy_n(indices + i * k, k, row.begin());
      SortRowByDistance(X, d, i, row.data(), k, squared_distance64, indices + i * k,
                        out_sq_distances + i * k);
    }
  });
}

template void ExactKnn<float>(const float*, int64_t, int64_t, int64_t, SimdLevel, ThreadPool&,
                              int32_t*, float*);
template void ExactKnn<double>(const double*, int64_t, int64_t, int64_t, SimdLevel,
                               ThreadPool&, int32_t*, float*);
template void RefineNeighbors<float>(const float*, int64_t, int64_t, int64_t, SimdLevel,
                                     ThreadPool&, int32_t*, float*);
template void RefineNeighbors<double>(const double*, int64_t, int64_t, int64_t, SimdLevel,
                                      ThreadPool&, int32_t*, float*);

}  // namespace acctsne
