"""A fitted TSNE as a model: the fit's extensions (exaggeration, dof, multiscale
perplexities), continued optimisation, and saving/loading."""

from __future__ import annotations

import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from acctsne import TSNE

from conftest import blobs, digits

FIT = {"random_state": 0, "max_iter": 300, "n_jobs": 2}


@pytest.fixture(scope="module")
def X():
    return digits(600)[0]


@pytest.fixture(scope="module")
def default_embedding(X):
    return TSNE(**FIT).fit_transform(X)


@pytest.mark.parametrize("method", ["barnes_hut", "fft", "exact"])
@pytest.mark.parametrize(
    "params",
    [{"exaggeration": 3.0}, {"dof": 0.5}, {"perplexity": [5.0, 50.0]}],
    ids=lambda p: next(iter(p)),
)
def test_each_extension_changes_the_fit(X, method, params):
    X = X[:250] if method == "exact" else X  # O(n^2) per iteration
    base = TSNE(method=method, **FIT).fit_transform(X)
    other = TSNE(method=method, **FIT, **params).fit_transform(X)
    assert np.all(np.isfinite(other))
    assert not np.array_equal(base, other)


@pytest.mark.parametrize(
    "params",
    [{"exaggeration": 1.0}, {"dof": 1.0}, {"perplexity": [30.0]}, {"keep_training_data": False}],
    ids=lambda p: next(iter(p)),
)
def test_neutral_values_give_scikit_learn_s_fit_bit_for_bit(X, default_embedding, params):
    np.testing.assert_array_equal(TSNE(**FIT, **params).fit_transform(X), default_embedding)


def test_exaggeration_compacts_clusters_and_reports_the_kl_of_p(X):
    plain = TSNE(**FIT).fit(X)
    tight = TSNE(**FIT, exaggeration=4.0).fit(X)
    assert np.ptp(tight.embedding_, axis=0).max() < np.ptp(plain.embedding_, axis=0).max()
    # kl_divergence_ is KL(P || Q) (not of 4 P): same scale as the plain fit's
    assert 0 < tight.kl_divergence_ < 3 * plain.kl_divergence_


def test_heavy_tails_separate_clusters_more():
    Xb, labels = blobs(600, 10, centers=6)
    Y1 = TSNE(**FIT).fit_transform(Xb)
    Y05 = TSNE(**FIT, dof=0.5).fit_transform(Xb)

    def gap_ratio(Y):
        centres = np.array([Y[labels == c].mean(0) for c in range(6)])
        spread = np.mean(
            [np.linalg.norm(Y[labels == c] - centres[c], axis=1).mean() for c in range(6)]
        )
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        return gaps[gaps > 0].min() / spread

    assert gap_ratio(Y05) > gap_ratio(Y1)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"dof": 0.0}, InvalidParameterError, "dof"),
        ({"dof": -1}, InvalidParameterError, "dof"),
        ({"exaggeration": 0.0}, InvalidParameterError, "exaggeration"),
        ({"perplexity": []}, ValueError, "perplexity"),
        ({"perplexity": [10.0, -2.0]}, ValueError, "perplexity"),
        ({"perplexity": [10.0, np.nan]}, ValueError, "perplexity"),
        ({"perplexity": [10.0, 700.0]}, ValueError, "perplexity"),
        ({"perplexity": "30"}, InvalidParameterError, "perplexity"),
        ({"keep_training_data": "yes"}, InvalidParameterError, "keep_training_data"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_extension_parameters_are_validated(X, params, error, match):
    with pytest.raises(error, match=match):
        TSNE(**FIT, **params).fit(X)


def test_optimize_continues_from_the_fit(X):
    model = TSNE(**FIT).fit(X)
    before = model.embedding_.copy()
    kl_before, n_iter_before = model.kl_divergence_, model.n_iter_
    assert model.optimize(200) is model
    assert model.n_iter_ == n_iter_before + 200
    assert not np.array_equal(model.embedding_, before)
    assert model.kl_divergence_ <= kl_before + 1e-3
    # Deterministic: the same fit continued the same way gives the same bits.
    again = TSNE(**FIT).fit(X).optimize(200)
    np.testing.assert_array_equal(again.embedding_, model.embedding_)


def test_optimize_parameters_change_the_result_and_are_validated(X):
    base = TSNE(**FIT).fit(X)
    results = [TSNE(**FIT).fit(X).optimize(100).embedding_]
    for params in ({"exaggeration": 4.0}, {"learning_rate": 10.0}, {"momentum": 0.5}):
        results.append(TSNE(**FIT).fit(X).optimize(100, **params).embedding_)
    for other in results[1:]:
        assert not np.array_equal(results[0], other)
    for bad in ({"max_iter": 0}, {"exaggeration": -1.0}, {"learning_rate": 0.0}):
        with pytest.raises(ValueError):
            base.optimize(**bad)


def test_optimize_after_transform_moves_the_reference(X):
    model = TSNE(**FIT).fit(X[:500])
    first = model.transform(X[500:])
    model.optimize(100, exaggeration=4.0)
    assert not np.array_equal(model.transform(X[500:]), first)


def _transform_in_fresh_process(path, X_new):
    code = (
        "import sys, joblib, numpy as np\n"
        "model = joblib.load(sys.argv[1])\n"
        "X = np.load(sys.argv[2])\n"
        "np.save(sys.argv[3], model.transform(X))\n"
    )
    x_path, out_path = path.with_suffix(".x.npy"), path.with_suffix(".out.npy")
    np.save(x_path, X_new)
    subprocess.run([sys.executable, "-c", code, str(path), str(x_path), str(out_path)], check=True)
    return np.load(out_path)


@pytest.mark.parametrize("method", ["barnes_hut", "fft"])
def test_saved_model_transforms_bit_for_bit_in_a_fresh_process(X, tmp_path, method):
    model = TSNE(method=method, **FIT).fit(X[:500])
    expected = model.transform(X[500:])  # also caches the field, which is not saved
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    np.testing.assert_array_equal(_transform_in_fresh_process(path, X[500:]), expected)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.embedding_, model.embedding_)
    np.testing.assert_array_equal(loaded.transform(X[500:]), expected)
    # optimize works on the loaded model too (P was saved)
    np.testing.assert_array_equal(
        loaded.optimize(50).embedding_,
        TSNE(method=method, **FIT).fit(X[:500]).optimize(50).embedding_,
    )


def test_a_model_saved_in_another_format_fails_to_load_clearly(X):
    model = TSNE(**FIT).fit(X[:300])
    state = model.__getstate__()
    assert state["_acctsne_model_format"] == 1
    for saved in (99, None):
        state["_acctsne_model_format"] = saved
        if saved is None:
            del state["_acctsne_model_format"]
        blob = pickle.dumps((TSNE, state))
        cls, loaded_state = pickle.loads(blob)
        with pytest.raises(ValueError, match="model format"):
            cls.__new__(cls).__setstate__(loaded_state)
    # An unfitted estimator carries only its parameters and always loads.
    assert pickle.loads(pickle.dumps(TSNE(perplexity=7))).perplexity == 7
