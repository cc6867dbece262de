// The repulsion field of a fixed reference embedding; see acctsne/reference_field.h.
#include "acctsne/reference_field.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "acctsne/common.h"
#include "acctsne/fft_repulsion.h"

namespace acctsne {

double StudentKernel::W(double u) const {
  if (exponent == 1.0) return u;
  if (exponent == 1.5) return u * std::sqrt(u);
  return std::pow(u, exponent);
}

ReferenceField::ReferenceField(const float* Y, int64_t n, int dims, const StudentKernel& kernel)
    : dims_(dims), n_(n), reference_(Y, Y + n * dims), kernel_(kernel) {}

namespace {

// Adds one source (count points at `at`) to z and F for the point y.
inline void AddSource(const StudentKernel& k, const float* y, const float* at, int dims,
                      double count, double* z, double* force) {
  double diff[3], d2 = 0.0;
  for (int a = 0; a < dims; ++a) {
    diff[a] = static_cast<double>(y[a]) - at[a];
    d2 += diff[a] * diff[a];
  }
  const double u = k.U(d2);
  const double w = k.W(u);
  *z += count * w;
  const double m = count * w * u;
  for (int a = 0; a < dims; ++a) force[a] += m * diff[a];
}

class ExactField : public ReferenceField {
 public:
  ExactField(const float* Y, int64_t n, int dims, const StudentKernel& kernel)
      : ReferenceField(Y, n, dims, kernel) {}

  void Evaluate(const float* y, double* z, double* force) const override {
    *z = 0.0;
    for (int a = 0; a < dims_; ++a) force[a] = 0.0;
    const float* ref = reference_.data();
    for (int64_t j = 0; j < n_; ++j) AddSource(kernel_, y, ref + j * dims_, dims_, 1.0, z, force);
  }
};

// A Barnes-Hut walk of one point over a tree of the reference, with scikit-learn's test:
// a cell is summarised by its centre of mass when max_width^2 < angle^2 d^2.
class TreeWalk {
 public:
  TreeWalk(const float* Y, int64_t n, int dims, float angle, ThreadPool& pool)
      : dims_(dims), theta2_(static_cast<double>(angle) * angle) {
    ACCTSNE_CHECK(dims >= 1 && dims <= QuadTree::kMaxDims, "the tree needs 1 to 3 dimensions, got ",
                  dims);
    ACCTSNE_CHECK(angle >= 0.0f && angle <= 1.0f, "angle must be in [0, 1], got ", angle);
    tree_.Build(Y, n, dims, pool);
  }

  void Evaluate(const StudentKernel& k, const float* y, double* z, double* force) const {
    *z = 0.0;
    for (int a = 0; a < dims_; ++a) force[a] = 0.0;
    const PackedNode* nodes = tree_.packed_nodes().data();
    const float* pos = tree_.sorted_positions().data();
    int32_t stack[kStackCapacity];
    int top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const PackedNode& node = nodes[stack[--top]];
      double d2 = 0.0;
      for (int a = 0; a < dims_; ++a) {
        const double d = static_cast<double>(y[a]) - node.com[a];
        d2 += d * d;
      }
      if (node.count > 1 && node.sq_width < theta2_ * d2) {
        AddSource(k, y, node.com, dims_, node.count, z, force);
      } else if (node.first_child >= 0) {
        for (int32_t c = node.first_child + node.n_children - 1; c >= node.first_child; --c)
          stack[top++] = c;
      } else {
        for (int32_t t = node.begin; t < node.begin + node.count; ++t)
          AddSource(k, y, pos + int64_t{t} * dims_, dims_, 1.0, z, force);
      }
    }
  }

 private:
  // Depth-first: at most (children - 1) pending siblings per level, 64 levels deep.
  static constexpr int kStackCapacity = 64 * 8 + 8;
  int dims_;
  double theta2_;
  QuadTree tree_;
};

class TreeField : public ReferenceField {
 public:
  TreeField(const float* Y, int64_t n, int dims, const StudentKernel& kernel, float angle,
            ThreadPool& pool)
      : ReferenceField(Y, n, dims, kernel), walk_(Y, n, dims, angle, pool) {}

  void Evaluate(const float* y, double* z, double* force) const override {
    walk_.Evaluate(kernel_, y, z, force);
  }

 private:
  TreeWalk walk_;
};

constexpr int kMaxNodes = 8;  // interpolation nodes per box, at most

// z and F on a node grid, interpolated at the point (1-D and 2-D).
class GridField : public ReferenceField {
 public:
  GridField(const float* Y, int64_t n, int dims, const FieldParams& params,
            GridConvolver& convolver, ThreadPool& pool)
      : ReferenceField(Y, n, dims, params.kernel),
        fallback_(Y, n, dims, params.angle, pool),
        nodes_(params.grid.n_interpolation_points) {
    ACCTSNE_CHECK(dims == 1 || dims == 2, "the grid field needs 1 or 2 dimensions, got ", dims);
    ACCTSNE_CHECK(nodes_ >= 1 && nodes_ <= kMaxNodes, "n_interpolation_points must be in [1, ",
                  kMaxNodes, "], got ", nodes_);
    ACCTSNE_CHECK(std::isfinite(params.grid_margin) && params.grid_margin >= 0.0,
                  "grid_margin must be >= 0, got ", params.grid_margin);
    ACCTSNE_CHECK(params.grid.min_intervals >= 1 &&
                      params.grid.max_intervals >= params.grid.min_intervals,
                  "need 1 <= min_intervals <= max_intervals, got ", params.grid.min_intervals,
                  " and ", params.grid.max_intervals);
    Layout(params);
    Fill(convolver);
  }

  void Evaluate(const float* y, double* z, double* force) const override {
    int box[2];
    double w[2][kMaxNodes];
    if (!Stencil(y, box, w)) {
      fallbacks_.fetch_add(1, std::memory_order_relaxed);
      fallback_.Evaluate(kernel_, y, z, force);
      return;
    }
    double phi[4] = {0, 0, 0, 0};  // (z, F charge 1, F charges y)
    const int n_values = dims_ + 2;
    const int p = nodes_;
    if (dims_ == 1) {
      for (int j = 0; j < p; ++j) {
        const double* v = &values_[(int64_t{box[0]} * p + j) * n_values];
        for (int c = 0; c < n_values; ++c) phi[c] += w[0][j] * v[c];
      }
    } else {
      for (int jy = 0; jy < p; ++jy) {
        const int64_t row = (int64_t{box[1]} * p + jy) * n_nodes_ + int64_t{box[0]} * p;
        for (int jx = 0; jx < p; ++jx) {
          const double wt = w[1][jy] * w[0][jx];
          const double* v = &values_[(row + jx) * n_values];
          for (int c = 0; c < n_values; ++c) phi[c] += wt * v[c];
        }
      }
    }
    *z = phi[0];
    for (int a = 0; a < dims_; ++a)
      force[a] = (static_cast<double>(y[a]) - centre_[a]) * phi[1] - phi[2 + a];
  }

  int64_t fallback_count() const override { return fallbacks_.load(); }

 private:
  // A square grid centred on the reference's bounding box, `margin` of its span wider
  // on each side (points placed near the edge of the map stay inside).
  void Layout(const FieldParams& params) {
    double span = 0.0;
    for (int a = 0; a < dims_; ++a) {
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      for (int64_t j = 0; j < n_; ++j) {
        lo = std::min(lo, static_cast<double>(reference_[j * dims_ + a]));
        hi = std::max(hi, static_cast<double>(reference_[j * dims_ + a]));
      }
      if (!std::isfinite(lo) || !std::isfinite(hi))
        throw NumericalError("transform: the reference embedding contains non-finite values");
      span = std::max(span, hi - lo);
      centre_[a] = 0.5 * (lo + hi);
    }
    const double side = std::max(span, 1.0) * (1.0 + 2.0 * params.grid_margin);
    // A 1-D grid is 4x finer (it costs nodes, not nodes^2): with the fit's spacing, a
    // point next to a reference point saw force errors near 8% (2-D: 2%).
    InterpolationParams grid = params.grid;
    if (dims_ == 1) {
      grid.intervals_per_unit *= 4.0;
      grid.min_intervals *= 4;
      grid.max_intervals *= 4;
    }
    boxes_ = IntervalsFor(side, grid);
    box_len_ = side / boxes_;
    n_nodes_ = int64_t{boxes_} * nodes_;
    for (int a = 0; a < dims_; ++a) lo_[a] = centre_[a] - 0.5 * side;
    LagrangeDenominators(nodes_, denominators_);
  }

  // Box of y per axis and the Lagrange basis at y (nodes at j + 0.5 within a box, in node
  // units); false outside the grid.
  bool Stencil(const float* y, int* box, double (*w)[kMaxNodes]) const {
    for (int a = 0; a < dims_; ++a) {
      const double t = (static_cast<double>(y[a]) - lo_[a]) / box_len_;
      if (!(t >= 0.0 && t < boxes_)) return false;
      const int b = std::min(boxes_ - 1, static_cast<int>(t));
      const double u = (t - b) * nodes_;
      box[a] = b;
      LagrangeBasis(u, nodes_, denominators_, w[a]);
    }
    return true;
  }

  // Spreads the reference's charges onto the nodes (in point order: one fixed sum), then
  // convolves: K1 = w with charge 1 gives z; K2 = w u with charges (1, y - centre) gives F.
  void Fill(GridConvolver& convolver) {
    const int p = nodes_;
    const int64_t cells = dims_ == 1 ? n_nodes_ : n_nodes_ * n_nodes_;
    const int n_k2 = dims_ + 1;
    std::vector<double> grid_w(static_cast<size_t>(cells), 0.0);
    std::vector<double> grid_wu(static_cast<size_t>(n_k2 * cells), 0.0);
    for (int64_t j = 0; j < n_; ++j) {
      const float* yj = &reference_[j * dims_];
      int box[2];
      double w[2][kMaxNodes];
      if (!Stencil(yj, box, w)) throw NumericalError("transform: a reference point is off the grid");
      double q[3] = {1.0, 0.0, 0.0};
      for (int a = 0; a < dims_; ++a) q[1 + a] = static_cast<double>(yj[a]) - centre_[a];
      auto spread = [&](int64_t node, double wt) {
        grid_w[node] += wt;
        for (int c = 0; c < n_k2; ++c) grid_wu[c * cells + node] += wt * q[c];
      };
      if (dims_ == 1) {
        for (int jx = 0; jx < p; ++jx) spread(int64_t{box[0]} * p + jx, w[0][jx]);
      } else {
        for (int jy = 0; jy < p; ++jy)
          for (int jx = 0; jx < p; ++jx)
            spread((int64_t{box[1]} * p + jy) * n_nodes_ + int64_t{box[0]} * p + jx,
                   w[1][jy] * w[0][jx]);
      }
    }
    const int64_t side = n_nodes_ + 1;
    const double h = box_len_ / p;
    std::vector<double> k_w(static_cast<size_t>(dims_ == 1 ? side : side * side), 0.0);
    std::vector<double> k_wu(k_w.size(), 0.0);
    for (int64_t dy = 0; dy < n_nodes_; ++dy) {
      for (int64_t dx = 0; dx < (dims_ == 1 ? 1 : n_nodes_); ++dx) {
        const double d2 = (dims_ == 1 ? static_cast<double>(dy * dy)
                                      : static_cast<double>(dx * dx + dy * dy)) *
                          h * h;
        const double u = kernel_.U(d2);
        const double w = kernel_.W(u);
        const size_t at = static_cast<size_t>(dims_ == 1 ? dy : dy * side + dx);
        k_w[at] = w;
        k_wu[at] = w * u;
      }
    }
    convolver.Convolve(dims_, n_nodes_, k_w.data(), 1, grid_w.data());
    convolver.Convolve(dims_, n_nodes_, k_wu.data(), n_k2, grid_wu.data());
    // Interleaved per node (z, F1, Fy...): one evaluation reads contiguous values.
    const int n_values = dims_ + 2;
    values_.assign(static_cast<size_t>(cells * n_values), 0.0);
    for (int64_t node = 0; node < cells; ++node) {
      values_[node * n_values] = grid_w[node];
      for (int c = 0; c < n_k2; ++c) values_[node * n_values + 1 + c] = grid_wu[c * cells + node];
    }
  }

  TreeWalk fallback_;
  int nodes_;
  int boxes_ = 0;
  int64_t n_nodes_ = 0;  // per dimension
  double box_len_ = 0.0;
  double lo_[2] = {0, 0};
  double centre_[2] = {0, 0};
  double denominators_[kMaxNodes] = {};
  std::vector<double> values_;
  mutable std::atomic<int64_t> fallbacks_{0};
};

}  // namespace

std::unique_ptr<ReferenceField> MakeReferenceField(const float* Y, int64_t n, int dims,
                                                   const FieldParams& params,
                                                   GridConvolver* convolver, ThreadPool& pool) {
  ACCTSNE_CHECK(n >= 1, "the reference embedding is empty");
  ACCTSNE_CHECK(dims >= 1 && dims <= QuadTree::kMaxDims,
                "transform supports 1 to 3 dimensions, got ", dims);
  const StudentKernel& k = params.kernel;
  ACCTSNE_CHECK(std::isfinite(k.alpha) && k.alpha > 0.0 && std::isfinite(k.exponent) &&
                    k.exponent > 0.0,
                "kernel parameters must be positive and finite, got alpha ", k.alpha,
                " and exponent ", k.exponent);
  for (int64_t e = 0; e < n * dims; ++e)
    if (!std::isfinite(Y[e]))
      throw NumericalError("transform: the reference embedding contains non-finite values");
  switch (params.kind) {
    case FieldKind::kExact:
      return std::make_unique<ExactField>(Y, n, dims, k);
    case FieldKind::kTree:
      return std::make_unique<TreeField>(Y, n, dims, k, params.angle, pool);
    case FieldKind::kGrid:
      ACCTSNE_CHECK(convolver != nullptr, "the grid field needs a grid convolver");
      return std::make_unique<GridField>(Y, n, dims, params, *convolver, pool);
  }
  throw InvalidArgument("unknown field kind");
}

}  // namespace acctsne
