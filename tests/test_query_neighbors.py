"""query_neighbors (the neighbour search of transform) against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.spatial.distance import cdist

from acctsne._neighbors import query_neighbors


def brute_force(reference, X_new, k, metric="sqeuclidean"):
    """Every distance, rows ordered by (float32 squared distance, index)."""
    if metric == "sqeuclidean":
        diff = X_new[:, None, :] - reference[None, :, :]
        d2 = (diff * diff).sum(axis=-1).astype(np.float32)
    else:
        d2 = (cdist(X_new, reference, metric) ** 2).astype(np.float32)
    columns = np.broadcast_to(np.arange(len(reference)), d2.shape)
    order = np.lexsort((columns, d2), axis=-1)[:, :k]
    return order.astype(np.int32), np.take_along_axis(d2, order, 1)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(400, 7)) * 3.0
    reference[200:210] = reference[100]  # ties: equal distances go to the lower index
    X_new = np.vstack([rng.normal(size=(150, 7)) * 3.0, reference[95:105]])
    return reference, X_new


def test_euclidean_matches_brute_force(data):
    reference, X_new = data
    idx, d2 = query_neighbors(reference, X_new, 15, n_threads=2)
    assert idx.dtype == np.int32 and d2.dtype == np.float32 and idx.shape == (160, 15)
    ref_idx, ref_d2 = brute_force(reference, X_new, 15)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-6)


def test_a_reference_row_finds_itself_first(data):
    reference, _ = data
    idx, d2 = query_neighbors(reference, reference[:20], 5)
    np.testing.assert_array_equal(idx[:, 0], np.arange(20))
    assert np.all(d2[:, 0] == 0)
    # Row 100 has ten copies (200..209): the lowest indices come first, all at 0.
    idx, d2 = query_neighbors(reference, reference[[100, 205]], 12)
    for row in idx:
        np.testing.assert_array_equal(row[:11], [100, *range(200, 210)])
    assert np.all(d2[:, :11] == 0)


def test_same_result_for_any_batch_split_and_thread_count(data):
    reference, X_new = data
    idx, d2 = query_neighbors(reference, X_new, 20, n_threads=1)
    for n_threads in (1, 2, 3):
        out = query_neighbors(reference, X_new, 20, n_threads=n_threads)
        np.testing.assert_array_equal(out[0], idx)
        np.testing.assert_array_equal(out[1], d2)
    parts = [query_neighbors(reference, X_new[a:b], 20) for a, b in ((0, 1), (1, 64), (64, 160))]
    np.testing.assert_array_equal(np.vstack([p[0] for p in parts]), idx)
    np.testing.assert_array_equal(np.vstack([p[1] for p in parts]), d2)


def test_far_away_and_large_values_stay_exact():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(300, 4)) + 1e4  # expanded form loses digits here
    X_new = reference[:50] + rng.normal(scale=1e-3, size=(50, 4))
    idx, d2 = query_neighbors(reference, X_new, 10)
    ref_idx, ref_d2 = brute_force(reference, X_new, 10)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-6)


@pytest.mark.parametrize("metric", ["manhattan", "cosine"])
def test_other_metrics_match_brute_force(data, metric):
    reference, X_new = data
    X_new = X_new[:150]  # no ties
    idx, d2 = query_neighbors(reference, X_new, 8, metric=metric, n_jobs=2)
    ref_idx, ref_d2 = brute_force(
        reference, X_new, 8, "cityblock" if metric == "manhattan" else metric
    )
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-5)


def test_sparse_input_matches_dense(data):
    reference, X_new = data
    X_new = X_new[:150]
    dense = query_neighbors(reference, X_new, 10)
    sparse = query_neighbors(csr_matrix(reference), csr_matrix(X_new), 10)
    np.testing.assert_array_equal(sparse[0], dense[0])
    np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-5)


def test_too_many_neighbours_is_an_error(data):
    reference, X_new = data
    with pytest.raises(ValueError, match="n_neighbors"):
        query_neighbors(reference, X_new, len(reference) + 1)


def test_precomputed_distances_to_the_reference(data):
    reference, X_new = data
    X_new = X_new[:150]
    distances = cdist(X_new, reference)
    idx, d2 = query_neighbors(cdist(reference, reference), distances, 9, metric="precomputed")
    ref_idx, ref_d2 = brute_force(reference, X_new, 9, "euclidean")
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-6)


def test_ties_at_the_kth_place_go_to_the_lower_index():
    # Small integers: many rows at exactly the k-th distance, which float32 rounding of
    # the selection would order arbitrarily.
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 3, size=(500, 6)).astype(np.float64)
    X_new = rng.integers(0, 3, size=(80, 6)).astype(np.float64)
    idx, d2 = query_neighbors(reference, X_new, 12)
    ref_idx, ref_d2 = brute_force(reference, X_new, 12)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(d2, ref_d2.astype(np.float32))
