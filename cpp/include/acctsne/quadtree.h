// Linear Barnes-Hut space-partitioning tree (binary tree, quadtree or octree for 1-3
// embedding dimensions), rebuilt from Morton (Z-order) codes every iteration.
//
// Cells are exactly sklearn's: the root is the bounding box of the points with sklearn's
// upper-bound padding (max(M(1 + 1e-3 sign M), M + 1e-3)), and each cell splits at its
// midpoint on every axis, so a cell at depth l has per-axis widths range_a / 2^l and
// sklearn's squared_max_width = max_a (range_a / 2^l)^2. Quantising each point to
// kBits[d] bits per axis and interleaving the bits gives a code whose top l*d bits name
// its depth-l cell; sorting the codes puts every cell's points in one contiguous range.
//
// Build (all steps parallel over fixed blocks, so the tree is the same for any thread
// count): bounding box -> codes -> stable radix sort on the top levels' bits (then the
// few long equal-prefix runs sorted by the full code) -> nodes emitted level by level
// (children found by binary search inside the parent's range) -> centres of mass from
// float64 prefix sums of the sorted positions. A node with at most kLeafCapacity points
// (or at the deepest level) is a leaf whose points are visited one by one.
#pragma once

#include <cstdint>
#include <vector>

#include "acctsne/parallel.h"

namespace acctsne {

// One node in the layout the Barnes-Hut walk reads: everything the opening test and
// the descent need in half a cache line.
struct PackedNode {
  float com[3];         // centre of mass (unused trailing coordinates are 0)
  float sq_width;       // sklearn's squared_max_width of the cell
  int32_t count;        // points in the cell
  int32_t first_child;  // index of the first child, -1 for a leaf
  int32_t begin;        // first point in Morton order
  int32_t n_children;   // number of (non-empty, contiguous) children
};
static_assert(sizeof(PackedNode) == 32, "PackedNode should stay half a cache line");

class QuadTree {
 public:
  static constexpr int kLeafCapacity = 8;
  static constexpr int kMaxDims = 3;

  // Rebuilds the tree over Y (n x dims, row-major float32).
  void Build(const float* Y, int64_t n, int dims, ThreadPool& pool);

  int dims() const { return dims_; }
  int64_t n_points() const { return static_cast<int64_t>(order_.size()); }
  int64_t n_nodes() const { return static_cast<int64_t>(count_.size()); }
  int max_depth() const { return max_depth_; }

  // Point data in Morton order: order()[s] is the original index of sorted point s,
  // sorted_positions() holds its coordinates (n x dims).
  const std::vector<int32_t>& order() const { return order_; }
  const std::vector<float>& sorted_positions() const { return sorted_pos_; }

  // Nodes in breadth-first order (root = 0); children of a node are contiguous.
  const std::vector<float>& centers_of_mass() const { return com_; }  // n_nodes x dims
  const std::vector<int32_t>& counts() const { return count_; }
  const std::vector<int32_t>& begins() const { return begin_; }  // first sorted point
  const std::vector<int32_t>& first_children() const { return first_child_; }  // -1: leaf
  const std::vector<uint8_t>& n_children() const { return n_children_; }
  const std::vector<uint8_t>& depths() const { return depth_; }
  // sklearn's squared_max_width of a cell at each depth.
  const std::vector<float>& squared_widths() const { return sq_width_; }
  // All of the above per node, packed for the walk (built by Build).
  const std::vector<PackedNode>& packed_nodes() const { return packed_; }
  const float* lower_bounds() const { return lo_; }
  const float* upper_bounds() const { return hi_; }

 private:
  void ComputeCodes(const float* Y, int64_t n, ThreadPool& pool);
  void SortCodes(int64_t n, ThreadPool& pool);
  void BuildNodes(int64_t n, ThreadPool& pool);
  void ComputeCentersOfMass(int64_t n, ThreadPool& pool);

  int dims_ = 0;
  int max_depth_ = 0;
  float lo_[kMaxDims] = {0, 0, 0};
  float hi_[kMaxDims] = {0, 0, 0};

  std::vector<uint64_t> codes_, codes_tmp_;
  std::vector<int32_t> order_, order_tmp_;
  std::vector<float> sorted_pos_;

  std::vector<float> com_;
  std::vector<int32_t> count_, begin_, first_child_;
  std::vector<uint8_t> n_children_, depth_;
  std::vector<float> sq_width_;
  std::vector<PackedNode> packed_;

  std::vector<double> prefix_;  // (n + 1) x dims prefix sums of sorted positions
};

}  // namespace acctsne
