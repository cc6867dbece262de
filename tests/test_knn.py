"""Exact kNN against a numpy brute-force oracle."""

from __future__ import annotations

import numpy as np
import pytest

from acctsne import _core


def brute_force(X, k):
    X = np.asarray(X, dtype=np.float64)
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    np.fill_diagonal(d2, np.inf)
    order = np.lexsort((np.broadcast_to(np.arange(len(X)), d2.shape), d2), axis=1)
    idx = order[:, :k]
    return idx, np.take_along_axis(d2, idx, axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("n", "d", "k"), [(2, 1, 1), (50, 3, 7), (300, 17, 31), (513, 64, 91), (1400, 6, 40)]
)
def test_matches_brute_force(dtype, n, d, k, rng):
    X = rng.normal(size=(n, d)).astype(dtype)
    idx, d2 = _core.knn_exact(X, k, 2)
    ref_idx, ref_d2 = brute_force(X, k)
    assert idx.dtype == np.int32
    assert d2.dtype == np.float32
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-6, atol=1e-12)
    # Same neighbour sets (ties between exactly equal distances aside).
    assert np.mean(np.sort(idx, axis=1) == np.sort(ref_idx, axis=1)) > 0.999


def test_self_excluded_but_duplicates_kept(rng):
    X = rng.normal(size=(40, 5))
    X[10] = X[3]
    X[20] = X[3]
    idx, d2 = _core.knn_exact(X, 5, 1)
    assert not np.any(idx == np.arange(40)[:, None])
    assert set(idx[3, :2]) == {10, 20}
    np.testing.assert_array_equal(d2[3, :2], 0.0)


@pytest.mark.parametrize("scale", [1e-30, 1.0, 1e30])
def test_extreme_magnitudes(scale, rng):
    X = rng.normal(size=(120, 8)) * scale + 5.0 * scale
    idx, d2 = _core.knn_exact(X, 10, 2)
    ref_idx, ref_d2 = brute_force(X, 10)
    # Selection works at any scale (it runs on centred, rescaled data) ...
    np.testing.assert_array_equal(np.sort(idx, axis=1), np.sort(ref_idx, axis=1))
    # ... and distances are exact wherever float32 can hold them.
    if scale == 1.0:
        np.testing.assert_allclose(d2, ref_d2, rtol=1e-6)


def test_bitwise_identical_across_threads(rng):
    X = rng.normal(size=(1100, 20)).astype(np.float32)
    ref = _core.knn_exact(X, 30, 1)
    for n_threads in (2, 3, 5):
        out = _core.knn_exact(X, 30, n_threads)
        np.testing.assert_array_equal(out[0], ref[0])
        np.testing.assert_array_equal(out[1], ref[1])


@pytest.mark.parametrize("level", _core.simd_info()["supported"])
def test_every_simd_level_matches_scalar(level, rng):
    X = rng.normal(size=(700, 37)).astype(np.float32)
    ref_idx, ref_d2 = _core.knn_exact(X, 25, 2, simd_level="scalar")
    idx, d2 = _core.knn_exact(X, 25, 2, simd_level=level)
    # Final distances are recomputed exactly, so only near-ties may reorder.
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-6)
    assert np.mean(idx == ref_idx) > 0.999


def test_unknown_simd_level_is_a_clear_error(rng):
    with pytest.raises(ValueError, match="unknown SIMD level 'sse9'"):
        _core.knn_exact(rng.normal(size=(10, 2)), 3, 1, simd_level="sse9")


def brute_force_chunked(X, k):
    """Like brute_force, a row at a time (for wide inputs)."""
    X = np.asarray(X, dtype=np.float64)
    idx = np.empty((len(X), k), dtype=np.int64)
    d2 = np.empty((len(X), k))
    for i, x in enumerate(X):
        row = np.sum((X - x) ** 2, axis=1)
        row[i] = np.inf
        order = np.lexsort((np.arange(len(X)), row))[:k]
        idx[i], d2[i] = order, row[order]
    return idx, d2


def assert_exact_top_k(X, idx, d2, ref_d2, rtol=1e-6):
    """Every returned neighbour is one of the true k nearest, up to near-ties at the k-th."""
    X = np.asarray(X, dtype=np.float64)
    np.testing.assert_allclose(d2, ref_d2, rtol=rtol, atol=1e-9)
    true_d2 = np.sum((X[idx] - X[:, None, :]) ** 2, axis=-1)
    assert np.all(true_d2 <= ref_d2[:, -1:] * (1 + 10 * rtol) + 1e-9)
    assert not np.any(idx == np.arange(len(X))[:, None])
    assert all(len(set(row)) == len(row) for row in idx)


def clustered(rng, n, d, rank=None, n_clusters=6):
    """Gaussian clusters in d dimensions (optionally of lower rank)."""
    inner = rank or d
    centres = rng.normal(scale=4.0, size=(n_clusters, inner))
    Z = centres[rng.integers(n_clusters, size=n)] + rng.normal(size=(n, inner))
    if rank is not None:
        Z = Z @ rng.normal(size=(rank, d))
    return Z


# Wide rows (>= 256 features) take the screened path: projection lower bound, candidates.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("n", "d", "k", "rank"), [(400, 256, 30, None), (700, 300, 90, None), (500, 320, 25, 4)]
)
def test_screened_path_matches_brute_force(dtype, n, d, k, rank, rng):
    X = clustered(rng, n, d, rank).astype(dtype)
    idx, d2 = _core.knn_exact(X, k, 2)
    _, ref_d2 = brute_force_chunked(X, k)
    assert_exact_top_k(X, idx, d2, ref_d2)


def test_screened_path_duplicates_and_constant_columns(rng):
    X = clustered(rng, 300, 260)
    X[:, 7] = 3.0  # a constant feature
    X[50:60] = X[5]  # ten copies of row 5
    idx, d2 = _core.knn_exact(X, 12, 2)
    ref_idx, ref_d2 = brute_force_chunked(X, 12)
    np.testing.assert_array_equal(idx, ref_idx)  # zero-distance ties go to the lower index
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-6, atol=1e-9)
    assert set(idx[5, :10]) == set(range(50, 60))


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_screened_path_extreme_magnitudes(scale, rng):
    X = clustered(rng, 200, 256)
    idx, _ = _core.knn_exact(X * scale, 10, 2)
    _, ref_d2 = brute_force_chunked(X, 10)
    true_d2 = np.sum((X[idx] - X[:, None, :]) ** 2, axis=-1)
    assert np.all(true_d2 <= ref_d2[:, -1:] * (1 + 1e-5))


def test_screened_path_constant_rows_fall_back(rng):
    X = np.ones((50, 300))
    idx, d2 = _core.knn_exact(X, 5, 2)
    np.testing.assert_array_equal(d2, 0.0)
    np.testing.assert_array_equal(idx[0], [1, 2, 3, 4, 5])  # all tied: lowest indices


def test_screened_path_bitwise_identical_across_threads_and_levels(rng):
    X = clustered(rng, 900, 300).astype(np.float32)
    ref = _core.knn_exact(X, 40, 1)
    for n_threads in (2, 3):
        out = _core.knn_exact(X, 40, n_threads)
        np.testing.assert_array_equal(out[0], ref[0])
        np.testing.assert_array_equal(out[1], ref[1])
    for level in _core.simd_info()["supported"]:
        idx, d2 = _core.knn_exact(X, 40, 2, simd_level=level)
        np.testing.assert_allclose(d2, ref[1], rtol=1e-6)
        assert np.mean(idx == ref[0]) > 0.999


# Far-apart clusters: most pairs of row blocks are skipped by the block-pair bound; the
# result must still be the exact top k (blocks of 256 rows: several blocks per cluster,
# and clusters of unequal sizes, one smaller than a block).
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_pair_pruning_keeps_exact_top_k(dtype, rng):
    sizes = [1500, 900, 120, 700]
    centres = rng.normal(scale=8.0, size=(len(sizes), 12))
    X = np.concatenate([c + rng.normal(size=(m, 12)) for c, m in zip(centres, sizes)])
    X = X[rng.permutation(len(X))].astype(dtype)
    idx, d2 = _core.knn_exact(X, 40, 2)
    _, ref_d2 = brute_force_chunked(X, 40)
    # (rtol: the float32 selection's near-ties at the k-th distance, with distances small
    # against the rescaled norms here; a skipped pair of blocks would lose whole
    # neighbours, far beyond it.)
    assert_exact_top_k(X, idx, d2, ref_d2, rtol=1e-4)
    idx1, d21 = _core.knn_exact(X, 40, 1)
    np.testing.assert_array_equal(idx, idx1)
    np.testing.assert_array_equal(d2, d21)
