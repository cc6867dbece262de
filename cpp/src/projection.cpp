// Leading principal subspace by subspace iteration; see acctsne/projection.h.
#include "acctsne/projection.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace acctsne {
namespace {

constexpr int64_t kSampleRows = 4096;  // rows of the covariance estimate
constexpr int64_t kCovRowBlock = 16;   // covariance rows per parallel task
constexpr int kIterations = 12;        // power steps; the bound is valid after any number

// Orthonormalises the m vectors (each of length d) in place by modified Gram-Schmidt,
// run twice for orthogonality to rounding level; drops vectors that vanish. Returns the
// number kept.
int Orthonormalize(std::vector<double>& basis, int64_t d, int m) {
  int kept = 0;
  for (int c = 0; c < m; ++c) {
    double* v = &basis[static_cast<size_t>(c * d)];
    const double original = std::sqrt(std::inner_product(v, v + d, v, 0.0));
    for (int pass = 0; pass < 2; ++pass) {
      for (int p = 0; p < kept; ++p) {
        const double* u = &basis[static_cast<size_t>(p * d)];
        const double dot = std::inner_product(u, u + d, v, 0.0);
        for (int64_t f = 0; f < d; ++f) v[f] -= dot * u[f];
      }
    }
    const double norm = std::sqrt(std::inner_product(v, v + d, v, 0.0));
    if (!(norm > 1e-9 * original) || norm == 0.0) continue;  // in the span of the others
    double* dst = &basis[static_cast<size_t>(kept * d)];
    for (int64_t f = 0; f < d; ++f) dst[f] = v[f] / norm;
    ++kept;
  }
  basis.resize(static_cast<size_t>(kept * d));
  return kept;
}

}  // namespace

std::vector<double> PrincipalSubspace(const float* rows, int64_t n, int64_t d, int m,
                                      ThreadPool& pool) {
  m = static_cast<int>(std::min<int64_t>(m, d));
  const int64_t stride = std::max<int64_t>(1, n / kSampleRows);
  const int64_t n_sample = (n + stride - 1) / stride;

  // Upper triangle of the sample's scatter matrix, each entry summed in row order.
  std::vector<double> cov(static_cast<size_t>(d * d), 0.0);
  ParallelForRange(pool, d, kCovRowBlock, [&](int64_t a0, int64_t a1) {
    for (int64_t s = 0; s < n_sample; ++s) {
      const float* x = rows + s * stride * d;
      for (int64_t a = a0; a < a1; ++a) {
        const double xa = x[a];
        double* c = &cov[static_cast<size_t>(a * d)];
        for (int64_t b = a; b < d; ++b) c[b] += xa * static_cast<double>(x[b]);
      }
    }
  });
  for (int64_t a = 0; a < d; ++a)
    for (int64_t b = 0; b < a; ++b) cov[static_cast<size_t>(a * d + b)] = cov[b * d + a];

  // Start from the m coordinate axes of largest variance (ties to the lower axis).
  std::vector<int64_t> axes(static_cast<size_t>(d));
  std::iota(axes.begin(), axes.end(), 0);
  std::stable_sort(axes.begin(), axes.end(), [&](int64_t a, int64_t b) {
    return cov[static_cast<size_t>(a * d + a)] > cov[static_cast<size_t>(b * d + b)];
  });
  std::vector<double> basis(static_cast<size_t>(m * d), 0.0);
  for (int c = 0; c < m; ++c) basis[static_cast<size_t>(c * d + axes[c])] = 1.0;

  std::vector<double> next(basis.size());
  for (int it = 0; it < kIterations && m > 0; ++it) {
    ParallelForRange(pool, m, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const double* v = &basis[static_cast<size_t>(c * d)];
        double* out = &next[static_cast<size_t>(c * d)];
        for (int64_t a = 0; a < d; ++a) {
          const double* row = &cov[static_cast<size_t>(a * d)];
          out[a] = std::inner_product(row, row + d, v, 0.0);
        }
      }
    });
    next.resize(static_cast<size_t>(m * d));
    basis.swap(next);
    m = Orthonormalize(basis, d, m);
    next.resize(basis.size());
  }
  return basis;
}

}  // namespace acctsne
