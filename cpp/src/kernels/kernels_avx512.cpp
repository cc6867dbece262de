// Avx512 build of the kernels (compiled with -mavx512f/vl/bw/dq; see cpp/CMakeLists.txt).
#include "kernels_impl.inl"

namespace acctsne::kernels {

ACCTSNE_DEFINE_KERNELS(Avx512, 16)

}  // namespace acctsne::kernels
