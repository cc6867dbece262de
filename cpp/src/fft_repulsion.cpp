// FFT-interpolation repulsion; see acctsne/fft_repulsion.h.
#include "acctsne/fft_repulsion.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "acctsne/common.h"

namespace acctsne {
namespace {

constexpr int kMaxNodes = 8;           // interpolation points per box, at most
constexpr int64_t kPointBlock = 4096;  // points per parallel block

bool IsFiveSmooth(int v) {
  for (int f : {2, 3, 5})
    while (v % f == 0) v /= f;
  return v == 1;
}

// Node grid of one call: square, centred on the embedding's bounding box.
struct Grid {
  int dims = 0;
  int nodes = 0;        // per box and dimension (p)
  int boxes = 0;        // per dimension
  int64_t n = 0;        // nodes per dimension, boxes * p
  double lo[2] = {0, 0};
  double box_len = 0.0;
  double h = 0.0;       // node spacing, box_len / p
  double centre[2] = {0, 0};
};

// Lagrange basis at u (in node units within a box; nodes at j + 0.5) and the box index.
struct Stencil {
  int box[2];
  double w[2][kMaxNodes];
};

inline Stencil MakeStencil(const Grid& g, const float* y, const double* denominators) {
  Stencil s;
  for (int a = 0; a < g.dims; ++a) {
    const double t = (static_cast<double>(y[a]) - g.lo[a]) / g.box_len;
    const int b = std::min(g.boxes - 1, std::max(0, static_cast<int>(t)));
    const double u = (t - b) * g.nodes;  // in [0, p]
    s.box[a] = b;
    LagrangeBasis(u, g.nodes, denominators, s.w[a]);
  }
  return s;
}

}  // namespace

int IntervalsFor(double span, const InterpolationParams& params) {
  double wanted = std::ceil(span * params.intervals_per_unit);
  if (!(wanted >= params.min_intervals)) wanted = params.min_intervals;  // also NaN
  if (wanted > params.max_intervals) wanted = params.max_intervals;
  int boxes = static_cast<int>(wanted);
  while (!IsFiveSmooth(boxes)) ++boxes;
  return boxes;
}

double InterpolatedRepulsion(const float* Y, int64_t n, int dims, double heavy_tail_dof,
                             const InterpolationParams& params, GridConvolver& convolver,
                             ThreadPool& pool, float* neg) {
  ACCTSNE_CHECK(dims == 1 || dims == 2, "FFT interpolation needs 1 or 2 dimensions, got ", dims);
  CheckHeavyTailDof(heavy_tail_dof);
  const bool heavy_tail = heavy_tail_dof > 0.0;
  const int p = params.n_interpolation_points;
  ACCTSNE_CHECK(p >= 1 && p <= kMaxNodes, "n_interpolation_points must be in [1, ", kMaxNodes,
                "], got ", p);
  ACCTSNE_CHECK(params.min_intervals >= 1 && params.max_intervals >= params.min_intervals,
                "need 1 <= min_intervals <= max_intervals, got ", params.min_intervals, " and ",
                params.max_intervals);

  // Bounding box (min/max are exact whatever the blocking).
  const int64_t n_blocks = NumBlocks(n, kPointBlock);
  std::vector<float> block_lo(static_cast<size_t>(n_blocks * dims)),
      block_hi(static_cast<size_t>(n_blocks * dims));
  pool.run(n_blocks, [&](int64_t b) {
    const int64_t end = std::min(n, (b + 1) * kPointBlock);
    for (int a = 0; a < dims; ++a) {
      float lo = std::numeric_limits<float>::infinity(), hi = -lo;
      for (int64_t i = b * kPointBlock; i < end; ++i) {
        lo = std::min(lo, Y[i * dims + a]);
        hi = std::max(hi, Y[i * dims + a]);
      }
      block_lo[b * dims + a] = lo;
      block_hi[b * dims + a] = hi;
    }
  });
  Grid g;
  g.dims = dims;
  g.nodes = p;
  double span = 0.0, mid[2] = {0, 0};
  for (int a = 0; a < dims; ++a) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int64_t b = 0; b < n_blocks; ++b) {
      lo = std::min(lo, static_cast<double>(block_lo[b * dims + a]));
      hi = std::max(hi, static_cast<double>(block_hi[b * dims + a]));
    }
    if (!std::isfinite(lo) || !std::isfinite(hi))
      throw NumericalError("FFT repulsion: the embedding contains non-finite values");
    span = std::max(span, hi - lo);
    mid[a] = 0.5 * (lo + hi);
  }
  g.boxes = IntervalsFor(span, params);
  span = std::max(span, 1e-6) * (1.0 + 1e-9);  // room for the top edge
  g.box_len = span / g.boxes;
  g.h = g.box_len / p;
  g.n = static_cast<int64_t>(g.boxes) * p;
  for (int a = 0; a < dims; ++a) {
    g.lo[a] = mid[a] - 0.5 * span;
    g.centre[a] = mid[a];
  }
  double denominators[kMaxNodes];
  LagrangeDenominators(p, denominators);

  // Points grouped by their box along the last dimension (stable counting sort): the
  // group of a box row writes only that row's nodes.
  const int last = dims - 1;
  std::vector<int64_t> row_start(static_cast<size_t>(g.boxes) + 1, 0);
  std::vector<int32_t> row_of(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double t = (static_cast<double>(Y[i * dims + last]) - g.lo[last]) / g.box_len;
    const int b = std::min(g.boxes - 1, std::max(0, static_cast<int>(t)));
    row_of[i] = b;
    ++row_start[b + 1];
  }
  for (int b = 0; b < g.boxes; ++b) row_start[b + 1] += row_start[b];
  std::vector<int32_t> by_row(static_cast<size_t>(n));
  {
    std::vector<int64_t> next(row_start.begin(), row_start.end() - 1);
    for (int64_t i = 0; i < n; ++i) by_row[next[row_of[i]]++] = static_cast<int32_t>(i);
  }

  // Charges (1, y, |y|^2) with y relative to the grid centre (smaller |y|, less
  // cancellation in Z), spread onto the node grid. The heavy-tailed kernel spreads
  // (1, y) only; its last grid is a copy of the charge 1 for the second kernel.
  const int n_charges = dims + 2;
  const int n_spread = heavy_tail ? dims + 1 : n_charges;
  const int64_t cells = dims == 1 ? g.n : g.n * g.n;
  std::vector<double> grids(static_cast<size_t>(n_charges * cells), 0.0);
  auto charges_of = [&](int64_t i, double* q) {
    double sq = 0.0;
    q[0] = 1.0;
    for (int a = 0; a < dims; ++a) {
      const double v = static_cast<double>(Y[i * dims + a]) - g.centre[a];
      q[1 + a] = v;
      sq += v * v;
    }
    q[dims + 1] = sq;
  };
  ParallelForRange(pool, g.boxes, 1, [&](int64_t row_begin, int64_t row_end) {
    double q[4];
    for (int64_t e = row_start[row_begin]; e < row_start[row_end]; ++e) {
      const int64_t i = by_row[e];
      const Stencil s = MakeStencil(g, Y + i * dims, denominators);
      charges_of(i, q);
      if (dims == 1) {
        for (int j = 0; j < p; ++j) {
          const int64_t node = int64_t{s.box[0]} * p + j;
          for (int c = 0; c < n_spread; ++c) grids[c * cells + node] += s.w[0][j] * q[c];
        }
      } else {
        for (int jy = 0; jy < p; ++jy) {
          const int64_t node_row = (int64_t{s.box[1]} * p + jy) * g.n + int64_t{s.box[0]} * p;
          for (int jx = 0; jx < p; ++jx) {
            const double w = s.w[1][jy] * s.w[0][jx];
            for (int c = 0; c < n_spread; ++c) grids[c * cells + node_row + jx] += w * q[c];
          }
        }
      }
    }
  });
  double* const copy_grid = grids.data() + (dims + 1) * cells;
  if (heavy_tail) std::copy(grids.data(), grids.data() + cells, copy_grid);

  // Kernel at node offsets [0, n]^dims (it is even in each axis); 0 at offset n. The
  // heavy-tailed kernel has two: w u (kernel) for the charges (1, y) and w (kernel_w)
  // for the copy of the charge 1, with u = 1 / (1 + d^2 / a), w = u^a.
  const int64_t side = g.n + 1;
  const size_t kernel_size = static_cast<size_t>(dims == 1 ? side : side * side);
  std::vector<double> kernel(kernel_size, 0.0), kernel_w(heavy_tail ? kernel_size : 0, 0.0);
  const double h2 = g.h * g.h;
  ParallelForRange(pool, g.n, 64, [&](int64_t begin, int64_t end) {
    for (int64_t dy = begin; dy < end; ++dy) {
      const int64_t row_begin = dims == 1 ? dy : dy * side;
      for (int64_t dx = 0; dx < (dims == 1 ? 1 : g.n); ++dx) {
        const double d2 = static_cast<double>(dims == 1 ? dy * dy : dx * dx + dy * dy) * h2;
        if (heavy_tail) {
          const double w = std::exp(-heavy_tail_dof * std::log1p(d2 / heavy_tail_dof));
          kernel_w[row_begin + dx] = w;
          kernel[row_begin + dx] = w / (1.0 + d2 / heavy_tail_dof);
        } else {
          const double k = 1.0 / (1.0 + d2);
          kernel[row_begin + dx] = k * k;
        }
      }
    }
  });

  if (heavy_tail) {
    convolver.Convolve(dims, g.n, kernel.data(), n_spread, grids.data());
    convolver.Convolve(dims, g.n, kernel_w.data(), 1, copy_grid);
  } else {
    convolver.Convolve(dims, g.n, kernel.data(), n_charges, grids.data());
  }

  // Back to the points: phi_c, then R and each point's share of Z.
  return ParallelSum(pool, n, kPointBlock, [&](int64_t begin, int64_t end) {
    double z = 0.0;
    double q[4];
    for (int64_t i = begin; i < end; ++i) {
      const Stencil s = MakeStencil(g, Y + i * dims, denominators);
      double phi[4] = {0, 0, 0, 0};
      if (dims == 1) {
        for (int j = 0; j < p; ++j) {
          const int64_t node = int64_t{s.box[0]} * p + j;
          for (int c = 0; c < n_charges; ++c) phi[c] += s.w[0][j] * grids[c * cells + node];
        }
      } else {
        for (int jy = 0; jy < p; ++jy) {
          const int64_t node_row = (int64_t{s.box[1]} * p + jy) * g.n + int64_t{s.box[0]} * p;
          for (int jx = 0; jx < p; ++jx) {
            const double w = s.w[1][jy] * s.w[0][jx];
            for (int c = 0; c < n_charges; ++c) phi[c] += w * grids[c * cells + node_row + jx];
          }
        }
      }
      charges_of(i, q);  // q = (1, y, |y|^2) relative to the centre
      if (heavy_tail) {  // phi = (sum w u, sum w u y, sum w)
        for (int a = 0; a < dims; ++a)
          neg[i * dims + a] = static_cast<float>(q[1 + a] * phi[0] - phi[1 + a]);
        z += phi[dims + 1] - 1.0;  // minus the point's own w(0) = 1
        continue;
      }
      double zi = (1.0 + q[dims + 1]) * phi[0] + phi[dims + 1];
      for (int a = 0; a < dims; ++a) {
        neg[i * dims + a] = static_cast<float>(q[1 + a] * phi[0] - phi[1 + a]);
        zi -= 2.0 * q[1 + a] * phi[1 + a];
      }
      z += zi - 1.0;  // minus the point's own term K(0) (1 + 0) = 1
    }
    return z;
  });
}

namespace {

class FftRepulsion : public RepulsionMethod {
 public:
  FftRepulsion(const GradientParams& params, GridConvolver& convolver)
      : dims_(params.dims),
        heavy_tail_dof_(params.heavy_tail_dof),
        params_(params.interpolation),
        convolver_(convolver) {
    ACCTSNE_CHECK(dims_ == 1 || dims_ == 2, "the FFT method needs 1 or 2 dimensions, got ",
                  dims_);
    ACCTSNE_CHECK(heavy_tail_dof_ > 0.0 || params.dof == 1, "the FFT method needs dof 1, got ",
                  params.dof);
  }

  double Compute(const float* Y, int64_t n, ThreadPool& pool, PhaseTimes& times,
                 float* neg) override {
    const auto t0 = std::chrono::steady_clock::now();
    const double z =
        InterpolatedRepulsion(Y, n, dims_, heavy_tail_dof_, params_, convolver_, pool, neg);
    times.repulsion +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return z;
  }

 private:
  int dims_;
  double heavy_tail_dof_;
  InterpolationParams params_;
  GridConvolver& convolver_;
};

}  // namespace

std::unique_ptr<RepulsionMethod> MakeFftRepulsion(const GradientParams& params,
                                                  const RepulsionContext& context) {
  ACCTSNE_CHECK(context.convolver != nullptr, "the FFT method needs a grid convolver");
  return std::make_unique<FftRepulsion>(params, *context.convolver);
}

}  // namespace acctsne
