// Barnes-Hut tree walk; see acctsne/repulsion.h.
#include "acctsne/repulsion.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "acctsne/common.h"

namespace acctsne {
namespace {

constexpr int64_t kPointBlock = 256;
constexpr int kStackCapacity = 64 * 8 + 8;  // depth <= 32 (x fanout <= 8) plus slack

// Kernel value w = (dof / (dof + d2))^((dof+1)/2); float division as in sklearn, the
// power (only for dof != 1) in double.
template <bool kDofIsOne>
inline double KernelWeight(float d2, float dof, double exponent) {
  const float w = dof / (dof + d2);
  if constexpr (kDofIsOne) {
    (void)exponent;
    return w;
  } else {
    return std::pow(static_cast<double>(w), exponent);
  }
}

template <int kDims, bool kDofIsOne>
double WalkBlocks(const QuadTree& tree, float angle, int dof, ThreadPool& pool,
                  float* neg_forces) {
  const int64_t n = tree.n_points();
  const float theta2 = angle * angle;
  const float dof_f = static_cast<float>(dof);
  const double exponent = (dof + 1.0) / 2.0;
  const float* pos = tree.sorted_positions().data();
  const int32_t* order = tree.order().data();
  const float* com = tree.centers_of_mass().data();
  const int32_t* count = tree.counts().data();
  const int32_t* begin = tree.begins().data();
  const int32_t* first_child = tree.first_children().data();
  const uint8_t* n_children = tree.n_children().data();
  const uint8_t* depth = tree.depths().data();
  const float* sq_width = tree.squared_widths().data();
  const int max_depth = tree.max_depth();

  return ParallelSum(pool, n, kPointBlock, [&](int64_t s_begin, int64_t s_end) {
    int32_t stack[kStackCapacity];
    double block_z = 0.0;
    for (int64_t s = s_begin; s < s_end; ++s) {
      float p[kDims];
      for (int a = 0; a < kDims; ++a) p[a] = pos[s * kDims + a];
      float force[kDims] = {};
      double z = 0.0;
      auto interact = [&](const float* diff, float d2, double weight) {
        const double w = KernelWeight<kDofIsOne>(d2, dof_f, exponent);
        z += weight * w;
        const float mult = static_cast<float>(weight * w * w);
        for (int a = 0; a < kDims; ++a) force[a] += mult * diff[a];
      };
      int top = 0;
      stack[top++] = 0;
      while (top > 0) {
        const int32_t node = stack[--top];
        float diff[kDims];
        float d2 = 0.0f;
        bool duplicate = true;
        for (int a = 0; a < kDims; ++a) {
          diff[a] = p[a] - com[node * kDims + a];
          d2 += diff[a] * diff[a];
          duplicate &= std::fabs(diff[a]) <= kDuplicateEpsilon;
        }
        const int32_t cnt = count[node];
        const bool leaf = first_child[node] < 0;
        if (cnt > 1 && sq_width[depth[node]] < theta2 * d2) {
          interact(diff, d2, static_cast<double>(cnt));  // far enough: one summary point
          continue;
        }
        if (!leaf) {
          const int32_t c0 = first_child[node];
          for (int c = n_children[node] - 1; c >= 0; --c) stack[top++] = c0 + c;
          continue;
        }
        if (depth[node] == max_depth && cnt > QuadTree::kLeafCapacity) {
          // Deepest cell holding many (near-)duplicates: one summary, as in sklearn.
          if (!duplicate) interact(diff, d2, static_cast<double>(cnt));
          continue;
        }
        for (int32_t t = begin[node]; t < begin[node] + cnt; ++t) {
          float dt[kDims];
          float dt2 = 0.0f;
          bool dup = true;
          for (int a = 0; a < kDims; ++a) {
            dt[a] = p[a] - pos[static_cast<int64_t>(t) * kDims + a];
            dt2 += dt[a] * dt[a];
            dup &= std::fabs(dt[a]) <= kDuplicateEpsilon;
          }
          if (!dup) interact(dt, dt2, 1.0);
        }
      }
      const int64_t i = order[s];
      for (int a = 0; a < kDims; ++a) neg_forces[i * kDims + a] = force[a];
      block_z += z;
    }
    return block_z;
  });
}

template <int kDims>
double WalkDims(const QuadTree& tree, float angle, int dof, ThreadPool& pool, float* out) {
  return dof == 1 ? WalkBlocks<kDims, true>(tree, angle, dof, pool, out)
                  : WalkBlocks<kDims, false>(tree, angle, dof, pool, out);
}

}  // namespace

double RepulsiveForces(const QuadTree& tree, float angle, int dof, ThreadPool& pool,
                       float* neg_forces) {
  ACCTSNE_CHECK(angle >= 0.0f && angle <= 1.0f, "angle must be in [0, 1], got ", angle);
  ACCTSNE_CHECK(dof >= 1, "degrees of freedom must be >= 1, got ", dof);
  double z = 0.0;
  switch (tree.dims()) {
    case 1:
      z = WalkDims<1>(tree, angle, dof, pool, neg_forces);
      break;
    case 2:
      z = WalkDims<2>(tree, angle, dof, pool, neg_forces);
      break;
    case 3:
      z = WalkDims<3>(tree, angle, dof, pool, neg_forces);
      break;
    default:
      throw InvalidArgument(StrCat("Barnes-Hut supports 1 to 3 dimensions, got ", tree.dims()));
  }
  if (!std::isfinite(z)) throw NumericalError("repulsion: the normalisation Z is not finite");
  return std::max(z, kFloat64Eps);
}

}  // namespace acctsne
