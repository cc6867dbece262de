"""Multiscale affinities (a list of perplexities) against a NumPy reference and the scalar."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.spatial.distance import pdist, squareform

from acctsne import _core
from acctsne._affinities import (
    exact_affinities,
    joint_probabilities_nn,
    n_neighbors_for_perplexity,
    print_perplexity_progress,
    sparse_affinities,
)
from acctsne._neighbors import nearest_neighbors

from conftest import blobs

# Not exactly representable in float32: a list must round it as the scalar does.
SCALES = (4.3, 17.0)


def knn(X, perplexity, n_threads=1):
    """(indices, squared distances) for the neighbour count of ``perplexity``."""
    k = n_neighbors_for_perplexity(perplexity, X.shape[0])
    return nearest_neighbors(X, k, neighbors="exact", n_threads=n_threads)[:2]


def reference_conditional(d2, perplexity, skip_diagonal=False):
    """Rows of one perplexity by scikit-learn's bisection, vectorised over rows in NumPy."""
    d2 = np.asarray(d2, dtype=np.float64)
    n = d2.shape[0]
    target = np.log(np.float64(np.float32(perplexity)))
    tol, floor = np.float64(np.float32(1e-5)), np.float64(np.float32(1e-8))
    mask = np.ones_like(d2)
    if skip_diagonal:
        np.fill_diagonal(mask, 0.0)
    beta = np.ones(n)
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    done = np.zeros(n, dtype=bool)

    def rows(beta):
        p = np.exp(-d2 * beta[:, None]) * mask
        s = p.sum(axis=1)
        s[s == 0.0] = floor
        p /= s[:, None]
        return p, np.log(s) + beta * (d2 * p).sum(axis=1)

    for _ in range(100):
        _, entropy = rows(beta)
        diff = entropy - target
        done |= np.abs(diff) <= tol
        up, down = ~done & (diff > 0), ~done & (diff <= 0)
        lo[up], hi[down] = beta[up], beta[down]
        beta[up] = np.where(np.isinf(hi[up]), beta[up] * 2, (beta[up] + hi[up]) / 2)
        beta[down] = np.where(np.isinf(lo[down]), beta[down] / 2, (beta[down] + lo[down]) / 2)
        if done.all():
            break
    assert done.all()
    return rows(beta)[0], beta


def reference_multiscale_nn(indices, d2, perplexities):
    """Averaged conditional rows, then P = (C + C^T) / sum."""
    n, k = indices.shape
    cond = np.mean([reference_conditional(d2, s)[0] for s in perplexities], axis=0)
    C = csr_matrix((cond.ravel(), indices.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    P = (C + C.T).toarray()
    return P / P.sum()


def as_arrays(P, betas):
    return P.indptr, P.indices, P.data, betas


@pytest.mark.parametrize("perplexity", [4.3, 17.0])
def test_one_element_list_is_bitwise_the_scalar(perplexity):
    X, _ = blobs(300, 6, seed=7)
    idx, d2 = knn(X, perplexity)
    P, betas = joint_probabilities_nn(idx, d2, perplexity, 2)
    P1, betas1 = joint_probabilities_nn(idx, d2, [perplexity], 2)
    assert betas.shape == (300,) and betas1.shape == (300, 1)
    for a, b in zip(as_arrays(P1, betas1[:, 0]), as_arrays(P, betas)):
        np.testing.assert_array_equal(a, b)

    cond, betas = _core.conditional_probabilities(d2, perplexity, False, 2)
    cond1, betas1 = _core.conditional_probabilities(d2, np.array([perplexity]), False, 2)
    np.testing.assert_array_equal(cond1, cond)
    np.testing.assert_array_equal(betas1[:, 0], betas)

    P, betas = exact_affinities(X, perplexity, n_threads=2)
    P1, betas1 = exact_affinities(X, (perplexity,), n_threads=2)
    np.testing.assert_array_equal(P1, P)
    np.testing.assert_array_equal(betas1[:, 0], betas)

    P, betas = sparse_affinities(X, perplexity, neighbors="exact", n_threads=2)
    P1, betas1 = sparse_affinities(X, [perplexity], neighbors="exact", n_threads=2)
    for a, b in zip(as_arrays(P1, betas1[:, 0]), as_arrays(P, betas)):
        np.testing.assert_array_equal(a, b)


def test_sparse_multiscale_p_matches_numpy_reference():
    X, _ = blobs(400, 8, seed=3)
    idx, d2 = knn(X, SCALES)
    assert idx.shape[1] == int(3 * max(SCALES) + 1)
    P, betas = joint_probabilities_nn(idx, d2, SCALES, 2)
    ref = reference_multiscale_nn(idx, d2, SCALES)
    np.testing.assert_allclose(P.toarray(), ref, rtol=1e-6, atol=1e-12)
    assert betas.shape == (400, len(SCALES))
    for s, perplexity in enumerate(SCALES):
        np.testing.assert_allclose(betas[:, s], reference_conditional(d2, perplexity)[1])


def test_exact_multiscale_p_matches_numpy_reference():
    X, _ = blobs(150, 5, seed=4)
    D = squareform(pdist(X, "sqeuclidean")).astype(np.float32)
    P, betas = _core.joint_probabilities_exact(D, np.array(SCALES), 2)
    cond = np.mean([reference_conditional(D, s, skip_diagonal=True)[0] for s in SCALES], axis=0)
    ref = cond + cond.T
    ref = np.maximum(ref / ref.sum(), np.finfo(np.float64).eps)
    np.fill_diagonal(ref, 0.0)
    np.testing.assert_allclose(P, ref, rtol=1e-6, atol=1e-15)
    assert betas.shape == (150, len(SCALES))


def test_averaged_rows_sum_to_one_and_are_the_mean_of_the_scales():
    X, _ = blobs(300, 6, seed=1)
    _, d2 = knn(X, SCALES)
    cond, betas = _core.conditional_probabilities(d2, np.array(SCALES), False, 2)
    np.testing.assert_allclose(cond.sum(axis=1), 1.0, rtol=1e-12)
    singles = [_core.conditional_probabilities(d2, s, False, 2) for s in SCALES]
    # Each scale is the single-perplexity search over the same neighbours.
    np.testing.assert_array_equal(cond, (singles[0][0] + singles[1][0]) / 2)
    for s, (_, single_betas) in enumerate(singles):
        np.testing.assert_array_equal(betas[:, s], single_betas)


def test_multiscale_p_differs_from_each_single_scale():
    X, _ = blobs(300, 6, seed=2)
    idx, d2 = knn(X, SCALES)
    multi = joint_probabilities_nn(idx, d2, SCALES, 2)[0].toarray()
    for perplexity in SCALES:
        single = joint_probabilities_nn(idx, d2, perplexity, 2)[0].toarray()
        assert np.abs(multi - single).max() > 1e-2 * np.abs(single).max()


def test_threads_and_overwrite_do_not_change_multiscale_p():
    X, _ = blobs(700, 10, seed=5)
    idx, d2 = knn(X, [5.0, 12.0, 30.0])
    perplexities = [5.0, 12.0, 30.0]
    ref = as_arrays(*joint_probabilities_nn(idx, d2, perplexities, 1))
    buffer = d2.copy()
    for out in (
        as_arrays(*joint_probabilities_nn(idx, d2, perplexities, 2)),
        as_arrays(*joint_probabilities_nn(idx, buffer, perplexities, 2, overwrite=True)),
    ):
        for a, b in zip(out, ref):
            np.testing.assert_array_equal(a, b)
    # The distances' buffer took the averaged conditional rows.
    np.testing.assert_allclose(buffer.sum(axis=1), 1.0, rtol=1e-5)

    D = squareform(pdist(X[:200], "sqeuclidean")).astype(np.float32)
    one = _core.joint_probabilities_exact(D, np.array(perplexities), 1)
    two = _core.joint_probabilities_exact(D, np.array(perplexities), 2)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


BAD = [
    ([], "empty|non-empty"),
    ([10.0, 0.0], r"got 0(\.0)? \(perplexity\[1\]\)"),
    ([-3.0], r"got -3(\.0)?$"),
    ([5.0, np.nan], r"got nan \(perplexity\[1\]\)"),
    ([np.inf, 5.0], r"got inf \(perplexity\[0\]\)"),
]


@pytest.mark.parametrize(("perplexity", "match"), BAD)
def test_invalid_lists_raise_value_error(perplexity, match):
    X, _ = blobs(60, 4)
    idx, d2 = knn(X, 5.0)
    D = squareform(pdist(X, "sqeuclidean")).astype(np.float32)
    # The core's checks (C++ InvalidArgument)...
    array = np.array(perplexity, dtype=np.float64)
    with pytest.raises(ValueError, match=match):
        _core.joint_probabilities_nn(idx, d2, array, 1)
    with pytest.raises(ValueError, match=match):
        _core.joint_probabilities_exact(D, array, 1)
    with pytest.raises(ValueError, match=match):
        _core.conditional_probabilities(d2, array, False, 1)
    # ...and the Python functions', before any neighbour search.
    with pytest.raises(ValueError, match=match):
        joint_probabilities_nn(idx, d2, perplexity, 1)
    with pytest.raises(ValueError, match=match):
        sparse_affinities(X, perplexity, n_threads=1)
    with pytest.raises(ValueError, match=match):
        exact_affinities(X, perplexity, n_threads=1)
    with pytest.raises(ValueError, match=match):
        n_neighbors_for_perplexity(perplexity, 60)


def test_perplexity_must_be_one_dimensional():
    X, _ = blobs(60, 4)
    idx, d2 = knn(X, 5.0)
    with pytest.raises(ValueError, match="1-D"):
        _core.joint_probabilities_nn(idx, d2, np.ones((2, 2)), 1)
    with pytest.raises(ValueError, match="1-D"):
        joint_probabilities_nn(idx, d2, [[5.0, 10.0]], 1)


def test_progress_prints_a_mean_sigma_per_perplexity(capsys):
    X, _ = blobs(120, 4)
    _, betas = sparse_affinities(X, [5.0, 10.0], neighbors="exact", n_threads=1, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("[t-SNE] Mean sigma at perplexity 5: ")
    assert lines[-1].startswith("[t-SNE] Mean sigma at perplexity 10: ")
    sigmas = [float(line.rsplit(" ", 1)[1]) for line in lines[-2:]]
    assert sigmas[0] < sigmas[1]  # a larger perplexity takes a wider kernel
    print_perplexity_progress(betas)
    assert capsys.readouterr().out.splitlines()[-1].startswith("[t-SNE] Mean sigma at scale 1: ")
