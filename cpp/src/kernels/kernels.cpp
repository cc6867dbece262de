// Run-time choice among the compiled levels' kernel tables. Compiled with the core's
// (baseline) flags: it only hands out pointers into the per-level units.
#include "kernels/kernels.h"

#include "acctsne/common.h"

namespace acctsne::kernels {

const KernelTable& KernelsFor(SimdLevel level) {
  switch (level) {
    case SimdLevel::kBaseline:
      return BaselineKernels();
#ifdef ACCTSNE_HAVE_AVX2
    case SimdLevel::kAvx2:
      return Avx2Kernels();
#endif
#ifdef ACCTSNE_HAVE_AVX512
    case SimdLevel::kAvx512:
      return Avx512Kernels();
#endif
    default:
      break;
  }
  throw InvalidArgument(StrCat("SIMD level '", SimdLevelName(level), "' not compiled in"));
}

void CheckKernelShape(int dims, int dof) {
  ACCTSNE_CHECK(dims >= 1 && dims <= kMaxDims, "kernel: dims must be 1..", kMaxDims, ", got ",
                dims);
  ACCTSNE_CHECK(dof >= 1 && dof <= kMaxDof, "kernel: dof must be 1 or 2, got ", dof);
}

}  // namespace acctsne::kernels
