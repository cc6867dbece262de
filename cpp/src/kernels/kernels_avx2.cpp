// AVX2 + FMA build of the kernels (compiled with -mavx2 -mfma; see cpp/CMakeLists.txt).
#include "kernels_impl.inl"

namespace acctsne::kernels {

InteractFn InteractAvx2(int dims, int dof) { return InteractFor<8>(dims, dof); }
AttractFn AttractAvx2(int dims, int dof) { return AttractFor<8>(dims, dof); }
LogSumFn LogSumAvx2(int dims) { return LogSumFor<8>(dims); }

void DotTileAvx2(ACCTSNE_DOT_TILE_ARGS) {
  DotTileImpl<8>(queries, ld_queries, nq, tile, n_features, q_norms, tile_norms, thresholds,
                 out, masks);
}

}  // namespace acctsne::kernels
