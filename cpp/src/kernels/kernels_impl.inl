// Portable kernel bodies, included by each kernels_<level>.cpp and compiled with that
// level's flags. Vectorised across reference lanes, never across a reduction, so every
// level adds the terms of each dot product in the same order.
// (No include guard on purpose: one inclusion per translation unit.)
#include <cstdint>

#include "kernels/kernels.h"

namespace acctsne::kernels {
namespace {

// Register tile: kRows query rows x kLanes reference columns of accumulators.
template <int kLanes>
inline void DotTileImpl(const float* __restrict queries, int64_t ld, int nq,
                        const float* __restrict tile, int n_features, float* __restrict out) {
  constexpr int kRows = 4;
  int q = 0;
  for (; q + kRows <= nq; q += kRows) {
    const float* a0 = queries + (q + 0) * ld;
    const float* a1 = queries + (q + 1) * ld;
    const float* a2 = queries + (q + 2) * ld;
    const float* a3 = queries + (q + 3) * ld;
    for (int r0 = 0; r0 < kRefTile; r0 += kLanes) {
      float acc0[kLanes] = {}, acc1[kLanes] = {}, acc2[kLanes] = {}, acc3[kLanes] = {};
      for (int f = 0; f < n_features; ++f) {
        const float* b = tile + static_cast<int64_t>(f) * kRefTile + r0;
        const float x0 = a0[f], x1 = a1[f], x2 = a2[f], x3 = a3[f];
        for (int l = 0; l < kLanes; ++l) {
          acc0[l] += x0 * b[l];
          acc1[l] += x1 * b[l];
          acc2[l] += x2 * b[l];
          acc3[l] += x3 * b[l];
        }
      }
      for (int l = 0; l < kLanes; ++l) {
        out[(q + 0) * kRefTile + r0 + l] = acc0[l];
        out[(q + 1) * kRefTile + r0 + l] = acc1[l];
        out[(q + 2) * kRefTile + r0 + l] = acc2[l];
        out[(q + 3) * kRefTile + r0 + l] = acc3[l];
      }
    }
  }
  for (; q < nq; ++q) {
    const float* a = queries + q * ld;
    for (int r0 = 0; r0 < kRefTile; r0 += kLanes) {
      float acc[kLanes] = {};
      for (int f = 0; f < n_features; ++f) {
        const float* b = tile + static_cast<int64_t>(f) * kRefTile + r0;
        const float x = a[f];
        for (int l = 0; l < kLanes; ++l) acc[l] += x * b[l];
      }
      for (int l = 0; l < kLanes; ++l) out[q * kRefTile + r0 + l] = acc[l];
    }
  }
}

}  // namespace
}  // namespace acctsne::kernels
