// Barnes-Hut repulsion by group walks; see acctsne/barnes_hut_repulsion.h.
//
// The points are split into groups: the largest tree nodes holding at most kGroupSize
// points (contiguous in Morton order, so spatially compact). The tree is walked once per
// group with a conservative version of sklearn's opening test, using the distance from
// the group's bounding box to a cell's centre of mass: a cell accepted for the box is
// accepted by sklearn's test for every point in it, so each point gets forces at least
// as accurate as sklearn's per-point walk. The walk emits an interaction list (accepted
// cells, and the individual points of opened leaves), which a SIMD kernel then applies
// to all points of the group at once (kernels/: lanes are points, each lane sums in list
// order), branch-free.
#include "acctsne/barnes_hut_repulsion.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "acctsne/common.h"
#include "kernels/kernels.h"

namespace acctsne {
namespace {

constexpr int kGroupSize = 128;  // points per group, at most
constexpr int64_t kGroupsPerBlock = 4;
constexpr int kStackCapacity = 64 * 8 + 8;
constexpr int kLanes = kernels::kGroupLanes;

struct Group {
  int32_t begin;  // first sorted point
  int32_t count;
};

// Groups of at most kGroupSize points: below every node that holds more, consecutive
// children are packed greedily (siblings are contiguous in Morton order and share their
// parent's cell, so a group stays compact). Deep leaves with more points (clusters of
// near-duplicates) are cut into kGroupSize chunks. Deterministic order.
std::vector<Group> CollectGroups(const QuadTree& tree) {
  const auto& nodes = tree.packed_nodes();
  std::vector<Group> groups;
  groups.reserve(static_cast<size_t>(tree.n_points() / (kGroupSize / 4) + 1));
  auto add_chunks = [&](int32_t begin, int32_t count) {
    for (int32_t b = 0; b < count; b += kGroupSize)
      groups.push_back({begin + b, std::min(kGroupSize, count - b)});
  };
  if (nodes[0].count <= kGroupSize || nodes[0].first_child < 0) {
    add_chunks(nodes[0].begin, nodes[0].count);
    return groups;
  }
  int32_t stack[kStackCapacity];
  int top = 0;
  stack[top++] = 0;
  while (top > 0) {
    const PackedNode& node = nodes[stack[--top]];
    Group run{node.begin, 0};
    for (int32_t c = node.first_child; c < node.first_child + node.n_children; ++c) {
      const PackedNode& child = nodes[c];
      if (child.count > kGroupSize) {
        if (run.count > 0) groups.push_back(run);
        run = {child.begin + child.count, 0};
        if (child.first_child >= 0) {
          stack[top++] = c;
        } else {
          add_chunks(child.begin, child.count);
        }
      } else if (run.count + child.count <= kGroupSize) {
        if (run.count == 0) run.begin = child.begin;
        run.count += child.count;
      } else {
        groups.push_back(run);
        run = {child.begin, child.count};
      }
    }
    if (run.count > 0) groups.push_back(run);
  }
  return groups;
}

// Interaction list in structure-of-arrays form, grown on demand.
struct ListBuffer {
  std::vector<float> pos[3], count;
  int size = 0;
  void clear() { size = 0; }
  void add(const float* p, int dims, float cnt) {
    if (size == static_cast<int>(count.size())) {
      const size_t cap = std::max<size_t>(2 * count.size(), 1024);
      for (auto& q : pos) q.resize(cap);
      count.resize(cap);
    }
    for (int a = 0; a < dims; ++a) pos[a][size] = p[a];
    count[size] = cnt;
    ++size;
  }
  void append(const ListBuffer& other, int dims) {
    for (int e = 0; e < other.size; ++e) {
      float p[3];
      for (int a = 0; a < dims; ++a) p[a] = other.pos[a][e];
      add(p, dims, other.count[e]);
    }
  }
};

// interact(pos, n_points, list, force, z): an InteractFn, or a heavy-tailed one bound to
// its alpha.
template <int kDims, typename Interact>
double WalkGroups(const QuadTree& tree, float angle, const Interact& interact,
                  ThreadPool& pool, float* neg_forces) {
  const float theta2 = angle * angle;
  const float* pos = tree.sorted_positions().data();
  const int32_t* order = tree.order().data();
  const PackedNode* nodes = tree.packed_nodes().data();
  const float deepest_sq_width = tree.squared_widths()[tree.max_depth()];
  const std::vector<Group> groups = CollectGroups(tree);
  const int64_t n_groups = static_cast<int64_t>(groups.size());

  return ParallelSum(pool, n_groups, kGroupsPerBlock, [&](int64_t g_begin, int64_t g_end) {
    ListBuffer list, checked;  // entries that need no duplicate test, and those that do
    int32_t stack[kStackCapacity];
    alignas(64) float lane_pos[kDims][kGroupSize + kLanes];
    alignas(64) float lane_force[kDims][kGroupSize + kLanes];
    alignas(64) float lane_z[kGroupSize + kLanes];
    double block_z = 0.0;
    for (int64_t g = g_begin; g < g_end; ++g) {
      const Group group = groups[g];
      float lo[kDims], hi[kDims];
      for (int a = 0; a < kDims; ++a) lo[a] = hi[a] = pos[int64_t{group.begin} * kDims + a];
      for (int32_t t = 1; t < group.count; ++t)
        for (int a = 0; a < kDims; ++a) {
          const float v = pos[int64_t{group.begin + t} * kDims + a];
          lo[a] = std::min(lo[a], v);
          hi[a] = std::max(hi[a], v);
        }

      list.clear();
      checked.clear();
      int top = 0;
      stack[top++] = 0;
      while (top > 0) {
        const PackedNode& node = nodes[stack[--top]];
        float dmin2 = 0.0f;
        for (int a = 0; a < kDims; ++a) {
          const float gap = std::max(std::max(lo[a] - node.com[a], node.com[a] - hi[a]), 0.0f);
          dmin2 += gap * gap;
        }
        if (node.count > 1 && node.sq_width < theta2 * dmin2) {
          list.add(node.com, kDims, static_cast<float>(node.count));  // far from the group
        } else if (node.first_child >= 0) {
          for (int32_t c = node.first_child + node.n_children - 1; c >= node.first_child; --c)
            stack[top++] = c;
        } else if (node.sq_width == deepest_sq_width && node.count > QuadTree::kLeafCapacity) {
          // Deepest cell holding many near-duplicates: one summary, skipped by its own.
          checked.add(node.com, kDims, static_cast<float>(node.count));
        } else {
          for (int32_t t = node.begin; t < node.begin + node.count; ++t) {
            const float* pt = pos + int64_t{t} * kDims;
            // Only a point within kDuplicateEpsilon of the group's box can be a duplicate
            // of (or be) one of its points.
            bool outside = false;
            for (int a = 0; a < kDims; ++a)
              outside |= pt[a] < lo[a] - kDuplicateEpsilon || pt[a] > hi[a] + kDuplicateEpsilon;
            (outside ? list : checked).add(pt, kDims, 1.0f);
          }
        }
      }

      const int padded = (group.count + kLanes - 1) / kLanes * kLanes;
      for (int l = 0; l < padded; ++l) {
        const int32_t t = group.begin + std::min(l, group.count - 1);
        for (int a = 0; a < kDims; ++a) lane_pos[a][l] = pos[int64_t{t} * kDims + a];
      }
      const float* lane_pos_ptr[3] = {lane_pos[0], lane_pos[kDims > 1 ? 1 : 0],
                                      lane_pos[kDims > 2 ? 2 : 0]};
      float* lane_force_ptr[3] = {lane_force[0], lane_force[kDims > 1 ? 1 : 0],
                                  lane_force[kDims > 2 ? 2 : 0]};
      const int n_plain = list.size;
      list.append(checked, kDims);
      kernels::InteractionList view;
      for (int a = 0; a < 3; ++a) view.pos[a] = list.pos[a < kDims ? a : 0].data();
      view.count = list.count.data();
      view.n_plain = n_plain;
      view.size = list.size;
      interact(lane_pos_ptr, padded, view, lane_force_ptr, lane_z);

      for (int l = 0; l < group.count; ++l) {
        const int64_t i = order[group.begin + l];
        for (int a = 0; a < kDims; ++a) neg_forces[i * kDims + a] = lane_force[a][l];
        block_z += lane_z[l];
      }
    }
    return block_z;
  });
}

template <typename Interact>
double WalkGroupsOfDims(const QuadTree& tree, float angle, const Interact& interact,
                        ThreadPool& pool, float* neg_forces) {
  switch (tree.dims()) {
    case 1:
      return WalkGroups<1>(tree, angle, interact, pool, neg_forces);
    case 2:
      return WalkGroups<2>(tree, angle, interact, pool, neg_forces);
    case 3:
      return WalkGroups<3>(tree, angle, interact, pool, neg_forces);
    default:
      throw InvalidArgument(StrCat("Barnes-Hut supports 1 to 3 dimensions, got ", tree.dims()));
  }
}

}  // namespace

double RepulsiveForces(const QuadTree& tree, float angle, int dof, double heavy_tail_dof,
                       SimdLevel level, ThreadPool& pool, float* neg_forces) {
  ACCTSNE_CHECK(angle >= 0.0f && angle <= 1.0f, "angle must be in [0, 1], got ", angle);
  CheckHeavyTailDof(heavy_tail_dof);
  double z = 0.0;
  if (heavy_tail_dof > 0.0) {
    const kernels::InteractHeavyTailFn interact =
        kernels::GetInteractHeavyTail(level, tree.dims());
    const float alpha = static_cast<float>(heavy_tail_dof);
    z = WalkGroupsOfDims(
        tree, angle,
        [interact, alpha](const float* const* pos, int n_points,
                          const kernels::InteractionList& list, float* const* force, float* zs) {
          interact(pos, n_points, list, alpha, force, zs);
        },
        pool, neg_forces);
  } else {
    ACCTSNE_CHECK(dof == 1 || dof == 2, "Barnes-Hut degrees of freedom must be 1 or 2, got ",
                  dof);
    z = WalkGroupsOfDims(tree, angle, kernels::GetInteract(level, tree.dims(), dof), pool,
                         neg_forces);
  }
  if (!std::isfinite(z)) throw NumericalError("repulsion: the normalisation Z is not finite");
  return std::max(z, kFloat64Eps);
}

namespace {

class BarnesHutRepulsion : public RepulsionMethod {
 public:
  explicit BarnesHutRepulsion(const GradientParams& params)
      : dims_(params.dims),
        dof_(params.dof),
        heavy_tail_dof_(params.heavy_tail_dof),
        angle_(params.angle),
        level_(params.level) {
    ACCTSNE_CHECK(dims_ >= 1 && dims_ <= 3, "Barnes-Hut needs 1 to 3 dimensions, got ", dims_);
  }

  double Compute(const float* Y, int64_t n, ThreadPool& pool, PhaseTimes& times,
                 float* neg) override {
    using Clock = std::chrono::steady_clock;
    auto t0 = Clock::now();
    tree_.Build(Y, n, dims_, pool);
    auto t1 = Clock::now();
    times.tree_build += std::chrono::duration<double>(t1 - t0).count();
    const double z = RepulsiveForces(tree_, angle_, dof_, heavy_tail_dof_, level_, pool, neg);
    times.repulsion += std::chrono::duration<double>(Clock::now() - t1).count();
    return z;
  }

 private:
  int dims_;
  int dof_;
  double heavy_tail_dof_;
  float angle_;
  SimdLevel level_;
  QuadTree tree_;  // rebuilt every call; its buffers are kept
};

}  // namespace

std::unique_ptr<RepulsionMethod> MakeBarnesHutRepulsion(const GradientParams& params,
                                                        const RepulsionContext& /*context*/) {
  return std::make_unique<BarnesHutRepulsion>(params);
}

}  // namespace acctsne
