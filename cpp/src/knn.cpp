// Blocked brute-force exact kNN; see acctsne/knn.h.
#include "acctsne/knn.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "acctsne/common.h"
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

// Fixed-capacity max-heap of (distance, index) keeping the k smallest pairs seen,
// ordered lexicographically so the kept set does not depend on visiting order.
class TopK {
 public:
  TopK(float* dist, int32_t* idx, int64_t k) : dist_(dist), idx_(idx), k_(k) {}

  float threshold() const {
    return size_ < k_ ? std::numeric_limits<float>::infinity() : dist_[0];
  }

  void push(float d, int32_t j) {
    if (size_ < k_) {
      int64_t c = size_++;
      while (c > 0) {  // sift up
        int64_t p = (c - 1) / 2;
        if (!less(dist_[p], idx_[p], d, j)) break;
        dist_[c] = dist_[p];
        idx_[c] = idx_[p];
        c = p;
      }
      dist_[c] = d;
      idx_[c] = j;
      return;
    }
    if (!less(d, j, dist_[0], idx_[0])) return;
    int64_t c = 0;  // sift down from the root
    for (;;) {
      int64_t l = 2 * c + 1;
      if (l >= k_) break;
      int64_t r = l + 1;
      int64_t m = (r < k_ && less(dist_[l], idx_[l], dist_[r], idx_[r])) ? r : l;
      if (!less(d, j, dist_[m], idx_[m])) break;
      dist_[c] = dist_[m];
      idx_[c] = idx_[m];
      c = m;
    }
    dist_[c] = d;
    idx_[c] = j;
  }

 private:
  static bool less(float da, int32_t ia, float db, int32_t ib) {
    return da < db || (da == db && ia < ib);
  }
  float* dist_;
  int32_t* idx_;
  int64_t k_;
  int64_t size_ = 0;
};

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

  // Centre and rescale into float32 (selection only; final distances are exact).
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

  std::vector<float> xs(static_cast<size_t>(n * d));
  const int64_t n_tiles = NumBlocks(n, kTile);
  // Padding references get an infinite norm, so they are never candidates.
  std::vector<float> norms(static_cast<size_t>(n_tiles * kTile),
                           std::numeric_limits<float>::infinity());
  std::vector<float> tiles(static_cast<size_t>(n_tiles * d * kTile), 0.0f);
  ParallelForRange(pool, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* row = &xs[static_cast<size_t>(i * d)];
      float* tile = &tiles[static_cast<size_t>((i / kTile) * d * kTile)];
      const int64_t lane = i % kTile;
      double norm = 0.0;
      for (int64_t f = 0; f < d; ++f) {
        float v = static_cast<float>((static_cast<double>(X[i * d + f]) - mean[f]) * scale);
        row[f] = v;
        tile[f * kTile + lane] = v;
        norm += static_cast<double>(v) * v;
      }
      norms[static_cast<size_t>(i)] = static_cast<float>(norm);
    }
  });

  ParallelForRange(pool, n, kQueryBlock, [&](int64_t q_begin, int64_t q_end) {
    const int nq = static_cast<int>(q_end - q_begin);
    std::vector<float> dists(static_cast<size_t>(nq) * kTile);
    std::vector<float> thresholds(static_cast<size_t>(nq), std::numeric_limits<float>::infinity());
    std::vector<uint64_t> masks(static_cast<size_t>(nq));
    std::vector<float> heap_d(static_cast<size_t>(nq * k));
    std::vector<int32_t> heap_i(static_cast<size_t>(nq * k));
    std::vector<TopK> heaps;
    heaps.reserve(static_cast<size_t>(nq));
    for (int q = 0; q < nq; ++q)
      heaps.emplace_back(&heap_d[static_cast<size_t>(q * k)], &heap_i[static_cast<size_t>(q * k)], k);

    for (int64_t t = 0; t < n_tiles; ++t) {
      dot_tile(&xs[static_cast<size_t>(q_begin * d)], d, nq,
               &tiles[static_cast<size_t>(t * d * kTile)], static_cast<int>(d),
               &norms[static_cast<size_t>(q_begin)], &norms[static_cast<size_t>(t * kTile)],
               thresholds.data(), dists.data(), masks.data());
      for (int q = 0; q < nq; ++q) {
        uint64_t bits = masks[static_cast<size_t>(q)];
        if (bits == 0) continue;  // nothing in this tile can enter the row's top k
        const int64_t i = q_begin + q;
        const float* dq = &dists[static_cast<size_t>(q) * kTile];
        TopK& heap = heaps[static_cast<size_t>(q)];
        do {
          const int r = LowestBit(bits);
          bits &= bits - 1;
          const int64_t j = t * kTile + r;
          if (j != i) heap.push(std::max(dq[r], 0.0f), static_cast<int32_t>(j));
        } while (bits != 0);
        thresholds[static_cast<size_t>(q)] = heap.threshold();
      }
    }

    // Exact float64 distances for the kept neighbours, then sort by (distance, index).
    std::vector<std::pair<double, int32_t>> row(static_cast<size_t>(k));
    for (int q = 0; q < nq; ++q) {
      const int64_t i = q_begin + q;
      const T* xi = X + i * d;
      for (int64_t m = 0; m < k; ++m) {
        const int32_t j = heap_i[static_cast<size_t>(q * k + m)];
        const T* xj = X + static_cast<int64_t>(j) * d;
        double s = 0.0;
        for (int64_t f = 0; f < d; ++f) {
          double diff = static_cast<double>(xi[f]) - static_cast<double>(xj[f]);
          s += diff * diff;
        }
        row[static_cast<size_t>(m)] = {s, j};
      }
      std::sort(row.begin(), row.end());
      for (int64_t m = 0; m < k; ++m) {
        out_indices[i * k + m] = row[static_cast<size_t>(m)].second;
        out_sq_distances[i * k + m] = static_cast<float>(row[static_cast<size_t>(m)].first);
      }
    }
  });
}

template void ExactKnn<float>(const float*, int64_t, int64_t, int64_t, SimdLevel, ThreadPool&,
                              int32_t*, float*);
template void ExactKnn<double>(const double*, int64_t, int64_t, int64_t, SimdLevel,
                               ThreadPool&, int32_t*, float*);

}  // namespace acctsne
