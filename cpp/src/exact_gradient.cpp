// Exact gradient; see acctsne/exact_gradient.h.
#include "acctsne/exact_gradient.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "acctsne/common.h"

namespace acctsne {
namespace {

constexpr int64_t kRowBlock = 16;

inline double Weight(const float* Y, int64_t i, int64_t j, int dims, double dof,
                     double exponent) {
  double d2 = 0.0;
  for (int a = 0; a < dims; ++a) {
    const double diff = static_cast<double>(Y[i * dims + a]) - static_cast<double>(Y[j * dims + a]);
    d2 += diff * diff;
  }
  return std::pow(d2 / dof + 1.0, exponent);
}

}  // namespace

double ExactGradient(const double* P, double p_scale, const float* Y, int64_t n, int dims,
                     int dof, bool compute_error, ThreadPool& pool, double* grad) {
  ACCTSNE_CHECK(dims >= 1, "embedding dimensions must be >= 1, got ", dims);
  ACCTSNE_CHECK(dof >= 1, "degrees of freedom must be >= 1, got ", dof);
  const double dof_d = dof;
  const double exponent = (dof_d + 1.0) / -2.0;
  const double z = ParallelSum(pool, n, kRowBlock, [&](int64_t begin, int64_t end) {
    double s = 0.0;
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = 0; j < n; ++j)
        if (j != i) s += Weight(Y, i, j, dims, dof_d, exponent);
    return s;
  });
  if (!std::isfinite(z) || z <= 0.0)
    throw NumericalError(StrCat("exact gradient: the normalisation Z is ", z));
  const double c = 2.0 * (dof_d + 1.0) / dof_d;
  const double kl = ParallelSum(pool, n, kRowBlock, [&](int64_t begin, int64_t end) {
    double kl_part = 0.0;
    std::vector<double> g(static_cast<size_t>(dims));
    for (int64_t i = begin; i < end; ++i) {
      std::fill(g.begin(), g.end(), 0.0);
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const double w = Weight(Y, i, j, dims, dof_d, exponent);
        const double q = std::max(w / z, kFloat64Eps);
        const double p = P[i * n + j] * p_scale;
        const double m = (p - q) * w;
        for (int a = 0; a < dims; ++a)
          g[a] += m * (static_cast<double>(Y[i * dims + a]) - static_cast<double>(Y[j * dims + a]));
        if (compute_error) kl_part += p * std::log(std::max(p, kFloat64Eps) / q);
      }
      for (int a = 0; a < dims; ++a) grad[i * dims + a] = c * g[a];
    }
    return kl_part;
  });
  return compute_error ? kl : 0.0;
}

}  // namespace acctsne
