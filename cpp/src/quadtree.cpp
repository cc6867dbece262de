// Morton-code linear tree; see acctsne/quadtree.h.
#include "acctsne/quadtree.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "acctsne/common.h"

namespace acctsne {
namespace {

// The bounding box and the bucket scatter are exact whatever the split of the points
// (min/max and a stable counting sort), so those passes give each thread one contiguous
// chunk: with small blocks, two threads scattering alternate blocks into the same bucket
// ranges share cache lines at every block boundary (measured 1.4x slower at 20k points).
int64_t ChunkSize(int64_t n, const ThreadPool& pool) {
  return std::max<int64_t>(1, NumBlocks(n, pool.n_threads()));
}

int BitsPerAxis(int dims) { return dims == 3 ? 21 : 32; }

// Spreads the low 32 bits of x so that bit b moves to bit 2b.
uint64_t Spread2(uint64_t x) {
  x &= 0xffffffffULL;
  x = (x | (x << 16)) & 0x0000ffff0000ffffULL;
  x = (x | (x << 8)) & 0x00ff00ff00ff00ffULL;
  x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0fULL;
  x = (x | (x << 2)) & 0x3333333333333333ULL;
  x = (x | (x << 1)) & 0x5555555555555555ULL;
  return x;
}

// Spreads the low 21 bits of x so that bit b moves to bit 3b.
uint64_t Spread3(uint64_t x) {
  x &= 0x1fffffULL;
  x = (x | (x << 32)) & 0x001f00000000ffffULL;
  x = (x | (x << 16)) & 0x001f0000ff0000ffULL;
  x = (x | (x << 8)) & 0x100f00f00f00f00fULL;
  x = (x | (x << 4)) & 0x10c30c30c30c30c3ULL;
  x = (x | (x << 2)) & 0x1249249249249249ULL;
  return x;
}

PackedNode MakeNode(int64_t count, int64_t begin, int depth) {
  PackedNode node{};
  node.count = static_cast<int32_t>(count);
  node.begin = static_cast<int32_t>(begin);
  node.first_child = -1;
  node.n_children = 0;
  node.depth = static_cast<int16_t>(depth);
  return node;
}

}  // namespace

void QuadTree::Build(const float* Y, int64_t n, int dims, ThreadPool& pool) {
  ACCTSNE_CHECK(dims >= 1 && dims <= kMaxDims, "tree dimensions must be 1, 2 or 3, got ", dims);
  ACCTSNE_CHECK(n >= 1 && n < std::numeric_limits<int32_t>::max(), "bad number of points ", n);
  dims_ = dims;
  max_depth_ = BitsPerAxis(dims);
  bucket_levels_ = BucketLevels(n, dims);
  ComputeBounds(Y, n, pool);
  BucketPoints(Y, n, pool);
  BuildTopNodes();
  sorted_pos_.resize(static_cast<size_t>(n * dims));
  const int64_t n_buckets = static_cast<int64_t>(bucket_root_.size());
  bucket_nodes_.resize(static_cast<size_t>(n_buckets));
  bucket_sum_.resize(static_cast<size_t>(n_buckets * dims));
  // Buckets in Morton order, so that the pool's contiguous shares give each thread the
  // points it has just scattered (they sit mostly in its own half of the order, the
  // points being kept in last iteration's Morton order). Which thread builds a bucket
  // never changes what is built.
  pool.run(n_buckets, [&](int64_t b) { BuildBucket(Y, b); });
  AssembleNodes(pool);
}

int QuadTree::BucketLevels(int64_t n, int dims) {
  const int max_levels = dims == 1 ? 8 : (dims == 2 ? 4 : 3);
  constexpr int64_t kPointsPerBucket = 64;
  int levels = 1;
  while (levels < max_levels && (n >> (dims * (levels + 1))) >= kPointsPerBucket) ++levels;
  return levels;
}

void QuadTree::ComputeBounds(const float* Y, int64_t n, ThreadPool& pool) {
  const int dims = dims_;
  const int64_t kBlock = ChunkSize(n, pool);
  const int64_t n_blocks = NumBlocks(n, kBlock);
  std::vector<float> block_min(static_cast<size_t>(n_blocks * dims));
  std::vector<float> block_max(static_cast<size_t>(n_blocks * dims));
  pool.run(n_blocks, [&](int64_t b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    for (int a = 0; a < dims; ++a) {
      float lo = std::numeric_limits<float>::infinity();
      float hi = -std::numeric_limits<float>::infinity();
      for (int64_t i = b * kBlock; i < end; ++i) {
        const float v = Y[i * dims + a];
        if (!std::isfinite(v))
          throw NumericalError(StrCat("tree build: non-finite embedding coordinate at point ", i));
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      block_min[b * dims + a] = lo;
      block_max[b * dims + a] = hi;
    }
  });
  for (int a = 0; a < dims; ++a) {
    float lo = block_min[a], hi = block_max[a];
    for (int64_t b = 1; b < n_blocks; ++b) {
      lo = std::min(lo, block_min[b * dims + a]);
      hi = std::max(hi, block_max[b * dims + a]);
    }
    // sklearn's padding puts every point strictly inside the root cell.
    const float sign = hi > 0.0f ? 1.0f : (hi < 0.0f ? -1.0f : 0.0f);
    hi = std::max(hi * (1.0f + 1e-3f * sign), hi + 1e-3f);
    lo_[a] = lo;
    hi_[a] = hi;
  }
  sq_width_.assign(static_cast<size_t>(max_depth_ + 1), 0.0f);
  for (int l = 0; l <= max_depth_; ++l) {
    float w2 = 0.0f;
    for (int a = 0; a < dims; ++a) {
      const float w = std::ldexp(hi_[a] - lo_[a], -l);
      w2 = std::max(w2, w * w);
    }
    sq_width_[l] = w2;
  }
}

void QuadTree::BucketPoints(const float* Y, int64_t n, ThreadPool& pool) {
  const int dims = dims_;
  const int bits = max_depth_;
  const double cells = std::ldexp(1.0, bits);
  const uint64_t max_cell = (uint64_t{1} << bits) - 1;
  double scale[kMaxDims];
  for (int a = 0; a < dims; ++a)
    scale[a] = cells / (static_cast<double>(hi_[a]) - static_cast<double>(lo_[a]));
  const int bucket_shift = (max_depth_ - bucket_levels_) * dims;
  const int64_t n_buckets = int64_t{1} << (bucket_levels_ * dims);
  const int64_t kBlock = ChunkSize(n, pool);
  const int64_t n_blocks = NumBlocks(n, kBlock);
  codes_.resize(static_cast<size_t>(n));
  codes_tmp_.resize(static_cast<size_t>(n));
  order_.resize(static_cast<size_t>(n));
  order_tmp_.resize(static_cast<size_t>(n));
  std::vector<int64_t> hist(static_cast<size_t>(n_blocks * n_buckets));

  // Codes (in codes_tmp_, input order) and per-block bucket histograms.
  pool.run(n_blocks, [&](int64_t b) {
    int64_t* h = &hist[static_cast<size_t>(b * n_buckets)];
    std::fill(h, h + n_buckets, 0);
    const int64_t end = std::min(n, (b + 1) * kBlock);
    for (int64_t i = b * kBlock; i < end; ++i) {
      uint64_t q[kMaxDims] = {0, 0, 0};
      for (int a = 0; a < dims; ++a) {
        const double u = (static_cast<double>(Y[i * dims + a]) - lo_[a]) * scale[a];
        q[a] = u <= 0.0 ? 0 : std::min(static_cast<uint64_t>(u), max_cell);
      }
      uint64_t code;
      if (dims == 1) {
        code = q[0];
      } else if (dims == 2) {
        code = (Spread2(q[0]) << 1) | Spread2(q[1]);  // axis 0 is the high bit of a group
      } else {
        code = (Spread3(q[0]) << 2) | (Spread3(q[1]) << 1) | Spread3(q[2]);
      }
      codes_tmp_[i] = code;
      ++h[code >> bucket_shift];
    }
  });
  // Offsets in (bucket, block) order make the scatter stable: a bucket's points stay in
  // input order.
  bucket_begin_.assign(static_cast<size_t>(n_buckets + 1), 0);
  int64_t running = 0;
  for (int64_t k = 0; k < n_buckets; ++k) {
    bucket_begin_[k] = running;
    for (int64_t b = 0; b < n_blocks; ++b) {
      int64_t& h = hist[static_cast<size_t>(b * n_buckets + k)];
      const int64_t c = h;
      h = running;
      running += c;
    }
  }
  bucket_begin_[n_buckets] = running;
  pool.run(n_blocks, [&](int64_t b) {
    int64_t* h = &hist[static_cast<size_t>(b * n_buckets)];
    const int64_t end = std::min(n, (b + 1) * kBlock);
    for (int64_t i = b * kBlock; i < end; ++i) {
      const int64_t dst = h[codes_tmp_[i] >> bucket_shift]++;
      codes_[dst] = codes_tmp_[i];
      order_[dst] = static_cast<int32_t>(i);
    }
  });
}

void QuadTree::BuildTopNodes() {
  const int fanout = 1 << dims_;
  const int64_t n_buckets = static_cast<int64_t>(bucket_begin_.size()) - 1;
  top_.clear();
  top_bucket_range_.clear();
  bucket_root_.assign(static_cast<size_t>(n_buckets), -1);
  top_.push_back(MakeNode(bucket_begin_[n_buckets], 0, 0));
  top_bucket_range_.insert(top_bucket_range_.end(), {0, static_cast<int32_t>(n_buckets)});
  for (size_t v = 0; v < top_.size(); ++v) {  // breadth-first: top_ grows as it is read
    if (top_[v].count <= kLeafCapacity) continue;
    const int depth = top_[v].depth;
    const int32_t first_bucket = top_bucket_range_[2 * v];
    if (depth == bucket_levels_) {
      bucket_root_[first_bucket] = static_cast<int32_t>(v);  // expanded by BuildBucket
      continue;
    }
    const int32_t span = (top_bucket_range_[2 * v + 1] - first_bucket) / fanout;
    const int32_t first = static_cast<int32_t>(top_.size());
    int16_t n_children = 0;
    for (int c = 0; c < fanout; ++c) {
      const int32_t b = first_bucket + c * span;
      const int64_t count = bucket_begin_[b + span] - bucket_begin_[b];
      if (count == 0) continue;
      top_.push_back(MakeNode(count, bucket_begin_[b], depth + 1));
      top_bucket_range_.insert(top_bucket_range_.end(), {b, b + span});
      ++n_children;
    }
    top_[v].first_child = first;
    top_[v].n_children = n_children;
  }
}

void QuadTree::BuildBucket(const float* Y, int64_t bucket) {
  const int dims = dims_;
  const int fanout = 1 << dims;
  const int64_t begin = bucket_begin_[bucket];
  const int64_t end = bucket_begin_[bucket + 1];
  std::vector<PackedNode>& local = bucket_nodes_[static_cast<size_t>(bucket)];
  local.clear();
  for (int a = 0; a < dims; ++a) bucket_sum_[bucket * dims + a] = 0.0;
  if (begin == end) return;

  // Stable counting sort of [b, e) by the digit of level depth + 1; appends the non-empty
  // children (contiguous) and returns where they start and how many there are.
  auto split = [&](int64_t b, int64_t e, int depth) {
    const int shift = (max_depth_ - depth - 1) * dims;
    const uint64_t mask = static_cast<uint64_t>(fanout - 1);
    int64_t offset[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t s = b; s < e; ++s) ++offset[(codes_[s] >> shift) & mask];
    const int32_t first = static_cast<int32_t>(local.size());
    int16_t n_children = 0;
    int64_t running = b;
    for (int c = 0; c < fanout; ++c) {
      const int64_t count = offset[c];
      offset[c] = running;
      if (count > 0) {
        local.push_back(MakeNode(count, running, depth + 1));
        ++n_children;
      }
      running += count;
    }
    if (n_children > 1) {  // (one child: the range is already in order)
      for (int64_t s = b; s < e; ++s) {
        const int64_t dst = offset[(codes_[s] >> shift) & mask]++;
        codes_tmp_[dst] = codes_[s];
        order_tmp_[dst] = order_[s];
      }
      std::copy(codes_tmp_.begin() + b, codes_tmp_.begin() + e, codes_.begin() + b);
      std::copy(order_tmp_.begin() + b, order_tmp_.begin() + e, order_.begin() + b);
    }
    return std::make_pair(first, n_children);
  };

  const int32_t root = bucket_root_[static_cast<size_t>(bucket)];
  if (root >= 0) {
    // The root's first_child is local (0) here; AssembleNodes makes it global.
    const auto [first, n_children] = split(begin, end, bucket_levels_);
    top_[root].first_child = first;
    top_[root].n_children = n_children;
    for (size_t v = 0; v < local.size(); ++v) {  // breadth-first within the bucket
      const PackedNode node = local[v];
      if (node.count <= kLeafCapacity || node.depth == max_depth_) continue;
      const auto [f, c] = split(node.begin, int64_t{node.begin} + node.count, node.depth);
      local[v].first_child = f;
      local[v].n_children = c;
    }
  }

  // Sorted positions, and centres of mass from float64 prefix sums over the bucket.
  thread_local std::vector<double> prefix;
  const int64_t m = end - begin;
  prefix.resize(static_cast<size_t>((m + 1) * dims));
  for (int a = 0; a < dims; ++a) prefix[a] = 0.0;
  for (int64_t s = begin; s < end; ++s) {
    const int64_t i = order_[s];
    const int64_t r = s - begin;
    for (int a = 0; a < dims; ++a) {
      const float v = Y[i * dims + a];
      sorted_pos_[s * dims + a] = v;
      prefix[(r + 1) * dims + a] = prefix[r * dims + a] + v;
    }
  }
  for (PackedNode& node : local) {
    const int64_t b = node.begin - begin;
    const int64_t e = b + node.count;
    for (int a = 0; a < dims; ++a)
      node.com[a] = static_cast<float>((prefix[e * dims + a] - prefix[b * dims + a]) /
                                       static_cast<double>(node.count));
    node.sq_width = sq_width_[node.depth];
  }
  for (int a = 0; a < dims; ++a) bucket_sum_[bucket * dims + a] = prefix[m * dims + a];
}

void QuadTree::AssembleNodes(ThreadPool& pool) {
  const int dims = dims_;
  const int64_t n_buckets = static_cast<int64_t>(bucket_root_.size());
  const int64_t n_top = static_cast<int64_t>(top_.size());
  std::vector<int64_t> section(static_cast<size_t>(n_buckets + 1));
  section[0] = n_top;
  for (int64_t k = 0; k < n_buckets; ++k)
    section[k + 1] = section[k] + static_cast<int64_t>(bucket_nodes_[k].size());
  ACCTSNE_CHECK(section[n_buckets] < std::numeric_limits<int32_t>::max(), "too many tree nodes");

  // Top nodes: centres of mass from the buckets' sums, first children made global.
  std::vector<double> prefix(static_cast<size_t>((n_buckets + 1) * dims), 0.0);
  for (int64_t k = 0; k < n_buckets; ++k)
    for (int a = 0; a < dims; ++a)
      prefix[(k + 1) * dims + a] = prefix[k * dims + a] + bucket_sum_[k * dims + a];
  for (int64_t k = 0; k < n_buckets; ++k) {
    const int32_t root = bucket_root_[k];
    if (root >= 0 && top_[root].n_children > 0)
      top_[root].first_child = static_cast<int32_t>(section[k] + top_[root].first_child);
  }
  packed_.resize(static_cast<size_t>(section[n_buckets]));
  for (int64_t v = 0; v < n_top; ++v) {
    PackedNode node = top_[v];
    const int64_t b = top_bucket_range_[2 * v];
    const int64_t e = top_bucket_range_[2 * v + 1];
    for (int a = 0; a < dims; ++a)
      node.com[a] = static_cast<float>((prefix[e * dims + a] - prefix[b * dims + a]) /
                                       static_cast<double>(node.count));
    node.sq_width = sq_width_[node.depth];
    packed_[v] = node;
  }
  pool.run(n_buckets, [&](int64_t k) {
    const std::vector<PackedNode>& local = bucket_nodes_[k];
    PackedNode* out = &packed_[static_cast<size_t>(section[k])];
    const int32_t offset = static_cast<int32_t>(section[k]);
    for (size_t v = 0; v < local.size(); ++v) {
      out[v] = local[v];
      if (out[v].first_child >= 0) out[v].first_child += offset;
    }
  });
}

}  // namespace acctsne
