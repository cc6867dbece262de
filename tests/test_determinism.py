"""Bitwise-identical embeddings for any n_jobs, for every method and dimension."""

from __future__ import annotations

import numpy as np
import pytest

from acctsne import TSNE

from conftest import blobs


@pytest.mark.parametrize(
    ("method", "n_components", "n"),
    [
        ("barnes_hut", 1, 1500),
        ("barnes_hut", 2, 3000),
        ("barnes_hut", 3, 1000),
        ("exact", 2, 300),
        ("fft", 1, 1500),
        ("fft", 2, 2000),
    ],
)
def test_embedding_is_bitwise_identical_for_any_n_jobs(method, n_components, n):
    X, _ = blobs(n, 12, seed=n_components)
    kwargs = dict(
        n_components=n_components, method=method, random_state=0, max_iter=300, perplexity=20
    )
    ref = TSNE(n_jobs=1, **kwargs).fit(X)
    for n_jobs in (2, 3, -1):
        est = TSNE(n_jobs=n_jobs, **kwargs).fit(X)
        np.testing.assert_array_equal(est.embedding_, ref.embedding_)
        assert est.kl_divergence_ == ref.kl_divergence_


def test_repeated_fits_are_identical():
    X, _ = blobs(800, 5)
    a = TSNE(random_state=1, max_iter=300).fit_transform(X)
    b = TSNE(random_state=1, max_iter=300).fit_transform(X)
    np.testing.assert_array_equal(a, b)


def test_simd_level_can_be_forced(monkeypatch):
    from acctsne import _core

    X, _ = blobs(400, 30)
    monkeypatch.setenv("ACCTSNE_SIMD", "scalar")
    assert _core.simd_info()["default"] == "baseline"
    scalar = TSNE(random_state=0, max_iter=250).fit_transform(X)
    monkeypatch.setenv("ACCTSNE_SIMD", "bogus")
    with pytest.raises(ValueError, match="unknown SIMD level 'bogus'"):
        TSNE(random_state=0, max_iter=250).fit_transform(X)
    monkeypatch.delenv("ACCTSNE_SIMD")
    best = TSNE(random_state=0, max_iter=250).fit_transform(X)
    assert np.all(np.isfinite(scalar)) and np.all(np.isfinite(best))
