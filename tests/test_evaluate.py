"""The sampled KL estimator of the large-n benchmark against the exact all-pairs KL."""

from __future__ import annotations

import numpy as np
import pytest

from acctsne._evaluate import _p_terms, kl_divergence_exact, kl_divergence_sampled

from conftest import blobs, sparse_p

N = 2000


def clustered_embedding(labels, n_components, seed=0):
    """A t-SNE-like layout: one tight cloud per label around spread-out centres."""
    r = np.random.default_rng(seed)
    centres = r.normal(scale=20.0, size=(labels.max() + 1, n_components))
    return centres[labels] + r.normal(scale=2.0, size=(len(labels), n_components))


@pytest.fixture(scope="module")
def problem():
    X, labels = blobs(n=N, d=10, centers=6, seed=3)
    return sparse_p(X), labels


@pytest.mark.parametrize("n_components", [2, 3])
def test_all_rows_equal_the_exact_kl(problem, n_components):
    P, labels = problem
    Y = clustered_embedding(labels, n_components)
    exact = kl_divergence_exact(P, Y)
    result = kl_divergence_sampled(P, Y, sample=N)
    assert result.sample == N and result.standard_error == 0.0
    assert result.kl == pytest.approx(exact, rel=1e-6)
    # Block sizes change the summation order only.
    again = kl_divergence_sampled(P, Y, sample=10 * N, chunk=7, n_threads=2)
    assert again.kl == pytest.approx(exact, rel=1e-9)
    assert _p_terms(P, Y, max(n_components - 1, 1), block_nnz=1000) == pytest.approx(
        _p_terms(P, Y, max(n_components - 1, 1)), rel=1e-12
    )


def test_partial_sample_within_its_standard_error(problem):
    P, labels = problem
    Y = clustered_embedding(labels, 2)
    exact = kl_divergence_exact(P, Y)
    results = [kl_divergence_sampled(P, Y, sample=200, random_state=s) for s in range(12)]
    z = np.array([(r.kl - exact) / r.standard_error for r in results])
    assert all(r.sample == 200 and r.standard_error > 0 for r in results)
    assert np.all(np.abs(z) < 4.0), z
    # The error reflects the estimate's real spread (z-scores of order 1, not ~0 or ~10).
    assert 0.3 < np.std(z) < 2.0, z
    # The same seed draws the same rows: one estimate per seed, whatever the embedding.
    assert kl_divergence_sampled(P, Y, sample=200, random_state=0) == results[0]
    # A larger sample has a smaller error.
    assert kl_divergence_sampled(P, Y, sample=1000).standard_error < results[0].standard_error
