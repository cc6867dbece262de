"""Gradients: exact vs finite differences and sklearn; Barnes-Hut vs the exact oracle."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad

from acctsne import _core
from acctsne._evaluate import kl_divergence_exact

from conftest import blobs, gradient, sparse_p

sk_tsne = pytest.importorskip("sklearn.manifold._t_sne")


def dense_p(n, seed):
    r = np.random.default_rng(seed)
    P = r.random((n, n))
    P = P + P.T
    np.fill_diagonal(P, 0.0)
    return P / P.sum()


@pytest.mark.parametrize("dims", [1, 2])
def test_exact_gradient_matches_finite_differences(dims):
    # Only for dof = 1: for dof != 1 sklearn's "gradient" (which acctsne reproduces, see
    # test_exact_gradient_matches_sklearn) weights pairs by w_ij instead of the
    # (1 + d^2/dof)^-1 of the true KL derivative; the two agree only at dof = 1.
    n = 25
    P = dense_p(n, dims)
    dof = 1
    Y0 = np.random.default_rng(1).normal(size=n * dims)

    def kl(y):
        Y = y.reshape(n, dims).astype(np.float32)
        return _core.exact_gradient(Y, P, dof, True, 1)[0]

    def grad(y):
        Y = y.reshape(n, dims).astype(np.float32)
        return _core.exact_gradient(Y, P, dof, True, 1)[1].ravel()

    # float32 positions: finite differences on a scale the float32 grid resolves.
    Y0 = Y0.astype(np.float32).astype(np.float64)
    err = check_grad(kl, grad, Y0, epsilon=1e-3)
    assert err / np.linalg.norm(grad(Y0)) < 1e-2


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_exact_gradient_matches_sklearn(dims):
    n = 40
    P = dense_p(n, 7)
    dof = max(dims - 1, 1)
    Y = np.random.default_rng(2).normal(size=(n, dims)).astype(np.float32)
    kl, g = _core.exact_gradient(Y, P, dof, True, 2)
    from scipy.spatial.distance import squareform

    params = Y.ravel().astype(np.float64)
    ref_kl, ref_g = sk_tsne._kl_divergence(params, squareform(P), dof, n, dims)
    assert kl == pytest.approx(ref_kl, rel=1e-10)
    np.testing.assert_allclose(g.ravel(), ref_g, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_barnes_hut_angle_zero_equals_exact(dims):
    X, _ = blobs(220, 6, seed=dims)
    P = sparse_p(X, 20.0)
    dof = max(dims - 1, 1)
    Y = np.random.default_rng(3).normal(scale=3.0, size=(220, dims)).astype(np.float32)
    csr = (P.indptr.astype(np.int64), P.indices, P.data)
    kl_bh, g_bh = gradient("barnes_hut", Y, csr, angle=0.0, dof=dof, n_threads=2)
    kl_ex, g_ex = _core.exact_gradient(Y, P.toarray().astype(np.float64), dof, True, 2)
    np.testing.assert_allclose(g_bh, g_ex, rtol=2e-4, atol=2e-4 * np.abs(g_ex).max())
    assert kl_bh == pytest.approx(kl_ex, rel=1e-4)
    assert kl_ex == pytest.approx(kl_divergence_exact(P, Y), rel=1e-9)


@pytest.mark.parametrize("dims", [2, 3])
def test_barnes_hut_error_shrinks_with_angle(dims):
    X, _ = blobs(1500, 10, seed=5)
    P = sparse_p(X)
    dof = max(dims - 1, 1)
    Y = np.random.default_rng(4).normal(scale=5.0, size=(1500, dims)).astype(np.float32)
    args = (P.indptr.astype(np.int64), P.indices, P.data)
    _, g_ex = _core.exact_gradient(Y, P.toarray().astype(np.float64), dof, False, 2)
    errors = []
    for angle in (0.8, 0.5, 0.2):
        _, g = gradient(
            "barnes_hut", Y, args, angle=angle, dof=dof, compute_error=False, n_threads=2
        )
        errors.append(np.linalg.norm(g - g_ex) / np.linalg.norm(g_ex))
    assert errors[0] > errors[1] > errors[2]
    assert errors[1] < 0.05


def test_barnes_hut_close_to_sklearn_at_default_angle():
    X, _ = blobs(800, 10, seed=6)
    P = sparse_p(X)
    Y = np.random.default_rng(5).normal(scale=4.0, size=(800, 2)).astype(np.float32)
    csr = (P.indptr.astype(np.int64), P.indices, P.data)
    kl, g = gradient("barnes_hut", Y, csr, angle=0.5, n_threads=2)
    ref_kl, ref_g = sk_tsne._kl_divergence_bh(Y.ravel(), P, 1, 800, 2, angle=0.5)
    kl_ex, g_ex = _core.exact_gradient(Y, P.toarray().astype(np.float64), 1, True, 2)
    # Both approximate the same exact gradient and KL; ours at least as well as sklearn's
    # (the group walk's opening test is conservative).
    ours = np.linalg.norm(g.ravel() - g_ex.ravel())
    theirs = np.linalg.norm(ref_g - g_ex.ravel())
    assert ours <= theirs
    assert abs(kl - kl_ex) <= abs(ref_kl - kl_ex)
    assert kl == pytest.approx(ref_kl, rel=1e-2)


def test_point_never_repels_itself_or_its_duplicates():
    Y = np.array([[0, 0], [0, 0], [1, 0]], dtype=np.float32)
    indptr = np.zeros(4, dtype=np.int64)
    empty_i, empty_d = np.zeros(0, np.int32), np.zeros(0, np.float32)
    _, g = gradient("barnes_hut", Y, (indptr, empty_i, empty_d), angle=0.0, compute_error=False)
    # Only the pairs (0,2) and (1,2) interact: Z = 4 * 1/2 and forces are finite.
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[0], g[1])
    np.testing.assert_allclose(g[2], -2 * g[0], rtol=1e-6)


def test_gradient_bh_bitwise_identical_across_threads():
    X, _ = blobs(5000, 8, seed=9)
    P = sparse_p(X)
    Y = np.random.default_rng(6).normal(scale=10.0, size=(5000, 2)).astype(np.float32)
    csr = (P.indptr.astype(np.int64), P.indices, P.data)
    kl1, g1 = gradient("barnes_hut", Y, csr, angle=0.5, n_threads=1)
    for n_threads in (2, 3):
        kl, g = gradient("barnes_hut", Y, csr, angle=0.5, n_threads=n_threads)
        assert kl == kl1
        np.testing.assert_array_equal(g, g1)
