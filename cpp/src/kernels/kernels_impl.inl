// Portable kernel bodies, included by each kernels_<level>.cpp and compiled with that
// level's flags. Vectorised across reference lanes, never across a reduction, so every
// level adds the terms of each dot product in the same order.
// (No include guard on purpose: one inclusion per translation unit.)
#include <cmath>
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

#if defined(__GNUC__) || defined(__clang__)
// W floats as one vector value, W chosen per translation unit to fit the ISA's registers
// (4 for SSE2, 8 for AVX2, 16 for AVX-512). Lanes never combine with each other, so every
// width computes the same per-lane sums.
template <int W>
struct Lanes;
template <>
struct Lanes<4> {
  typedef float F __attribute__((vector_size(16)));
  typedef int I __attribute__((vector_size(16)));
};
template <>
struct Lanes<8> {
  typedef float F __attribute__((vector_size(32)));
  typedef int I __attribute__((vector_size(32)));
};
template <>
struct Lanes<16> {
  typedef float F __attribute__((vector_size(64)));
  typedef int I __attribute__((vector_size(64)));
};

template <typename V>
__attribute__((always_inline)) inline V LoadLanes(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
template <typename V>
__attribute__((always_inline)) inline void StoreLanes(float* p, V v) {
  __builtin_memcpy(p, &v, sizeof(v));
}
template <int W, typename V>
__attribute__((always_inline)) inline V SqrtLanes(V x) {
  for (int l = 0; l < W; ++l) x[l] = __builtin_sqrtf(x[l]);
  return x;
}

template <int kDims, int kDof, int W>
inline void InteractImpl(const float* const* pos, int n_points, const InteractionList& list,
                         float* const* force, float* z) {
  using V = typename Lanes<W>::F;
  using VI = typename Lanes<W>::I;
  const float kEps = 1e-6f;  // sklearn's duplicate tolerance
  for (int l0 = 0; l0 < n_points; l0 += W) {
    V p[kDims], f[kDims];
    for (int a = 0; a < kDims; ++a) {
      p[a] = LoadLanes<V>(pos[a] + l0);
      f[a] = V{};
    }
    V zs = V{};
    for (int e = 0; e < list.size; ++e) {
      V diff[kDims];
      V d2 = V{};
      VI near = VI{} - 1;  // all lanes true
      for (int a = 0; a < kDims; ++a) {
        diff[a] = p[a] - list.pos[a][e];
        d2 += diff[a] * diff[a];
        near &= (diff[a] <= kEps) & (diff[a] >= -kEps);
      }
      V w;
      if constexpr (kDof == 1) {
        w = 1.0f / (1.0f + d2);
      } else {
        const V x = 2.0f / (2.0f + d2);
        w = x * SqrtLanes<W>(x);
      }
      // An excludable entry (a leaf point) within kEps in every coordinate counts 0.
      const VI drop = list.excludable[e] != 0.0f ? near : VI{};
      const V cw = reinterpret_cast<V>(reinterpret_cast<VI>(list.count[e] * w) & ~drop);
      zs += cw;
      const V m = cw * w;
      for (int a = 0; a < kDims; ++a) f[a] += m * diff[a];
    }
    StoreLanes(z + l0, zs);
    for (int a = 0; a < kDims; ++a) StoreLanes(force[a] + l0, f[a]);
  }
}
#else
// Plain loops for compilers without vector extensions.
template <int kDims, int kDof, int W>
inline void InteractImpl(const float* const* pos, int n_points, const InteractionList& list,
                         float* const* force, float* z) {
  const float kEps = 1e-6f;
  for (int l = 0; l < n_points; ++l) {
    float f[kDims] = {};
    float zs = 0.0f;
    for (int e = 0; e < list.size; ++e) {
      float diff[kDims];
      float d2 = 0.0f;
      bool near = true;
      for (int a = 0; a < kDims; ++a) {
        diff[a] = pos[a][l] - list.pos[a][e];
        d2 += diff[a] * diff[a];
        near = near && diff[a] <= kEps && diff[a] >= -kEps;
      }
      float w;
      if constexpr (kDof == 1) {
        w = 1.0f / (1.0f + d2);
      } else {
        const float x = 2.0f / (2.0f + d2);
        w = x * std::sqrt(x);
      }
      const float cw = (list.excludable[e] != 0.0f && near) ? 0.0f : list.count[e] * w;
      zs += cw;
      for (int a = 0; a < kDims; ++a) f[a] += cw * w * diff[a];
    }
    z[l] = zs;
    for (int a = 0; a < kDims; ++a) force[a][l] = f[a];
  }
}
#endif

template <int kDims, int W>
inline InteractFn InteractForDof(int dof) {
  return dof == 1 ? &InteractImpl<kDims, 1, W> : &InteractImpl<kDims, 2, W>;
}

// W: vector width in floats for this translation unit's ISA (divides kGroupLanes).
template <int W>
inline InteractFn InteractFor(int dims, int dof) {
  static_assert(kGroupLanes % W == 0, "vector width must divide the group lane padding");
  switch (dims) {
    case 1:
      return InteractForDof<1, W>(dof);
    case 2:
      return InteractForDof<2, W>(dof);
    default:
      return InteractForDof<3, W>(dof);
  }
}

}  // namespace
}  // namespace acctsne::kernels
