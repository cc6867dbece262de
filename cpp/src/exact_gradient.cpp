// Exact gradient; see acctsne/exact_gradient.h.
#include "acctsne/exact_gradient.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "acctsne/common.h"
#include "acctsne/repulsion_method.h"

namespace acctsne {
namespace {

constexpr int64_t kRowBlock = 16;

inline double SquaredDistance(const float* Y, int64_t i, int64_t j, int dims) {
  double d2 = 0.0;
  for (int a = 0; a < dims; ++a) {
    const double diff = static_cast<double>(Y[i * dims + a]) - static_cast<double>(Y[j * dims + a]);
    d2 += diff * diff;
  }
  return d2;
}

// The kernel w of a squared distance, and the factor g of (p - q) in the gradient: w itself
// for sklearn's kernel of `dof`, u = 1 / (1 + d2 / a) for the heavy-tailed one of a > 0.
struct Kernel {
  double dof;
  double heavy_tail_dof;  // a; 0: sklearn's kernel

  double Weight(double d2, double* g) const {
    if (heavy_tail_dof > 0.0) {
      const double base = d2 / heavy_tail_dof + 1.0;
      *g = 1.0 / base;
      return std::pow(base, -heavy_tail_dof);
    }
    const double w = std::pow(d2 / dof + 1.0, (dof + 1.0) / -2.0);
    *g = w;
    return w;
  }
};

}  // namespace

double ExactGradient(const double* P, double p_scale, const float* Y, int64_t n, int dims,
                     int dof, double heavy_tail_dof, bool compute_error, ThreadPool& pool,
                     double* grad) {
  ACCTSNE_CHECK(dims >= 1, "embedding dimensions must be >= 1, got ", dims);
  CheckHeavyTailDof(heavy_tail_dof);
  if (heavy_tail_dof == 1.0) {  // the Cauchy kernel: sklearn's dof 1, with its bits
    heavy_tail_dof = 0.0;
    dof = 1;
  }
  const bool heavy_tail = heavy_tail_dof > 0.0;
  ACCTSNE_CHECK(heavy_tail || dof >= 1, "degrees of freedom must be >= 1, got ", dof);
  const Kernel kernel{static_cast<double>(dof), heavy_tail_dof};
  const double z = ParallelSum(pool, n, kRowBlock, [&](int64_t begin, int64_t end) {
    double s = 0.0, g = 0.0;
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = 0; j < n; ++j)
        if (j != i) s += kernel.Weight(SquaredDistance(Y, i, j, dims), &g);
    return s;
  });
  if (!std::isfinite(z) || z <= 0.0)
    throw NumericalError(StrCat("exact gradient: the normalisation Z is ", z));
  const double c = heavy_tail ? 4.0 : 2.0 * (kernel.dof + 1.0) / kernel.dof;
  const double kl = ParallelSum(pool, n, kRowBlock, [&](int64_t begin, int64_t end) {
    double kl_part = 0.0;
    std::vector<double> grad_i(static_cast<size_t>(dims));
    for (int64_t i = begin; i < end; ++i) {
      std::fill(grad_i.begin(), grad_i.end(), 0.0);
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        double g = 0.0;
        const double w = kernel.Weight(SquaredDistance(Y, i, j, dims), &g);
        const double q = std::max(w / z, kFloat64Eps);
        const double p = P[i * n + j] * p_scale;
        const double m = (p - q) * g;
        for (int a = 0; a < dims; ++a)
          grad_i[a] +=
              m * (static_cast<double>(Y[i * dims + a]) - static_cast<double>(Y[j * dims + a]));
        if (compute_error) kl_part += p * std::log(std::max(p, kFloat64Eps) / q);
      }
      for (int a = 0; a < dims; ++a) grad[i * dims + a] = c * grad_i[a];
    }
    return kl_part;
  });
  return compute_error ? kl : 0.0;
}

}  // namespace acctsne
