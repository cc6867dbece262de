// Portable kernel bodies, included by each kernels_<level>.cpp and compiled with that
// level's flags. Vectorised across reference lanes, never across a reduction, so every
// level adds the terms of each dot product in the same order.
// (No include guard on purpose: one inclusion per translation unit.)
#include <cmath>
#include <cstdint>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/kernels.h"

namespace acctsne::kernels {
namespace {

// Eight float64 partial sums added in one fixed order (the same at every level).
inline double SumOfEight(const double* sums) {
  return ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
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

// Native float64 vectors of a translation unit whose float vectors have W lanes: W / 2
// doubles (SSE2 2, AVX2 4, AVX-512 8). Wider generic vectors than the ISA's registers
// make GCC split them through the stack, lane by lane.
template <int W>
struct DoubleLanes {
  typedef double D __attribute__((vector_size(4 * W)));
  typedef long long I __attribute__((vector_size(4 * W)));
  typedef float F __attribute__((vector_size(2 * W)));  // as many floats as D has doubles
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

// 1 / x for the Barnes-Hut kernel. On AVX-512 a division's throughput (one vector per
// ~10 cycles on Intel) bounds the kernel, so there it is the hardware's 14-bit estimate
// refined by one Newton step, e = 1 - x r, r + r e: within about an ulp, deterministic
// (same instructions for every thread count), though not the correctly rounded quotient.
// Its input is capped at kReciprocalCap: the estimate of infinity is 0, and the Newton
// step would turn inf * 0 into NaN where a division gives 0 (an overflowing embedding
// must still reach the optimiser's non-finite check, not poison Z). Narrower vectors
// divide: on AMD Zen 3 the AVX2 estimate with the two Newton steps its 12 bits need ran
// the kernel at 2.7 G interactions/s per core, the division at 4.6.
constexpr float kReciprocalCap = 1e30f;
template <int W, typename V>
__attribute__((always_inline)) inline V ReciprocalLanes(V x) {
#if defined(__AVX512F__)
  if constexpr (W == 16) {
    x = x > kReciprocalCap ? kReciprocalCap : x;  // (NaN stays NaN)
    __m512 xv, r;
    __builtin_memcpy(&xv, &x, sizeof(xv));
    r = _mm512_maskz_rcp14_ps(0xFFFF, xv);  // (the unmasked form trips -Wmaybe-uninitialized)
    r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(xv, r, _mm512_set1_ps(1.0f)), r);
    V out;
    __builtin_memcpy(&out, &r, sizeof(out));
    return out;
  }
#endif
  return 1.0f / x;
}

// Bits l of the result: p[l] <= threshold, for l < W.
template <int W>
__attribute__((always_inline)) inline uint64_t AtMostMask(const float* p, float threshold) {
#if defined(__AVX512F__)
  if constexpr (W == 16)
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(p), _mm512_set1_ps(threshold), _CMP_LE_OQ);
#endif
#if defined(__AVX2__)
  if constexpr (W == 8)
    return static_cast<uint32_t>(
        _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), _mm256_set1_ps(threshold),
                                         _CMP_LE_OQ)));
#endif
  uint64_t bits = 0;
  for (int l = 0; l < W; ++l) bits |= static_cast<uint64_t>(p[l] <= threshold) << l;
  return bits;
}

// Bits l of the result: p[l] <= thresholds[l], for l < W.
template <int W>
__attribute__((always_inline)) inline uint64_t AtMostEachMask(const float* p,
                                                              const float* thresholds) {
#if defined(__AVX512F__)
  if constexpr (W == 16)
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(p), _mm512_loadu_ps(thresholds), _CMP_LE_OQ);
#endif
#if defined(__AVX2__)
  if constexpr (W == 8)
    return static_cast<uint32_t>(
        _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(thresholds),
                                         _CMP_LE_OQ)));
#endif
  uint64_t bits = 0;
  for (int l = 0; l < W; ++l) bits |= static_cast<uint64_t>(p[l] <= thresholds[l]) << l;
  return bits;
}

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

template <int kDims, int kDof, int W, int kVecs, bool kCheckDuplicates>
__attribute__((always_inline)) inline void InteractRange(
    const typename Lanes<W>::F (*p)[kDims], const InteractionList& list, int e_begin,
    int e_end, typename Lanes<W>::F (*f)[kDims], typename Lanes<W>::F* zs) {
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
      V w;
      if constexpr (kDof == 1) {
        w = ReciprocalLanes<W>(1.0f + d2);
      } else {
        const V x = 2.0f * ReciprocalLanes<W>(2.0f + d2);
        w = x * SqrtLanes<W>(x);
      }
      V cw = count * w;
      if constexpr (kCheckDuplicates) cw = reinterpret_cast<V>(reinterpret_cast<VI>(cw) & ~near);
      zs[v] += cw;
      const V m = cw * w;
      for (int a = 0; a < kDims; ++a) f[v][a] += m * diff[a];
    }
  }
}

// Applies the list to kVecs consecutive vectors of points starting at lane l0.
template <int kDims, int kDof, int W, int kVecs>
__attribute__((always_inline)) inline void InteractVectors(const float* const* pos, int l0,
                                                           const InteractionList& list,
                                                           float* const* force, float* z) {
  using V = typename Lanes<W>::F;
  V p[kVecs][kDims], f[kVecs][kDims], zs[kVecs];
  for (int v = 0; v < kVecs; ++v) {
    for (int a = 0; a < kDims; ++a) {
      p[v][a] = LoadLanes<V>(pos[a] + l0 + v * W);
      f[v][a] = V{};
    }
    zs[v] = V{};
  }
  InteractRange<kDims, kDof, W, kVecs, false>(p, list, 0, list.n_plain, f, zs);
  InteractRange<kDims, kDof, W, kVecs, true>(p, list, list.n_plain, list.size, f, zs);
  for (int v = 0; v < kVecs; ++v) {
    StoreLanes(z + l0 + v * W, zs[v]);
    for (int a = 0; a < kDims; ++a) StoreLanes(force[a] + l0 + v * W, f[v][a]);
  }
}

template <int kDims, int kDof, int W>
inline void InteractImpl(const float* const* pos, int n_points, const InteractionList& list,
                         float* const* force, float* z) {
  // As many vectors at once as the registers hold: each needs 2 kDims + 1 accumulators
  // and positions, out of 32 vector registers (AVX-512) or 16 (AVX2, SSE2).
  constexpr int kRegisters = W == 16 ? 32 : 16;
  constexpr int kMaxVecs = (kRegisters - 8) / (2 * kDims + 1) >= 4   ? 4
                           : (kRegisters - 8) / (2 * kDims + 1) >= 2 ? 2
                                                                      : 1;
  int l0 = 0;
  if constexpr (kMaxVecs >= 4)
    for (; l0 + 4 * W <= n_points; l0 += 4 * W)
      InteractVectors<kDims, kDof, W, 4>(pos, l0, list, force, z);
  if constexpr (kMaxVecs >= 2)
    for (; l0 + 2 * W <= n_points; l0 += 2 * W)
      InteractVectors<kDims, kDof, W, 2>(pos, l0, list, force, z);
  for (; l0 < n_points; l0 += W) InteractVectors<kDims, kDof, W, 1>(pos, l0, list, force, z);
}
// Gathers coordinate `a` of the W neighbours idx[0..W) from Y (n x kDims).
template <int W, int kDims, typename V>
__attribute__((always_inline)) inline V GatherCoord(const float* Y, const int32_t* idx, int a) {
#if defined(__AVX512F__)
  if constexpr (W == 16) {
    __m512i vi = _mm512_loadu_si512(idx);
    vi = _mm512_add_epi32(_mm512_mullo_epi32(vi, _mm512_set1_epi32(kDims)), _mm512_set1_epi32(a));
    __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, vi, Y, 4);
    V out;
    __builtin_memcpy(&out, &g, sizeof(out));
    return out;
  }
#endif
#if defined(__AVX2__)
  // One load per lane measured 1.5x faster than an AVX2 gather for 1-D (AMD Zen 3), and
  // 2x slower for 3-D; 2-D has its own pair loads (GatherNeighbours).
  if constexpr (W == 8 && kDims == 3) {
    __m256i vi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx));
    vi = _mm256_add_epi32(_mm256_mullo_epi32(vi, _mm256_set1_epi32(kDims)), _mm256_set1_epi32(a));
    __m256 g = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), Y, vi,
                                        _mm256_castsi256_ps(_mm256_set1_epi32(-1)), 4);
    V out;
    __builtin_memcpy(&out, &g, sizeof(out));
    return out;
  }
#endif
  V out;
  for (int l = 0; l < W; ++l) out[l] = Y[static_cast<int64_t>(idx[l]) * kDims + a];
  return out;
}

// Gathers both coordinates of 16 two-dimensional neighbours with 64-bit gathers (one
// element per neighbour instead of two), then splits x and y.
#if defined(__AVX512F__)
__attribute__((always_inline)) inline void GatherPairs16(const float* Y, const int32_t* idx,
                                                         __m512* x, __m512* y) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + 8));
  const __m512d a = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), 0xFF, lo, Y, 8);
  const __m512d b = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), 0xFF, hi, Y, 8);
  const __m512 af = _mm512_castpd_ps(a), bf = _mm512_castpd_ps(b);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  *x = _mm512_permutex2var_ps(af, even, bf);
  *y = _mm512_permutex2var_ps(af, odd, bf);
}
#endif

// Both coordinates of 8 two-dimensional neighbours by one 64-bit load each, then x and y
// split by shuffles. On AMD Zen 3 this runs the attraction 1.6x faster than two AVX2
// gathers (the gathers are microcoded there) and 1.3x faster than 64-bit gathers.
#if defined(__AVX2__)
__attribute__((always_inline)) inline void LoadPairs8(const float* Y, const int32_t* idx,
                                                      __m256* x, __m256* y) {
  const double* pairs = reinterpret_cast<const double*>(Y);
  const __m128d p01 = _mm_loadh_pd(_mm_load_sd(pairs + idx[0]), pairs + idx[1]);
  const __m128d p23 = _mm_loadh_pd(_mm_load_sd(pairs + idx[2]), pairs + idx[3]);
  const __m128d p45 = _mm_loadh_pd(_mm_load_sd(pairs + idx[4]), pairs + idx[5]);
  const __m128d p67 = _mm_loadh_pd(_mm_load_sd(pairs + idx[6]), pairs + idx[7]);
  const __m256 a = _mm256_castpd_ps(_mm256_insertf128_pd(_mm256_castpd128_pd256(p01), p45, 1));
  const __m256 b = _mm256_castpd_ps(_mm256_insertf128_pd(_mm256_castpd128_pd256(p23), p67, 1));
  *x = _mm256_shuffle_ps(a, b, 0x88);  // x0 x1 x2 x3 | x4 x5 x6 x7
  *y = _mm256_shuffle_ps(a, b, 0xDD);
}
#endif

// All kDims coordinates of the W neighbours idx[0..W), coordinate a in coords[a].
template <int W, int kDims, typename V>
__attribute__((always_inline)) inline void GatherNeighbours(const float* Y, const int32_t* idx,
                                                            V* coords) {
#if defined(__AVX512F__)
  if constexpr (kDims == 2 && W == 16) {
    __m512 gx, gy;
    GatherPairs16(Y, idx, &gx, &gy);
    __builtin_memcpy(&coords[0], &gx, sizeof(V));
    __builtin_memcpy(&coords[kDims - 1], &gy, sizeof(V));
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (kDims == 2 && W == 8) {
    __m256 gx, gy;
    LoadPairs8(Y, idx, &gx, &gy);
    __builtin_memcpy(&coords[0], &gx, sizeof(V));
    __builtin_memcpy(&coords[kDims - 1], &gy, sizeof(V));
    return;
  }
#endif
  for (int a = 0; a < kDims; ++a) coords[a] = GatherCoord<W, kDims, V>(Y, idx, a);
}

template <int kDims, int kDof, int W>
inline void AttractImpl(const CsrView& P, float p_scale, const float* Y, int64_t row_begin,
                        int64_t row_end, float* out) {
  using V = typename Lanes<W>::F;
  for (int64_t i = row_begin; i < row_end; ++i) {
    float yi[kDims];
    for (int a = 0; a < kDims; ++a) yi[a] = Y[i * kDims + a];
    V acc[kDims];
    for (int a = 0; a < kDims; ++a) acc[a] = V{};
    // Full vectors of entries, then the row's remainder padded with entries (i, p = 0),
    // which contribute exactly 0.
    alignas(64) int32_t tail_idx[W];
    alignas(64) float tail_p[W];
    const int64_t r = P.StorageRow(i), row_stop = P.indptr[r + 1];
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
      V w;
      if constexpr (kDof == 1) {
        w = 1.0f / (1.0f + d2);  // (a reciprocal estimate measured slower here: the
      } else {                   // gathers, not the divider, bound this loop)
        const V x = 2.0f / (2.0f + d2);
        w = x * SqrtLanes<W>(x);
      }
      const V m = p * w;
      for (int a = 0; a < kDims; ++a) acc[a] += m * diff[a];
    }
    float force[kDims];
    for (int a = 0; a < kDims; ++a) {
      float s = 0.0f;
      for (int l = 0; l < W; ++l) s += acc[a][l];
      force[a] = s;
    }
    for (int a = 0; a < kDims; ++a) out[i * kDims + a] = force[a];
  }
}
// Natural log of x > 0 (finite), lane-wise: x = m 2^e with m in [sqrt(1/2), sqrt(2)),
// log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + s^7/7 + s^9/9), s = (m - 1) / (m + 1),
// |s| <= 0.172, so the first omitted term is below 1e-8 relative.
template <int W>
__attribute__((always_inline)) inline typename Lanes<W>::F LogLanes(typename Lanes<W>::F x) {
  using V = typename Lanes<W>::F;
  using VI = typename Lanes<W>::I;
  VI bits = reinterpret_cast<VI>(x);
  VI e = ((bits >> 23) & 0xff) - 127;
  V m = reinterpret_cast<V>((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  const VI big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = e + (big & 1);
  const V s = (m - 1.0f) / (m + 1.0f);
  const V s2 = s * s;
  const V series = s * (2.0f + s2 * (2.0f / 3.0f + s2 * (2.0f / 5.0f + s2 * (2.0f / 7.0f + s2 * (2.0f / 9.0f)))));
  V ef;
  for (int l = 0; l < W; ++l) ef[l] = static_cast<float>(e[l]);
  return series + ef * 0.693147180559945f;
}

template <int kDims, int W>
inline double LogSumImpl(const CsrView& P, float p_scale, const float* Y, int64_t row_begin,
                         int64_t row_end, float dof) {
  using V = typename Lanes<W>::F;
  double total = 0.0;
  alignas(64) int32_t tail_idx[W];
  alignas(64) float tail_p[W];
  for (int64_t i = row_begin; i < row_end; ++i) {
    float yi[kDims];
    for (int a = 0; a < kDims; ++a) yi[a] = Y[i * kDims + a];
    V acc = V{};
    const int64_t r = P.StorageRow(i), row_stop = P.indptr[r + 1];
    for (int64_t e = P.indptr[r]; e < row_stop; e += W) {
      const int32_t* idx = P.indices + e;
      const float* pe = P.data + e;
      const int64_t left = row_stop - e;
      if (left < W) {  // pad with (i, p = 0): log(1 + 0) * 0 = 0
        for (int l = 0; l < W; ++l) {
          tail_idx[l] = l < left ? idx[l] : static_cast<int32_t>(i);
          tail_p[l] = l < left ? pe[l] : 0.0f;
        }
        idx = tail_idx;
        pe = tail_p;
      }
      V coords[kDims];
      GatherNeighbours<W, kDims, V>(Y, idx, coords);
      V d2 = V{};
      for (int a = 0; a < kDims; ++a) {
        const V diff = yi[a] - coords[a];
        d2 += diff * diff;
      }
      acc += (LoadLanes<V>(pe) * p_scale) * LogLanes<W>(1.0f + d2 / dof);
    }
    double row = 0.0;
    for (int l = 0; l < W; ++l) row += acc[l];
    total += row;
  }
  return total;
}

// exp(x) for x <= 0, lane-wise float64, within a couple of ulps: x = k ln2 + r with
// |r| <= ln2 / 2 (Cody-Waite split of ln2), e^r by its Taylor series to r^13 (the first
// omitted term is below 4e-18 relative), times 2^k applied as two factors so that
// subnormal results stay right. 0 below -745.2, where exp underflows.
template <typename D, typename I>
__attribute__((always_inline)) inline D ExpNonPositive(D x) {
  constexpr double kLowest = -745.2;
  const I underflow = x < kLowest;
  x = x < kLowest ? D{} + kLowest : x;
  constexpr double kShifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const D t = x * 1.4426950408889634 + kShifter;
  const D kf = t - kShifter;
  const D r = (x - kf * 0.693147180369123816490) - kf * 1.90821492927058770002e-10;
  constexpr double kInverseFactorials[14] = {1.0,
                                             1.0,
                                             1.0 / 2,
                                             1.0 / 6,
                                             1.0 / 24,
                                             1.0 / 120,
                                             1.0 / 720,
                                             1.0 / 5040,
                                             1.0 / 40320,
                                             1.0 / 362880,
                                             1.0 / 3628800,
                                             1.0 / 39916800,
                                             1.0 / 479001600,
                                             1.0 / 6227020800.0};
  D q = D{} + kInverseFactorials[13];
  for (int c = 12; c >= 0; --c) q = q * r + kInverseFactorials[c];
  // k = k1 + k2 with k1 = k / 2 rounded (the shifter again), both read as integers from
  // the shifter sums' low mantissa bits: AVX2 has no double -> int64 conversion and no
  // 64-bit arithmetic shift, which the compiler would otherwise do one lane at a time.
  // Any split gives the same result: q 2^k1 stays normal and exact for k >= -1075.
  const D t1 = kf * 0.5 + kShifter;
  const D k1f = t1 - kShifter;
  const D t2 = (kf - k1f) + kShifter;
  const I shifter_bits = reinterpret_cast<I>(D{} + kShifter);
  const I k1 = reinterpret_cast<I>(t1) - shifter_bits;
  const I k2 = reinterpret_cast<I>(t2) - shifter_bits;
  const D s1 = reinterpret_cast<D>((k1 + 1023) << 52);
  const D s2 = reinterpret_cast<D>((k2 + 1023) << 52);
  const D e = (q * s1) * s2;
  return underflow ? D{} : e;
}

// One step of sklearn's perplexity search on a row (see the header). Entry j is summed
// in lane j % 8 whatever the ISA (one or more native vectors per eight entries), and the
// eight lanes are added in a fixed order, so every level gives the same sums.
template <int W>
inline double PerplexityStepImpl(const float* __restrict dist, int64_t k, int64_t skip,
                                 double beta, double min_row_sum, double* __restrict p,
                                 double* sum_dist_p) {
  using D = typename DoubleLanes<W>::D;
  using I = typename DoubleLanes<W>::I;
  using F = typename DoubleLanes<W>::F;
  constexpr int kWidth = W / 2;  // doubles per native vector
  constexpr int kParts = 8 / kWidth;
  static_assert(kParts * kWidth == 8, "eight lanes split into whole vectors");
  auto sum8 = [](const D (&v)[kParts]) {
    double lane[8];
    for (int l = 0; l < 8; ++l) lane[l] = v[l / kWidth][l % kWidth];
    return SumOfEight(lane);
  };
  const int64_t full = k / 8 * 8;
  D acc[kParts] = {};
  for (int64_t j = 0; j < full; j += 8) {
    for (int part = 0; part < kParts; ++part) {
      const int64_t j0 = j + part * kWidth;
      F d;
      __builtin_memcpy(&d, dist + j0, sizeof(d));
      D e = ExpNonPositive<D, I>(-__builtin_convertvector(d, D) * beta);
      if (skip >= j0 && skip < j0 + kWidth) e[skip - j0] = 0.0;
      __builtin_memcpy(p + j0, &e, sizeof(e));
      acc[part] += e;
    }
  }
  if (full < k) {  // the remainder, padded with distance 0 and cleared
    for (int part = 0; part < kParts; ++part) {
      const int64_t j0 = full + part * kWidth;
      D d = D{};
      for (int l = 0; l < kWidth; ++l)
        if (j0 + l < k) d[l] = dist[j0 + l];
      D e = ExpNonPositive<D, I>(-d * beta);
      for (int l = 0; l < kWidth; ++l)
        if (j0 + l >= k || j0 + l == skip) e[l] = 0.0;
      for (int l = 0; l < kWidth; ++l)
        if (j0 + l < k) p[j0 + l] = e[l];
      acc[part] += e;
    }
  }
  double sum_p = sum8(acc);
  if (sum_p == 0.0) sum_p = min_row_sum;
  // Times the reciprocal rather than a division per entry (within an ulp of sklearn's
  // quotient; the divisions took half of the step), unless sum_p is subnormal, where the
  // reciprocal overflows (tiny perplexities).
  const bool divide = sum_p < 2.2250738585072014e-308;
  const double inv_sum_p = 1.0 / sum_p;
  D acc_dp[kParts] = {};
  for (int64_t j = 0; j < full; j += 8) {
    for (int part = 0; part < kParts; ++part) {
      const int64_t j0 = j + part * kWidth;
      F d;
      D pj;
      __builtin_memcpy(&d, dist + j0, sizeof(d));
      __builtin_memcpy(&pj, p + j0, sizeof(pj));
      pj = divide ? pj / sum_p : pj * inv_sum_p;
      __builtin_memcpy(p + j0, &pj, sizeof(pj));
      acc_dp[part] += __builtin_convertvector(d, D) * pj;
    }
  }
  double tail_dp = 0.0;
  for (int64_t j = full; j < k; ++j) {
    p[j] = divide ? p[j] / sum_p : p[j] * inv_sum_p;
    tail_dp += static_cast<double>(dist[j]) * p[j];
  }
  *sum_dist_p = sum8(acc_dp) + tail_dp;
  return sum_p;
}

#else
// Plain loops for compilers without vector extensions.
template <int W>
inline double PerplexityStepImpl(const float* dist, int64_t k, int64_t skip, double beta,
                                 double min_row_sum, double* p, double* sum_dist_p) {
  double sum_p = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    p[j] = j == skip ? 0.0 : std::exp(-static_cast<double>(dist[j]) * beta);
    sum_p += p[j];
  }
  if (sum_p == 0.0) sum_p = min_row_sum;
  double dp = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    p[j] /= sum_p;
    dp += static_cast<double>(dist[j]) * p[j];
  }
  *sum_dist_p = dp;
  return sum_p;
}
template <int W>
inline double SquaredDistance64Impl(const float* a, const float* b, int64_t n) {
  double sums[kDistanceSums64] = {};
  for (int64_t f = 0; f < n; ++f) {
    const double diff = static_cast<double>(a[f]) - static_cast<double>(b[f]);
    sums[f % kDistanceSums64] += diff * diff;
  }
  return SumOfEight(sums);
}
template <int W>
inline float SquaredDistanceImpl(const float* a, const float* b, int64_t n) {
  float sums[kDistanceSums] = {};
  for (int64_t f = 0; f < n; ++f) {
    const float diff = a[f] - b[f];
    sums[f % kDistanceSums] += diff * diff;
  }
  float total = 0.0f;
  for (int l = 0; l < kDistanceSums; ++l) total += sums[l];
  return total;
}

template <int W>
inline void ProjectRowsImpl(const float* rows, int64_t ld, int64_t n_rows, int64_t d,
                            const double* basis_t, int64_t m, double* out) {
  for (int64_t i = 0; i < n_rows; ++i)
    for (int64_t c = 0; c < m; ++c) {
      double acc = 0.0;
      for (int64_t f = 0; f < d; ++f) acc += static_cast<double>(rows[i * ld + f]) * basis_t[f * m + c];
      out[i * m + c] = acc;
    }
}

template <int W>
inline void DotTileImpl(const float* queries, int64_t ld, int nq, const float* tile,
                        int n_features, const float* q_norms, const float* tile_norms,
                        const float* thresholds, float* out, uint64_t* masks,
                        const float* col_thresholds, uint64_t* col_masks) {
  for (int q = 0; q < nq; ++q) {
    uint64_t bits = 0, col_bits = 0;
    for (int r = 0; r < kRefTile; ++r) {
      float acc = 0.0f;
      for (int f = 0; f < n_features; ++f) acc += queries[q * ld + f] * tile[f * kRefTile + r];
      const float dist = q_norms[q] + tile_norms[r] - 2.0f * acc;
      out[q * kRefTile + r] = dist;
      bits |= static_cast<uint64_t>(dist <= thresholds[q]) << r;
      if (col_thresholds != nullptr)
        col_bits |= static_cast<uint64_t>(dist <= col_thresholds[r]) << r;
    }
    masks[q] = bits;
    if (col_masks != nullptr) col_masks[q] = col_bits;
  }
}

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
      const float cw = (e >= list.n_plain && near) ? 0.0f : list.count[e] * w;
      zs += cw;
      for (int a = 0; a < kDims; ++a) f[a] += cw * w * diff[a];
    }
    z[l] = zs;
    for (int a = 0; a < kDims; ++a) force[a][l] = f[a];
  }
}
template <int kDims, int kDof, int W>
inline void AttractImpl(const CsrView& P, float p_scale, const float* Y, int64_t row_begin,
                        int64_t row_end, float* out) {
  for (int64_t i = row_begin; i < row_end; ++i) {
    float force[kDims] = {};
    const int64_t r = P.StorageRow(i);
    for (int64_t e = P.indptr[r]; e < P.indptr[r + 1]; ++e) {
      const int64_t j = P.indices[e];
      float diff[kDims];
      float d2 = 0.0f;
      for (int a = 0; a < kDims; ++a) {
        diff[a] = Y[i * kDims + a] - Y[j * kDims + a];
        d2 += diff[a] * diff[a];
      }
      float w;
      if constexpr (kDof == 1) {
        w = 1.0f / (1.0f + d2);
      } else {
        const float x = 2.0f / (2.0f + d2);
        w = x * std::sqrt(x);
      }
      const float p = P.data[e] * p_scale;
      for (int a = 0; a < kDims; ++a) force[a] += p * w * diff[a];
    }
    for (int a = 0; a < kDims; ++a) out[i * kDims + a] = force[a];
  }
}
template <int kDims, int W>
inline double LogSumImpl(const CsrView& P, float p_scale, const float* Y, int64_t row_begin,
                         int64_t row_end, float dof) {
  double total = 0.0;
  for (int64_t i = row_begin; i < row_end; ++i) {
    const int64_t r = P.StorageRow(i);
    for (int64_t e = P.indptr[r]; e < P.indptr[r + 1]; ++e) {
      float d2 = 0.0f;
      for (int a = 0; a < kDims; ++a) {
        const float diff = Y[i * kDims + a] - Y[int64_t{P.indices[e]} * kDims + a];
        d2 += diff * diff;
      }
      total += (P.data[e] * p_scale) * std::log(1.0f + d2 / dof);
    }
  }
  return total;
}
#endif

template <int kDims, int W>
inline InteractFn InteractForDof(int dof) {
  return dof == 1 ? &InteractImpl<kDims, 1, W> : &InteractImpl<kDims, 2, W>;
}

template <int W>
inline LogSumFn LogSumFor(int dims) {
  switch (dims) {
    case 1:
      return &LogSumImpl<1, W>;
    case 2:
      return &LogSumImpl<2, W>;
    default:
      return &LogSumImpl<3, W>;
  }
}

template <int W>
inline AttractFn AttractFor(int dims, int dof) {
  switch (dims) {
    case 1:
      return dof == 1 ? &AttractImpl<1, 1, W> : &AttractImpl<1, 2, W>;
    case 2:
      return dof == 1 ? &AttractImpl<2, 1, W> : &AttractImpl<2, 2, W>;
    default:
      return dof == 1 ? &AttractImpl<3, 1, W> : &AttractImpl<3, 2, W>;
  }
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

// Defines one translation unit's entry points (Suffix = Scalar, Avx2 or Avx512) for its
// vector width W; every level instantiates the same templates.
#define ACCTSNE_DEFINE_KERNELS(Suffix, W)                                                  \
  InteractFn Interact##Suffix(int dims, int dof) { return InteractFor<W>(dims, dof); }    \
  AttractFn Attract##Suffix(int dims, int dof) { return AttractFor<W>(dims, dof); }       \
  LogSumFn LogSum##Suffix(int dims) { return LogSumFor<W>(dims); }                        \
  double SquaredDistance64##Suffix(const float* a, const float* b, int64_t n) {           \
    return SquaredDistance64Impl<W>(a, b, n);                                             \
  }                                                                                       \
  float SquaredDistance##Suffix(const float* a, const float* b, int64_t n) {              \
    return SquaredDistanceImpl<W>(a, b, n);                                               \
  }                                                                                       \
  double PerplexityStep##Suffix(const float* dist, int64_t k, int64_t skip, double beta,   \
                                double min_row_sum, double* p, double* sum_dist_p) {      \
    return PerplexityStepImpl<W>(dist, k, skip, beta, min_row_sum, p, sum_dist_p);        \
  }                                                                                       \
  void ProjectRows##Suffix(const float* rows, int64_t ld, int64_t n_rows, int64_t d,       \
                           const double* basis_t, int64_t m, double* out) {               \
    ProjectRowsImpl<W>(rows, ld, n_rows, d, basis_t, m, out);                             \
  }                                                                                       \
  void DotTile##Suffix(ACCTSNE_DOT_TILE_ARGS) {                                           \
    DotTileImpl<W>(queries, ld_queries, nq, tile, n_features, q_norms, tile_norms,        \
                   thresholds, out, masks, col_thresholds, col_masks);                    \
  }
