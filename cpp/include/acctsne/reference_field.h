// The repulsion a fixed reference embedding exerts on a free point (TSNE.transform).
//
// A new point y embedded into a finished map interacts with every reference point y_j
// but never with the other new points, and the reference does not move. Its repulsion
// needs two sums over the reference, both functions of y alone:
//   z(y) = sum_j w(|y - y_j|^2),   F(y) = sum_j w u (y - y_j),
//   u = 1 / (1 + d^2 / alpha),  w = u^exponent
// (scikit-learn's kernel: alpha = dof, exponent = (dof + 1) / 2; the heavy-tailed kernel of
// openTSNE and FIt-SNE: alpha = exponent = dof). Because the reference is fixed, the
// field is prepared once and then evaluated point by point: each evaluation depends on
// its point alone, so a transform's result does not depend on how its points are split
// into batches or threads. Three fields:
//   exact  direct sums in float64 (the exact method's, and the tests' oracle)
//   tree   a Barnes-Hut walk per point over a tree built once (scikit-learn's opening
//          test, cells summarised by their centre of mass), 1 to 3 dimensions
//   grid   1-D and 2-D: the sums on an equispaced node grid covering the reference with a
//          margin, computed once by FFT convolution (Linderman et al. 2019), then
//          interpolated at the point (Lagrange, as the FFT method); a point outside the
//          grid falls back to the tree walk.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "acctsne/parallel.h"
#include "acctsne/quadtree.h"
#include "acctsne/repulsion_method.h"

namespace acctsne {

// The Student-t kernel w(d^2) = (1 + d^2 / alpha)^-exponent.
struct StudentKernel {
  double alpha = 1.0;
  double exponent = 1.0;

  double U(double d2) const { return 1.0 / (1.0 + d2 / alpha); }
  double W(double u) const;  // u^exponent (exact for the common exponents 1 and 1.5)
};

enum class FieldKind { kExact, kTree, kGrid };

class ReferenceField {
 public:
  virtual ~ReferenceField() = default;
  // z(y) and F(y) (dims values) at the point y.
  virtual void Evaluate(const float* y, double* z, double* force) const = 0;

  int dims() const { return dims_; }
  int64_t n_reference() const { return n_; }
  // The reference embedding (n x dims, float32, in the caller's order).
  const float* reference() const { return reference_.data(); }
  const StudentKernel& kernel() const { return kernel_; }
  // Points evaluated outside the grid (by the fallback), for diagnostics.
  virtual int64_t fallback_count() const { return 0; }

 protected:
  ReferenceField(const float* Y, int64_t n, int dims, const StudentKernel& kernel);
  int dims_;
  int64_t n_;
  std::vector<float> reference_;
  StudentKernel kernel_;
};

struct FieldParams {
  FieldKind kind = FieldKind::kGrid;
  StudentKernel kernel;
  float angle = 0.5f;             // tree: scikit-learn's opening angle
  InterpolationParams grid;       // grid: nodes per box, boxes per unit / at least / at most
  double grid_margin = 0.25;      // grid: empty margin on each side, as a fraction of the span
};

// Prepares the field of the reference Y (n x dims). The grid needs a convolver (the
// bindings pass scipy.fft's); the others ignore it.
std::unique_ptr<ReferenceField> MakeReferenceField(const float* Y, int64_t n, int dims,
                                                   const FieldParams& params,
                                                   GridConvolver* convolver, ThreadPool& pool);

}  // namespace acctsne
