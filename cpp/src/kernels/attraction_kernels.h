// The per-entry (attractive) part of the t-SNE gradient and of the KL divergence, over
// the rows of P (entries p_e = data[e] * p_scale; row r is point i = P.PointOfRow(r)):
//   AttractImpl  out_i = sum_e p_e w_e (y_i - y_j),  w = (dof / (dof + |y_i - y_j|^2))^((dof + 1) / 2)
//   AttractHeavyTailImpl  the same with u = alpha / (alpha + |y_i - y_j|^2) for w
//   LogSumImpl   sum_i sum_e p_e log(1 + |y_i - y_j|^2 / dof)
// Lanes take W consecutive entries of a row (gathered neighbour coordinates).
#pragma once

#include <cstdint>

#include "acctsne/common.h"
#include "kernels/fast_math.h"
#include "kernels/kernels.h"
#include "kernels/vector_lanes.h"

namespace acctsne::kernels {
// Internal linkage on purpose: every kernels_<level>.cpp compiles these templates with
// its own ISA flags, and a shared (inline, external) instantiation would let the linker
// keep one level's code for all of them.
namespace {

// Walks row r of P, the row of point i, a vector of W entries at a time, calling
//   visit(p, diff, d2): p = data[e] * p_scale, diff[a] = y_i[a] - y_j[a], d2 = |diff|^2
// with j = indices[e] in lane e mod W. The row's remainder is padded with entries
// (i, p = 0), which add exactly 0 to both kernels (p = 0, and diff = 0 so log(1) = 0).
template <int kDims, int W, typename Visit>
__attribute__((always_inline)) inline void ForEachEntryVector(const CsrView& P, float p_scale,
                                                              const float* Y, int64_t r,
                                                              int64_t i, Visit&& visit) {
  using V = typename Lanes<W>::F;
  float yi[kDims];
  for (int a = 0; a < kDims; ++a) yi[a] = Y[i * kDims + a];
  alignas(64) int32_t tail_idx[W];
  alignas(64) float tail_p[W];
  const int64_t row_stop = P.indptr[r + 1];
  for (int64_t e = P.indptr[r]; e < row_stop; e += W) {
    const int32_t* idx = P.indices + e;
    const float* pe = P.data + e;
    const int64_t left = row_stop - e;
    if (left < W) {
      for (int l = 0; l < W; ++l) {
        tail_idx[l] = l < left ? idx[l] : static_cast<int32_t>(i);
        tail_p[l] = l < left ? pe[l] : 0.0f;
      }
      idx = tail_idx;
      pe = tail_p;
    }
    const V p = LoadLanes<V>(pe) * p_scale;
    V diff[kDims];
    GatherNeighbours<W, kDims, V>(Y, idx, diff);
    V d2 = V{};
    for (int a = 0; a < kDims; ++a) {
      diff[a] = yi[a] - diff[a];
      d2 += diff[a] * diff[a];
    }
    visit(p, diff, d2);
  }
}

// Lane sums are combined in lane order, so the result is fixed for a given level. alpha
// is read by the heavy-tailed kernel (kDof = kHeavyTailDof) only.
template <int kDims, int kDof, int W>
__attribute__((always_inline)) inline void AttractRows(const CsrView& P, float p_scale,
                                                       const float* Y, int64_t row_begin,
                                                       int64_t row_end, float alpha,
                                                       float* out) {
  using V = typename Lanes<W>::F;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t i = P.PointOfRow(r);
    V acc[kDims];
    for (int a = 0; a < kDims; ++a) acc[a] = V{};
    ForEachEntryVector<kDims, W>(
        P, p_scale, Y, r, i, [&](V p, const V* diff, V d2) __attribute__((always_inline)) {
          V w;
          if constexpr (kDof == 1) {
            w = 1.0f / (1.0f + d2);  // (a reciprocal estimate measured slower here: the
          } else if constexpr (kDof == 2) {  // gathers, not the divider, bound this loop)
            const V x = 2.0f / (2.0f + d2);
            w = x * SqrtLanes<W>(x);
          } else {
            static_assert(kDof == kHeavyTailDof, "dof 1, 2 or the heavy-tailed kernel");
            w = alpha / (alpha + d2);  // u: the heavy-tailed gradient's attraction factor
          }
          const V m = p * w;
          for (int a = 0; a < kDims; ++a) acc[a] += m * diff[a];
        });
    for (int a = 0; a < kDims; ++a) {
      float s = 0.0f;
      for (int l = 0; l < W; ++l) s += acc[a][l];
      out[i * kDims + a] = s;
    }
  }
}

template <int kDims, int kDof, int W>
inline void AttractImpl(const CsrView& P, float p_scale, const float* Y, int64_t row_begin,
                        int64_t row_end, float* out) {
  AttractRows<kDims, kDof, W>(P, p_scale, Y, row_begin, row_end, 0.0f, out);  // (alpha unused)
}

template <int kDims, int W>
inline void AttractHeavyTailImpl(const CsrView& P, float p_scale, const float* Y,
                                 int64_t row_begin, int64_t row_end, float alpha, float* out) {
  AttractRows<kDims, kHeavyTailDof, W>(P, p_scale, Y, row_begin, row_end, alpha, out);
}

// Row sums in float lanes, each row's lanes added in lane order in double.
template <int kDims, int W>
inline double LogSumImpl(const CsrView& P, float p_scale, const float* Y, int64_t row_begin,
                         int64_t row_end, float dof) {
  using V = typename Lanes<W>::F;
  double total = 0.0;
  for (int64_t r = row_begin; r < row_end; ++r) {
    V acc = V{};
    ForEachEntryVector<kDims, W>(P, p_scale, Y, r, P.PointOfRow(r),
                                 [&](V p, const V*, V d2) __attribute__((always_inline)) {
                                   acc += p * LogLanes<W>(1.0f + d2 / dof);
                                 });
    double row = 0.0;
    for (int l = 0; l < W; ++l) row += acc[l];
    total += row;
  }
  return total;
}

}  // namespace
}  // namespace acctsne::kernels
