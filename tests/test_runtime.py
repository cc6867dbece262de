"""Ctrl-C during a fit, the GIL released, numerical trouble reported by phase."""

from __future__ import annotations

import _thread
import threading
import time

import numpy as np
import pytest

from acctsne import TSNE

from conftest import blobs


def interrupt_after(seconds):
    fired = {}

    def fire():
        fired["at"] = time.perf_counter()
        _thread.interrupt_main()

    timer = threading.Timer(seconds, fire)
    timer.start()
    return timer, fired


@pytest.mark.parametrize("phase", ["optimisation", "knn"])
def test_keyboard_interrupt_stops_a_fit_and_leaves_it_reusable(phase):
    if phase == "knn":  # a kNN phase that takes several seconds
        X = np.random.default_rng(0).normal(size=(40000, 256)).astype(np.float32)
        est, delay = TSNE(random_state=0), 0.5
    else:  # an optimisation that would run for minutes
        X, _ = blobs(3000, 10)
        est, delay = TSNE(max_iter=10**6, n_iter_without_progress=10**6, random_state=0), 1.0
    timer, fired = interrupt_after(delay)
    try:
        with pytest.raises(KeyboardInterrupt):
            est.fit(X)
    finally:
        timer.cancel()
    latency = time.perf_counter() - fired["at"]
    assert latency < 1.5, f"fit took {latency:.2f}s to stop after Ctrl-C"
    assert not hasattr(est, "embedding_")
    assert not hasattr(est, "n_features_in_")
    small, _ = blobs(200, 5)
    est.set_params(max_iter=250).fit(small)
    assert np.all(np.isfinite(est.embedding_))


def test_gil_is_released_during_a_fit():
    X, _ = blobs(4000, 20)
    done = threading.Event()
    result = {}

    def work():
        result["emb"] = TSNE(random_state=0, max_iter=400).fit_transform(X)
        done.set()

    thread = threading.Thread(target=work)
    thread.start()
    ticks = 0
    while not done.is_set():
        ticks += 1  # pure-Python work that needs the GIL
    thread.join()
    assert result["emb"].shape == (4000, 2)
    # Holding the GIL for the whole fit would leave this loop a handful of turns.
    assert ticks > 100_000


def test_numerical_blow_up_raises_with_the_phase_named():
    # Coordinates near float32's limit overflow in y_i - y_j: must not return NaN.
    X, _ = blobs(300, 5)
    init = np.random.default_rng(0).choice([-3e38, 3e38], size=(300, 2)).astype(np.float32)
    with pytest.raises(FloatingPointError, match=r"optimisation \(barnes_hut gradient\)"):
        TSNE(init=init, max_iter=300).fit(X)
