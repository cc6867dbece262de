// An orthonormal basis close to the leading principal subspace of a set of rows, used by
// the exact kNN (acctsne/knn.h) to prune distance computations with a lower bound.
//
// For an orthonormal basis V (m vectors) and the residual norm rho(x) = |x - V V^T x|,
//   |x - y|^2 = |V^T x - V^T y|^2 + |r(x) - r(y)|^2 >= |V^T x - V^T y|^2 + (rho(x) - rho(y))^2
// (reverse triangle inequality on the residuals). The bound holds for any orthonormal V;
// the closer V is to the top principal directions, the tighter it is. So the basis need
// not be converged, only orthonormal, and is computed cheaply: subspace iteration on the
// covariance of a strided sample of rows. Everything is summed in a fixed order, so the
// basis does not depend on the number of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "acctsne/parallel.h"

namespace acctsne {

// Rows: n x d row-major float32, already centred. Returns up to m orthonormal vectors of
// length d, concatenated (fewer when the sample's rank is lower; none for constant data).
std::vector<double> PrincipalSubspace(const float* rows, int64_t n, int64_t d, int m,
                                      ThreadPool& pool);

}  // namespace acctsne
