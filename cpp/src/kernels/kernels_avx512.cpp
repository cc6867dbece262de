// AVX-512 build of the kernels (compiled with -mavx512f/vl/bw/dq; see cpp/CMakeLists.txt).
#include "kernels_impl.inl"

namespace acctsne::kernels {

InteractFn InteractAvx512(int dims, int dof) { return InteractFor<16>(dims, dof); }
AttractFn AttractAvx512(int dims, int dof) { return AttractFor<16>(dims, dof); }
LogSumFn LogSumAvx512(int dims) { return LogSumFor<16>(dims); }

void DotTileAvx512(ACCTSNE_DOT_TILE_ARGS) {
  DotTileImpl<16>(queries, ld_queries, nq, tile, n_features, q_norms, tile_norms, thresholds,
                 out, masks);
}

}  // namespace acctsne::kernels
