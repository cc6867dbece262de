// AVX-512 build of the kernels (compiled with -mavx512f/vl/bw/dq; see cpp/CMakeLists.txt).
#include "kernels_impl.inl"

namespace acctsne::kernels {

InteractFn InteractAvx512(int dims, int dof) { return InteractFor<16>(dims, dof); }
AttractFn AttractAvx512(int dims, int dof) { return AttractFor<16>(dims, dof); }

void DotTileAvx512(const float* queries, int64_t ld_queries, int nq, const float* tile,
                   int n_features, float* out) {
  DotTileImpl<32>(queries, ld_queries, nq, tile, n_features, out);
}

}  // namespace acctsne::kernels
