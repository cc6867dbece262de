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
// Build, in five parallel passes over fixed blocks or cells (so the tree is the same for
// any thread count): bounding box -> codes and a histogram of the cells of the top
// levels ("buckets": up to 256 in 1-D and 2-D, 512 in 3-D, about 64 points each on
// average for small n) -> stable scatter of the points into buckets -> each bucket's
// subtree built as an independent task (MSD counting sort on one level's digit at a time,
// which emits the nodes as it goes, then the bucket's sorted positions and centres of mass
// from its own float64 prefix sums) -> node arrays assembled. The few nodes above the
// buckets come from the bucket counts. One task per bucket instead of a parallel loop per
// tree level: a build at 20k points takes well under a millisecond, and the ~40 parallel
// loops per build of a level-by-level build cost more in synchronisation than they saved.
//
// Node layout: the top levels (down to the buckets' depth) breadth-first, then each bucket's
// deeper nodes, breadth-first within the bucket, bucket after bucket. Siblings are always
// contiguous. A node with at most kLeafCapacity points (or at the deepest level) is a leaf
// whose points are visited one by one.
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
  int16_t n_children;   // number of (non-empty, contiguous) children
  int16_t depth;        // 0 at the root
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
  int max_depth() const { return max_depth_; }

  // Point data in Morton order: order()[s] is the original index of sorted point s,
  // sorted_positions() holds its coordinates (n x dims).
  const std::vector<int32_t>& order() const { return order_; }
  const std::vector<float>& sorted_positions() const { return sorted_pos_; }

  // sklearn's squared_max_width of a cell at each depth.
  const std::vector<float>& squared_widths() const { return sq_width_; }
  // The nodes (root = 0; see the layout above).
  const std::vector<PackedNode>& packed_nodes() const { return packed_; }
  int64_t n_nodes() const { return static_cast<int64_t>(packed_.size()); }
  const float* lower_bounds() const { return lo_; }
  const float* upper_bounds() const { return hi_; }

 private:
  // Depth of the cells that become independent build tasks: 256 of them in 1-D and 2-D,
  // 512 in 3-D, fewer when n is small (tasks of a handful of points cost more to hand
  // out than to build: digits' 1,797 points built 2x slower with 256 buckets). Depends
  // on n and dims only.
  static int BucketLevels(int64_t n, int dims);

  void ComputeBounds(const float* Y, int64_t n, ThreadPool& pool);
  void BucketPoints(const float* Y, int64_t n, ThreadPool& pool);
  void BuildTopNodes();
  void BuildBucket(const float* Y, int64_t bucket);
  void AssembleNodes(ThreadPool& pool);

  int dims_ = 0;
  int max_depth_ = 0;
  int bucket_levels_ = 0;
  float lo_[kMaxDims] = {0, 0, 0};
  float hi_[kMaxDims] = {0, 0, 0};

  std::vector<uint64_t> codes_, codes_tmp_;
  std::vector<int32_t> order_, order_tmp_;
  std::vector<float> sorted_pos_;
  std::vector<float> sq_width_;

  std::vector<int64_t> bucket_begin_;        // n_buckets + 1 point offsets
  std::vector<int32_t> bucket_root_;         // top node of a bucket to expand, or -1
  std::vector<double> bucket_sum_;           // n_buckets x dims sums of positions
  std::vector<PackedNode> top_;              // nodes of depth <= bucket_levels_
  std::vector<int32_t> top_bucket_range_;    // per top node: first and end bucket
  std::vector<std::vector<PackedNode>> bucket_nodes_;  // deeper nodes, local indices
  std::vector<PackedNode> packed_;
};

}  // namespace acctsne
