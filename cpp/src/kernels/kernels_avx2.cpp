// AVX2 + FMA build of the kernels (compiled with -mavx2 -mfma; see cpp/CMakeLists.txt).
#include "kernels_impl.inl"

namespace acctsne::kernels {

InteractFn InteractAvx2(int dims, int dof) { return InteractFor<8>(dims, dof); }
AttractFn AttractAvx2(int dims, int dof) { return AttractFor<8>(dims, dof); }

void DotTileAvx2(const float* queries, int64_t ld_queries, int nq, const float* tile,
                 int n_features, float* out) {
  DotTileImpl<16>(queries, ld_queries, nq, tile, n_features, out);
}

}  // namespace acctsne::kernels
