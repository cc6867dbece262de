// Locality order of a neighbour graph and row permutation; see acctsne/point_order.h.
#include "acctsne/point_order.h"

#include <algorithm>
#include <type_traits>

#include "acctsne/common.h"

namespace acctsne {

std::vector<int32_t> BreadthFirstOrder(const int64_t* indptr, const int32_t* indices, int64_t n) {
  ACCTSNE_CHECK(n >= 0 && indptr[0] == 0, "bad graph: n=", n);
  for (int64_t e = 0; e < indptr[n]; ++e)
    ACCTSNE_CHECK(indices[e] >= 0 && indices[e] < n, "graph index ", indices[e],
                  " out of range [0, ", n, ")");
  // The reverse edges too (a counting-sort transpose): a kNN graph's edges point one way,
  // and a point that is no one's neighbour (many are, in high dimensions) would
  // otherwise only be reached as a new start, after its whole cluster.
  std::vector<int64_t> rev_indptr(static_cast<size_t>(n) + 1, 0);
  for (int64_t e = 0; e < indptr[n]; ++e) ++rev_indptr[indices[e] + 1];
  for (int64_t i = 0; i < n; ++i) rev_indptr[i + 1] += rev_indptr[i];
  std::vector<int32_t> rev_indices(static_cast<size_t>(indptr[n]));
  {
    std::vector<int64_t> next(rev_indptr.begin(), rev_indptr.end() - 1);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t e = indptr[i]; e < indptr[i + 1]; ++e)
        rev_indices[next[indices[e]]++] = static_cast<int32_t>(i);
  }
  std::vector<int32_t> order;
  order.reserve(static_cast<size_t>(n));
  std::vector<char> seen(static_cast<size_t>(n), 0);
  auto visit = [&](int32_t j) {
    if (seen[j]) return;
    seen[j] = 1;
    order.push_back(j);
  };
  for (int64_t start = 0; start < n; ++start) {
    if (seen[start]) continue;
    seen[start] = 1;
    size_t head = order.size();  // the queue is the tail of `order` itself
    order.push_back(static_cast<int32_t>(start));
    while (head < order.size()) {
      const int64_t i = order[head++];
      for (int64_t e = indptr[i]; e < indptr[i + 1]; ++e) visit(indices[e]);
      for (int64_t e = rev_indptr[i]; e < rev_indptr[i + 1]; ++e) visit(rev_indices[e]);
    }
  }
  return order;
}

template <typename T>
void PermuteRows(const int64_t* indptr, const T* values, int64_t n, const int32_t* order,
                 const int32_t* relabel, ThreadPool& pool, int64_t* out_indptr, T* out_values) {
  out_indptr[0] = 0;
  for (int64_t s = 0; s < n; ++s) {
    const int64_t r = order[s];
    ACCTSNE_CHECK(r >= 0 && r < n, "order entry ", r, " out of range [0, ", n, ")");
    out_indptr[s + 1] = out_indptr[s] + (indptr[r + 1] - indptr[r]);
  }
  ACCTSNE_CHECK(out_indptr[n] == indptr[n], "order is not a permutation");
  if constexpr (std::is_same_v<T, int32_t>) {
    for (int64_t e = 0; relabel && e < indptr[n]; ++e)
      ACCTSNE_CHECK(values[e] >= 0 && values[e] < n, "index ", values[e], " out of range [0, ",
                    n, ")");
  }
  ParallelForRange(pool, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t r = order[s];
      const T* from = values + indptr[r];
      T* to = out_values + out_indptr[s];
      const int64_t len = indptr[r + 1] - indptr[r];
      if constexpr (std::is_same_v<T, int32_t>) {
        if (relabel) {
          for (int64_t e = 0; e < len; ++e) to[e] = relabel[from[e]];
          continue;
        }
      }
      std::copy_n(from, len, to);
    }
  });
}

template void PermuteRows<int32_t>(const int64_t*, const int32_t*, int64_t, const int32_t*,
                                   const int32_t*, ThreadPool&, int64_t*, int32_t*);
template void PermuteRows<float>(const int64_t*, const float*, int64_t, const int32_t*,
                                 const int32_t*, ThreadPool&, int64_t*, float*);

}  // namespace acctsne
