// The Barnes-Hut interaction-list kernel (repulsion): for the points p of a group and
// the entries e (cells or points, count c_e) of their list,
//   w = (dof / (dof + |p - e|^2))^((dof + 1) / 2),  z_p += c_e w,  F_p += c_e w^2 (p - e)
// or with the heavy-tailed kernel (kDof = kHeavyTailDof, alpha at run time)
//   u = alpha / (alpha + |p - e|^2),  w = u^alpha,   z_p += c_e w,  F_p += c_e w u (p - e)
// Lanes are points, so every point sums its own interactions in list order.
#pragma once

#include "kernels/fast_math.h"
#include "kernels/kernels.h"
#include "kernels/vector_lanes.h"

namespace acctsne::kernels {
// Internal linkage on purpose: every kernels_<level>.cpp compiles these templates with
// its own ISA flags, and a shared (inline, external) instantiation would let the linker
// keep one level's code for all of them.
namespace {

template <int kDims, int kDof, int W, int kVecs, bool kCheckDuplicates>
__attribute__((always_inline)) inline void InteractRange(
    const typename Lanes<W>::F (*p)[kDims], const InteractionList& list, int e_begin,
    int e_end, float alpha, typename Lanes<W>::F (*f)[kDims], typename Lanes<W>::F* zs) {
  using V = typename Lanes<W>::F;
  using VI = typename Lanes<W>::I;
  const float kEps = 1e-6f;  // sklearn's duplicate tolerance
  for (int e = e_begin; e < e_end; ++e) {
    float entry[kDims];
    for (int a = 0; a < kDims; ++a) entry[a] = list.pos[a][e];
    const float count = list.count[e];
    // kVecs independent vectors of points per entry: their accumulators form separate
    // dependency chains (one chain would wait on the add latency every entry), and each
    // entry is loaded once for all of them. Every lane still sums in list order.
    for (int v = 0; v < kVecs; ++v) {
      V diff[kDims];
      V d2 = V{};
      VI near = VI{} - 1;  // all lanes true
      for (int a = 0; a < kDims; ++a) {
        diff[a] = p[v][a] - entry[a];
        d2 += diff[a] * diff[a];
        if constexpr (kCheckDuplicates) near &= (diff[a] <= kEps) & (diff[a] >= -kEps);
      }
      V w, g;  // the kernel, and the force's factor beyond c w (w itself but for heavy tails)
      if constexpr (kDof == 1) {
        w = ReciprocalLanes<W>(1.0f + d2);
        g = w;
      } else if constexpr (kDof == 2) {
        const V x = 2.0f * ReciprocalLanes<W>(2.0f + d2);
        w = x * SqrtLanes<W>(x);
        g = w;
      } else {
        static_assert(kDof == kHeavyTailDof, "dof 1, 2 or the heavy-tailed kernel");
        g = alpha * ReciprocalLanes<W>(alpha + d2);
        w = UnitPowLanes<W>(g, alpha);
      }
      V cw = count * w;
      if constexpr (kCheckDuplicates) cw = reinterpret_cast<V>(reinterpret_cast<VI>(cw) & ~near);
      zs[v] += cw;
      const V m = cw * g;
      for (int a = 0; a < kDims; ++a) f[v][a] += m * diff[a];
    }
  }
}

// Applies the list to kVecs consecutive vectors of points starting at lane l0.
template <int kDims, int kDof, int W, int kVecs>
__attribute__((always_inline)) inline void InteractVectors(const float* const* pos, int l0,
                                                           const InteractionList& list,
                                                           float alpha, float* const* force,
                                                           float* z) {
  using V = typename Lanes<W>::F;
  V p[kVecs][kDims], f[kVecs][kDims], zs[kVecs];
  for (int v = 0; v < kVecs; ++v) {
    for (int a = 0; a < kDims; ++a) {
      p[v][a] = LoadLanes<V>(pos[a] + l0 + v * W);
      f[v][a] = V{};
    }
    zs[v] = V{};
  }
  InteractRange<kDims, kDof, W, kVecs, false>(p, list, 0, list.n_plain, alpha, f, zs);
  InteractRange<kDims, kDof, W, kVecs, true>(p, list, list.n_plain, list.size, alpha, f, zs);
  for (int v = 0; v < kVecs; ++v) {
    StoreLanes(z + l0 + v * W, zs[v]);
    for (int a = 0; a < kDims; ++a) StoreLanes(force[a] + l0 + v * W, f[v][a]);
  }
}

template <int kDims, int kDof, int W>
__attribute__((always_inline)) inline void InteractGroup(const float* const* pos, int n_points,
                                                         const InteractionList& list,
                                                         float alpha, float* const* force,
                                                         float* z) {
  // As many vectors at once as the registers hold: each needs 2 kDims + 1 accumulators
  // and positions, out of 32 vector registers (AVX-512) or 16 (AVX2, SSE2). The
  // heavy-tailed kernel's log and float64 exp keep about 4 more vectors live.
  constexpr int kRegisters = W == 16 ? 32 : 16;
  constexpr int kPerVec = 2 * kDims + 1 + (kDof == kHeavyTailDof ? 4 : 0);
  constexpr int kMaxVecs = (kRegisters - 8) / kPerVec >= 4   ? 4
                           : (kRegisters - 8) / kPerVec >= 2 ? 2
                                                             : 1;
  int l0 = 0;
  if constexpr (kMaxVecs >= 4)
    for (; l0 + 4 * W <= n_points; l0 += 4 * W)
      InteractVectors<kDims, kDof, W, 4>(pos, l0, list, alpha, force, z);
  if constexpr (kMaxVecs >= 2)
    for (; l0 + 2 * W <= n_points; l0 += 2 * W)
      InteractVectors<kDims, kDof, W, 2>(pos, l0, list, alpha, force, z);
  for (; l0 < n_points; l0 += W)
    InteractVectors<kDims, kDof, W, 1>(pos, l0, list, alpha, force, z);
}

template <int kDims, int kDof, int W>
inline void InteractImpl(const float* const* pos, int n_points, const InteractionList& list,
                         float* const* force, float* z) {
  InteractGroup<kDims, kDof, W>(pos, n_points, list, 0.0f, force, z);  // (alpha unused)
}

template <int kDims, int W>
inline void InteractHeavyTailImpl(const float* const* pos, int n_points,
                                  const InteractionList& list, float alpha, float* const* force,
                                  float* z) {
  InteractGroup<kDims, kHeavyTailDof, W>(pos, n_points, list, alpha, force, z);
}

}  // namespace
}  // namespace acctsne::kernels
