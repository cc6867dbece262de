"""The gradient engine of a fit: one engine for every phase, P borrowed and restored,
exaggeration as a scalar, typed stop reasons, one thread pool reused by every call."""

from __future__ import annotations

import numpy as np
import pytest

from acctsne import _core
from acctsne._optimization import make_engine, run_schedule, sklearn_schedule
from acctsne._progress import Reporter

from conftest import blobs, gradient, sparse_p


def _reporter(Y, max_iter, callbacks=()):
    return Reporter(
        verbose=0,
        n_iter_check=50,
        callbacks=list(callbacks),
        callbacks_every_iters=10,
        progress_bar=False,
        max_iter=max_iter,
        embedding=Y,
        out_dtype=np.float32,
    )


def _start(n, dims=2, seed=0):
    return (1e-4 * np.random.default_rng(seed).standard_normal((n, dims))).astype(np.float32)


@pytest.fixture(scope="module")
def problem():
    X, _ = blobs(1200, 8, seed=11)
    return sparse_p(X, 20.0, n_threads=2)


@pytest.mark.parametrize("method", ["barnes_hut", "fft"])
def test_one_engine_for_both_phases_equals_an_engine_per_phase(problem, method):
    # The engine is built once per fit: the second phase must give the same bits as an
    # engine built afresh for it (the old design), with the exaggeration a scalar.
    schedule = sklearn_schedule(early_exaggeration=12.0, max_iter=400, n_iter_without_progress=300)
    common = dict(method=method, n_components=2, degrees_of_freedom=1, n_threads=2)
    Y_once = _start(problem.shape[0])
    engine = make_engine(problem, **common)
    kl_once, it_once = run_schedule(
        engine,
        Y_once,
        schedule,
        learning_rate=200.0,
        min_grad_norm=1e-7,
        reporter=_reporter(Y_once, 400),
        verbose=0,
    )
    engine.close()
    Y_each = _start(problem.shape[0])
    start = 0
    for phase in schedule:
        engine = make_engine(problem, **common)
        params = _core.PhaseParams(
            exaggeration=phase.exaggeration,
            start_iter=start,
            max_iter=phase.end_iter,
            n_iter_without_progress=phase.n_iter_without_progress,
            momentum=phase.momentum,
            learning_rate=200.0,
        )
        start = _core.optimize(engine, Y_each, params).last_iter + 1
        engine.close()
    np.testing.assert_array_equal(Y_once, Y_each)
    assert it_once == 399 and np.isfinite(kl_once)


def test_engine_borrows_p_and_restores_its_labels(problem):
    indices_before = problem.indices.copy()
    engine = make_engine(problem, method="barnes_hut", n_components=2, degrees_of_freedom=1)
    Y = _start(problem.shape[0], seed=1)
    _core.optimize(engine, Y, _core.PhaseParams(max_iter=60, learning_rate=200.0))
    # While the engine lives, P's columns are in the embedding's Morton order ...
    assert not np.array_equal(problem.indices, indices_before)
    # ... and a gradient in the caller's order still agrees with a fresh engine's (to the
    # Barnes-Hut approximation: points with equal Morton codes may group differently).
    _, g = engine.gradient(Y)
    _, g_fresh = gradient("barnes_hut", Y, (problem.indptr, indices_before, problem.data))
    np.testing.assert_allclose(g, g_fresh, rtol=0, atol=1e-3 * np.abs(g_fresh).max())
    engine.close()
    np.testing.assert_array_equal(problem.indices, indices_before)
    with pytest.raises(ValueError, match="closed"):
        engine.gradient(Y)


def test_exaggeration_is_the_same_as_a_multiplied_p(problem):
    Y = (np.random.default_rng(2).normal(size=(problem.shape[0], 2)) * 3).astype(np.float32)
    engine = make_engine(problem, method="barnes_hut", n_components=2, degrees_of_freedom=1)
    engine.exaggeration = 12.0
    kl, g = engine.gradient(Y)
    scaled = (problem.indptr, problem.indices.copy(), (problem.data * np.float32(12.0)))
    kl_ref, g_ref = gradient("barnes_hut", Y, scaled)
    np.testing.assert_array_equal(g, g_ref)
    assert kl == pytest.approx(kl_ref, rel=1e-12)


def test_stop_reasons_are_typed(problem):
    engine = make_engine(problem, method="barnes_hut", n_components=2, degrees_of_freedom=1)
    Y = _start(problem.shape[0], seed=3)
    done = _core.optimize(engine, Y, _core.PhaseParams(max_iter=20, n_iter_check=10))
    assert done.stop_reason == _core.StopReason.max_iter and done.last_iter == 19
    small = _core.optimize(
        engine,
        Y,
        _core.PhaseParams(start_iter=20, max_iter=100, n_iter_check=10, min_grad_norm=1e30),
    )
    assert small.stop_reason == _core.StopReason.small_gradient and small.last_iter == 29
    stopped = _core.optimize(
        engine,
        Y,
        _core.PhaseParams(start_iter=30, max_iter=100, n_iter_check=10),
        lambda it, error, grad_norm, seconds: it >= 50,
    )
    assert stopped.stop_reason == _core.StopReason.stop_requested and stopped.last_iter == 49
    engine.close()


def test_unknown_method_names_the_registered_ones(problem):
    params = _core.GradientParams(method="nope")
    with pytest.raises(ValueError, match=r"nope.*barnes_hut, fft"):
        _core.GradientEngine(params, (problem.indptr, problem.indices, problem.data))


def test_one_pool_serves_every_call_and_results_do_not_depend_on_it(problem):
    pool = _core.ThreadPool(2)
    assert pool.n_threads == 2
    X, _ = blobs(500, 6, seed=4)
    X = np.ascontiguousarray(X)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_core.knn_exact(X, 10, pool), _core.knn_exact(X, 10, 1))
    )
    Y = _start(problem.shape[0], seed=5)
    g_pool = gradient("fft", Y, problem, n_threads=pool)[1]
    g_one = gradient("fft", Y, problem, n_threads=1)[1]
    np.testing.assert_array_equal(g_pool, g_one)
