// One step of the blocked exact kNN search; see acctsne/knn_blocks.h.
#include "acctsne/knn_blocks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "acctsne/common.h"
#include "kernels/kernels.h"
#include "knn_internal.h"

namespace acctsne {
namespace {

using namespace knn_internal;  // NOLINT: the searches' shared internals

constexpr int32_t kEmptyId = std::numeric_limits<int32_t>::max();

// One side of a step: the centred float32 rows in locality order, with the balls that
// bound each sub-block of kQueryBlock positions.
struct OrderedSide {
  std::vector<int32_t> perm;    // position -> row of the block
  std::vector<float> rows;      // n x d, by position
  std::vector<float> norms;     // by position; +inf beyond n (padding lanes of a tile)
  std::vector<double> centres;  // n_blocks x d
  std::vector<double> radii;    // n_blocks
  float max_norm = 0.0f;
};

template <typename T>
OrderedSide Prepare(const T* X, int64_t n, int64_t d, const Centring& centring,
                    int64_t padded, ThreadPool& pool) {
  OrderedSide side;
  SelectionRows sel = ApplyCentring(X, n, d, centring, pool);
  // A non-finite row, or a centring that does not fit the rows (a wrong mean or
  // max_abs overflows float32), shows in the norms; it must stop here, before NaN
  // reaches the orderings of the kd split and the top-k.
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(sel.norms[static_cast<size_t>(i)])) continue;
    for (int64_t f = 0; f < d; ++f)
      if (!std::isfinite(static_cast<double>(X[i * d + f])))
        throw NumericalError("kNN: input contains non-finite values");
    throw NumericalError("kNN block step: the centring does not fit the rows");
  }
  side.perm = LocalityOrder(sel.rows.data(), n, d, pool);
  side.rows.resize(static_cast<size_t>(n * d));
  side.norms.assign(static_cast<size_t>(std::max(n, padded)),
                    std::numeric_limits<float>::infinity());
  ParallelForRange(pool, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t i = side.perm[static_cast<size_t>(s)];
      std::copy_n(&sel.rows[static_cast<size_t>(i * d)], d, &side.rows[static_cast<size_t>(s * d)]);
      side.norms[static_cast<size_t>(s)] = sel.norms[static_cast<size_t>(i)];
    }
  });
  for (int64_t s = 0; s < n; ++s) side.max_norm = std::max(side.max_norm, side.norms[s]);
  BlockBalls(side.rows.data(), n, d, pool, side.centres, side.radii);
  return side;
}

}  // namespace

template <typename T>
void KnnColumnSums(const T* X, int64_t n, int64_t d, double* sums) {
  AccumulateColumnSums(X, n, d, sums);
}

template <typename T>
double KnnMaxAbsDeviation(const T* X, int64_t n, int64_t d, const double* mean) {
  return MaxAbsDeviation(X, n, d, mean);
}

template <typename T>
void BlockKnnStep(const T* queries, int64_t n_queries, int64_t query_start, const T* reference,
                  int64_t n_ref, int64_t reference_start, int64_t d, int64_t k,
                  const double* mean, double max_abs, SimdLevel level, ThreadPool& pool,
                  float* values, int32_t* ids, double* exact) {
  ACCTSNE_CHECK(d >= 1 && k >= 1, "kNN block step needs d >= 1 and k >= 1, got d=", d, ", k=", k);
  ACCTSNE_CHECK(n_queries >= 0 && n_ref >= 0 && query_start >= 0 && reference_start >= 0,
                "kNN block step: negative sizes or offsets");
  ACCTSNE_CHECK(query_start < kEmptyId - n_queries && reference_start < kEmptyId - n_ref,
                "too many samples for kNN");
  if (n_queries == 0 || n_ref == 0) return;
  ACCTSNE_CHECK(std::isfinite(max_abs) && max_abs >= 0.0 && std::isfinite(CentringScale(max_abs)),
                "kNN block step: bad max_abs ", max_abs);
  // The state: empty entries, or (value, id, exact) with a valid id and ordered numbers
  // (NaN would break the top-k's ordering).
  for (int64_t e = 0; e < n_queries * k; ++e) {
    if (ids[e] == kEmptyId) continue;
    ACCTSNE_CHECK(ids[e] >= 0 && !std::isnan(values[e]) && !std::isnan(exact[e]),
                  "kNN block step: invalid state entry ", e, " (id ", ids[e], ")");
    // A block folded twice would keep its rows twice.
    ACCTSNE_CHECK(ids[e] < reference_start || ids[e] >= reference_start + n_ref,
                  "kNN block step: the state already holds rows of this reference block");
  }
  for (int64_t f = 0; f < d; ++f)
    if (!std::isfinite(mean[f])) throw NumericalError("kNN block step: non-finite mean");
  const kernels::DotTileFn dot_tile = kernels::GetDotTile(level);
  const kernels::SquaredDistanceFn squared_distance = kernels::GetSquaredDistance(level);
  const kernels::SquaredDistance64Fn squared_distance64 = kernels::GetSquaredDistance64(level);

  Centring centring;
  centring.mean.assign(mean, mean + d);
  centring.scale = CentringScale(max_abs);
  const int64_t n_tiles = NumBlocks(n_ref, kTile);
  const OrderedSide q = Prepare(queries, n_queries, d, centring, 0, pool);
  const OrderedSide r = Prepare(reference, n_ref, d, centring, n_tiles * kTile, pool);
  std::vector<float> tiles(static_cast<size_t>(n_tiles * d * kTile), 0.0f);
  ParallelForRange(pool, n_ref, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      float* tile = &tiles[static_cast<size_t>((s / kTile) * d * kTile)];
      for (int64_t f = 0; f < d; ++f) tile[f * kTile + s % kTile] = r.rows[static_cast<size_t>(s * d + f)];
    }
  });

  // Wide rows: ExactKnn's value is the float32 squared distance; the expansion, within
  // pre_slack of it, only pre-filters. Block pairs are skipped as in ExactKnn's search.
  const bool wide = d >= kProjectionMinFeatures;
  const double pre_slack_unit = kQuerySlack * (static_cast<double>(d) + 4.0);
  const double value_slack = pre_slack_unit * 2.0 * (static_cast<double>(q.max_norm) + r.max_norm);
  const int64_t n_qblocks = NumBlocks(n_queries, kQueryBlock);
  const int64_t n_rblocks = NumBlocks(n_ref, kQueryBlock);
  constexpr int64_t kTilesPerBlock = kQueryBlock / kTile;
  const int64_t capacity = TopK::Capacity(k);

  pool.run(n_qblocks, [&](int64_t a) {
    pool.check_interrupt();
    const int64_t begin = a * kQueryBlock, end = std::min(n_queries, begin + kQueryBlock);
    const int nq = static_cast<int>(end - begin);
    std::vector<std::pair<float, int32_t>> buffer(static_cast<size_t>(nq * capacity));
    std::vector<TopK> heaps;
    heaps.reserve(static_cast<size_t>(nq));
    for (int b = 0; b < nq; ++b) {
      heaps.emplace_back(&buffer[static_cast<size_t>(b * capacity)], k);
      const int64_t i = q.perm[static_cast<size_t>(begin + b)];
      for (int64_t m = 0; m < k; ++m)
        if (ids[i * k + m] != kEmptyId) heaps.back().push(values[i * k + m], ids[i * k + m]);
      heaps.back().Tighten();
    }
    std::vector<float> thresholds(static_cast<size_t>(nq)), dists(static_cast<size_t>(nq) * kTile);
    std::vector<uint64_t> masks(static_cast<size_t>(nq)), unused(static_cast<size_t>(nq));
    auto refresh = [&](int b) {
      const double t = heaps[static_cast<size_t>(b)].threshold();
      thresholds[static_cast<size_t>(b)] =
          wide && std::isfinite(t)
              ? static_cast<float>(t + pre_slack_unit * (static_cast<double>(q.norms[begin + b]) +
                                                         r.max_norm))
              : static_cast<float>(t);
    };
    for (int b = 0; b < nq; ++b) refresh(b);

    // Reference sub-blocks nearest first, so the thresholds fall early.
    const double* ca = &q.centres[static_cast<size_t>(a * d)];
    std::vector<std::pair<double, int64_t>> near(static_cast<size_t>(n_rblocks));
    for (int64_t b = 0; b < n_rblocks; ++b) {
      const double* cb = &r.centres[static_cast<size_t>(b * d)];
      double sq = 0.0;
      for (int64_t f = 0; f < d; ++f) sq += (ca[f] - cb[f]) * (ca[f] - cb[f]);
      near[static_cast<size_t>(b)] = {sq, b};
    }
    std::sort(near.begin(), near.end());
    for (const auto& [sq, b] : near) {
      const float limit = *std::max_element(thresholds.begin(), thresholds.end());
      if (limit < std::numeric_limits<float>::infinity()) {
        const double gap = std::sqrt(sq) * (1.0 - 1e-9) - q.radii[static_cast<size_t>(a)] -
                           r.radii[static_cast<size_t>(b)];
        if (gap > 0.0 && gap * gap - value_slack > limit) continue;
      }
      const int64_t t_end = std::min(n_tiles, (b + 1) * kTilesPerBlock);
      for (int64_t t = b * kTilesPerBlock; t < t_end; ++t) {
        dot_tile(&q.rows[static_cast<size_t>(begin * d)], d, nq,
                 &tiles[static_cast<size_t>(t * d * kTile)], static_cast<int>(d),
                 &q.norms[static_cast<size_t>(begin)], &r.norms[static_cast<size_t>(t * kTile)],
                 thresholds.data(), dists.data(), masks.data(), nullptr, unused.data());
        for (int b2 = 0; b2 < nq; ++b2) {
          if (masks[b2] == 0) continue;
          const int64_t self = query_start + q.perm[static_cast<size_t>(begin + b2)];
          const float* dq = &dists[static_cast<size_t>(b2) * kTile];
          for (uint64_t bits = masks[b2]; bits != 0; bits &= bits - 1) {
            const int lane = LowestBit(bits);
            const int64_t s = t * kTile + lane;
            if (s >= n_ref) continue;
            const int64_t j = reference_start + r.perm[static_cast<size_t>(s)];
            if (j == self) continue;
            const float value =
                wide ? squared_distance(&q.rows[static_cast<size_t>((begin + b2) * d)],
                                        &r.rows[static_cast<size_t>(s * d)], d)
                     : std::max(dq[lane], 0.0f);
            heaps[static_cast<size_t>(b2)].push(value, static_cast<int32_t>(j));
          }
          refresh(b2);
        }
      }
    }

    // The new state: earlier entries keep their exact distances, new ones get theirs.
    std::vector<std::pair<int32_t, double>> previous;
    for (int b = 0; b < nq; ++b) {
      const int64_t i = q.perm[static_cast<size_t>(begin + b)];
      previous.clear();
      for (int64_t m = 0; m < k; ++m)
        if (ids[i * k + m] != kEmptyId) previous.emplace_back(ids[i * k + m], exact[i * k + m]);
      std::sort(previous.begin(), previous.end());
      TopK& heap = heaps[static_cast<size_t>(b)];
      const std::pair<float, int32_t>* pairs = heap.Finish();
      const int64_t kept = heap.size();
      for (int64_t m = 0; m < k; ++m) {
        if (m >= kept) {
          values[i * k + m] = std::numeric_limits<float>::infinity();
          ids[i * k + m] = kEmptyId;
          exact[i * k + m] = std::numeric_limits<double>::infinity();
          continue;
        }
        const int32_t j = pairs[m].second;
        const auto found = std::lower_bound(previous.begin(), previous.end(),
                                            std::make_pair(j, -std::numeric_limits<double>::infinity()));
        double distance;
        if (found != previous.end() && found->first == j) {
          distance = found->second;
        } else {
          distance = ExactSquaredDistance(queries + i * d, reference + (j - reference_start) * d, d,
                                          squared_distance64);
        }
        values[i * k + m] = pairs[m].first;
        ids[i * k + m] = j;
        exact[i * k + m] = distance;
      }
    }
  });
}

template void KnnColumnSums<float>(const float*, int64_t, int64_t, double*);
template void KnnColumnSums<double>(const double*, int64_t, int64_t, double*);
template double KnnMaxAbsDeviation<float>(const float*, int64_t, int64_t, const double*);
template double KnnMaxAbsDeviation<double>(const double*, int64_t, int64_t, const double*);
template void BlockKnnStep<float>(const float*, int64_t, int64_t, const float*, int64_t, int64_t,
                                  int64_t, int64_t, const double*, double, SimdLevel, ThreadPool&,
                                  float*, int32_t*, double*);
template void BlockKnnStep<double>(const double*, int64_t, int64_t, const double*, int64_t,
                                   int64_t, int64_t, int64_t, const double*, double, SimdLevel,
                                   ThreadPool&, float*, int32_t*, double*);

}  // namespace acctsne
