// ExactKnn (acctsne/knn.h) split into blocks of rows, for a search whose rows are spread
// over several machines (acctsne.dask): the same kept neighbours and the same distances,
// bit for bit, whatever the split.
//
// ExactKnn keeps, for every row i, the k other rows j with the smallest (value(i, j), j),
// where value is a float32 selection value in X's centring, and then reports those k by
// exact float64 distance. That set does not depend on the order in which the pairs are
// seen, so the search can be cut into steps:
//   1. the centring: AccumulateColumnSums over the blocks in row order (the mean's sums
//      are then those of one pass over X), then max |x - mean| over every block;
//   2. for each block of query rows, one BlockKnnStep per block of reference rows (any
//      order): each step folds the block's pairs into the query rows' k best so far and
//      gives the new entries their exact distances;
//   3. the rows' k entries sorted by (exact distance, index): ExactKnn's output.
// The selection value is ExactKnn's: the expansion |q|^2 + |r|^2 - 2 q.r of the centred
// float32 rows (SIMD dot tile), or, for rows of kProjectionMinFeatures (256) features or
// more, their float32 squared distance (the value of ExactKnn's screened search), with the
// expansion as a pre-filter. A step skips pairs of 256-row sub-blocks whose bounding balls
// are too far apart to offer anything, as ExactKnn does. (One corner differs: wide rows
// whose sampled rows all sit exactly at the mean give ExactKnn no principal direction,
// and it then ranks by the expansion.)
#pragma once

#include <cstdint>

#include "acctsne/parallel.h"
#include "acctsne/simd.h"

namespace acctsne {

// Adds X's rows (n x d), in row order, to sums (d): call it on the blocks in row order.
template <typename T>
void KnnColumnSums(const T* X, int64_t n, int64_t d, double* sums);

// max |x - mean| over X's entries; raises NumericalError for non-finite input.
template <typename T>
double KnnMaxAbsDeviation(const T* X, int64_t n, int64_t d, const double* mean);

// One step of the blocked search. queries: n_queries x d rows, global indices
// query_start + q; reference: n_ref x d rows, global indices reference_start + r; mean (d)
// and max_abs: X's centring (steps 1 above). State (n_queries x k each, updated in place):
// values (float32 selection values, +inf where empty), ids (global indices, INT32_MAX
// where empty) and exact (float64 squared distances, +inf where empty), unordered. A row
// never keeps itself (same global index).
template <typename T>
void BlockKnnStep(const T* queries, int64_t n_queries, int64_t query_start, const T* reference,
                  int64_t n_ref, int64_t reference_start, int64_t d, int64_t k,
                  const double* mean, double max_abs, SimdLevel level, ThreadPool& pool,
                  float* values, int32_t* ids, double* exact);

}  // namespace acctsne
