// Distance kernels of the kNN search (contracts in kernels.h):
//   DotTileImpl            out[q][r] = |x_q|^2 + |t_r|^2 - 2 x_q . t_r over a 64-wide
//                          packed reference tile, plus <= threshold bit masks
//   SquaredDistanceImpl    sum_f (a_f - b_f)^2 in float, kDistanceSums interleaved sums
//   SquaredDistance64Impl  the same in float64, kDistanceSums64 interleaved sums
// Vectorised across references or interleaved partial sums, never across one reduction
// chain, so every level adds the terms of each sum in the same order.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/vector_lanes.h"

namespace acctsne::kernels {
// Internal linkage on purpose: every kernels_<level>.cpp compiles these templates with
// its own ISA flags, and a shared (inline, external) instantiation would let the linker
// keep one level's code for all of them.
namespace {

// Register tile: kRows query rows x kVectors vectors of references, accumulators in
// registers. AVX-512 has 32 registers: 4 x 4 keeps 16 independent FMA chains in flight
// (two FMA ports x four cycles of latency need at least 8) and loads one reference vector
// per four FMAs; 16-register ISAs keep 4 x 2.
template <int W>
inline void DotTileImpl(const float* __restrict queries, int64_t ld, int nq,
                        const float* __restrict tile, int n_features,
                        const float* __restrict q_norms, const float* __restrict tile_norms,
                        const float* __restrict thresholds, float* __restrict out,
                        uint64_t* __restrict masks, const float* __restrict col_thresholds,
                        uint64_t* __restrict col_masks) {
  using V = typename Lanes<W>::F;
  constexpr int kRows = 4;
  constexpr int kVectors = W == 16 ? 4 : 2;
  static_assert(kRefTile % (kVectors * W) == 0, "tile width must hold whole register tiles");
  for (int q0 = 0; q0 < nq; q0 += kRows) {
    const int rows = nq - q0 < kRows ? nq - q0 : kRows;
    const float* a[kRows];
    for (int r = 0; r < kRows; ++r) a[r] = queries + (q0 + (r < rows ? r : 0)) * ld;
    for (int c0 = 0; c0 < kRefTile; c0 += kVectors * W) {
      V acc[kRows][kVectors];
      for (int r = 0; r < kRows; ++r)
        for (int v = 0; v < kVectors; ++v) acc[r][v] = V{};
      const float* b = tile + c0;
      for (int f = 0; f < n_features; ++f, b += kRefTile) {
        V bv[kVectors];
        for (int v = 0; v < kVectors; ++v) bv[v] = LoadLanes<V>(b + v * W);
        for (int r = 0; r < kRows; ++r) {
          const float x = a[r][f];
          for (int v = 0; v < kVectors; ++v) acc[r][v] += x * bv[v];
        }
      }
      for (int v = 0; v < kVectors; ++v) {
        const V tn = LoadLanes<V>(tile_norms + c0 + v * W);
        for (int r = 0; r < rows; ++r)
          StoreLanes(out + (q0 + r) * kRefTile + c0 + v * W, q_norms[q0 + r] + tn - 2.0f * acc[r][v]);
      }
    }
  }
  for (int q = 0; q < nq; ++q) {
    uint64_t bits = 0;
    for (int c0 = 0; c0 < kRefTile; c0 += W)
      bits |= AtMostMask<W>(out + q * kRefTile + c0, thresholds[q]) << c0;
    masks[q] = bits;
  }
  if (col_thresholds == nullptr) return;
  for (int q = 0; q < nq; ++q) {
    uint64_t bits = 0;
    for (int c0 = 0; c0 < kRefTile; c0 += W)
      bits |= AtMostEachMask<W>(out + q * kRefTile + c0, col_thresholds + c0) << c0;
    col_masks[q] = bits;
  }
}

template <int W>
inline float SquaredDistanceImpl(const float* __restrict a, const float* __restrict b,
                                 int64_t n) {
  using V = typename Lanes<W>::F;
  constexpr int kVectors = kDistanceSums / W;
  V acc[kVectors];
  for (int v = 0; v < kVectors; ++v) acc[v] = V{};
  int64_t f = 0;
  for (; f + kDistanceSums <= n; f += kDistanceSums) {
    for (int v = 0; v < kVectors; ++v) {
      const V diff = LoadLanes<V>(a + f + v * W) - LoadLanes<V>(b + f + v * W);
      acc[v] += diff * diff;
    }
  }
  float sums[kDistanceSums];
  __builtin_memcpy(sums, acc, sizeof(sums));
  for (int l = 0; f < n; ++f, ++l) {
    const float diff = a[f] - b[f];
    sums[l] += diff * diff;
  }
  float total = 0.0f;
  for (int l = 0; l < kDistanceSums; ++l) total += sums[l];
  return total;
}

// Eight doubles per step whatever the ISA (one, two or four native vectors), feature f
// in partial sum f % 8, so the partial sums are the same at every level.
template <int W>
inline double SquaredDistance64Impl(const float* __restrict a, const float* __restrict b,
                                    int64_t n) {
  using D = typename DoubleLanes<W>::D;
  using F = typename DoubleLanes<W>::F;
  constexpr int kWidth = W / 2;
  constexpr int kParts = 8 / kWidth;
  static_assert(kDistanceSums64 == 8, "eight partial sums");
  D acc[kParts] = {};
  int64_t f = 0;
  for (; f + 8 <= n; f += 8) {
    for (int part = 0; part < kParts; ++part) {
      F av, bv;
      __builtin_memcpy(&av, a + f + part * kWidth, sizeof(av));
      __builtin_memcpy(&bv, b + f + part * kWidth, sizeof(bv));
      const D diff = __builtin_convertvector(av, D) - __builtin_convertvector(bv, D);
      acc[part] += diff * diff;
    }
  }
  double sums[8];
  for (int l = 0; l < 8; ++l) sums[l] = acc[l / kWidth][l % kWidth];
  for (int l = 0; f < n; ++f, ++l) {
    const double diff = static_cast<double>(a[f]) - static_cast<double>(b[f]);
    sums[l] += diff * diff;
  }
  return SumOfEight(sums);
}

}  // namespace
}  // namespace acctsne::kernels
