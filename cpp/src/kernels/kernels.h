// The hot kernels that are compiled once per SIMD level (kernels_<level>.cpp) and
// chosen at run time (acctsne/simd.h). Only plain-C++ bodies live in
// kernels_impl.inl, written so the compiler vectorises them for each level's flags.
#pragma once

#include <cstdint>

#include "acctsne/simd.h"

namespace acctsne::kernels {

// Width of a packed reference tile in the kNN distance kernel.
inline constexpr int kRefTile = 64;

// Dot products of nq query rows with one packed reference tile:
//   out[q * kRefTile + r] = sum_f queries[q * ld_queries + f] * tile[f * kRefTile + r]
// for q < nq and r < kRefTile. `tile` is the feature-major (transposed) copy of
// kRefTile reference rows, zero-padded past the last reference.
using DotTileFn = void (*)(const float* queries, int64_t ld_queries, int nq,
                           const float* tile, int n_features, float* out);

void DotTileScalar(const float* queries, int64_t ld_queries, int nq, const float* tile,
                   int n_features, float* out);
void DotTileAvx2(const float* queries, int64_t ld_queries, int nq, const float* tile,
                 int n_features, float* out);
void DotTileAvx512(const float* queries, int64_t ld_queries, int nq, const float* tile,
                   int n_features, float* out);

// The implementation for `level` (which must be compiled in).
DotTileFn GetDotTile(SimdLevel level);

}  // namespace acctsne::kernels
