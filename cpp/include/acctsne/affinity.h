// Input-space affinities P (van der Maaten 2014, eqs. 1-2; sklearn's
// _binary_search_perplexity and _joint_probabilities[_nn]).
//
//   p_{j|i} = exp(-beta_i d_ij^2) / sum_k exp(-beta_i d_ik^2)   (d^2: squared distances)
//   beta_i by bisection so that H(P_i) = log(perplexity)        (natural log; |dH| <= 1e-5)
//   p_ij = (p_{j|i} + p_{i|j}) / sum_{kl}(p_{k|l} + p_{l|k})
//
// Multiscale (openTSNE's Multiscale, FIt-SNE's perplexity_list): with perplexities
// s_1..s_S, each row is searched once per perplexity over the same k neighbours (its own
// beta_i^(s)), and p_{j|i} = (1/S) sum_s p^(s)_{j|i} (each row sums to 1 before and after
// the average). One perplexity is exactly the single-scale search.
//
// The search follows sklearn step for step (beta starts at 1, doubles/halves until
// bracketed, then bisects, at most 100 steps, sum floored at 1e-8, float32 distances and
// float64 arithmetic), so conditional rows agree with sklearn's to rounding (the step's
// exp and sums are vectorised, kernels/: within ~1e-15 of libm's, same betas on MNIST).
// Rows are independent and run in parallel.
#pragma once

#include <cstdint>
#include <vector>

#include "acctsne/parallel.h"
#include "acctsne/simd.h"

namespace acctsne {

// sq_distances: n x k (row i: squared distances from i to k other points). When
// skip_diagonal is true the matrix is n x n and entry (i, i) is ignored (exact method).
// perplexities: S >= 1 values, each finite and > 0 (else InvalidArgument).
// Writes conditional probabilities (n x k; T = double or float, the search itself runs in
// float64), averaged over the perplexities, and each row's precisions (n x S, row-major:
// betas[i * S + s]). cond_p may alias sq_distances (same n x k float buffer): each row's
// distances are read in full before its probabilities are written.
template <typename T>
void ConditionalProbabilities(const float* sq_distances, int64_t n, int64_t k,
                              bool skip_diagonal, const float* perplexities,
                              int64_t n_perplexities, SimdLevel level, ThreadPool& pool,
                              T* cond_p, double* betas);

// The single-scale search (betas: n).
template <typename T>
void ConditionalProbabilities(const float* sq_distances, int64_t n, int64_t k,
                              bool skip_diagonal, float perplexity, SimdLevel level,
                              ThreadPool& pool, T* cond_p, double* betas) {
  ConditionalProbabilities(sq_distances, n, k, skip_diagonal, &perplexity, 1, level, pool,
                           cond_p, betas);
}

// Symmetrised, normalised P in CSR (column indices sorted within each row).
struct SparseP {
  std::vector<int64_t> indptr;
  std::vector<int32_t> indices;
  std::vector<float> data;
};

// From a kNN graph (neighbors: n x k indices) and its conditional probabilities
// (n x k, float32: P is stored in float32, so wider inputs would only add memory),
// builds P = (C + C^T) / sum(C + C^T). Duplicated entries are summed. The peak memory of
// a fit at large n is here, so besides the inputs and P it holds only the transpose's
// entry positions (4 bytes per entry below 2^32 entries); each row's forward entries are
// sorted in a small per-thread buffer when the row is merged.
SparseP SymmetrizeKnn(const int32_t* neighbors, const float* cond, int64_t n, int64_t k,
                      ThreadPool& pool);

// Dense exact-method P (n x n, float64): p_ij = max((c_ij + c_ji) / sum, eps) off the
// diagonal, 0 on it. cond_p is overwritten with the result.
void SymmetrizeDense(double* cond_p, int64_t n, ThreadPool& pool);

}  // namespace acctsne
