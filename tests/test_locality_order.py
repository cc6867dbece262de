"""Large fits work in the kNN graph's breadth-first order (attraction locality).

From ``_affinities.LOCALITY_ORDER_MIN_SAMPLES`` samples P is built, and the descent run,
with the points in that order; the estimator's outputs are in the samples' order. The
threshold is lowered here so that small fits take that path.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from acctsne import TSNE, _affinities, _core


def clusters(n, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=30.0, size=(4, 8))
    y = rng.integers(4, size=n)
    return (centres[y] + rng.normal(size=(n, 8))).astype(np.float32), y


def test_graph_order_is_a_permutation_with_components_contiguous():
    X, y = clusters(2000)
    idx, _ = _core.knn_exact(X, 15, 2)
    order = _affinities.graph_order(idx)
    assert order.dtype == np.int32
    np.testing.assert_array_equal(np.sort(order), np.arange(2000))
    np.testing.assert_array_equal(order, _affinities.graph_order(idx))  # deterministic
    # The clusters share no neighbours, so each is one contiguous range of the order.
    changes = np.count_nonzero(np.diff(y[order]))
    assert changes == 3
    assert order[0] == 0  # the walk starts at the first sample


def test_graph_order_rejects_bad_indices():
    with pytest.raises(ValueError, match="out of range"):
        _core.graph_order(np.array([0, 1, 2], dtype=np.int64), np.array([1, 5], dtype=np.int32))


def test_permute_rows_round_trip(rng):
    P = sp.random(300, 300, density=0.05, format="csr", dtype=np.float32, random_state=1)
    P.sort_indices()
    order = rng.permutation(300).astype(np.int32)
    inverse = _affinities.inverse_permutation(order)
    ip, ind = _core.permute_rows(P.indptr.astype(np.int64), P.indices, order, inverse)
    _, data = _core.permute_rows(P.indptr.astype(np.int64), P.data, order)
    permuted = sp.csr_matrix((data, ind, ip), shape=P.shape)
    # Row s, column t of the permuted matrix is entry (order[s], order[t]) of P.
    np.testing.assert_array_equal(permuted.toarray(), P.toarray()[np.ix_(order, order)])
    back = _affinities.restore_order([permuted], order, 2)
    np.testing.assert_array_equal(back.toarray(), P.toarray())
    with pytest.raises(ValueError, match=r"not a permutation"):
        _core.permute_rows(P.indptr.astype(np.int64), P.data, np.zeros(300, dtype=np.int32))


@pytest.fixture
def low_threshold(monkeypatch):
    monkeypatch.setattr(_affinities, "LOCALITY_ORDER_MIN_SAMPLES", 100)


@pytest.mark.parametrize("method", ["barnes_hut", "fft"])
def test_fit_in_locality_order_keeps_the_samples_order(method, low_threshold):
    X, y = clusters(1500)
    snapshots = []

    def stop_at_280(iteration, kl, embedding):
        snapshots.append(embedding)
        return iteration >= 280

    params = dict(
        method=method,
        random_state=0,
        max_iter=400,
        callbacks=stop_at_280,
        callbacks_every_iters=20,
    )
    est = TSNE(n_jobs=2, **params)
    Y = est.fit_transform(X)
    # P is P whatever the order the fit built it in.
    P_ref, _ = _affinities.sparse_affinities(X, 30.0, n_threads=2)
    np.testing.assert_array_equal(est.affinities_.toarray(), P_ref.toarray())
    # The embedding is in the samples' order: same-cluster points are each other's
    # embedding neighbours, and the callback that stopped the fit saw that same array.
    from sklearn.neighbors import KNeighborsClassifier

    accuracy = KNeighborsClassifier(5).fit(Y, y).score(Y, y)
    assert accuracy > 0.99
    np.testing.assert_array_equal(snapshots[-1], Y)
    # Bitwise the same for any thread count.
    Y1 = TSNE(n_jobs=1, **params).fit_transform(X)
    np.testing.assert_array_equal(Y, Y1)


def test_locality_order_changes_nothing_but_the_work(low_threshold, monkeypatch):
    X, _ = clusters(1200, seed=3)
    kl_local = TSNE(method="fft", random_state=0, max_iter=300).fit(X).kl_divergence_
    monkeypatch.setattr(_affinities, "LOCALITY_ORDER_MIN_SAMPLES", 10**9)
    kl_plain = TSNE(method="fft", random_state=0, max_iter=300).fit(X).kl_divergence_
    # Another order of the same computation: rounding apart, the same optimisation.
    assert kl_local == pytest.approx(kl_plain, rel=0.02)
