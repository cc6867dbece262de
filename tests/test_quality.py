"""Quality against scikit-learn on real data: exact KL(P || Q) over all pairs (numpy
evaluator, the same P for both embeddings) and 10-NN preservation.

The digits check runs by default; the larger checks run with ``pytest -m slow`` and read
MNIST from $ACCTSNE_DATA_DIR (default: ../shared/data next to the repository).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.manifold import TSNE as SklearnTSNE

from acctsne import TSNE
from acctsne._evaluate import kl_divergence_exact, neighborhood_preservation

from conftest import digits, sparse_p

DATA_DIR = Path(
    os.environ.get("ACCTSNE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def compare(X, **kwargs):
    P = sparse_p(X, kwargs.get("perplexity", 30.0))
    ours = TSNE(random_state=0, **kwargs).fit_transform(X)
    theirs = SklearnTSNE(random_state=0, **kwargs).fit_transform(X)
    return (
        kl_divergence_exact(P, ours),
        kl_divergence_exact(P, theirs),
        neighborhood_preservation(X, ours, sample=1000),
        neighborhood_preservation(X, theirs, sample=1000),
    )


def test_digits_quality_matches_sklearn():
    X, _ = digits()
    kl_ours, kl_sk, nn_ours, nn_sk = compare(X)
    assert kl_ours <= 1.02 * kl_sk, (kl_ours, kl_sk)
    assert nn_ours >= nn_sk - 0.01, (nn_ours, nn_sk)


@pytest.mark.slow
@pytest.mark.parametrize("n_components", [1, 3])
def test_digits_quality_other_dimensions(n_components):
    X, _ = digits()
    kl_ours, kl_sk, nn_ours, nn_sk = compare(X, n_components=n_components)
    assert kl_ours <= 1.02 * kl_sk, (kl_ours, kl_sk)
    assert nn_ours >= nn_sk - 0.02, (nn_ours, nn_sk)


@pytest.mark.slow
def test_exact_method_quality_matches_sklearn():
    X, _ = digits(600)
    kl_ours, kl_sk, nn_ours, nn_sk = compare(X, method="exact")
    assert kl_ours <= 1.02 * kl_sk, (kl_ours, kl_sk)
    assert nn_ours >= nn_sk - 0.01, (nn_ours, nn_sk)


@pytest.mark.slow
def test_mnist_3000_quality_matches_sklearn():
    path = DATA_DIR / "mnist_70k.npz"
    if not path.exists():
        pytest.skip(f"MNIST not found at {path} (set ACCTSNE_DATA_DIR)")
    X = np.load(path)["X"][:3000].astype(np.float32)
    kl_ours, kl_sk, nn_ours, nn_sk = compare(X)
    assert kl_ours <= 1.02 * kl_sk, (kl_ours, kl_sk)
    assert nn_ours >= nn_sk - 0.01, (nn_ours, nn_sk)


def test_uniform_grid_over_seeds():
    # A 10 x 10 grid (scikit-learn's test_uniform_grid data) from 16 random starts: the
    # embedding is a uniform grid (smallest and largest nearest-neighbour distance within
    # [0.5, 2] of the mean) for most starts. scikit-learn 1.9 manages 13 of 16, acctsne 16
    # at AVX2/AVX-512 and 12 at the baseline level; a start may end in a local minimum.
    from sklearn.neighbors import NearestNeighbors

    axis = np.linspace(0, 1, 10)
    X = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    uniform = 0
    for seed in range(16):
        Y = TSNE(init="random", random_state=seed, perplexity=50, max_iter=500).fit_transform(X)
        nearest = NearestNeighbors(n_neighbors=1).fit(Y).kneighbors()[0].ravel()
        ratios = nearest.min() / nearest.mean(), nearest.max() / nearest.mean()
        uniform += ratios[0] > 0.5 and ratios[1] < 2
    assert uniform >= 11
