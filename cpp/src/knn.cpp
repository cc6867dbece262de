// Blocked brute-force exact kNN; see acctsne/knn.h.
#include "acctsne/knn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "acctsne/common.h"
#include "acctsne/projection.h"
#include "kernels/kernels.h"
#include "knn_internal.h"

namespace acctsne {

// Defined here, declared in knn_internal.h (shared with knn_blocks.cpp).
namespace knn_internal {
// A kd-tree order of the rows: ranges split at the median of their widest coordinate
// (ties by index) down to kQueryBlock rows, each left part a whole number of query
// blocks. Rows close in this order are close in space, so the blocks next to a block
// hold most of its neighbours: searched first, they bring the thresholds near their
// final values at once, and few of the later entries pass them (on MNIST PCA-50 the
// selection was a fifth of the kNN time in input order).
std::vector<int32_t> LocalityOrder(const float* rows, int64_t n, int64_t d, ThreadPool& pool) {
  std::vector<int32_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::vector<std::pair<int64_t, int64_t>> ranges{{0, n}}, next;
  while (!ranges.empty()) {
    std::vector<int64_t> mids(ranges.size(), -1);
    pool.run(static_cast<int64_t>(ranges.size()), [&](int64_t r) {
      const auto [b, e] = ranges[static_cast<size_t>(r)];
      if (e - b <= kQueryBlock) return;
      std::vector<float> lo(static_cast<size_t>(d), std::numeric_limits<float>::infinity());
      std::vector<float> hi(static_cast<size_t>(d), -std::numeric_limits<float>::infinity());
      for (int64_t s = b; s < e; ++s) {
        const float* row = rows + int64_t{perm[s]} * d;
        for (int64_t f = 0; f < d; ++f) {
          lo[f] = std::min(lo[f], row[f]);
          hi[f] = std::max(hi[f], row[f]);
        }
      }
      int64_t widest = 0;
      for (int64_t f = 1; f < d; ++f)
        if (hi[f] - lo[f] > hi[widest] - lo[widest]) widest = f;
      const int64_t mid = b + ((e - b) / 2 + kQueryBlock - 1) / kQueryBlock * kQueryBlock;
      std::nth_element(perm.begin() + b, perm.begin() + mid, perm.begin() + e,
                       [&](int32_t x, int32_t y) {
                         const float vx = rows[int64_t{x} * d + widest];
                         const float vy = rows[int64_t{y} * d + widest];
                         return vx < vy || (vx == vy && x < y);
                       });
      mids[static_cast<size_t>(r)] = mid;
    });
    next.clear();
    for (size_t r = 0; r < ranges.size(); ++r) {
      if (mids[r] < 0) continue;
      next.emplace_back(ranges[r].first, mids[r]);
      next.emplace_back(mids[r], ranges[r].second);
    }
    ranges.swap(next);
  }
  return perm;
}

}  // namespace knn_internal

namespace {

using namespace knn_internal;  // NOLINT: this file is their home

// Projected coordinates for d features: about 4.6 sqrt(d), a multiple of 4, at most 128.
// The candidates' full distances (reads of whole rows) dominate the screened search, so
// a tighter bound pays: raw MNIST 784-d at 70k, 2 threads, 64 / 96 / 128 / 160
// coordinates: 13.0 / 12.3 / 12.1 / 13.2 s.
int ProjectedDims(int64_t d) {
  const int m = static_cast<int>(std::ceil(4.6 * std::sqrt(static_cast<double>(d)) / 4.0)) * 4;
  return std::min(m, 128);
}

// Rows w = (V^T x, rho(x)) for the orthonormal basis V (m vectors): the squared distance
// of two such rows is the lower bound of acctsne/projection.h. Sums run in double so the
// bound's rounding stays far below kBoundSlack.
std::vector<float> BoundRows(const SelectionRows& sel, int64_t n, int64_t d,
                             const std::vector<double>& basis, int m,
                             kernels::ProjectRowsFn project_rows, ThreadPool& pool) {
  std::vector<double> basis_t(static_cast<size_t>(d * m));  // feature-major
  for (int c = 0; c < m; ++c)
    for (int64_t f = 0; f < d; ++f) basis_t[f * m + c] = basis[c * d + f];
  const int64_t width = m + 1;
  std::vector<float> w(static_cast<size_t>(n * width));
  constexpr int64_t kRowsPerTask = 256;
  ParallelForRange(pool, n, kRowsPerTask, [&](int64_t begin, int64_t end) {
    std::vector<double> z(static_cast<size_t>(kRowsPerTask * m));
    project_rows(&sel.rows[static_cast<size_t>(begin * d)], d, end - begin, d, basis_t.data(),
                 m, z.data());
    for (int64_t i = begin; i < end; ++i) {
      const double* zi = &z[static_cast<size_t>((i - begin) * m)];
      double projected = 0.0;
      float* out = &w[static_cast<size_t>(i * width)];
      for (int c = 0; c < m; ++c) {
        out[c] = static_cast<float>(zi[c]);
        projected += zi[c] * zi[c];
      }
      const float* x = &sel.rows[static_cast<size_t>(i * d)];
      double full = 0.0;
      for (int64_t f = 0; f < d; ++f) full += static_cast<double>(x[f]) * x[f];
      out[m] = static_cast<float>(std::sqrt(std::max(0.0, full - projected)));
    }
  });
  return w;
}

// Exact float64 distances from the row xi to its k neighbours `cols` (rows of X), written in increasing
// (distance, index) order.
template <typename T>
void SortRowByDistance(const T* xi, const T* X, int64_t d, const int32_t* cols, int64_t k,
                       kernels::SquaredDistance64Fn squared_distance64, int32_t* out_indices,
                       float* out_sq_distances) {
  constexpr int64_t kAhead = static_cast<int64_t>(kPrefetchAhead);
  thread_local std::vector<std::pair<double, int32_t>> row;
  row.resize(static_cast<size_t>(k));
  for (int64_t m = 0; m < k; ++m) {
    if (m + kAhead < k) PrefetchRow(X + static_cast<int64_t>(cols[m + kAhead]) * d, d);
    const T* xj = X + static_cast<int64_t>(cols[m]) * d;
    row[static_cast<size_t>(m)] = {ExactSquaredDistance(xi, xj, d, squared_distance64), cols[m]};
  }
  std::sort(row.begin(), row.end());
  for (int64_t m = 0; m < k; ++m) {
    out_indices[m] = row[static_cast<size_t>(m)].second;
    out_sq_distances[m] = static_cast<float>(row[static_cast<size_t>(m)].first);
  }
}

// The search, over each pair of query blocks once. A pair's float32 value does not
// depend on which side is the query (the same products summed in the same order, and
// |a|^2 + |b|^2 commutes), so the values of block A against block B serve A's rows (row
// masks) and B's rows (column masks) alike: half the kernel work of one sweep per block,
// the same kept sets. Pairs run in rounds of increasing block distance delta = B - A,
// nearest first so that the thresholds tighten early; within a round, the pairs with
// floor(A / delta) even, then those with it odd, touch each block at most once, so every
// row's state is updated by one thread at a time.
// Positions s, j (locality order): after each tile, consume(offers) with the offers
// {s, j, value} of every value at or below row s's threshold_of(s) (never s == j), on
// the thread that owns both rows' states for the pair.
struct Offer {
  int64_t s, j;
  float value;
};
template <typename Consume, typename ThresholdOf>
void SymmetricSearch(const std::vector<float>& rows, const std::vector<float>& tiles,
                     const std::vector<float>& norms, int64_t n, int64_t width,
                     kernels::DotTileFn dot_tile, ThreadPool& pool, Consume&& consume,
                     ThresholdOf&& threshold_of) {
  const int64_t n_blocks = NumBlocks(n, kQueryBlock);
  constexpr int64_t kTilesPerBlock = kQueryBlock / kTile;
  static_assert(kQueryBlock % kTile == 0, "blocks of whole tiles");

  // Block-pair pruning. Every row of a block lies within radius[A] of its centre, so no
  // pair of rows of blocks A and B is closer than gap = |c_A - c_B| - r_A - r_B, and no
  // float32 value of such a pair is below gap^2 - value_slack (the expansion's rounding).
  // A pair of blocks whose bound exceeds the largest threshold of both blocks' rows cannot
  // offer anything and is skipped: the kept sets are the same, only the work shrinks.
  // Data with cluster structure (blocks of different clusters) skip most pairs; on data
  // without it the test costs a d-length distance per pair of 256 x 256 rows. The
  // thresholds only fall, so the per-block maxima (updated by the thread that owns the
  // block in its round) are always at or above the current ones.
  std::vector<double> centres, radii;
  BlockBalls(rows.data(), n, width, pool, centres, radii);
  std::vector<float> block_threshold(static_cast<size_t>(n_blocks),
                                     std::numeric_limits<float>::infinity());
  float max_norm = 0.0f;
  for (int64_t s = 0; s < n; ++s) max_norm = std::max(max_norm, norms[static_cast<size_t>(s)]);
  const double value_slack =
      kQuerySlack * (static_cast<double>(width) + 4.0) * 2.0 * static_cast<double>(max_norm);
  auto can_offer = [&](int64_t a, int64_t b) {
    const double limit = std::max(block_threshold[static_cast<size_t>(a)],
                                  block_threshold[static_cast<size_t>(b)]);
    if (!(limit < std::numeric_limits<float>::infinity())) return true;
    const double* ca = &centres[static_cast<size_t>(a * width)];
    const double* cb = &centres[static_cast<size_t>(b * width)];
    double sq = 0.0;
    for (int64_t f = 0; f < width; ++f) sq += (ca[f] - cb[f]) * (ca[f] - cb[f]);
    const double gap = std::sqrt(sq) * (1.0 - 1e-9) - radii[static_cast<size_t>(a)] -
                       radii[static_cast<size_t>(b)];
    return gap <= 0.0 || gap * gap - value_slack <= limit;
  };
  auto refresh_threshold = [&](int64_t a) {
    float top = -std::numeric_limits<float>::infinity();
    const int64_t begin = a * kQueryBlock, end = std::min(n, begin + kQueryBlock);
    for (int64_t s = begin; s < end; ++s) top = std::max(top, threshold_of(s));
    block_threshold[static_cast<size_t>(a)] = top;
  };

  auto run_pair = [&](int64_t a, int64_t b) {
    if (!can_offer(a, b)) return;
    thread_local std::vector<float> dists, thresholds, col_thresholds;
    thread_local std::vector<uint64_t> masks, col_masks;
    thread_local std::vector<Offer> offers;
    const int64_t a_begin = a * kQueryBlock;
    const int nq = static_cast<int>(std::min(n, a_begin + kQueryBlock) - a_begin);
    dists.resize(static_cast<size_t>(nq) * kTile);
    thresholds.resize(static_cast<size_t>(nq));
    masks.resize(static_cast<size_t>(nq));
    col_thresholds.resize(kTile);
    col_masks.resize(static_cast<size_t>(nq));
    for (int q = 0; q < nq; ++q) thresholds[q] = threshold_of(a_begin + q);
    const bool both = a != b;
    const int64_t t_end = std::min(NumBlocks(n, kTile), (b + 1) * kTilesPerBlock);
    for (int64_t t = b * kTilesPerBlock; t < t_end; ++t) {
      if (both)
        for (int r = 0; r < kTile; ++r)  // padding lanes (+inf values) never pass
          col_thresholds[r] = t * kTile + r < n ? threshold_of(t * kTile + r)
                                                : -std::numeric_limits<float>::infinity();
      dot_tile(&rows[static_cast<size_t>(a_begin * width)], width, nq,
               &tiles[static_cast<size_t>(t * width * kTile)], static_cast<int>(width),
               &norms[static_cast<size_t>(a_begin)], &norms[static_cast<size_t>(t * kTile)],
               thresholds.data(), dists.data(), masks.data(),
               both ? col_thresholds.data() : nullptr, col_masks.data());
      offers.clear();
      for (int q = 0; q < nq; ++q) {
        const int64_t s = a_begin + q;
        const float* dq = &dists[static_cast<size_t>(q) * kTile];
        for (uint64_t bits = masks[q]; bits != 0; bits &= bits - 1) {
          const int r = LowestBit(bits);
          const int64_t j = t * kTile + r;
          if (j != s && j < n) offers.push_back({s, j, dq[r]});
        }
        if (both)
          for (uint64_t bits = col_masks[q]; bits != 0; bits &= bits - 1) {
            const int r = LowestBit(bits);
            offers.push_back({t * kTile + r, s, dq[r]});
          }
      }
      consume(offers);
      for (int q = 0; q < nq; ++q)
        if (masks[q] != 0) thresholds[q] = threshold_of(a_begin + q);
    }
    refresh_threshold(a);
    if (both) refresh_threshold(b);
  };

  std::vector<int64_t> firsts;
  for (int64_t delta = 0; delta < n_blocks; ++delta) {
    for (int parity = 0; parity < (delta == 0 ? 1 : 2); ++parity) {
      firsts.clear();
      for (int64_t a = 0; a + delta < n_blocks; ++a)
        if (delta == 0 || (a / delta) % 2 == parity) firsts.push_back(a);
      pool.run(static_cast<int64_t>(firsts.size()),
               [&](int64_t p) { run_pair(firsts[p], firsts[p] + delta); });
    }
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
  SelectionRows sel = CentreAndRescale(X, n, d, pool);

  // High-dimensional rows are screened by the projection bound: the tiles then hold the
  // m + 1 bound coordinates, and a candidate's true float32 distance is computed only
  // when its bound can beat the row's current k-th distance.
  int m = 0;
  std::vector<float> bound_rows;
  if (d >= kProjectionMinFeatures) {
    const std::vector<double> basis =
        PrincipalSubspace(sel.rows.data(), n, d, ProjectedDims(d), pool);
    m = static_cast<int>(static_cast<int64_t>(basis.size()) / d);
    if (m > 0) bound_rows = BoundRows(sel, n, d, basis, m, kernels::GetProjectRows(level), pool);
  }
  const bool screened = m > 0;
  const int64_t tile_d = screened ? m + 1 : d;
  const float* tile_rows = screened ? bound_rows.data() : sel.rows.data();
  const float max_norm = *std::max_element(sel.norms.begin(), sel.norms.end());

  // The search runs over the rows in locality order: position s holds row perm[s]. Only
  // the order of the work changes: every pair's float32 value is computed as it would be
  // in input order, and the kept set is the k smallest by (value, input index).
  const std::vector<int32_t> perm = LocalityOrder(tile_rows, n, tile_d, pool);
  const int64_t n_tiles = NumBlocks(n, kTile);
  // Padding references get an infinite norm; their lanes are skipped.
  std::vector<float> norms(static_cast<size_t>(n_tiles * kTile),
                           std::numeric_limits<float>::infinity());
  // The rows in locality order twice: row-major (the queries) and transposed per tile.
  std::vector<float> tiles(static_cast<size_t>(n_tiles * tile_d * kTile), 0.0f);
  std::vector<float> ordered(static_cast<size_t>(n * tile_d));
  ParallelForRange(pool, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const float* row = tile_rows + int64_t{perm[s]} * tile_d;
      std::copy_n(row, tile_d, &ordered[static_cast<size_t>(s * tile_d)]);
      float* tile = &tiles[static_cast<size_t>((s / kTile) * tile_d * kTile)];
      const int64_t lane = s % kTile;
      for (int64_t f = 0; f < tile_d; ++f) tile[f * kTile + lane] = row[f];
      norms[s] = sel.norms[perm[s]];
    }
  });
  // The rows the search started from are not read again (the screened search's true
  // distances read sel.rows, the final ones X).
  if (screened) {
    std::vector<float>().swap(bound_rows);
  } else {
    std::vector<float>().swap(sel.rows);
  }
  // Every row's k smallest offers so far, by position.
  const int64_t capacity = TopK::Capacity(k);
  std::vector<std::pair<float, int32_t>> heap_buffer(static_cast<size_t>(n * capacity));
  std::vector<TopK> heaps;
  heaps.reserve(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; ++s)
    heaps.emplace_back(&heap_buffer[static_cast<size_t>(s * capacity)], k);

  if (!screened) {
    SymmetricSearch(
        ordered, tiles, norms, n, tile_d, dot_tile, pool,
        [&](const std::vector<Offer>& offers) {
          for (const Offer& o : offers) heaps[o.s].push(std::max(o.value, 0.0f), perm[o.j]);
        },
        [&](int64_t s) { return heaps[s].threshold(); });
  } else {
    // An offer is a candidate whose bound can beat the row's current k-th true distance:
    // its true distance decides. Candidates' rows are scattered over memory: they are
    // evaluated with the rows a few candidates ahead prefetched (latency-bound).
    auto row_of = [&](int64_t s) { return &sel.rows[static_cast<size_t>(perm[s]) * d]; };
    SymmetricSearch(
        ordered, tiles, norms, n, tile_d, dot_tile, pool,
        [&](const std::vector<Offer>& offers) {
          const size_t size = offers.size();
          for (size_t b = 0; b < std::min<size_t>(kPrefetchAhead, size); ++b)
            PrefetchRow(row_of(offers[b].j), d);
          for (size_t b = 0; b < size; ++b) {
            if (b + kPrefetchAhead < size) PrefetchRow(row_of(offers[b + kPrefetchAhead].j), d);
            const Offer& o = offers[b];
            heaps[o.s].push(squared_distance(row_of(o.s), row_of(o.j), d), perm[o.j]);
          }
        },
        [&](int64_t s) { return heaps[s].threshold() + kBoundSlack * (norms[s] + max_norm); });
  }

  // Exact float64 distances for the kept neighbours, then sort by (distance, index).
  ParallelForRange(pool, n, kQueryBlock, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> kept(static_cast<size_t>(k));
    for (int64_t s = begin; s < end; ++s) {
      const std::pair<float, int32_t>* pairs = heaps[static_cast<size_t>(s)].Finish();
      for (int64_t m = 0; m < k; ++m) kept[static_cast<size_t>(m)] = pairs[m].second;
      const int64_t i = perm[s];
      SortRowByDistance(X + i * d, X, d, kept.data(), k, squared_distance64,
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
      SortRowByDistance(X + i * d, X, d, row.data(), k, squared_distance64, indices + i * k,
                        out_sq_distances + i * k);
    }
  });
}

template <typename T>
void QueryKnn(const T* reference, int64_t n_ref, const T* queries, int64_t n_queries, int64_t d,
              int64_t k, SimdLevel level, ThreadPool& pool, int32_t* out_indices,
              float* out_sq_distances) {
  ACCTSNE_CHECK(n_ref >= 1 && d >= 1, "kNN query needs a reference of at least 1 row and 1 "
                "feature, got ", n_ref, " x ", d);
  ACCTSNE_CHECK(k >= 1 && k <= n_ref, "n_neighbors must be in [1, ", n_ref, "], got ", k);
  ACCTSNE_CHECK(n_ref < std::numeric_limits<int32_t>::max(), "too many samples for kNN: ", n_ref);
  if (n_queries == 0) return;
  const kernels::DotTileFn dot_tile = kernels::GetDotTile(level);
  const kernels::SquaredDistance64Fn squared_distance64 = kernels::GetSquaredDistance64(level);

  // Both sides mapped by the reference's centring, so a query's float32 values depend on
  // the reference and the query alone.
  const Centring centring = CentringOf(reference, n_ref, d);
  for (int64_t e = 0; e < n_queries * d; ++e)
    if (!std::isfinite(static_cast<double>(queries[e])))
      throw NumericalError("kNN: input contains non-finite values");
  SelectionRows ref = ApplyCentring(reference, n_ref, d, centring, pool);
  const SelectionRows query = ApplyCentring(queries, n_queries, d, centring, pool);
  const int64_t n_tiles = NumBlocks(n_ref, kTile);
  std::vector<float> norms(static_cast<size_t>(n_tiles * kTile),
                           std::numeric_limits<float>::infinity());
  std::vector<float> tiles(static_cast<size_t>(n_tiles * d * kTile), 0.0f);
  ParallelForRange(pool, n_ref, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const float* row = &ref.rows[static_cast<size_t>(j * d)];
      float* tile = &tiles[static_cast<size_t>((j / kTile) * d * kTile)];
      for (int64_t f = 0; f < d; ++f) tile[f * kTile + j % kTile] = row[f];
      norms[static_cast<size_t>(j)] = ref.norms[static_cast<size_t>(j)];
    }
  });
  std::vector<float>().swap(ref.rows);

  // Each block of queries sweeps every tile; its rows keep the k_sel = k + kQueryExtra
  // smallest (value, index) offers. Those get exact float64 distances and the first k by
  // (distance, index) are the answer, unless a float32 rounding could hide a closer (or
  // tied, lower-index) row: then the row is searched exhaustively in float64. So the result
  // is the exact k nearest with ties to the lower index.
  const int64_t k_sel = std::min(n_ref, k + kQueryExtra);
  const float max_norm = *std::max_element(norms.begin(), norms.begin() + n_ref);
  const double scale2 = centring.scale * centring.scale;
  ParallelForRange(pool, n_queries, kQueryBlock, [&](int64_t begin, int64_t end) {
    const int nq = static_cast<int>(end - begin);
    const int64_t capacity = TopK::Capacity(k_sel);
    std::vector<std::pair<float, int32_t>> buffer(static_cast<size_t>(nq * capacity));
    std::vector<TopK> heaps;
    heaps.reserve(static_cast<size_t>(nq));
    for (int q = 0; q < nq; ++q)
      heaps.emplace_back(&buffer[static_cast<size_t>(q * capacity)], k_sel);
    std::vector<float> dists(static_cast<size_t>(nq) * kTile), thresholds(static_cast<size_t>(nq));
    std::vector<uint64_t> masks(static_cast<size_t>(nq)), unused(static_cast<size_t>(nq));
    for (int q = 0; q < nq; ++q) thresholds[q] = heaps[q].threshold();
    for (int64_t t = 0; t < n_tiles; ++t) {
      pool.check_interrupt();
      dot_tile(&query.rows[static_cast<size_t>(begin * d)], d, nq,
               &tiles[static_cast<size_t>(t * d * kTile)], static_cast<int>(d),
               &query.norms[static_cast<size_t>(begin)], &norms[static_cast<size_t>(t * kTile)],
               thresholds.data(), dists.data(), masks.data(), nullptr, unused.data());
      for (int q = 0; q < nq; ++q) {
        if (masks[q] == 0) continue;
        const float* dq = &dists[static_cast<size_t>(q) * kTile];
        for (uint64_t bits = masks[q]; bits != 0; bits &= bits - 1) {
          const int r = LowestBit(bits);
          const int64_t j = t * kTile + r;
          if (j < n_ref) heaps[q].push(std::max(dq[r], 0.0f), static_cast<int32_t>(j));
        }
        thresholds[q] = heaps[q].threshold();
      }
    }
    std::vector<std::pair<double, int32_t>> row;
    for (int q = 0; q < nq; ++q) {
      const int64_t i = begin + q;
      const T* xi = queries + i * d;
      const std::pair<float, int32_t>* pairs = heaps[q].Finish();
      float v_last = 0.0f;
      row.resize(static_cast<size_t>(k_sel));
      for (int64_t m = 0; m < k_sel; ++m) {
        v_last = std::max(v_last, pairs[m].first);
        row[static_cast<size_t>(m)] = {ExactSquaredDistance(xi, reference + int64_t{pairs[m].second} * d,
                                                            d, squared_distance64),
                                       pairs[m].second};
      }
      std::sort(row.begin(), row.end());
      // Every row left out has a float32 value >= v_last, so an exact distance of at least
      // v_last - error; the kept k-th must be below that (in the selection's units).
      const double error = kQuerySlack * (static_cast<double>(d) + 4.0) *
                           (static_cast<double>(query.norms[static_cast<size_t>(i)]) + max_norm);
      const bool complete = k_sel == n_ref || row[static_cast<size_t>(k - 1)].first * scale2 <
                                                   static_cast<double>(v_last) - error;
      if (!complete) {
        row.resize(static_cast<size_t>(n_ref));
        for (int64_t j = 0; j < n_ref; ++j)
          row[static_cast<size_t>(j)] = {ExactSquaredDistance(xi, reference + j * d, d,
                                                              squared_distance64),
                                         static_cast<int32_t>(j)};
        std::partial_sort(row.begin(), row.begin() + k, row.end());
      }
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
template void RefineNeighbors<float>(const float*, int64_t, int64_t, int64_t, SimdLevel,
                                     ThreadPool&, int32_t*, float*);
template void RefineNeighbors<double>(const double*, int64_t, int64_t, int64_t, SimdLevel,
                                      ThreadPool&, int32_t*, float*);

template void QueryKnn<float>(const float*, int64_t, const float*, int64_t, int64_t, int64_t,
                              SimdLevel, ThreadPool&, int32_t*, float*);
template void QueryKnn<double>(const double*, int64_t, const double*, int64_t, int64_t, int64_t,
                               SimdLevel, ThreadPool&, int32_t*, float*);

}  // namespace acctsne
