// Fills one SIMD level's KernelTable from the kernel templates, instantiated for the
// including translation unit's vector width W (floats per vector: 4 baseline, 8 AVX2,
// 16 AVX-512). Included once, by each kernels_<level>.cpp.
#pragma once

#include "kernels/attraction_kernels.h"
#include "kernels/distance_kernels.h"
#include "kernels/interaction_kernel.h"
#include "kernels/kernels.h"
#include "kernels/perplexity_kernel.h"
#include "kernels/projection_kernel.h"

namespace acctsne::kernels {
namespace {  // (internal linkage: see vector_lanes.h)

// The shape-specialised members for kDims, then for kDims + 1 up to kMaxDims.
template <int W, int kDims = 1>
constexpr void FillShapeKernels(KernelTable& table) {
  static_assert(kMaxDof == 2, "one line per dof below");
  table.interact[kDims - 1][0] = &InteractImpl<kDims, 1, W>;
  table.interact[kDims - 1][1] = &InteractImpl<kDims, 2, W>;
  table.attract[kDims - 1][0] = &AttractImpl<kDims, 1, W>;
  table.attract[kDims - 1][1] = &AttractImpl<kDims, 2, W>;
  table.log_sum[kDims - 1] = &LogSumImpl<kDims, W>;
  table.interact_heavy_tail[kDims - 1] = &InteractHeavyTailImpl<kDims, W>;
  table.attract_heavy_tail[kDims - 1] = &AttractHeavyTailImpl<kDims, W>;
  if constexpr (kDims < kMaxDims) FillShapeKernels<W, kDims + 1>(table);
}

template <int W>
constexpr KernelTable MakeKernelTable() {
  static_assert(kGroupLanes % W == 0, "vector width must divide the group lane padding");
  KernelTable table;
  table.dot_tile = &DotTileImpl<W>;
  table.squared_distance = &SquaredDistanceImpl<W>;
  table.squared_distance64 = &SquaredDistance64Impl<W>;
  table.perplexity_step = &PerplexityStepImpl<W>;
  table.project_rows = &ProjectRowsImpl<W>;
  FillShapeKernels<W>(table);
  return table;
}

// The level's table as a compile-time constant: no initialisation at run time, and no
// function-local static guard on the per-call lookups.
template <int W>
constexpr KernelTable kKernelTable = MakeKernelTable<W>();

}  // namespace
}  // namespace acctsne::kernels
