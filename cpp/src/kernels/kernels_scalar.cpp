// Baseline-ISA build of the kernels, plus the dispatch table over all compiled levels.
#include "kernels_impl.inl"

#include "acctsne/common.h"

namespace acctsne::kernels {

ACCTSNE_DEFINE_KERNELS(Scalar, 4)

namespace {

#ifdef ACCTSNE_HAVE_AVX2
#define ACCTSNE_IF_AVX2(f) (&f)
#else
#define ACCTSNE_IF_AVX2(f) nullptr
#endif
#ifdef ACCTSNE_HAVE_AVX512
#define ACCTSNE_IF_AVX512(f) (&f)
#else
#define ACCTSNE_IF_AVX512(f) nullptr
#endif

// The variant of `level`, or InvalidArgument when it was not compiled in.
template <typename T>
T Pick(SimdLevel level, T scalar, T avx2, T avx512) {
  T chosen = level == SimdLevel::kAvx512 ? avx512 : level == SimdLevel::kAvx2 ? avx2 : scalar;
  if (chosen == nullptr)
    throw InvalidArgument(StrCat("SIMD level '", SimdLevelName(level), "' not compiled in"));
  return chosen;
}

void CheckShape(int dims, int dof) {
  ACCTSNE_CHECK(dims >= 1 && dims <= 3, "kernel: dims must be 1..3, got ", dims);
  ACCTSNE_CHECK(dof == 1 || dof == 2, "kernel: dof must be 1 or 2, got ", dof);
}

}  // namespace

DotTileFn GetDotTile(SimdLevel level) {
  return Pick<DotTileFn>(level, &DotTileScalar, ACCTSNE_IF_AVX2(DotTileAvx2),
                         ACCTSNE_IF_AVX512(DotTileAvx512));
}

SquaredDistanceFn GetSquaredDistance(SimdLevel level) {
  return Pick<SquaredDistanceFn>(level, &SquaredDistanceScalar,
                                 ACCTSNE_IF_AVX2(SquaredDistanceAvx2),
                                 ACCTSNE_IF_AVX512(SquaredDistanceAvx512));
}

SquaredDistance64Fn GetSquaredDistance64(SimdLevel level) {
  return Pick<SquaredDistance64Fn>(level, &SquaredDistance64Scalar,
                                   ACCTSNE_IF_AVX2(SquaredDistance64Avx2),
                                   ACCTSNE_IF_AVX512(SquaredDistance64Avx512));
}

PerplexityStepFn GetPerplexityStep(SimdLevel level) {
  return Pick<PerplexityStepFn>(level, &PerplexityStepScalar, ACCTSNE_IF_AVX2(PerplexityStepAvx2),
                                ACCTSNE_IF_AVX512(PerplexityStepAvx512));
}

ProjectRowsFn GetProjectRows(SimdLevel level) {
  return Pick<ProjectRowsFn>(level, &ProjectRowsScalar, ACCTSNE_IF_AVX2(ProjectRowsAvx2),
                             ACCTSNE_IF_AVX512(ProjectRowsAvx512));
}

InteractFn GetInteract(SimdLevel level, int dims, int dof) {
  CheckShape(dims, dof);
  return Pick<InteractFn (*)(int, int)>(level, &InteractScalar, ACCTSNE_IF_AVX2(InteractAvx2),
                                        ACCTSNE_IF_AVX512(InteractAvx512))(dims, dof);
}

AttractFn GetAttract(SimdLevel level, int dims, int dof) {
  CheckShape(dims, dof);
  return Pick<AttractFn (*)(int, int)>(level, &AttractScalar, ACCTSNE_IF_AVX2(AttractAvx2),
                                       ACCTSNE_IF_AVX512(AttractAvx512))(dims, dof);
}

LogSumFn GetLogSum(SimdLevel level, int dims) {
  CheckShape(dims, 1);
  return Pick<LogSumFn (*)(int)>(level, &LogSumScalar, ACCTSNE_IF_AVX2(LogSumAvx2),
                                 ACCTSNE_IF_AVX512(LogSumAvx512))(dims);
}

}  // namespace acctsne::kernels
