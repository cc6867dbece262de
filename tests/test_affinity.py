"""Perplexity search and symmetrisation against entropy and sklearn's private helpers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_array

from acctsne import _core
from acctsne._affinities import joint_probabilities_nn
from acctsne._neighbors import nearest_neighbors

from conftest import blobs

sk_tsne = pytest.importorskip("sklearn.manifold._t_sne")
sk_utils = pytest.importorskip("sklearn.manifold._utils")


def exact_knn(X, k, n_threads):
    """(indices, squared distances) of the fit's exact euclidean search."""
    return nearest_neighbors(X, k, neighbors="exact", n_threads=n_threads)[:2]


@pytest.mark.parametrize("perplexity", [2.0, 10.0, 30.0])
def test_rows_have_entropy_log_perplexity(perplexity):
    X, _ = blobs(400, 8)
    k = int(3 * perplexity + 1)
    _, d2 = exact_knn(X, k, 2)
    P, betas = _core.conditional_probabilities(d2, perplexity, False, 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.sum(np.where(P > 0, P * np.log(P), 0.0), axis=1)
    np.testing.assert_allclose(entropy, np.log(perplexity), atol=2e-5)
    assert np.all(betas > 0)


def test_matches_sklearn_binary_search():
    X, _ = blobs(300, 6, seed=3)
    _, d2 = exact_knn(X, 40, 1)
    ours, _ = _core.conditional_probabilities(d2, 12.0, False, 3)
    ref = sk_utils._binary_search_perplexity(d2, 12.0, 0)
    # Same algorithm, same constants, same summation order.
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300)


def test_underflow_row_is_finite():
    # sklearn #19471: huge distances make every exp underflow at beta = 1.
    d2 = np.array([[1e5, 2e5, 3e5, 4e5]], dtype=np.float32).repeat(3, axis=0)
    P, _ = _core.conditional_probabilities(d2, 2.0, False, 1)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)


def test_joint_p_matches_sklearn_joint_probabilities_nn():
    X, _ = blobs(350, 5, seed=1)
    n, k = X.shape[0], 46
    idx, d2 = exact_knn(X, k, 2)
    ours = joint_probabilities_nn(idx, d2, 15.0, 2)[0].toarray()
    graph = csr_array(
        (d2.ravel().astype(np.float64), idx.ravel(), np.arange(0, n * k + 1, k)),
        shape=(n, n),
    )
    ref = sk_tsne._joint_probabilities_nn(graph, 15.0, 0).toarray()
    np.testing.assert_allclose(ours, ref, rtol=2e-6, atol=1e-12)


def test_joint_p_is_symmetric_normalised_and_sorted():
    X, _ = blobs(500, 4, seed=2)
    idx, d2 = exact_knn(X, 31, 2)
    P, _ = joint_probabilities_nn(idx, d2, 10.0, 3)
    indptr, cols = P.indptr, P.indices
    dense = P.toarray()
    np.testing.assert_allclose(dense, dense.T, rtol=1e-6)
    assert dense.sum() == pytest.approx(1.0, rel=1e-5)
    assert np.all(np.diag(dense) == 0)
    for i in range(500):
        row = cols[indptr[i] : indptr[i + 1]]
        assert np.all(np.diff(row) > 0)


def test_exact_p_matches_sklearn_joint_probabilities():
    from scipy.spatial.distance import pdist, squareform

    X, _ = blobs(120, 5, seed=4)
    D = squareform(pdist(X, "sqeuclidean"))
    ours, _ = _core.joint_probabilities_exact(D.astype(np.float32), 20.0, 2)
    ref = squareform(sk_tsne._joint_probabilities(D, 20.0, 0))
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_threads_do_not_change_p():
    X, _ = blobs(900, 12, seed=5)
    idx, d2 = exact_knn(X, 91, 1)

    def arrays(n_threads):
        P, betas = joint_probabilities_nn(idx, d2, 30.0, n_threads)
        return P.indptr, P.indices, P.data, betas

    ref = arrays(1)
    for n_threads in (2, 3):
        out = arrays(n_threads)
        for a, b in zip(out, ref):
            np.testing.assert_array_equal(a, b)
