"""TSNE.transform: new points embedded into a fitted map.

The bits (any n_jobs, any batch split), the quality of the placement, the reference field
against its exact sums, the parameters, bad input, callbacks and Ctrl-C."""

from __future__ import annotations

import _thread
import threading
import time

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix
from sklearn.exceptions import NotFittedError
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import KNeighborsClassifier, KNeighborsTransformer

from acctsne import TSNE, _core
from acctsne._fft import convolve

from conftest import blobs, digits


@pytest.fixture(scope="module")
def split_digits():
    X, y = digits()
    return X[:1400], y[:1400], X[1400:], y[1400:]


@pytest.fixture(scope="module")
def fitted(split_digits):
    X_train = split_digits[0]
    models = {}
    for key, (n_train, params) in {
        "barnes_hut": (1400, {}),
        "fft": (1400, {"method": "fft", "max_iter": 500}),  # (a wide grid at small n: slow)
        "exact": (600, {"method": "exact", "max_iter": 500}),
        "3d": (1400, {"n_components": 3, "max_iter": 500}),
        "heavy_tails": (1400, {"dof": 0.5}),
    }.items():
        models[key] = TSNE(random_state=0, n_jobs=2, **params).fit(X_train[:n_train])
    return models


def accuracy(model, Y_new, y_train, y_new):
    labels = y_train[: model.embedding_.shape[0]]
    clf = KNeighborsClassifier(n_neighbors=10).fit(model.embedding_, labels)
    return clf.score(Y_new, y_new)


@pytest.mark.parametrize("key", ["barnes_hut", "fft", "exact", "3d", "heavy_tails"])
def test_identical_bits_for_any_n_jobs_and_batch_split(fitted, split_digits, key):
    model = fitted[key]
    X_new = split_digits[2]
    whole = model.transform(X_new)
    assert whole.dtype == np.float32 and whole.shape == (X_new.shape[0], model.n_components)
    parts = [model.transform(X_new[a:b]) for a, b in [(0, 1), (1, 150), (150, None)]]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    reversed_rows = model.transform(X_new[::-1])[::-1]
    np.testing.assert_array_equal(reversed_rows, whole)
    model.set_params(n_jobs=1)
    try:
        np.testing.assert_array_equal(model.transform(X_new), whole)
    finally:
        model.set_params(n_jobs=2)


@pytest.mark.parametrize("key", ["barnes_hut", "fft", "exact", "3d", "heavy_tails"])
def test_new_points_land_among_their_class(fitted, split_digits, key):
    _, y_train, X_new, y_new = split_digits
    model = fitted[key]
    Y_new = model.transform(X_new)
    assert accuracy(model, Y_new, y_train, y_new) > 0.9
    # The training points stay where they were.
    assert model.embedding_.shape[1] == model.n_components


def test_transform_of_training_points_lands_near_them(fitted, split_digits):
    model = fitted["barnes_hut"]
    X_train = split_digits[0]
    Y = model.transform(X_train[:200])
    spread = np.ptp(model.embedding_, axis=0).max()
    distance = np.linalg.norm(Y - model.embedding_[:200], axis=1)
    assert np.median(distance) < 0.05 * spread


def test_optimisation_improves_on_the_initial_positions(fitted, split_digits):
    _, y_train, X_new, y_new = split_digits
    model = fitted["fft"]
    start = model.transform(X_new, max_iter=0)
    median = model.embedding_[_nearest_training_rows(model, X_new, 16)]
    np.testing.assert_allclose(start, np.median(median, axis=1), rtol=1e-6, atol=1e-5)
    moved = model.transform(X_new)
    assert not np.array_equal(start, moved)
    assert accuracy(model, moved, y_train, y_new) >= accuracy(model, start, y_train, y_new) - 0.01


def _nearest_training_rows(model, X_new, k):
    # Exact squared distances (digits are integers), ties by the lower index.
    train = model._training_data
    d = ((X_new[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize(
    "params",
    [
        {"perplexity": 10.0},
        {"perplexity": [2.0, 10.0]},
        {"max_iter": 50},
        {"learning_rate": 1.0},
        {"exaggeration": 4.0},
        {"early_exaggeration_iter": 100},
        {"momentum": 0.5},
        {"max_grad_norm": None},
        {"init": "weighted"},
    ],
    ids=lambda p: next(iter(p)),
)
def test_each_parameter_changes_the_result(fitted, split_digits, params):
    model = fitted["barnes_hut"]
    X_new = split_digits[2][:100]
    base = model.transform(X_new)
    other = model.transform(X_new, **params)
    assert np.all(np.isfinite(other))
    assert not np.array_equal(base, other)


def test_init_array_is_the_starting_point(fitted, split_digits):
    model = fitted["barnes_hut"]
    X_new = split_digits[2][:20]
    init = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    np.testing.assert_array_equal(model.transform(X_new, init=init, max_iter=0), init)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"perplexity": 0.0}, "perplexity"),
        ({"perplexity": []}, "perplexity"),
        ({"perplexity": [5.0, -1.0]}, "perplexity"),
        ({"perplexity": 5000.0}, "perplexity"),
        ({"max_iter": -1}, "max_iter"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"exaggeration": -1.0}, "exaggeration"),
        ({"momentum": 1.0}, "momentum"),
        ({"max_grad_norm": 0.0}, "max_grad_norm"),
        ({"init": "pca"}, "init"),
        ({"init": np.zeros((3, 2))}, "init"),
        ({"early_exaggeration_iter": 300}, "early_exaggeration_iter"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_bad_parameters_raise_naming_them(fitted, split_digits, params, match):
    with pytest.raises(ValueError, match=match):
        fitted["barnes_hut"].transform(split_digits[2][:10], **params)


def test_bad_input_raises_clear_errors(fitted, split_digits):
    model = fitted["barnes_hut"]
    X_new = split_digits[2][:10]
    with pytest.raises(NotFittedError):
        TSNE().transform(X_new)
    with pytest.raises(ValueError, match="features"):
        model.transform(X_new[:, :10])
    for bad in (np.nan, np.inf):
        X_bad = X_new.copy()
        X_bad[3, 5] = bad
        with pytest.raises(ValueError, match=r"NaN|infinity"):
            model.transform(X_bad)
    with pytest.raises(ValueError, match="0 sample"):
        model.transform(X_new[:0])
    with pytest.raises(TypeError, match=r"(?i)sparse"):
        model.transform(csr_matrix(X_new))
    # A list works like the array it holds.
    np.testing.assert_array_equal(model.transform(X_new.tolist()), model.transform(X_new))


def test_a_sparse_fitted_model_takes_sparse_input_only():
    X, _ = blobs(300, 8)
    X[X < 0] = 0
    model = TSNE(random_state=0, max_iter=250).fit(csr_matrix(X))
    Y = model.transform(csr_matrix(X[:20]))
    assert Y.shape == (20, 2) and np.all(np.isfinite(Y))
    with pytest.raises(ValueError, match="sparse"):
        model.transform(X[:20])


def test_feature_names_are_checked_as_in_scikit_learn():
    X, _ = blobs(200, 4)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = TSNE(random_state=0, max_iter=250).fit(df)
    with pytest.warns(UserWarning, match="feature names"):
        from_array = model.transform(X[:5])
    np.testing.assert_array_equal(model.transform(df.iloc[:5]), from_array)
    with pytest.raises(ValueError, match="feature names"):
        model.transform(df.iloc[:5].rename(columns={"a": "z"}))
    out = model.set_output(transform="pandas").transform(df.iloc[:5])
    assert list(out.columns) == ["tsne0", "tsne1"]


def test_precomputed_distances_dense_and_sparse_graph():
    X, labels = blobs(400, 6)
    X_train, X_new = X[:300], X[300:]
    D_train = pairwise_distances(X_train)
    model = TSNE(metric="precomputed", init="random", random_state=0, max_iter=250)
    model.fit(D_train)
    dense = model.transform(pairwise_distances(X_new, X_train))
    assert dense.shape == (100, 2) and np.all(np.isfinite(dense))
    # A kNN graph from the new points to the training points gives the same neighbours.
    graph = KNeighborsTransformer(n_neighbors=40, mode="distance").fit(X_train).transform(X_new)
    sparse = model.transform(graph)
    np.testing.assert_allclose(sparse, dense, atol=1e-3)
    with pytest.raises(ValueError, match=r"features|300"):
        model.transform(pairwise_distances(X_new, X_train[:200]))
    clf = KNeighborsClassifier(10).fit(model.embedding_, labels[:300])
    assert clf.score(dense, labels[300:]) > 0.9


def test_a_model_fitted_without_its_data_says_how_to_get_transform(split_digits):
    X_train = split_digits[0][:300]
    model = TSNE(random_state=0, max_iter=250, keep_training_data=False).fit(X_train)
    assert not hasattr(model, "affinities_")
    with pytest.raises(ValueError, match="keep_training_data"):
        model.transform(X_train[:5])
    with pytest.raises(ValueError, match="keep_training_data"):
        model.optimize(10)


def test_callbacks_see_the_new_points_and_can_stop(fitted, split_digits):
    model = fitted["barnes_hut"]
    X_new = split_digits[2][:50]
    seen = []

    def callback(iteration, kl, positions):
        seen.append((iteration, kl, positions.shape))
        return iteration >= 100

    model.set_params(callbacks=callback, callbacks_every_iters=25)
    try:
        stopped = model.transform(X_new)
    finally:
        model.set_params(callbacks=None, callbacks_every_iters=50)
    assert [s[0] for s in seen] == [25, 50, 75, 100]
    assert all(np.isfinite(s[1]) and s[2] == (50, 2) for s in seen)
    np.testing.assert_array_equal(stopped, model.transform(X_new, max_iter=100))


def test_verbose_lines(fitted, split_digits, capsys):
    model = fitted["barnes_hut"]
    model.set_params(verbose=1)
    try:
        model.transform(split_digits[2][:30])
    finally:
        model.set_params(verbose=0)
    out = capsys.readouterr().out
    assert "[t-SNE] transform: 16 nearest training samples of 30 new samples" in out
    assert "[t-SNE] transform: iteration 250: mean KL divergence" in out


def test_progress_bar(fitted, split_digits, capsys):
    model = fitted["barnes_hut"]
    model.set_params(progress_bar=True)
    try:
        model.transform(split_digits[2][:30], max_iter=120)
    finally:
        model.set_params(progress_bar=False)
    assert "120/120" in capsys.readouterr().err


def test_ctrl_c_stops_a_transform_and_leaves_the_model_usable():
    X, _ = blobs(2000, 10)
    model = TSNE(random_state=0, max_iter=250).fit(X[:1500])
    fired = {}

    def fire():
        fired["at"] = time.perf_counter()
        _thread.interrupt_main()

    timer = threading.Timer(0.5, fire)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.transform(np.repeat(X[1500:], 40, axis=0), max_iter=10**6)
    finally:
        timer.cancel()
    assert time.perf_counter() - fired["at"] < 1.0
    Y = model.transform(X[1500:1510])
    assert Y.shape == (10, 2) and np.all(np.isfinite(Y))


@pytest.mark.parametrize(
    "kind, dims", [("grid", 1), ("grid", 2), ("tree", 1), ("tree", 2), ("tree", 3)]
)
@pytest.mark.parametrize("alpha, exponent", [(1.0, 1.0), (2.0, 1.5), (0.5, 0.5)])
def test_reference_field_matches_its_exact_sums(kind, dims, alpha, exponent):
    rng = np.random.default_rng(dims)
    reference = (rng.normal(size=(3000, dims)) * 15).astype(np.float32)
    # Points among the reference, at its edge and far outside it (the grid's fallback).
    points = np.concatenate(
        [reference[:50] + 0.3, rng.uniform(-60, 60, size=(50, dims)), np.full((3, dims), 500)]
    ).astype(np.float32)
    params = {"alpha": alpha, "exponent": exponent, "angle": 0.2}
    exact = _core.ReferenceField(reference, kind="exact", **params)
    field = _core.ReferenceField(reference, kind=kind, convolve=convolve, **params)
    # numpy's sums of the kernel, and the scale of a force: sum_j w u |y - y_j|
    diff = points[:, None, :].astype(np.float64) - reference[None].astype(np.float64)
    u = 1.0 / (1.0 + (diff**2).sum(-1) / alpha)
    w = u**exponent
    z_np, f_np = w.sum(1), ((w * u)[..., None] * diff).sum(1)
    magnitude = ((w * u) * np.linalg.norm(diff, axis=-1)).sum(1)
    z_ref, f_ref = exact.evaluate(points)
    np.testing.assert_allclose(z_ref, z_np, rtol=1e-10)
    np.testing.assert_allclose(f_ref, f_np, rtol=1e-8, atol=1e-10 * magnitude.max())
    z, f = field.evaluate(points)
    assert np.max(np.abs(z / z_np - 1)) < 1e-2
    tolerance = 3e-2 if kind == "grid" else 1.5e-2
    assert np.max(np.linalg.norm(f - f_np, axis=1) / magnitude) < tolerance
    if kind == "grid":
        assert field.fallback_count == 3  # the points far outside the map
