// AVX2 + FMA build of the kernels (compiled with -mavx2 -mfma; see cpp/CMakeLists.txt).
#include "kernels/kernel_table.h"

namespace acctsne::kernels {

const KernelTable& Avx2Kernels() { return kKernelTable<8>; }

}  // namespace acctsne::kernels
