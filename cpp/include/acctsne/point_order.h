// A locality order of the points from their neighbour graph, and the permutation of a
// CSR matrix's rows into it.
//
// The attraction gathers y_j for every entry j of row i of P. At a million points the
// embedding (8 MB) outgrows a core's L2 cache, and P (~1.3 GB) must stream: both go fast
// only when P's rows are stored in an order in which consecutive rows' neighbours have
// nearby indices. The embedding's Morton order (the engine's usual relabelling) gives
// that once the embedding reflects P's graph, not at the start of a fit, when the initial
// embedding (PCA, random) says little about who is whose neighbour; and relabelling
// leaves P's rows where they are. So large fits put their points, before P is built, in
// the breadth-first order of the kNN graph (Cuthill-McKee without the degree sort): a
// point's neighbours get nearby indices, and separate components (clusters) separate
// ranges. On a 1M-point 10-cluster mixture this halves the attraction's time.
#pragma once

#include <cstdint>
#include <vector>

#include "acctsne/parallel.h"

namespace acctsne {

// The breadth-first order of a graph given as CSR (n rows, column indices in [0, n)),
// its edges taken both ways: order[s] is the index of the s-th point visited. Walks from
// the lowest-index unvisited point, each point's out-edges in storage order, then its
// in-edges by source index; serial, deterministic. Transient memory: the reverse graph.
std::vector<int32_t> BreadthFirstOrder(const int64_t* indptr, const int32_t* indices, int64_t n);

// Rows of a CSR matrix in a new order: output row s is input row order[s], its values
// copied (with `relabel`, each int32 value v becomes relabel[v]: the column indices of
// a matrix whose columns are permuted too). out_indptr has n + 1 entries; out_values
// indptr[n] entries.
template <typename T>
void PermuteRows(const int64_t* indptr, const T* values, int64_t n, const int32_t* order,
                 const int32_t* relabel, ThreadPool& pool, int64_t* out_indptr, T* out_values);

}  // namespace acctsne
