// Baseline-ISA build of the kernels, plus the dispatch table over all compiled levels.
#include "kernels_impl.inl"

#include "acctsne/common.h"

namespace acctsne::kernels {

InteractFn InteractScalar(int dims, int dof) { return InteractFor<4>(dims, dof); }
AttractFn AttractScalar(int dims, int dof) { return AttractFor<4>(dims, dof); }
LogSumFn LogSumScalar(int dims) { return LogSumFor<4>(dims); }

void DotTileScalar(ACCTSNE_DOT_TILE_ARGS) {
  DotTileImpl<4>(queries, ld_queries, nq, tile, n_features, q_norms, tile_norms, thresholds,
                 out, masks);
}

DotTileFn GetDotTile(SimdLevel level) {
  switch (level) {
#ifdef ACCTSNE_HAVE_AVX512
    case SimdLevel::kAvx512:
      return DotTileAvx512;
#endif
#ifdef ACCTSNE_HAVE_AVX2
    case SimdLevel::kAvx2:
      return DotTileAvx2;
#endif
    case SimdLevel::kScalar:
      return DotTileScalar;
    default:
      throw InvalidArgument(StrCat("SIMD level '", SimdLevelName(level), "' not compiled in"));
  }
}

InteractFn GetInteract(SimdLevel level, int dims, int dof) {
  ACCTSNE_CHECK(dims >= 1 && dims <= 3, "interaction kernel: dims must be 1..3, got ", dims);
  ACCTSNE_CHECK(dof == 1 || dof == 2, "interaction kernel: dof must be 1 or 2, got ", dof);
  switch (level) {
#ifdef ACCTSNE_HAVE_AVX512
    case SimdLevel::kAvx512:
      return InteractAvx512(dims, dof);
#endif
#ifdef ACCTSNE_HAVE_AVX2
    case SimdLevel::kAvx2:
      return InteractAvx2(dims, dof);
#endif
    case SimdLevel::kScalar:
      return InteractScalar(dims, dof);
    default:
      throw InvalidArgument(StrCat("SIMD level '", SimdLevelName(level), "' not compiled in"));
  }
}

AttractFn GetAttract(SimdLevel level, int dims, int dof) {
  ACCTSNE_CHECK(dims >= 1 && dims <= 3, "attraction kernel: dims must be 1..3, got ", dims);
  ACCTSNE_CHECK(dof == 1 || dof == 2, "attraction kernel: dof must be 1 or 2, got ", dof);
  switch (level) {
#ifdef ACCTSNE_HAVE_AVX512
    case SimdLevel::kAvx512:
      return AttractAvx512(dims, dof);
#endif
#ifdef ACCTSNE_HAVE_AVX2
    case SimdLevel::kAvx2:
      return AttractAvx2(dims, dof);
#endif
    case SimdLevel::kScalar:
      return AttractScalar(dims, dof);
    default:
      throw InvalidArgument(StrCat("SIMD level '", SimdLevelName(level), "' not compiled in"));
  }
}

LogSumFn GetLogSum(SimdLevel level, int dims) {
  ACCTSNE_CHECK(dims >= 1 && dims <= 3, "KL kernel: dims must be 1..3, got ", dims);
  switch (level) {
#ifdef ACCTSNE_HAVE_AVX512
    case SimdLevel::kAvx512:
      return LogSumAvx512(dims);
#endif
#ifdef ACCTSNE_HAVE_AVX2
    case SimdLevel::kAvx2:
      return LogSumAvx2(dims);
#endif
    case SimdLevel::kScalar:
      return LogSumScalar(dims);
    default:
      throw InvalidArgument(StrCat("SIMD level '", SimdLevelName(level), "' not compiled in"));
  }
}

}  // namespace acctsne::kernels
