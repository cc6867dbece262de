"""The drop-in contract against the installed scikit-learn: signature, defaults,
parameter validation messages, attributes, sklearn API plumbing and verbose lines."""

from __future__ import annotations

import inspect
import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.manifold import TSNE as SklearnTSNE
from sklearn.utils._param_validation import Hidden

from acctsne import TSNE

from conftest import blobs


def test_signature_and_defaults_match_sklearn():
    ours = inspect.signature(TSNE.__init__)
    theirs = inspect.signature(SklearnTSNE.__init__)
    # sklearn's parameters first, in order; acctsne's extensions after, keyword-only.
    assert list(ours.parameters) == list(theirs.parameters) + list(TSNE._EXTENSIONS)
    for name, param in theirs.parameters.items():
        assert ours.parameters[name].default == param.default, name
        assert ours.parameters[name].kind == param.kind, name
    for name in TSNE._EXTENSIONS:
        assert ours.parameters[name].kind == inspect.Parameter.KEYWORD_ONLY, name


def test_parameter_constraints_match_sklearn():
    ours_names = set(TSNE._parameter_constraints) - set(TSNE._EXTENSIONS)
    assert ours_names == set(SklearnTSNE._parameter_constraints)
    for name, theirs in SklearnTSNE._parameter_constraints.items():
        ours = TSNE._parameter_constraints[name]
        if name == "method":  # a superset: sklearn's methods plus "fft" and "auto"
            (ours,), (theirs,) = ours, theirs
            assert theirs.options <= ours.options
            assert ours.options - theirs.options == {"fft", "auto"}
            continue
        if name == "perplexity":  # plus hidden list types (multiscale), not in messages
            hidden = [c for c in ours if isinstance(c, Hidden)]
            assert [c.constraint for c in hidden] == [list, tuple, np.ndarray]
            ours = [c for c in ours if not isinstance(c, Hidden)]
        assert [str(c) for c in ours] == [str(c) for c in theirs], name
    assert TSNE._EXPLORATION_MAX_ITER == SklearnTSNE._EXPLORATION_MAX_ITER
    assert TSNE._N_ITER_CHECK == SklearnTSNE._N_ITER_CHECK


def error_of(estimator, X):
    with pytest.raises(Exception) as info:
        estimator.fit(X)
    return type(info.value), str(info.value)


BAD_PARAMS = [
    {"n_components": 0},
    {"perplexity": 0.0},
    {"perplexity": -3},
    {"early_exaggeration": 0.5},
    {"learning_rate": "fast"},
    {"learning_rate": 0.0},
    {"max_iter": 100},
    {"n_iter_without_progress": -2},
    {"min_grad_norm": -1.0},
    {"metric": "not_a_metric"},
    {"metric_params": [1, 2]},
    {"init": "spectral"},
    {"verbose": "loud"},
    {"random_state": "seed"},
    {"method": "fft_please"},
    {"angle": 1.5},
    {"angle": -0.1},
    {"n_jobs": 1.5},
]


@pytest.mark.parametrize("params", BAD_PARAMS, ids=lambda p: next(iter(p)))
def test_invalid_parameters_raise_like_sklearn(params):
    X = np.random.default_rng(0).normal(size=(30, 4))
    ours = error_of(TSNE(**params), X)
    theirs = error_of(SklearnTSNE(**params), X)
    assert ours[0] is theirs[0]
    if "method" in params:
        # Same message, except that acctsne's list of methods also has 'fft' and 'auto'.
        head = "The 'method' parameter of TSNE must be a str among "
        assert ours[1].startswith(head) and theirs[1].startswith(head)
        assert ours[1].endswith("Got 'fft_please' instead.")
        for option in ("'barnes_hut'", "'exact'", "'fft'", "'auto'"):
            assert option in ours[1]
        return
    assert ours[1] == theirs[1].replace("sklearn.manifold._t_sne", "acctsne._tsne")


@pytest.mark.parametrize(
    ("params", "X"),
    [
        ({"perplexity": 30.0}, np.zeros((10, 3))),
        ({"n_components": 4}, np.random.default_rng(0).normal(size=(20, 5))),
        ({"metric": "precomputed"}, np.zeros((5, 5))),
        ({"metric": "precomputed", "init": "random"}, np.zeros((5, 4))),
        ({"metric": "precomputed", "init": "random", "perplexity": 1}, -np.ones((5, 5))),
        ({"perplexity": 1}, np.array([[1.0]])),
        ({"perplexity": 2}, np.array([[np.nan, 1.0], [1.0, 2.0], [0.0, 1.0]])),
        ({"perplexity": 2}, np.zeros((0, 3))),
    ],
)
def test_input_errors_match_sklearn(params, X):
    ours = error_of(TSNE(**params), X)
    theirs = error_of(SklearnTSNE(**params), X)
    assert ours[0] is theirs[0]
    assert ours[1] == theirs[1]


def test_fitted_attributes_and_types():
    X, _ = blobs(120, 5)
    est = TSNE(perplexity=10, random_state=0, max_iter=300)
    assert est.fit(X) is est
    assert est.embedding_.shape == (120, 2)
    assert est.embedding_.dtype == np.float32
    assert isinstance(est.kl_divergence_, float)
    assert est.n_iter_ == 299
    assert est.learning_rate_ == pytest.approx(50.0)
    assert est.n_features_in_ == 5
    assert not hasattr(est, "feature_names_in_")
    np.testing.assert_array_equal(
        est.get_feature_names_out(), np.array(["tsne0", "tsne1"], dtype=object)
    )


def test_iteration_count_and_kl_follow_sklearn_at_max_iter_250():
    # sklearn always enters its second phase; with max_iter=250 it runs no iteration
    # there, so n_iter_ == 250 and kl_divergence_ is float max. Reproduced on purpose.
    X, _ = blobs(60, 4)
    ours = TSNE(perplexity=5, max_iter=250, random_state=0).fit(X)
    theirs = SklearnTSNE(perplexity=5, max_iter=250, random_state=0).fit(X)
    assert ours.n_iter_ == theirs.n_iter_ == 250
    assert ours.kl_divergence_ == theirs.kl_divergence_


def test_feature_names_are_recorded():
    pd = pytest.importorskip("pandas")
    X, _ = blobs(50, 3)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    est = TSNE(perplexity=5, max_iter=250, random_state=0).fit(df)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
    out = TSNE(perplexity=5, max_iter=250).set_output(transform="pandas").fit_transform(df)
    assert list(out.columns) == ["tsne0", "tsne1"]


def test_clone_get_set_params_and_pickle():
    est = TSNE(perplexity=7, angle=0.3, n_jobs=2)
    params = est.get_params()
    assert params == clone(est).get_params()
    est.set_params(perplexity=9)
    assert est.perplexity == 9
    X, _ = blobs(40, 3)
    est.set_params(max_iter=250, random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.embedding_, est.embedding_)
    assert restored.kl_divergence_ == est.kl_divergence_


def test_float64_init_array_keeps_its_dtype_like_sklearn():
    X, _ = blobs(30, 3)
    init = np.random.default_rng(0).normal(scale=1e-4, size=(30, 2))
    ours = TSNE(perplexity=5, init=init, max_iter=250).fit_transform(X)
    theirs = SklearnTSNE(perplexity=5, init=init, max_iter=250).fit_transform(X)
    assert ours.dtype == theirs.dtype == np.float64


@pytest.mark.parametrize("method", ["barnes_hut", "exact"])
def test_verbose_lines_match_sklearn(method, capsys):
    X, _ = blobs(1200, 6)
    kwargs = dict(perplexity=10, verbose=2, random_state=0, method=method, max_iter=300)
    TSNE(**kwargs).fit(X[:400] if method == "exact" else X)
    ours = capsys.readouterr().out.splitlines()
    SklearnTSNE(**kwargs).fit(X[:400] if method == "exact" else X)
    theirs = capsys.readouterr().out.splitlines()

    def shape(line):  # the text of a line without its numbers
        return re.sub(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", "#", line)

    # Same lines in the same order; acctsne adds one line naming threads and SIMD.
    extra = [line for line in ours if line.startswith("[t-SNE] acctsne")]
    assert len(extra) == 1
    assert [shape(x) for x in ours if x not in extra] == [shape(x) for x in theirs]
    # The mean sigma comes from the same perplexity search.
    sigma = [x for x in ours if "Mean sigma" in x]
    assert sigma == [x for x in theirs if "Mean sigma" in x]
