// Embedding new points into a finished map; see acctsne/transform.h.
#include "acctsne/transform.h"

#include <algorithm>
#include <cmath>

#include "acctsne/common.h"

namespace acctsne {
namespace {

constexpr int64_t kPointBlock = 256;  // new points per parallel block

struct Rows {
  const int64_t* indptr;
  const int32_t* indices;
  const double* data;
};

// KL(p_i || q_i) of one point: sum p log p - sum p log w + log z sum p.
double PointKl(const ReferenceField& field, const Rows& P, int64_t i, const float* y, double z) {
  const StudentKernel& k = field.kernel();
  const float* ref = field.reference();
  const int dims = field.dims();
  double kl = 0.0, p_sum = 0.0;
  for (int64_t e = P.indptr[i]; e < P.indptr[i + 1]; ++e) {
    const double p = P.data[e];
    if (p <= 0.0) continue;
    const float* yj = ref + int64_t{P.indices[e]} * dims;
    double d2 = 0.0;
    for (int a = 0; a < dims; ++a) {
      const double d = static_cast<double>(y[a]) - yj[a];
      d2 += d * d;
    }
    kl += p * (std::log(p) + k.exponent * std::log1p(d2 / k.alpha));
    p_sum += p;
  }
  return kl + std::log(z) * p_sum;
}

// attract += sum_e p_e u_e (y - y_e), u = 1 / (1 + |y - y_e|^2 / alpha), in float (the
// positions are float; 16-odd terms), entries [begin, end).
template <int kDims>
inline void Attract(const float* y, const float* pos, const float* p, int64_t begin,
                    int64_t end, float inv_alpha, double* attract) {
  float acc[kDims] = {};
  for (int64_t e = begin; e < end; ++e) {
    float diff[kDims], d2 = 0.0f;
    for (int a = 0; a < kDims; ++a) {
      diff[a] = y[a] - pos[e * kDims + a];
      d2 += diff[a] * diff[a];
    }
    const float pu = p[e] / (1.0f + d2 * inv_alpha);
    for (int a = 0; a < kDims; ++a) acc[a] += pu * diff[a];
  }
  for (int a = 0; a < kDims; ++a) attract[a] = acc[a];
}

}  // namespace

TransformResult EmbedNewPoints(const ReferenceField& field, const int64_t* indptr,
                               const int32_t* indices, const double* data, int64_t m, float* Y,
                               const TransformParams& params, ThreadPool& pool,
                               const TransformProgressFn& progress) {
  ACCTSNE_CHECK(params.learning_rate > 0.0 && std::isfinite(params.learning_rate),
                "learning_rate must be positive, got ", params.learning_rate);
  ACCTSNE_CHECK(std::isfinite(params.max_grad_norm), "max_grad_norm must be finite, got ",
                params.max_grad_norm);
  ACCTSNE_CHECK(params.n_iter_report >= 0, "n_iter_report must be >= 0, got ",
                params.n_iter_report);
  for (const TransformPhase& phase : params.phases) {
    ACCTSNE_CHECK(phase.n_iter >= 0, "iterations must be >= 0, got ", phase.n_iter);
    ACCTSNE_CHECK(phase.exaggeration > 0.0 && std::isfinite(phase.exaggeration),
                  "exaggeration must be positive, got ", phase.exaggeration);
    ACCTSNE_CHECK(phase.momentum >= 0.0 && phase.momentum < 1.0,
                  "momentum must be in [0, 1), got ", phase.momentum);
  }
  const int dims = field.dims();
  const int64_t n_ref = field.n_reference();
  ACCTSNE_CHECK(indptr[0] == 0, "P's indptr must start at 0");
  for (int64_t i = 0; i < m; ++i)
    ACCTSNE_CHECK(indptr[i + 1] >= indptr[i], "P's indptr must be non-decreasing");
  for (int64_t e = 0; e < indptr[m]; ++e) {
    ACCTSNE_CHECK(indices[e] >= 0 && indices[e] < n_ref, "P's column ", indices[e],
                  " is not a reference point (", n_ref, ")");
    ACCTSNE_CHECK(std::isfinite(data[e]) && data[e] >= 0.0, "P's entries must be finite and >= 0");
  }
  for (int64_t e = 0; e < m * dims; ++e)
    if (!std::isfinite(Y[e]))
      throw NumericalError("transform: the initial positions contain non-finite values");

  const Rows P{indptr, indices, data};
  const int64_t size = m * dims;
  // The neighbours' positions (fixed: the reference does not move) and p, gathered once
  // in float: the attraction then streams through them (the gathers and float64
  // divisions were two thirds of the time on MNIST).
  const int64_t nnz = indptr[m];
  std::vector<float> neighbour_pos(static_cast<size_t>(nnz * dims));
  std::vector<float> p_float(static_cast<size_t>(nnz));
  {
    const float* ref = field.reference();
    for (int64_t e = 0; e < nnz; ++e) {
      for (int a = 0; a < dims; ++a)
        neighbour_pos[static_cast<size_t>(e * dims + a)] = ref[int64_t{indices[e]} * dims + a];
      p_float[static_cast<size_t>(e)] = static_cast<float>(data[e]);
    }
  }
  const float inv_alpha = static_cast<float>(1.0 / field.kernel().alpha);
  std::vector<float> gains(static_cast<size_t>(size));
  std::vector<double> update(static_cast<size_t>(size));
  const int64_t n_blocks = NumBlocks(m, kPointBlock);
  std::vector<char> block_bad(static_cast<size_t>(n_blocks));

  // One iteration of points [begin, end); returns their KL sum when asked.
  auto step = [&](int64_t begin, int64_t end, const TransformPhase& phase, bool want_kl) {
    double kl_sum = 0.0;
    bool bad = false;
    for (int64_t i = begin; i < end; ++i) {
      float* y = Y + i * dims;
      double z, force[3], attract[3] = {0, 0, 0};
      field.Evaluate(y, &z, force);
      z = std::max(z, kFloat64Eps);
      switch (dims) {
        case 1:
          Attract<1>(y, neighbour_pos.data(), p_float.data(), P.indptr[i], P.indptr[i + 1],
                     inv_alpha, attract);
          break;
        case 2:
          Attract<2>(y, neighbour_pos.data(), p_float.data(), P.indptr[i], P.indptr[i + 1],
                     inv_alpha, attract);
          break;
        default:
          Attract<3>(y, neighbour_pos.data(), p_float.data(), P.indptr[i], P.indptr[i + 1],
                     inv_alpha, attract);
      }
      if (want_kl) kl_sum += PointKl(field, P, i, y, z);
      double g[3], norm2 = 0.0;
      for (int a = 0; a < dims; ++a) {
        g[a] = phase.exaggeration * attract[a] - force[a] / z;
        norm2 += g[a] * g[a];
      }
      if (params.max_grad_norm > 0.0) {
        const double coeff = params.max_grad_norm / (std::sqrt(norm2) + 1e-6);
        if (coeff < 1.0)
          for (int a = 0; a < dims; ++a) g[a] *= coeff;
      }
      for (int a = 0; a < dims; ++a) {
        const int64_t c = i * dims + a;
        float gain = gains[c];
        gain = (update[c] * g[a] < 0.0) ? gain + 0.2f : gain * 0.8f;
        gain = std::max(gain, params.min_gain);
        gains[c] = gain;
        update[c] = phase.momentum * update[c] - params.learning_rate * gain * g[a];
        y[a] = static_cast<float>(static_cast<double>(y[a]) + update[c]);
        bad |= !std::isfinite(y[a]);
      }
    }
    block_bad[static_cast<size_t>(begin / kPointBlock)] = bad;
    return kl_sum;
  };

  int total_iter = 0;
  for (const TransformPhase& phase : params.phases) total_iter += phase.n_iter;
  TransformResult result;
  int it = 0;
  for (const TransformPhase& phase : params.phases) {
    // Fresh gains and update in each phase, as in the fit.
    std::fill(gains.begin(), gains.end(), 1.0f);
    std::fill(update.begin(), update.end(), 0.0);
    for (int t = 0; t < phase.n_iter; ++t, ++it) {
      pool.check_interrupt();
      const bool last = it + 1 == total_iter;
      const bool report =
          last || (params.n_iter_report > 0 && (it + 1) % params.n_iter_report == 0);
      const double kl_sum = ParallelSum(pool, m, kPointBlock, [&](int64_t begin, int64_t end) {
        return step(begin, end, phase, report);
      });
      for (char bad : block_bad)
        if (bad)
          throw NumericalError(StrCat("transform: a new point's position became non-finite at "
                                      "iteration ",
                                      it + 1, "; check learning_rate (", params.learning_rate,
                                      ")"));
      result.n_iter = it + 1;
      if (!report) continue;
      result.kl = m > 0 ? kl_sum / static_cast<double>(m) : 0.0;
      if (progress && progress(it + 1, result.kl)) {
        result.stopped = true;
        return result;
      }
    }
  }
  return result;
}

}  // namespace acctsne
