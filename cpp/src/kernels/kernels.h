// The hot kernels, compiled once per SIMD level (kernels_<level>.cpp, each with its ISA's
// flags) and chosen at run time (acctsne/simd.h) through one KernelTable per level.
// This header states each kernel's contract; the bodies are templates on the vector
// width in the per-phase headers beside it (distance_kernels.h, perplexity_kernel.h,
// projection_kernel.h, interaction_kernel.h, attraction_kernels.h), over vector_lanes.h
// and fast_math.h. Adding a kernel: its body in a phase header, a function-pointer
// member of KernelTable below, and one line in MakeKernelTable (kernel_table.h).
#pragma once

#include <cstdint>

#include "acctsne/common.h"
#include "acctsne/simd.h"

namespace acctsne::kernels {

// Embedding dimensions and degrees of freedom with their own specialised kernels.
inline constexpr int kMaxDims = 3;
inline constexpr int kMaxDof = 2;
// The dof template argument of the heavy-tailed kernels (openTSNE / FIt-SNE "dof"), whose
// alpha = heavy_tail_dof is a run-time argument instead.
inline constexpr int kHeavyTailDof = 0;

// Width of a packed reference tile in the kNN distance kernel.
inline constexpr int kRefTile = 64;

// Squared distances of nq query rows to one packed reference tile, by the expansion
//   out[q * kRefTile + r] = q_norms[q] + tile_norms[r] - 2 sum_f x_qf t_fr
// for q < nq and r < kRefTile, plus masks[q] with bit r set when out[q * kRefTile + r] <=
// thresholds[q] (so callers visit only entries that can enter a row's top k; ties too, so
// that the kept set does not depend on the visiting order). `tile` is the feature-major
// (transposed) copy of kRefTile reference rows; padding references carry a +inf norm and
// callers skip their lanes. When col_thresholds is not null, col_masks[q] gets bit r set
// when out[q * kRefTile + r] <= col_thresholds[r]: the same test for the references' own
// rows, which a symmetric search updates from the same distances.
using DotTileFn = void (*)(const float* queries, int64_t ld_queries, int nq,
                           const float* tile, int n_features, const float* q_norms,
                           const float* tile_norms, const float* thresholds, float* out,
                           uint64_t* masks, const float* col_thresholds,
                           uint64_t* col_masks);

// Squared Euclidean distance of two rows of n floats, accumulated in kDistanceSums
// interleaved partial sums (feature f goes to sum f % kDistanceSums) that are then added
// in order: the same association at every level.
inline constexpr int kDistanceSums = 16;
using SquaredDistanceFn = float (*)(const float* a, const float* b, int64_t n);

// The same distance in double precision (exact products of the float inputs), in
// kDistanceSums64 interleaved partial sums added in order.
inline constexpr int kDistanceSums64 = 8;
using SquaredDistance64Fn = double (*)(const float* a, const float* b, int64_t n);

// One step of the perplexity binary search on a row of k squared distances, in float64
// (sklearn's _binary_search_perplexity): p[j] = exp(-beta dist[j]) (0 at j == skip),
// sum_p = sum_j p[j] (min_row_sum if 0), then p[j] /= sum_p; returns sum_p and writes
// sum_j dist[j] p[j]. Vectorised exp (a couple of ulps) and fixed-order partial sums.
using PerplexityStepFn = double (*)(const float* dist, int64_t k, int64_t skip, double beta,
                                    double min_row_sum, double* p, double* sum_dist_p);

// Projections of rows onto a basis, in float64: out[i * m + c] = sum_f rows[i * ld + f]
// basis_t[f * m + c] for i < n_rows, c < m, the terms of each sum added in f order.
using ProjectRowsFn = void (*)(const float* rows, int64_t ld, int64_t n_rows, int64_t d,
                               const double* basis_t, int64_t m, double* out);

// Barnes-Hut interaction-list kernel (acctsne/barnes_hut_repulsion.h). Lanes are the points of a
// group (kGroupLanes-padded), so every point sums its own interactions in list order.
inline constexpr int kGroupLanes = 16;

// One interaction list, structure of arrays: positions (dims arrays) and multiplicity
// (cell point count). Entries [0, n_plain) always interact; entries [n_plain, size) are
// skipped by a point within kDuplicateEpsilon of them in every coordinate (its own leaf
// points and duplicates: no self-repulsion). Splitting keeps the test out of the bulk.
struct InteractionList {
  const float* pos[kMaxDims];
  const float* count;
  int n_plain;
  int size;
};

// For points p (pos[a][l], l < n_points, n_points a multiple of kGroupLanes):
//   w = (dof / (dof + |p - e|^2))^((dof + 1) / 2),  z[l] += c w,  force[a][l] += c w^2 (p - e)
// with c = count(e), or 0 for a skipped entry. dof is 1 or 2.
using InteractFn = void (*)(const float* const* pos, int n_points, const InteractionList& list,
                            float* const* force, float* z);

// The same walk of the list with the heavy-tailed kernel of alpha > 0:
//   u = alpha / (alpha + |p - e|^2),  w = u^alpha,  z[l] += c w,  force[a][l] += c w u (p - e)
// (w = exp(alpha log u): LogLanes, then ExpNonPositive in float64).
using InteractHeavyTailFn = void (*)(const float* const* pos, int n_points,
                                     const InteractionList& list, float alpha,
                                     float* const* force, float* z);

// Attraction over the rows [row_begin, row_end) of P (acctsne/attraction.h), each entry
// scaled by p_scale (the exaggeration: p_e = data[e] * p_scale, rounded as a float); row
// r is the row of point i = P.PointOfRow(r):
//   out[i] = sum_e p_e w_e (y_i - y_j),  w = (dof / (dof + |y_i - y_j|^2))^((dof + 1) / 2)
// Y and out are n x dims row-major. Lanes take W consecutive entries of a row (gathered
// neighbour coordinates); lane sums are combined in lane order, so the result is fixed
// for a given SIMD level.
using AttractFn = void (*)(const CsrView& P, float p_scale, const float* Y, int64_t row_begin,
                           int64_t row_end, float* out);

// The same with the heavy-tailed kernel of alpha > 0 (the gradient's attraction needs u,
// not w): out[i] = sum_e p_e u_e (y_i - y_j),  u = alpha / (alpha + |y_i - y_j|^2).
using AttractHeavyTailFn = void (*)(const CsrView& P, float p_scale, const float* Y,
                                    int64_t row_begin, int64_t row_end, float alpha,
                                    float* out);

// sum over the entries of rows [row_begin, row_end) of p_e log(1 + |y_i - y_j|^2 / dof)
// (p_e = data[e] * p_scale, as in the attraction),
// the only per-entry part of the KL divergence (acctsne/attraction.h). Vectorised log
// (relative error ~1e-7); the row partial sums are added in double.
using LogSumFn = double (*)(const CsrView& P, float p_scale, const float* Y, int64_t row_begin,
                            int64_t row_end, float dof);

// One SIMD level's kernels, filled once at compile time (kernel_table.h). The
// shape-specialised kernels are indexed [dims - 1][dof - 1] (log_sum and the heavy-tailed
// ones: [dims - 1]).
struct KernelTable {
  DotTileFn dot_tile = nullptr;
  SquaredDistanceFn squared_distance = nullptr;
  SquaredDistance64Fn squared_distance64 = nullptr;
  PerplexityStepFn perplexity_step = nullptr;
  ProjectRowsFn project_rows = nullptr;
  InteractFn interact[kMaxDims][kMaxDof] = {};
  AttractFn attract[kMaxDims][kMaxDof] = {};
  LogSumFn log_sum[kMaxDims] = {};
  InteractHeavyTailFn interact_heavy_tail[kMaxDims] = {};
  AttractHeavyTailFn attract_heavy_tail[kMaxDims] = {};
};

// Each level's table, defined in its kernels_<level>.cpp (only the compiled levels link).
const KernelTable& BaselineKernels();
const KernelTable& Avx2Kernels();
const KernelTable& Avx512Kernels();

// The table of `level`; throws InvalidArgument naming the level when it was not compiled
// in. (Whether the CPU runs it is the caller's check: acctsne::RequireSupported.)
const KernelTable& KernelsFor(SimdLevel level);

// Throws InvalidArgument unless 1 <= dims <= kMaxDims and 1 <= dof <= kMaxDof.
void CheckKernelShape(int dims, int dof);

// Accessors of single kernels (the callers' interface; thin views of the table).
inline DotTileFn GetDotTile(SimdLevel level) { return KernelsFor(level).dot_tile; }
inline SquaredDistanceFn GetSquaredDistance(SimdLevel level) {
  return KernelsFor(level).squared_distance;
}
inline SquaredDistance64Fn GetSquaredDistance64(SimdLevel level) {
  return KernelsFor(level).squared_distance64;
}
inline PerplexityStepFn GetPerplexityStep(SimdLevel level) {
  return KernelsFor(level).perplexity_step;
}
inline ProjectRowsFn GetProjectRows(SimdLevel level) { return KernelsFor(level).project_rows; }
inline InteractFn GetInteract(SimdLevel level, int dims, int dof) {
  CheckKernelShape(dims, dof);
  return KernelsFor(level).interact[dims - 1][dof - 1];
}
inline AttractFn GetAttract(SimdLevel level, int dims, int dof) {
  CheckKernelShape(dims, dof);
  return KernelsFor(level).attract[dims - 1][dof - 1];
}
inline LogSumFn GetLogSum(SimdLevel level, int dims) {
  CheckKernelShape(dims, 1);
  return KernelsFor(level).log_sum[dims - 1];
}
inline InteractHeavyTailFn GetInteractHeavyTail(SimdLevel level, int dims) {
  CheckKernelShape(dims, 1);
  return KernelsFor(level).interact_heavy_tail[dims - 1];
}
inline AttractHeavyTailFn GetAttractHeavyTail(SimdLevel level, int dims) {
  CheckKernelShape(dims, 1);
  return KernelsFor(level).attract_heavy_tail[dims - 1];
}

}  // namespace acctsne::kernels
