// Lane-wise maths for the kernels, chosen for speed at a stated accuracy:
//   SqrtLanes        sqrt(x), correctly rounded (one sqrt per lane)
//   ReciprocalLanes  1 / x: a division, or on AVX-512 rcp14 + one Newton step (~1 ulp)
//   LogLanes         log(x) for finite x > 0, float, relative error ~1e-7 (atanh series)
//   ExpNonPositive   exp(x) for x <= 0, float64, a couple of ulps (Cody-Waite + Taylor)
//   UnitPowLanes     x^alpha for x in (0, 1], float: exp(alpha log x) by the two above
#pragma once

#include <cstdint>

#include "kernels/vector_lanes.h"

namespace acctsne::kernels {
// Internal linkage on purpose: every kernels_<level>.cpp compiles these templates with
// its own ISA flags, and a shared (inline, external) instantiation would let the linker
// keep one level's code for all of them.
namespace {

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

// x^alpha for x in (0, 1] (normal floats) and alpha > 0, lane-wise: exp(alpha log x) with
// the float log (absolute error ~1e-7 |log x|, so relative error ~1e-7 alpha |log x| in
// the result) and the exp in float64 over the two halves of the vector, rounded back.
// An x above 1 by an ulp or two (a reciprocal estimate) still gives the right power.
template <int W>
__attribute__((always_inline)) inline typename Lanes<W>::F UnitPowLanes(typename Lanes<W>::F x,
                                                                        float alpha) {
  using V = typename Lanes<W>::F;
  using D = typename DoubleLanes<W>::D;
  using I = typename DoubleLanes<W>::I;
  using F = typename DoubleLanes<W>::F;
  const V log_x = LogLanes<W>(x);
  V out;
  for (int half = 0; half < 2; ++half) {
    F part;
    __builtin_memcpy(&part, reinterpret_cast<const char*>(&log_x) + half * sizeof(F), sizeof(F));
    const D e = ExpNonPositive<D, I>(__builtin_convertvector(part, D) * static_cast<double>(alpha));
    const F rounded = __builtin_convertvector(e, F);
    __builtin_memcpy(reinterpret_cast<char*>(&out) + half * sizeof(F), &rounded, sizeof(F));
  }
  return out;
}

}  // namespace
}  // namespace acctsne::kernels
