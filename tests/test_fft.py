"""method='fft': interpolation repulsion against the exact forces, the FFT step against a
direct convolution, and the estimator's contract for the new method and 'auto'."""

from __future__ import annotations

import numpy as np
import pytest

from acctsne import TSNE, _core, _fft
from acctsne._evaluate import neighborhood_preservation

from conftest import blobs, gradient, sparse_p

NO_P = (np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32))


def no_p(n):
    return np.zeros(n + 1, np.int64), NO_P[1], NO_P[2]


def repulsion_fft(Y, intervals, points=3, n_threads=2):
    """The FFT engine's gradient with P = 0: pure repulsion, -c R / Z."""
    return gradient(
        "fft",
        Y,
        no_p(len(Y)),
        compute_error=False,
        n_threads=n_threads,
        fft_interpolation_points=points,
        fft_min_intervals=intervals,
        fft_max_intervals=intervals,
    )[1]


def repulsion_exact(Y):
    """Barnes-Hut at angle 0 is the exact repulsion (checked in test_gradients)."""
    return gradient("barnes_hut", Y, no_p(len(Y)), angle=0.0, compute_error=False)[1]


@pytest.mark.parametrize("dims", [1, 2])
def test_convolution_matches_direct_sum(dims, rng):
    n = 7
    offsets = np.arange(n + 1, dtype=np.float64)
    if dims == 1:
        kernel = 1.0 / (1.0 + 0.3 * offsets**2) ** 2
        full = lambda d: kernel[abs(d)]  # noqa: E731
    else:
        kernel = 1.0 / (1.0 + 0.3 * (offsets[:, None] ** 2 + offsets[None, :] ** 2)) ** 2
        full = lambda dy, dx: kernel[abs(dy), abs(dx)]  # noqa: E731
    grids = rng.normal(size=(3,) + (n,) * dims)
    expected = np.zeros_like(grids)
    for c in range(3):
        for t in np.ndindex(*(n,) * dims):
            for s in np.ndindex(*(n,) * dims):
                d = tuple(a - b for a, b in zip(t, s))
                expected[(c, *t)] += full(*d) * grids[(c, *s)]
    _fft.convolve(kernel, grids, workers=2)
    np.testing.assert_allclose(grids, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dims", [1, 2])
def test_repulsion_converges_to_exact_as_grid_refines(dims, rng):
    Y = (rng.normal(size=(500, dims)) * 4).astype(np.float32)
    ref = repulsion_exact(Y)
    errors = []
    for intervals in (25, 50, 100, 200):
        err = np.linalg.norm(repulsion_fft(Y, intervals) - ref) / np.linalg.norm(ref)
        errors.append(err)
    # Third-order interpolation: each halving of the boxes cuts the error ~8x.
    assert errors[-1] < 1e-3
    for coarse, fine in zip(errors, errors[1:]):
        assert fine < coarse / 4


@pytest.mark.parametrize("dims", [1, 2])
def test_full_gradient_and_kl_close_to_exact(dims):
    X, _ = blobs(400, 8, seed=dims)
    P = sparse_p(X, perplexity=15.0)
    Y = (np.random.default_rng(dims).normal(size=(400, dims)) * 3).astype(np.float32)
    kl_ex, g_ex = _core.exact_gradient(Y, P.toarray(), 1, True, 1)
    kl, g = gradient("fft", Y, P, fft_min_intervals=100, fft_max_intervals=100)
    assert np.linalg.norm(g - g_ex) / np.linalg.norm(g_ex) < 2e-3
    assert kl == pytest.approx(kl_ex, rel=1e-3)


def test_more_interpolation_points_are_more_accurate(rng):
    Y = (rng.normal(size=(400, 2)) * 4).astype(np.float32)
    ref = repulsion_exact(Y)
    err3 = np.linalg.norm(repulsion_fft(Y, 40, points=3) - ref)
    err5 = np.linalg.norm(repulsion_fft(Y, 40, points=5) - ref)
    assert err5 < err3 / 3


def test_fft_step_is_independent_of_workers(rng):
    Y = (rng.normal(size=(700, 2)) * 5).astype(np.float32)
    ref = repulsion_fft(Y, 60, n_threads=1)
    for n_threads in (2, 3):
        np.testing.assert_array_equal(repulsion_fft(Y, 60, n_threads=n_threads), ref)


@pytest.mark.parametrize("n_components", [1, 2])
def test_fft_embedding_quality_matches_barnes_hut(n_components):
    X, _ = blobs(1500, 10, centers=5, seed=3)
    kwargs = dict(n_components=n_components, random_state=0, n_jobs=2)
    bh = TSNE(method="barnes_hut", **kwargs).fit(X)
    fft = TSNE(method="fft", **kwargs).fit(X)
    assert fft.embedding_.shape == (1500, n_components)
    assert fft.embedding_.dtype == np.float32
    assert np.all(np.isfinite(fft.embedding_))
    assert fft.kl_divergence_ < bh.kl_divergence_ * 1.05
    assert neighborhood_preservation(X, fft.embedding_) > (
        neighborhood_preservation(X, bh.embedding_) - 0.03
    )


def test_fft_rejects_three_components():
    X, _ = blobs(100, 5)
    with pytest.raises(ValueError, match=r"method='fft' supports n_components 1 or 2.*got n_comp"):
        TSNE(method="fft", n_components=3).fit(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fft_interpolation_points": 0}, "fft_interpolation_points"),
        ({"fft_interpolation_points": 9}, "fft_interpolation_points"),
        ({"fft_min_intervals": 0}, "fft_min_intervals"),
        ({"fft_intervals_per_unit": 0.0}, "fft_intervals_per_unit"),
        ({"fft_max_intervals": 0}, "fft_max_intervals"),
        ({"fft_min_intervals": 80, "fft_max_intervals": 60}, r"fft_min_intervals \(80\)"),
    ],
)
def test_bad_fft_parameters_are_clear_errors(params, message):
    X, _ = blobs(100, 5)
    with pytest.raises(ValueError, match=message):
        TSNE(method="fft", **params).fit(X)


@pytest.mark.parametrize(
    ("n", "n_components", "expected"),
    [(300, 2, "exact"), (300, 5, "exact"), (2000, 2, "barnes_hut"), (2000, 3, "barnes_hut")],
)
def test_auto_method_choice(n, n_components, expected):
    X, _ = blobs(n, 6)
    est = TSNE(method="auto", n_components=n_components, max_iter=250, random_state=0).fit(X)
    assert est.method_ == expected
    assert est.embedding_.shape == (n, n_components)


def test_auto_picks_fft_for_large_two_dimensional_inputs(monkeypatch):
    monkeypatch.setattr(TSNE, "_AUTO_FFT_MIN_SAMPLES", 1000)
    X, _ = blobs(1200, 6)
    est = TSNE(method="auto", max_iter=250, random_state=0).fit(X)
    assert est.method_ == "fft"
