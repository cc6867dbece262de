// Exact k-nearest neighbours in squared Euclidean distance, by blocked brute force.
//
// Selection runs in float32 on a centred and rescaled copy of X (ranking is invariant
// to translation and uniform scaling, and the rescaling keeps values near 1, so inputs
// around 1e30 or 1e-30 neither overflow nor lose precision), using the expansion
// ||x||^2 + ||y||^2 - 2 x.y with a SIMD dot-product kernel (kernels/). The k distances
// finally kept are then recomputed exactly in float64 from the original X.
//
// The rows are searched in a kd-tree locality order, in blocks of rows, each pair of
// blocks once: a pair's float32 values are the same from either side, so one kernel call
// serves both blocks' rows. Pairs of nearby blocks come first, so every row's k-th
// distance is close to final early and few later entries reach the selection. Only the
// order of the work changes: each pair's float32 value is the same, and the kept set is
// the k smallest by (value, input index) whatever the order.
//
// Pairs of blocks that cannot offer anything are skipped: the rows of a block lie in a
// ball around its centre, so the gap between two balls bounds every value of the pair
// from below (less the expansion's rounding); once it exceeds the k-th distance of every
// row of both blocks, the pair's tiles are not computed. The kept sets do not change. On
// data with cluster structure most pairs are skipped (1M 50-d points in 10 clusters, 2
// threads: 72 s instead of ~11 min), on data without it the test costs ~nothing.
//
// Wide rows (>= 256 features, e.g. raw MNIST) are screened instead: the kernel runs on the
// m + 1 coordinates of a lower bound (projection on the leading principal subspace plus
// the residual norm, acctsne/projection.h), and only pairs whose bound can beat the row's
// current k-th distance get their true distance computed (~1% of pairs on MNIST). The
// bound is a true lower bound (up to a rounding slack), so the result is still the exact
// top k. As in
// sklearn's kneighbors(X=None), each sample is excluded from its own neighbours by index
// (a duplicate row is still a neighbour at distance 0). Ties go to the lower index.
#pragma once

#include <cstdint>

#include "acctsne/parallel.h"
#include "acctsne/simd.h"

namespace acctsne {

// X: row-major n x d (T = float or double). Writes, for every row i, its k nearest
// other rows in increasing distance: indices (n x k) and squared distances (n x k).
template <typename T>
void ExactKnn(const T* X, int64_t n, int64_t d, int64_t k, SimdLevel level, ThreadPool& pool,
              int32_t* out_indices, float* out_sq_distances);

// The k nearest reference rows of every query row (TSNE.transform): no row is excluded (a
// query equal to a reference row finds it at distance 0). Selection in float32 with the
// reference's centring, then exact float64 distances and (distance, index) order, as in
// ExactKnn. A query's result depends on that query and the reference only: the same for
// any split of the queries and any thread count.
template <typename T>
void QueryKnn(const T* reference, int64_t n_ref, const T* queries, int64_t n_queries, int64_t d,
              int64_t k, SimdLevel level, ThreadPool& pool, int32_t* out_indices,
              float* out_sq_distances);

// For a neighbour graph found elsewhere (an approximate search): indices (n x k, each row
// k distinct other rows) are sorted in place by exact float64 distance, ties by index,
// and the squared distances written (n x k). Invalid indices raise InvalidArgument.
template <typename T>
void RefineNeighbors(const T* X, int64_t n, int64_t d, int64_t k, SimdLevel level,
                     ThreadPool& pool, int32_t* indices, float* out_sq_distances);

}  // namespace acctsne
