"""Shared fixtures: small seeded datasets and helpers for the per-phase tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_array

from acctsne import _core
from acctsne._affinities import affinities_from_data
from acctsne._optimization import make_engine


def pytest_collection_modifyitems(config, items):
    # scikit-learn's test_uniform_grid is platform dependent by its own docstring (ties in
    # the grid's distances, a non-convex problem): its 3 seeds (each re-run from its
    # result) are a draw. At the baseline SIMD level (no FMA, 4-lane sums), seed 0 stays
    # in a local minimum after the re-run (smallest/mean neighbour distance 0.498 < 0.5).
    # Results are deterministic, so this is a strict xfail: it fails when that changes.
    # test_quality.py::test_uniform_grid_over_seeds checks the same property over 16
    # seeds at every level, against a bound scikit-learn itself meets.
    if _core.simd_info()["default"] != "baseline":
        return
    for item in items:
        if item.nodeid.endswith("test_sklearn_suite.py::test_uniform_grid[barnes_hut]"):
            item.add_marker(
                pytest.mark.xfail(
                    strict=True, reason="seed 0 ends in a local minimum at the baseline level"
                )
            )


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def blobs(n=300, d=10, centers=4, seed=0, dtype=np.float64):
    """Gaussian mixture with well separated centres."""
    r = np.random.default_rng(seed)
    c = r.normal(scale=6.0, size=(centers, d))
    labels = r.integers(0, centers, size=n)
    return (c[labels] + r.normal(size=(n, d))).astype(dtype), labels


def sparse_p(X, perplexity=30.0, n_threads=1):
    """acctsne's Barnes-Hut P of X as a scipy CSR array."""
    return csr_array(affinities_from_data(X, perplexity, n_threads))


def gradient(method, Y, P, *, dof=1, compute_error=True, n_threads=1, **engine_params):
    """(KL or NaN, dKL/dY) from the fit's gradient engine for ``method`` at Y.

    P: a scipy CSR matrix or an (indptr, indices, data) triple; ``engine_params``: the
    keyword arguments of :func:`acctsne._optimization.make_engine` (angle, fft_*).
    """
    engine = make_engine(
        P,
        method=method,
        n_components=Y.shape[1],
        degrees_of_freedom=dof,
        n_threads=n_threads,
        **engine_params,
    )
    try:
        return engine.gradient(Y, compute_error)
    finally:
        engine.close()


def digits(n=None):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X, y) if n is None else (X[:n], y[:n])
