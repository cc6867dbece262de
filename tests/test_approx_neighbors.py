"""neighbors='approx' (faiss HNSW + exact distances) and neighbors='auto'."""

from __future__ import annotations

import numpy as np
import pytest

from acctsne import TSNE, _ann, _core
from acctsne._neighbors import nearest_neighbors

from conftest import blobs, digits


def recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])


def test_recall_on_digits_is_high_and_distances_exact():
    X, _ = digits()
    k = 90
    idx, d2 = _ann.approximate_knn(X, k, 2)
    ref_idx, _, _ = nearest_neighbors(X, k, neighbors="exact", n_threads=2)
    assert idx.shape == (len(X), k) and idx.dtype == np.int32
    assert recall(idx, ref_idx) > 0.99
    assert not np.any(idx == np.arange(len(X))[:, None])
    assert all(len(set(row)) == k for row in idx)
    true_d2 = np.sum((X[idx] - X[:, None, :]) ** 2, axis=-1)
    np.testing.assert_allclose(d2, true_d2, rtol=1e-6)
    assert np.all(np.diff(d2, axis=1) >= 0)  # rows sorted by distance


def test_same_graph_for_any_thread_count():
    X, _ = blobs(3000, 20, seed=2)
    ref = _ann.approximate_knn(X, 30, 1)
    for n_threads in (2, 3):
        out = _ann.approximate_knn(X, 30, n_threads)
        np.testing.assert_array_equal(out[0], ref[0])
        np.testing.assert_array_equal(out[1], ref[1])


@pytest.fixture
def sharded(monkeypatch):
    """Small inputs take the sharded path of large ones (two graphs, merged results)."""
    monkeypatch.setattr(_ann, "_SHARD_MIN_SAMPLES", 1000)


def test_sharded_graphs_merge_to_the_nearest_and_ignore_thread_count(sharded):
    X, _ = blobs(4000, 12, seed=3)
    assert len(_ann._shards(len(X))) == _ann._N_SHARDS == 2
    k = 40
    ref_idx, _, _ = nearest_neighbors(X, k, neighbors="exact", n_threads=2)
    idx, d2 = _ann.approximate_knn(X, k, 1)
    assert recall(idx, ref_idx) > 0.99
    assert 0.4 < np.mean(idx % 2 == 0) < 0.6  # neighbours come from both shards
    assert not np.any(idx == np.arange(len(X))[:, None])
    assert np.all(np.diff(d2, axis=1) >= 0)
    for n_threads in (2, 3):
        out = _ann.approximate_knn(X, k, n_threads)
        np.testing.assert_array_equal(out[0], idx)
        np.testing.assert_array_equal(out[1], d2)


def test_shard_merge_keeps_the_k_smallest_with_ties_to_the_first_shard():
    class FakeIndex:
        def __init__(self, labels, distances):
            self.hnsw = type("H", (), {})()
            self._result = (np.array([distances], np.float32), np.array([labels]))

        def search(self, queries, k):
            return self._result

    shards = [np.array([0, 2, 4, 6]), np.array([1, 3, 5, 7])]
    indexes = [FakeIndex([0, 1, 3], [0.0, 2.0, 5.0]), FakeIndex([2, 0, -1], [2.0, 3.0, 0.0])]
    merged = _ann._search_shards(indexes, shards, np.zeros((1, 2), np.float32), 3)
    # shard 0's local 1 -> row 2 (d 2.0) ties shard 1's local 2 -> row 5 (d 2.0): first
    # shard first; shard 1's -1 (nothing found) never wins.
    np.testing.assert_array_equal(merged, [[0, 2, 5]])


def test_duplicates_keep_self_out():
    X, _ = blobs(500, 8)
    X[100:120] = X[7]  # 21 identical rows
    idx, d2 = _ann.approximate_knn(X, 25, 2)
    assert not np.any(idx == np.arange(len(X))[:, None])
    np.testing.assert_array_equal(d2[7, :20], 0.0)


def test_estimator_with_approx_neighbors_matches_exact_quality():
    X, _ = blobs(2000, 15, seed=4)
    kwargs = dict(random_state=0, n_jobs=2, max_iter=500)
    exact = TSNE(neighbors="exact", **kwargs).fit(X)
    approx = TSNE(neighbors="approx", **kwargs).fit(X)
    assert approx.kl_divergence_ == pytest.approx(exact.kl_divergence_, rel=0.02)


def test_refine_neighbors_rejects_bad_graphs():
    X = np.random.default_rng(0).normal(size=(10, 3))
    rows = np.arange(10)[:, None]
    good = ((rows + np.arange(1, 4)) % 10).astype(np.int32)
    idx, _ = _core.refine_neighbors(X, good, 1)
    assert sorted(idx[0]) == [1, 2, 3]
    bad = good.copy()
    bad[2] = [2, 3, 4]  # row 2 lists itself
    with pytest.raises(ValueError, match="neighbour index 2 of row 2 is invalid"):
        _core.refine_neighbors(X, bad, 1)
    bad[2] = [0, 1, 10]
    with pytest.raises(ValueError, match="neighbour index 10 of row 2 is invalid"):
        _core.refine_neighbors(X, bad, 1)


def test_approx_with_other_metric_is_a_clear_error():
    X, _ = blobs(100, 5)
    with pytest.raises(ValueError, match=r"neighbors='approx' needs dense X and metric='euc"):
        TSNE(neighbors="approx", metric="manhattan").fit(X)


def test_auto_uses_approx_only_for_large_inputs(monkeypatch):
    calls = []
    real = _ann.approximate_knn
    monkeypatch.setattr(_ann, "approximate_knn", lambda *a: calls.append(1) or real(*a))
    X, _ = blobs(600, 6)
    TSNE(max_iter=250, random_state=0).fit(X)
    assert not calls
    monkeypatch.setattr(TSNE, "_AUTO_APPROX_MIN_SAMPLES", 500)
    TSNE(max_iter=250, random_state=0).fit(X)
    assert calls


def test_missing_faiss_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    X, _ = blobs(100, 5)
    with pytest.raises(ImportError, match=r"pip install 'acctsne\[ann\]'"):
        TSNE(neighbors="approx").fit(X)
    assert not _ann.faiss_available()
