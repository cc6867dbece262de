// Morton-code linear tree; see acctsne/quadtree.h.
#include "acctsne/quadtree.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "acctsne/common.h"

namespace acctsne {
namespace {

constexpr int64_t kBlock = 8192;      // points per parallel block
constexpr int kRadixBits = 8;         // digit width: 256 write streams stay in L1
constexpr int kRadixBins = 1 << kRadixBits;
constexpr int kSortedTopLevels = 12;  // levels ordered by the radix passes

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

}  // namespace

void QuadTree::Build(const float* Y, int64_t n, int dims, ThreadPool& pool) {
  ACCTSNE_CHECK(dims >= 1 && dims <= kMaxDims, "tree dimensions must be 1, 2 or 3, got ", dims);
  ACCTSNE_CHECK(n >= 1 && n < std::numeric_limits<int32_t>::max(), "bad number of points ", n);
  dims_ = dims;
  max_depth_ = BitsPerAxis(dims);
  ComputeCodes(Y, n, pool);
  SortCodes(n, pool);
  sorted_pos_.resize(static_cast<size_t>(n * dims));
  ParallelForRange(pool, n, kBlock, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s)
      for (int a = 0; a < dims; ++a)
        sorted_pos_[s * dims + a] = Y[static_cast<int64_t>(order_[s]) * dims + a];
  });
  BuildNodes(n, pool);
  ComputeCentersOfMass(n, pool);
}

void QuadTree::ComputeCodes(const float* Y, int64_t n, ThreadPool& pool) {
  const int dims = dims_;
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

  const int bits = max_depth_;
  const double cells = std::ldexp(1.0, bits);
  const uint64_t max_cell = (uint64_t{1} << bits) - 1;
  double scale[kMaxDims];
  for (int a = 0; a < dims; ++a)
    scale[a] = cells / (static_cast<double>(hi_[a]) - static_cast<double>(lo_[a]));
  codes_.resize(static_cast<size_t>(n));
  order_.resize(static_cast<size_t>(n));
  ParallelForRange(pool, n, kBlock, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
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
      codes_[i] = code;
      order_[i] = static_cast<int32_t>(i);
    }
  });
}

void QuadTree::SortCodes(int64_t n, ThreadPool& pool) {
  const int total_bits = max_depth_ * dims_;
  const int top_bits = std::min(max_depth_, kSortedTopLevels) * dims_;
  const int low_shift = total_bits - top_bits;
  const int passes = (top_bits + kRadixBits - 1) / kRadixBits;
  const int64_t n_blocks = NumBlocks(n, kBlock);
  codes_tmp_.resize(static_cast<size_t>(n));
  order_tmp_.resize(static_cast<size_t>(n));
  std::vector<int64_t> hist(static_cast<size_t>(n_blocks * kRadixBins));

  // Stable LSD radix sort on the top levels' bits: per-block histograms, offsets in
  // (digit, block) order, per-block scatter. Deterministic for any thread count.
  for (int p = 0; p < passes; ++p) {
    const int shift = low_shift + p * kRadixBits;
    pool.run(n_blocks, [&](int64_t b) {
      int64_t* h = &hist[static_cast<size_t>(b * kRadixBins)];
      std::fill(h, h + kRadixBins, 0);
      const int64_t end = std::min(n, (b + 1) * kBlock);
      for (int64_t i = b * kBlock; i < end; ++i) ++h[(codes_[i] >> shift) & (kRadixBins - 1)];
    });
    int64_t running = 0;
    for (int d = 0; d < kRadixBins; ++d)
      for (int64_t b = 0; b < n_blocks; ++b) {
        int64_t& h = hist[static_cast<size_t>(b * kRadixBins + d)];
        const int64_t c = h;
        h = running;
        running += c;
      }
    pool.run(n_blocks, [&](int64_t b) {
      int64_t* h = &hist[static_cast<size_t>(b * kRadixBins)];
      const int64_t end = std::min(n, (b + 1) * kBlock);
      for (int64_t i = b * kBlock; i < end; ++i) {
        const int64_t dst = h[(codes_[i] >> shift) & (kRadixBins - 1)]++;
        codes_tmp_[dst] = codes_[i];
        order_tmp_[dst] = order_[i];
      }
    });
    codes_.swap(codes_tmp_);
    order_.swap(order_tmp_);
  }
  if (low_shift == 0) return;

  // Runs sharing the top bits that are long enough to be split further get a full sort.
  std::vector<std::pair<int64_t, int64_t>> runs;
  int64_t start = 0;
  for (int64_t i = 1; i <= n; ++i) {
    if (i == n || (codes_[i] >> low_shift) != (codes_[start] >> low_shift)) {
      if (i - start > kLeafCapacity) runs.emplace_back(start, i);
      start = i;
    }
  }
  ParallelForRange(pool, static_cast<int64_t>(runs.size()), 16, [&](int64_t begin, int64_t end) {
    std::vector<std::pair<uint64_t, int32_t>> tmp;
    for (int64_t r = begin; r < end; ++r) {
      const auto [b, e] = runs[r];
      tmp.clear();
      for (int64_t i = b; i < e; ++i) tmp.emplace_back(codes_[i], order_[i]);
      std::sort(tmp.begin(), tmp.end());
      for (int64_t i = b; i < e; ++i) {
        codes_[i] = tmp[i - b].first;
        order_[i] = tmp[i - b].second;
      }
    }
  });
}

void QuadTree::BuildNodes(int64_t n, ThreadPool& pool) {
  const int dims = dims_;
  const int fanout = 1 << dims;
  count_.assign(1, static_cast<int32_t>(n));
  begin_.assign(1, 0);
  depth_.assign(1, 0);
  first_child_.clear();
  n_children_.clear();

  int64_t level_begin = 0;
  int64_t level_end = 1;
  std::vector<int32_t> child_begin, child_count;
  std::vector<uint8_t> n_child;
  while (level_begin < level_end) {
    const int64_t nl = level_end - level_begin;
    child_begin.assign(static_cast<size_t>(nl * fanout), 0);
    child_count.assign(static_cast<size_t>(nl * fanout), 0);
    n_child.assign(static_cast<size_t>(nl), 0);
    ParallelForRange(pool, nl, 256, [&](int64_t begin, int64_t end) {
      for (int64_t v = begin; v < end; ++v) {
        const int64_t node = level_begin + v;
        const int depth = depth_[node];
        const int64_t b = begin_[node];
        const int64_t e = b + count_[node];
        if (count_[node] <= kLeafCapacity || depth == max_depth_) continue;
        const int shift = (max_depth_ - depth - 1) * dims;
        const uint64_t mask = static_cast<uint64_t>(fanout - 1);
        auto key = [&](uint64_t code) { return (code >> shift) & mask; };
        int64_t lo = b;
        uint8_t c_out = 0;
        for (int c = 0; c < fanout; ++c) {
          const int64_t hi = (c == fanout - 1)
              ? e
              : std::partition_point(codes_.begin() + lo, codes_.begin() + e,
                                     [&](uint64_t code) { return key(code) <= static_cast<uint64_t>(c); }) -
                    codes_.begin();
          if (hi > lo) {
            child_begin[v * fanout + c_out] = static_cast<int32_t>(lo);
            child_count[v * fanout + c_out] = static_cast<int32_t>(hi - lo);
            ++c_out;
          }
          lo = hi;
        }
        n_child[v] = c_out;
      }
    });
    // Children of this level go to the end of the node arrays, in node order.
    first_child_.resize(static_cast<size_t>(level_end), -1);
    n_children_.resize(static_cast<size_t>(level_end), 0);
    int64_t next = level_end;
    for (int64_t v = 0; v < nl; ++v) {
      const int64_t node = level_begin + v;
      n_children_[node] = n_child[v];
      first_child_[node] = n_child[v] ? static_cast<int32_t>(next) : -1;
      next += n_child[v];
    }
    count_.resize(static_cast<size_t>(next));
    begin_.resize(static_cast<size_t>(next));
    depth_.resize(static_cast<size_t>(next));
    ParallelForRange(pool, nl, 256, [&](int64_t begin, int64_t end) {
      for (int64_t v = begin; v < end; ++v) {
        const int64_t node = level_begin + v;
        for (int c = 0; c < n_child[v]; ++c) {
          const int64_t child = first_child_[node] + c;
          begin_[child] = child_begin[v * fanout + c];
          count_[child] = child_count[v * fanout + c];
          depth_[child] = static_cast<uint8_t>(depth_[node] + 1);
        }
      }
    });
    level_begin = level_end;
    level_end = next;
  }
  first_child_.resize(count_.size(), -1);
  n_children_.resize(count_.size(), 0);
}

void QuadTree::ComputeCentersOfMass(int64_t n, ThreadPool& pool) {
  const int dims = dims_;
  const int64_t n_blocks = NumBlocks(n, kBlock);
  // Blocked inclusive scan of the sorted positions in float64: block sums, serial
  // exclusive scan over blocks, then each block sweeps from its offset.
  std::vector<double> block_sum(static_cast<size_t>((n_blocks + 1) * dims), 0.0);
  pool.run(n_blocks, [&](int64_t b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    for (int a = 0; a < dims; ++a) {
      double s = 0.0;
      for (int64_t i = b * kBlock; i < end; ++i) s += sorted_pos_[i * dims + a];
      block_sum[(b + 1) * dims + a] = s;
    }
  });
  for (int64_t b = 1; b <= n_blocks; ++b)
    for (int a = 0; a < dims; ++a) block_sum[b * dims + a] += block_sum[(b - 1) * dims + a];
  prefix_.resize(static_cast<size_t>((n + 1) * dims));
  for (int a = 0; a < dims; ++a) prefix_[a] = 0.0;
  pool.run(n_blocks, [&](int64_t b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    for (int a = 0; a < dims; ++a) {
      double s = block_sum[b * dims + a];
      for (int64_t i = b * kBlock; i < end; ++i) {
        s += sorted_pos_[i * dims + a];
        prefix_[(i + 1) * dims + a] = s;
      }
    }
  });
  const int64_t n_nodes = static_cast<int64_t>(count_.size());
  com_.resize(static_cast<size_t>(n_nodes * dims));
  packed_.resize(static_cast<size_t>(n_nodes));
  ParallelForRange(pool, n_nodes, kBlock, [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      const int64_t b = begin_[v];
      const int64_t e = b + count_[v];
      PackedNode& node = packed_[v];
      node.com[0] = node.com[1] = node.com[2] = 0.0f;
      for (int a = 0; a < dims; ++a) {
        com_[v * dims + a] = static_cast<float>((prefix_[e * dims + a] - prefix_[b * dims + a]) /
                                                static_cast<double>(count_[v]));
        node.com[a] = com_[v * dims + a];
      }
      node.sq_width = sq_width_[depth_[v]];
      node.count = count_[v];
      node.first_child = first_child_[v];
      node.begin = begin_[v];
      node.n_children = n_children_[v];
    }
  });
}

}  // namespace acctsne
