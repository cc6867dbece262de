// AVX-512 (F/VL/BW/DQ) build of the kernels (compiled with -mavx512f/vl/bw/dq; see
// cpp/CMakeLists.txt).
#include "kernels/kernel_table.h"

namespace acctsne::kernels {

const KernelTable& Avx512Kernels() { return kKernelTable<16>; }

}  // namespace acctsne::kernels
