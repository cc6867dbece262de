// Baseline build of the kernels: the compiler's default ISA (SSE2 on x86-64, NEON on
// aarch64), 4-float vectors. Always compiled; the fallback level of every dispatch.
#include "kernels/kernel_table.h"

namespace acctsne::kernels {

const KernelTable& BaselineKernels() { return kKernelTable<4>; }

}  // namespace acctsne::kernels
