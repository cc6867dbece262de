"""Bad or unusual input: every case gets a clear exception naming the problem, or a finite
embedding of the right shape and dtype. Never a crash, a hang or NaN.

Each row of CASES is (id, X factory, estimator parameters, expectation), where the
expectation is either (exception type, message regex) or "ok".
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from acctsne import TSNE

from conftest import blobs

FAST = dict(max_iter=250, random_state=0, n_jobs=2)
OK = "ok"


def _blobs(n=120, d=6):
    return blobs(n, d, seed=1)[0]


def _duplicates():
    X = _blobs(40, 5)
    return np.repeat(X, 10, axis=0)  # 40 distinct rows, 10 copies each


def _integer_ranges():
    r = np.random.default_rng(2)
    X = r.integers(-(10**6), 10**6, size=(150, 9)).astype(np.int32)
    X[:3] = r.integers(-5, 5, size=(3, 9))  # a tiny, very different class
    return X


def _fortran():
    return np.asfortranarray(_blobs())


def _strided():
    return _blobs(240, 6)[::2]


def _read_only():
    X = _blobs()
    X.setflags(write=False)
    return X


def _dataframe():
    import pandas as pd  # part of the test extra

    return pd.DataFrame(_blobs(), columns=[f"f{i}" for i in range(6)])


def _knn_graph(n_neighbors):
    from sklearn.neighbors import kneighbors_graph

    return kneighbors_graph(_blobs(), n_neighbors=n_neighbors, mode="distance")


def _asymmetric_distances():
    D = np.abs(np.random.default_rng(3).normal(size=(60, 60)))
    np.fill_diagonal(D, 0.0)
    return D


CASES = [
    # ---- non-finite values
    ("nan", lambda: np.where(np.eye(120, 6) > 0, np.nan, _blobs()), {}, (ValueError, "NaN")),
    ("inf", lambda: np.where(np.eye(120, 6) > 0, np.inf, _blobs()), {}, (ValueError, "infinity")),
    ("-inf", lambda: np.where(np.eye(120, 6) > 0, -np.inf, _blobs()), {}, (ValueError, "infinity")),
    (
        "nan exact",
        lambda: np.full((20, 3), np.nan),
        {"method": "exact", "perplexity": 5},
        (ValueError, "NaN"),
    ),
    # ---- sizes
    (
        "empty",
        lambda: np.zeros((0, 4)),
        {"perplexity": 2},
        (ValueError, r"0 sample|n_samples \(0\)"),
    ),
    ("no features", lambda: np.zeros((10, 0)), {"perplexity": 2}, (ValueError, "0 feature")),
    ("1 sample", lambda: np.ones((1, 3)), {"perplexity": 0.5}, (ValueError, "1 sample")),
    ("2 samples", lambda: np.array([[0.0, 1.0], [1.0, 0.0]]), {"perplexity": 1}, OK),
    ("1-D X", lambda: np.arange(10.0), {"perplexity": 2}, (ValueError, "Expected 2D array")),
    ("3-D X", lambda: np.zeros((4, 3, 2)), {"perplexity": 2}, (ValueError, "dim 3")),
    # ---- perplexity
    ("perplexity = n", lambda: _blobs(30), {"perplexity": 30}, (ValueError, r"perplexity \(30")),
    (
        "perplexity > n",
        lambda: _blobs(30),
        {"perplexity": 45.5},
        (ValueError, r"perplexity \(45.5"),
    ),
    ("perplexity 0", lambda: _blobs(), {"perplexity": 0.0}, (ValueError, "'perplexity'")),
    ("perplexity < 0", lambda: _blobs(), {"perplexity": -1}, (ValueError, "'perplexity'")),
    ("perplexity tiny", lambda: _blobs(), {"perplexity": 1e-3}, OK),
    # ---- degenerate data
    ("identical rows", lambda: np.ones((80, 5)), {"perplexity": 10}, OK),
    ("many duplicates", _duplicates, {"perplexity": 20}, OK),
    ("constant columns", lambda: np.hstack([_blobs(), np.full((120, 3), 7.0)]), {}, OK),
    ("huge values", lambda: _blobs() * 1e30, {}, OK),
    ("tiny values", lambda: _blobs() * 1e-30, {}, OK),
    ("mixed scales", lambda: _blobs() * np.logspace(-20, 20, 6), {}, OK),
    ("wide integer ranges", _integer_ranges, {}, OK),
    # ---- dtypes and layouts
    ("int", lambda: np.rint(_blobs() * 10).astype(np.int64), {}, OK),
    ("bool", lambda: _blobs() > 0, {}, OK),
    ("float16", lambda: _blobs().astype(np.float16), {}, OK),
    ("float32", lambda: _blobs().astype(np.float32), {}, OK),
    ("uint8", lambda: (np.abs(_blobs()) * 10).astype(np.uint8), {}, OK),
    ("object numbers", lambda: _blobs().astype(object), {}, OK),
    (
        "object strings",
        lambda: np.full((20, 3), "a", dtype=object),
        {"perplexity": 5},
        (ValueError, "could not convert string to float"),
    ),
    ("complex", lambda: _blobs().astype(np.complex128), {}, (ValueError, "Complex data")),
    ("fortran order", _fortran, {}, OK),
    ("strided", _strided, {}, OK),
    ("read-only", _read_only, {}, OK),
    ("dataframe", _dataframe, {}, OK),
    ("list of lists", lambda: _blobs(40, 3).tolist(), {"perplexity": 10}, OK),
    # ---- sparse input
    ("csr", lambda: sp.csr_matrix(_blobs()), {}, OK),
    ("csc", lambda: sp.csc_matrix(_blobs()), {}, OK),
    ("coo exact", lambda: sp.coo_matrix(_blobs(60)), {"method": "exact", "perplexity": 10}, OK),
    # ---- precomputed
    (
        "precomputed not square",
        lambda: np.zeros((5, 4)),
        {"metric": "precomputed", "init": "random", "perplexity": 2},
        (ValueError, "square distance matrix"),
    ),
    (
        "precomputed negative",
        lambda: -np.ones((6, 6)),
        {"metric": "precomputed", "init": "random", "perplexity": 2},
        (ValueError, "positive distances"),
    ),
    (
        "precomputed asymmetric",
        _asymmetric_distances,
        {"metric": "precomputed", "init": "random", "perplexity": 10},
        OK,
    ),
    (
        "precomputed with pca init",
        lambda: np.zeros((6, 6)),
        {"metric": "precomputed", "perplexity": 2},
        (ValueError, 'init="pca" cannot be used'),
    ),
    (
        "knn graph",
        lambda: _knn_graph(40),
        {"metric": "precomputed", "init": "random", "perplexity": 10},
        OK,
    ),
    (
        "knn graph too few neighbours",
        lambda: _knn_graph(5),
        {"metric": "precomputed", "init": "random", "perplexity": 10},
        (ValueError, "neighbors"),
    ),
    # ---- init arrays
    (
        "init wrong shape",
        lambda: _blobs(),
        {"init": np.zeros((10, 2))},
        (ValueError, r"init array must have shape \(n_samples, n_components\) = \(120, 2\)"),
    ),
    (
        "init wrong components",
        lambda: _blobs(),
        {"init": np.zeros((120, 3))},
        (ValueError, r"= \(120, 2\), got \(120, 3\)"),
    ),
    (
        "init strings",
        lambda: _blobs(),
        {"init": np.full((120, 2), "x")},
        (TypeError, "init array must be real-valued"),
    ),
    (
        "init nan",
        lambda: _blobs(),
        {"init": np.full((120, 2), np.nan)},
        (ValueError, "init array contains NaN"),
    ),
    (
        "init float64",
        lambda: _blobs(),
        {"init": np.random.default_rng(0).normal(size=(120, 2))},
        OK,
    ),
    # ---- parameters
    ("n_components 0", lambda: _blobs(), {"n_components": 0}, (ValueError, "'n_components'")),
    (
        "n_components 4 with BH",
        lambda: _blobs(),
        {"n_components": 4},
        (ValueError, "'n_components' should be inferior to 4"),
    ),
    (
        "n_components 3 with FFT",
        lambda: _blobs(),
        {"n_components": 3, "method": "fft"},
        (ValueError, "method='fft' supports n_components 1 or 2"),
    ),
    (
        "n_components 5 exact",
        lambda: _blobs(60),
        {"n_components": 5, "method": "exact", "perplexity": 10},
        OK,
    ),
    ("learning_rate 0", lambda: _blobs(), {"learning_rate": 0.0}, (ValueError, "'learning_rate'")),
    (
        "learning_rate string",
        lambda: _blobs(),
        {"learning_rate": "fast"},
        (ValueError, "'learning_rate'"),
    ),
    ("max_iter < 250", lambda: _blobs(), {"max_iter": 100}, (ValueError, "'max_iter'")),
    (
        "early_exaggeration < 1",
        lambda: _blobs(),
        {"early_exaggeration": 0.5},
        (ValueError, "'early_exaggeration'"),
    ),
    ("angle > 1", lambda: _blobs(), {"angle": 1.5}, (ValueError, "'angle'")),
    ("metric unknown", lambda: _blobs(), {"metric": "nope"}, (ValueError, "'metric'")),
    ("method unknown", lambda: _blobs(), {"method": "fast"}, (ValueError, "'method'")),
    ("n_jobs float", lambda: _blobs(), {"n_jobs": 1.5}, (ValueError, "'n_jobs'")),
    ("n_jobs 0", lambda: _blobs(), {"n_jobs": 0}, (ValueError, "n_jobs")),
    ("neighbors unknown", lambda: _blobs(), {"neighbors": "fast"}, (ValueError, "'neighbors'")),
    (
        "fft grid inverted",
        lambda: _blobs(),
        {"method": "fft", "fft_min_intervals": 90, "fft_max_intervals": 60},
        (ValueError, r"fft_min_intervals \(90\) must not exceed fft_max_intervals \(60\)"),
    ),
]


@pytest.mark.parametrize(
    ("make_X", "params", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input(make_X, params, expect):
    X = make_X()
    kwargs = {**FAST, **params}
    if expect == OK:
        Y = TSNE(**kwargs).fit_transform(X)
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        n_components = kwargs.get("n_components", 2)
        assert Y.shape == (n, n_components)
        init = kwargs.get("init")
        expected_dtype = init.dtype if isinstance(init, np.ndarray) else np.float32
        assert Y.dtype == expected_dtype
        assert np.all(np.isfinite(Y))
        return
    error, message = expect
    with pytest.raises(error, match=message):
        TSNE(**kwargs).fit_transform(X)


def test_battery_is_large_enough():
    assert len(CASES) >= 40
    assert sum(c[3] == OK for c in CASES) >= 15


@pytest.mark.parametrize("method", ["barnes_hut", "exact"])
@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_extreme_scales_embed_like_unit_scale(method, scale):
    # P does not depend on the scale of the distances, so neither does the fit from the
    # same random init (up to rounding, which the optimisation amplifies in the positions
    # but not in the KL): squared distances around 1e60 or 1e-60 must neither overflow
    # nor vanish in float32.
    X = _blobs(150, 5)
    kwargs = dict(FAST, init="random", method=method, perplexity=20)
    ref = TSNE(**kwargs).fit(X)
    est = TSNE(**kwargs).fit(X * scale)
    assert est.kl_divergence_ == pytest.approx(ref.kl_divergence_, rel=1e-3)
    assert np.all(np.isfinite(est.embedding_))


def _shared_dataset(name):
    import os
    from pathlib import Path

    root = Path(
        os.environ.get("ACCTSNE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    path = root / name
    if not path.exists():
        pytest.skip(f"{name} not found at {path} (set ACCTSNE_DATA_DIR)")
    data = np.load(path)
    return data["X"], data["y"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "letter_20k.npz",  # uint8 features, 1,332 duplicated rows
        "shuttle_58k.npz",  # int32 features over wide ranges, classes of a few rows
    ],
)
def test_real_datasets_with_duplicates_and_wide_integer_ranges(name):
    from acctsne._evaluate import neighborhood_preservation

    X, _ = _shared_dataset(name)
    Y = TSNE(random_state=0, n_jobs=2).fit_transform(X)
    assert Y.shape == (X.shape[0], 2) and Y.dtype == np.float32
    assert np.all(np.isfinite(Y))
    # A real embedding, not a collapse: most 10-NN neighbourhoods partly kept.
    assert neighborhood_preservation(X.astype(np.float64), Y, sample=2000) > 0.2
