// Vector plumbing shared by the kernels: lane types (GCC/Clang vector extensions) sized
// per translation unit, unaligned loads and stores, fixed-order sums, comparison masks
// and the gathers of neighbour coordinates. Intrinsics appear only where a measured
// instruction choice beats what the compiler makes of the portable form.
#pragma once

#include <cstdint>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

// The kernels are written with GCC/Clang vector extensions (vector_size, lane
// subscripts, __builtin_convertvector); MSVC's cl has none of them (clang-cl does).
#if !defined(__GNUC__) && !defined(__clang__)
#error "acctsne's SIMD kernels need GCC or Clang (vector extensions)"
#endif

namespace acctsne::kernels {
// Internal linkage on purpose: every kernels_<level>.cpp compiles these templates with
// its own ISA flags, and a shared (inline, external) instantiation would let the linker
// keep one level's code for all of them.
namespace {

// Eight float64 partial sums added in one fixed order (the same at every level).
inline double SumOfEight(const double* sums) {
  return ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
}

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

}  // namespace
}  // namespace acctsne::kernels
