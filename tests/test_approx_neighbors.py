"""neighbors='approx' (faiss HNSW + exact distances) and neighbors='auto'."""

from __future__ import annotations

import numpy as np
import pytest

from acctsne import TSNE, _ann, _core

from conftest import blobs, digits


def recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])


def test_recall_on_digits_is_high_and_distances_exact():
    X, _ = digits()
    k = 90
    idx, d2 = _ann.approximate_knn(X, k, 2)
    ref_idx, _ = _core.knn_exact(X, k, 2)
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
