// Internals shared by the exact kNN searches (knn.cpp: the model's own rows and new
// rows; knn_blocks.cpp: one block of a distributed search). Not a public header: what is
// here fixes the bits of every search's selection, so the searches share it rather than
// repeat it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "acctsne/common.h"
#include "acctsne/parallel.h"
#include "kernels/kernels.h"

#if defined(_MSC_VER)
#include <intrin.h>
#endif

namespace acctsne {
namespace knn_internal {

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
// to a buffer of k + kTile; a full buffer is cut back to its k smallest (nth_element),
// which tightens the bound. Amortised O(1) per offer: a binary heap's sift per accepted
// offer was a fifth of the whole kNN time (MNIST PCA-50 accepts ~600 offers per row).
class TopK {
 public:
  TopK(std::pair<float, int32_t>* buffer, int64_t k)
      : buffer_(buffer), k_(k), capacity_(Capacity(k)) {}

  // k + kTile (not 2k + kTile) keeps the n buffers of the block-pair search small (k = 91
  // at 70k: 87 MB instead of 138).
  static int64_t Capacity(int64_t k) { return k + kTile; }

  // Offers at or above this distance cannot enter.
  float threshold() const { return bound_.first; }

  void push(float d, int32_t j) {
    if (!(std::make_pair(d, j) < bound_)) return;
    if (size_ == capacity_) Shrink();
    buffer_[size_++] = {d, j};
  }

  // Entries held (at most k after Finish).
  int64_t size() const { return size_; }

  // Cuts a buffer of k or more entries to its k smallest, so the bound is the k-th: a
  // search continued from an earlier one's k pairs starts from their threshold.
  void Tighten() {
    if (size_ >= k_) Shrink();
  }

  // Cuts the buffer to the k smallest pairs and returns them (unordered).
  const std::pair<float, int32_t>* Finish() {
    if (size_ > k_) Shrink();
    return buffer_;
  }

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
// (acctsne/projection.h). Below it, a sweep over the bound coordinates plus the
// candidates' full distances cost as much as one plain sweep or more (MNIST PCA-200 at
// 70k, 2 threads: 12.9 s plain, 13.0 s screened; raw 784-d: 61 s plain, 12 s screened).
constexpr int64_t kProjectionMinFeatures = 256;

// Relative slack on the bound test covering float32 rounding of the bound (a dot product
// of <= 129 terms: error below 129 * 2^-24 = 7.7e-6 of the norms).
constexpr float kBoundSlack = 2e-5f;

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

// The affine map of the selection: (x - mean) * scale, scale = 1 / max |x - mean|.
struct Centring {
  std::vector<double> mean;
  double scale = 1.0;
};

// Adds X's rows, in row order, to the per-feature running sums (the centring's mean
// before the division). Row order matters for the bits: a search split into blocks of
// rows continues the same sums block after block and gets the same mean.
template <typename T>
void AccumulateColumnSums(const T* X, int64_t n, int64_t d, double* sums) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < d; ++f) sums[f] += static_cast<double>(X[i * d + f]);
}

// max |x - mean| over X's entries (order-free); non-finite values raise NumericalError.
template <typename T>
double MaxAbsDeviation(const T* X, int64_t n, int64_t d, const double* mean) {
  double max_abs = 0.0;
  bool finite = true;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < d; ++f) {
      const double x = static_cast<double>(X[i * d + f]);
      finite = finite && std::isfinite(x);  // NaN would slip through std::max
      max_abs = std::max(max_abs, std::abs(x - mean[f]));
    }
  if (!finite || !std::isfinite(max_abs))
    throw NumericalError("kNN: input contains non-finite values");
  return max_abs;
}

// The scale of the centring for a given max |x - mean|.
inline double CentringScale(double max_abs) { return max_abs > 0.0 ? 1.0 / max_abs : 1.0; }

template <typename T>
Centring CentringOf(const T* X, int64_t n, int64_t d) {
  Centring c;
  c.mean.assign(static_cast<size_t>(d), 0.0);
  AccumulateColumnSums(X, n, d, c.mean.data());
  for (auto& m : c.mean) m /= static_cast<double>(n);
  c.scale = CentringScale(MaxAbsDeviation(X, n, d, c.mean.data()));
  return c;
}

// X's rows mapped by `c` into float32, with their squared norms.
template <typename T>
SelectionRows ApplyCentring(const T* X, int64_t n, int64_t d, const Centring& c,
                            ThreadPool& pool) {
  SelectionRows sel;
  sel.rows.resize(static_cast<size_t>(n * d));
  sel.norms.resize(static_cast<size_t>(n));
  ParallelForRange(pool, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* row = &sel.rows[static_cast<size_t>(i * d)];
      double norm = 0.0;
      for (int64_t f = 0; f < d; ++f) {
        const float v = static_cast<float>((static_cast<double>(X[i * d + f]) - c.mean[f]) * c.scale);
        row[f] = v;
        norm += static_cast<double>(v) * v;
      }
      sel.norms[static_cast<size_t>(i)] = static_cast<float>(norm);
    }
  });
  return sel;
}

template <typename T>
SelectionRows CentreAndRescale(const T* X, int64_t n, int64_t d, ThreadPool& pool) {
  return ApplyCentring(X, n, d, CentringOf(X, n, d), pool);
}

// The exact float64 squared distance of two rows (the float kernel for float rows).
template <typename T>
double ExactSquaredDistance(const T* a, const T* b, int64_t d,
                            kernels::SquaredDistance64Fn squared_distance64) {
  if constexpr (std::is_same_v<T, float>) {
    return squared_distance64(a, b, d);
  } else {
    return SquaredDistanceDouble(a, b, d);
  }
}

// QueryKnn keeps this many candidates beyond k before the exact distances decide.
constexpr int64_t kQueryExtra = 8;
// Bound on the float32 rounding of a selection value |q|^2 + |r|^2 - 2 q.r of d terms, per
// feature and unit of |q|^2 + |r|^2 (a few ulps each; generous).
constexpr double kQuerySlack = 4.0 / (1 << 24);

// Balls that bound each block of kQueryBlock consecutive rows of `rows` (n x width,
// row-major): centres (n_blocks x width, the blocks' means) and radii (the largest
// distance to the centre, rounded up), in double. The searches' block-pair bounds rest
// on them: no row of block a is farther than radii[a] from centres[a].
inline void BlockBalls(const float* rows, int64_t n, int64_t width, ThreadPool& pool,
                       std::vector<double>& centres, std::vector<double>& radii) {
  const int64_t n_blocks = NumBlocks(n, kQueryBlock);
  centres.assign(static_cast<size_t>(n_blocks * width), 0.0);
  radii.assign(static_cast<size_t>(n_blocks), 0.0);
  pool.run(n_blocks, [&](int64_t a) {
    const int64_t begin = a * kQueryBlock, end = std::min(n, begin + kQueryBlock);
    double* centre = &centres[static_cast<size_t>(a * width)];
    for (int64_t s = begin; s < end; ++s)
      for (int64_t f = 0; f < width; ++f) centre[f] += rows[s * width + f];
    for (int64_t f = 0; f < width; ++f) centre[f] /= static_cast<double>(end - begin);
    double r2 = 0.0;
    for (int64_t s = begin; s < end; ++s) {
      double sq = 0.0;
      for (int64_t f = 0; f < width; ++f) {
        const double diff = rows[s * width + f] - centre[f];
        sq += diff * diff;
      }
      r2 = std::max(r2, sq);
    }
    radii[static_cast<size_t>(a)] = std::sqrt(r2) * (1.0 + 1e-9);
  });
}

// A kd-tree order of the rows (definition and rationale in knn.cpp): position s of the
// result holds row perm[s]; each left part of a split is a whole number of kQueryBlock.
std::vector<int32_t> LocalityOrder(const float* rows, int64_t n, int64_t d, ThreadPool& pool);

}  // namespace knn_internal
}  // namespace acctsne
