// Projections of rows onto a basis, in float64 (the kNN search's lower bounds):
//   out[i][c] = sum_f rows[i][f] basis_t[f][c], each sum one chain in f order.
#pragma once

#include <cstdint>

#include "kernels/vector_lanes.h"

namespace acctsne::kernels {
// Internal linkage on purpose: every kernels_<level>.cpp compiles these templates with
// its own ISA flags, and a shared (inline, external) instantiation would let the linker
// keep one level's code for all of them.
namespace {

// Register tile of kRows rows x two native vectors of basis columns, accumulators in
// registers (8 of AVX2's 16); columns past the last whole tile one at a time. Each sum
// is one chain of multiply-adds in f order.
template <int W>
inline void ProjectRowsImpl(const float* __restrict rows, int64_t ld, int64_t n_rows, int64_t d,
                            const double* __restrict basis_t, int64_t m,
                            double* __restrict out) {
  using D = typename DoubleLanes<W>::D;
  constexpr int kWidth = W / 2;
  constexpr int kRows = 4;
  constexpr int kCols = 2 * kWidth;
  for (int64_t i0 = 0; i0 < n_rows; i0 += kRows) {
    const int rows_here = n_rows - i0 < kRows ? static_cast<int>(n_rows - i0) : kRows;
    const float* x[kRows];
    for (int r = 0; r < kRows; ++r) x[r] = rows + (i0 + (r < rows_here ? r : 0)) * ld;
    int64_t c0 = 0;
    for (; c0 + kCols <= m; c0 += kCols) {
      D acc[kRows][2] = {};
      const double* b = basis_t + c0;
      for (int64_t f = 0; f < d; ++f, b += m) {
        D bv[2];
        __builtin_memcpy(&bv[0], b, sizeof(D));
        __builtin_memcpy(&bv[1], b + kWidth, sizeof(D));
        for (int r = 0; r < kRows; ++r) {
          const double xf = x[r][f];
          acc[r][0] += xf * bv[0];
          acc[r][1] += xf * bv[1];
        }
      }
      for (int r = 0; r < rows_here; ++r) {
        __builtin_memcpy(out + (i0 + r) * m + c0, &acc[r][0], sizeof(D));
        __builtin_memcpy(out + (i0 + r) * m + c0 + kWidth, &acc[r][1], sizeof(D));
      }
    }
    for (; c0 < m; ++c0)
      for (int r = 0; r < rows_here; ++r) {
        double acc = 0.0;
        for (int64_t f = 0; f < d; ++f) acc += static_cast<double>(x[r][f]) * basis_t[f * m + c0];
        out[(i0 + r) * m + c0] = acc;
      }
  }
}

}  // namespace
}  // namespace acctsne::kernels
