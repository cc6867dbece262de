// Embedding new points into a finished map (TSNE.transform; openTSNE's transform).
//
// Each new point i has a conditional distribution p_{j|i} over its k nearest reference
// points (a row summing to 1) and moves in the field of the fixed reference
// (reference_field.h). It minimises its own divergence KL(p_i || q_i) with
// q_{j|i} = w_ij / z_i, z_i = sum_j w_ij over all reference points, whose gradient is,
// up to the kernel's constant factor 2 exponent / alpha,
//   g_i = E sum_j p_{j|i} u_ij (y_i - y_j) - F(y_i) / z(y_i)
// (E the exaggeration; openTSNE's units, which have no factor 4). New points never
// interact, so row i of the result depends on row i of the input alone: identical bits
// for any thread count and any split of the new points into batches. The step is the fit's
// (per-coordinate gains +0.2 / x0.8 floored at min_gain, momentum), after openTSNE's
// per-point clipping of the gradient's norm at max_grad_norm.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "acctsne/parallel.h"
#include "acctsne/reference_field.h"

namespace acctsne {

struct TransformPhase {
  int n_iter = 0;
  double exaggeration = 1.0;
  double momentum = 0.8;
};

struct TransformParams {
  std::vector<TransformPhase> phases;
  double learning_rate = 0.1;
  double max_grad_norm = 0.25;  // <= 0: no clipping
  float min_gain = 0.01f;
  int n_iter_report = 50;  // progress every this many iterations (0: never)
};

// Called every n_iter_report iterations and after the last: (iterations done, mean KL of
// the new points). Returning true stops after this iteration.
using TransformProgressFn = std::function<bool(int, double)>;

struct TransformResult {
  int n_iter = 0;         // iterations run
  double kl = 0.0;        // mean KL divergence of the new points at the end
  bool stopped = false;   // by the progress callback
};

// Moves Y (m x dims, initial positions; row i is new point i) in the field. The rows of
// P (CSR, m rows: indptr m + 1, indices into the reference, data p_{j|i}) are the new
// points' conditional probabilities.
TransformResult EmbedNewPoints(const ReferenceField& field, const int64_t* indptr,
                               const int32_t* indices, const double* data, int64_t m, float* Y,
                               const TransformParams& params, ThreadPool& pool,
                               const TransformProgressFn& progress);

}  // namespace acctsne
