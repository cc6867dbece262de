// Avx2 build of the kernels (compiled with -mavx2 -mfma; see cpp/CMakeLists.txt).
#include "kernels_impl.inl"

namespace acctsne::kernels {

ACCTSNE_DEFINE_KERNELS(Avx2, 8)

}  // namespace acctsne::kernels
