"""The callbacks and progress_bar extensions: called as documented, stop early with the
partial result, and change nothing when unused."""

import numpy as np
import pytest

from acctsne import TSNE

from conftest import blobs

PARAMS = dict(random_state=0, max_iter=400, n_jobs=2)


@pytest.fixture(scope="module")
def data():
    X, _ = blobs(600, 8)
    return X


@pytest.fixture(scope="module")
def reference(data):
    return TSNE(**PARAMS).fit(data)


@pytest.mark.parametrize("method", ["barnes_hut", "exact", "fft"])
def test_callbacks_see_every_kth_iteration_and_change_nothing(data, method):
    calls = []

    def record(iteration, kl, embedding):
        calls.append((iteration, kl, embedding))

    plain = TSNE(method=method, **PARAMS).fit(data)
    watched = TSNE(method=method, callbacks=record, callbacks_every_iters=30, **PARAMS).fit(data)
    assert [c[0] for c in calls] == list(range(30, 400, 30))
    for _, kl, embedding in calls:
        assert np.isfinite(kl)
        assert embedding.shape == (600, 2) and embedding.dtype == np.float32
    # Snapshots are copies taken at their iteration: they differ from each other.
    assert not np.array_equal(calls[-2][2], calls[-1][2])
    np.testing.assert_array_equal(watched.embedding_, plain.embedding_)
    assert watched.kl_divergence_ == plain.kl_divergence_
    assert watched.n_iter_ == plain.n_iter_


def test_kl_passed_to_callbacks_is_the_verbose_objective(data, reference):
    seen = {}

    def record(iteration, kl, embedding):
        seen[iteration] = kl  # returns None: keep going

    TSNE(callbacks=record, **PARAMS).fit(data)
    # After the last iteration the callback's KL is the fitted kl_divergence_.
    assert seen[400] == pytest.approx(reference.kl_divergence_, rel=1e-12)
    # During early exaggeration it is the KL of the exaggerated P (much larger).
    assert seen[250] > 5 * seen[400]


@pytest.mark.parametrize("stop_at", [100, 300])
def test_returning_true_stops_and_keeps_the_partial_result(data, stop_at):
    snapshots = {}

    def stop(iteration, kl, embedding):
        snapshots[iteration] = (kl, embedding)
        return iteration >= stop_at

    est = TSNE(callbacks=[stop], callbacks_every_iters=50, **PARAMS)
    Y = est.fit_transform(data)
    assert max(snapshots) == stop_at
    assert est.n_iter_ == stop_at - 1
    kl, embedding = snapshots[stop_at]
    np.testing.assert_array_equal(Y, embedding)
    assert est.kl_divergence_ == kl
    np.testing.assert_array_equal(est.embedding_, embedding)


def test_all_callbacks_run_and_any_true_stops(data):
    order = []
    est = TSNE(
        callbacks=(lambda *a: order.append("a"), lambda *a: order.append("b") or True),
        callbacks_every_iters=50,
        **PARAMS,
    ).fit(data)
    assert order == ["a", "b"]
    assert est.n_iter_ == 49


def test_callback_exception_propagates_and_leaves_estimator_unfitted(data):
    def broken(iteration, kl, embedding):
        raise RuntimeError("callback failed on purpose")

    est = TSNE(callbacks=broken, **PARAMS)
    with pytest.raises(RuntimeError, match="on purpose"):
        est.fit(data)
    assert not hasattr(est, "embedding_")
    est.set_params(callbacks=None).fit(data)  # and the estimator still works
    assert np.all(np.isfinite(est.embedding_))


def test_callback_with_ambiguous_return_value_raises(data):
    est = TSNE(callbacks=lambda it, kl, emb: emb, **PARAMS)  # an array is not a bool
    with pytest.raises(ValueError, match="truth value"):
        est.fit(data)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(callbacks=42), ValueError, "callbacks"),
        (dict(callbacks=[print, "nope"]), TypeError, "callbacks must be callables"),
        (dict(callbacks_every_iters=0), ValueError, "callbacks_every_iters"),
        (dict(progress_bar="yes"), ValueError, "progress_bar"),
    ],
)
def test_invalid_callback_parameters(data, params, error, match):
    with pytest.raises(error, match=match):
        TSNE(**params, **PARAMS).fit(data)


def test_progress_bar_reports_and_changes_nothing(data, reference, capsys):
    est = TSNE(progress_bar=True, **PARAMS).fit(data)
    np.testing.assert_array_equal(est.embedding_, reference.embedding_)
    err = capsys.readouterr().err
    # tqdm when installed, else acctsne's one-line display: both end at 400/400.
    assert "400/400" in err


def test_verbose_two_prints_sklearns_lines_with_callbacks(data, capsys):
    TSNE(verbose=2, callbacks=lambda *a: None, callbacks_every_iters=7, **PARAMS).fit(data)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("[t-SNE] Iteration")]
    # sklearn prints every 50th iteration only, whatever the callback interval.
    assert [int(line.split()[2].rstrip(":")) for line in lines] == list(range(50, 401, 50))


def test_snapshot_equals_a_fit_that_ends_there(data):
    # The optimiser works on the points in the engine's (Morton) order and writes them
    # back for each callback: a snapshot must be exactly the embedding a shorter fit ends
    # with, in the caller's row order.
    snapshots = {}

    def record(iteration, kl, embedding):
        snapshots[iteration] = embedding

    TSNE(callbacks=record, callbacks_every_iters=50, **PARAMS).fit(data)
    shorter = TSNE(**{**PARAMS, "max_iter": 300}).fit(data)
    np.testing.assert_array_equal(snapshots[300], shorter.embedding_)
