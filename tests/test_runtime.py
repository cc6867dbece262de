"""Ctrl-C during a fit, the GIL released, numerical trouble reported by phase."""

from __future__ import annotations

import _thread
import os
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


def test_keyboard_interrupt_during_the_affinities_of_a_fit(monkeypatch):
    from acctsne import _core

    entered = threading.Event()
    real = _core.joint_probabilities_nn

    def announce_then_run(*args, **kwargs):
        entered.set()
        return real(*args, **kwargs)

    monkeypatch.setattr(_core, "joint_probabilities_nn", announce_then_run)
    fired = {}

    def fire_when_entered():
        if entered.wait(timeout=120):
            time.sleep(0.1)
            fired["at"] = time.perf_counter()
            _thread.interrupt_main()

    watcher = threading.Thread(target=fire_when_entered, daemon=True)
    watcher.start()
    # Few points with many neighbours: a short kNN, then a long perplexity search.
    X = np.random.default_rng(0).normal(size=(30_000, 2)).astype(np.float32)
    est = TSNE(perplexity=150, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X)
    assert time.perf_counter() - fired["at"] < 1.5
    assert not hasattr(est, "embedding_")
    monkeypatch.setattr(_core, "joint_probabilities_nn", real)
    small, _ = blobs(200, 5)
    est.set_params(max_iter=250).fit(small)
    assert np.all(np.isfinite(est.embedding_))


def test_keyboard_interrupt_during_the_perplexity_search():
    from acctsne import _core

    rng = np.random.default_rng(0)
    n, k = 400_000, 90
    neighbors = ((np.arange(n)[:, None] + rng.integers(1, n, size=(n, k))) % n).astype(np.int32)
    sq_distances = rng.random((n, k), dtype=np.float32) * 100
    timer, fired = interrupt_after(0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            _core.joint_probabilities_nn(neighbors, sq_distances, 30.0, 2)
    finally:
        timer.cancel()
    assert time.perf_counter() - fired["at"] < 1.5


def _proc_status(field):
    with open("/proc/self/status") as status:
        lines = status.read().splitlines()
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_interrupted_fits_leak_neither_threads_nor_memory():
    X, _ = blobs(3000, 10)

    def interrupted_fit():
        timer, _ = interrupt_after(0.2)
        try:
            with pytest.raises(KeyboardInterrupt):
                TSNE(max_iter=10**6, n_iter_without_progress=10**6, random_state=0).fit(X)
        finally:
            timer.cancel()

    interrupted_fit()  # warm-up: imports, allocator pools
    threads, rss_kb = _proc_status("Threads"), _proc_status("VmRSS")
    for _ in range(20):
        interrupted_fit()
    time.sleep(0.1)  # let the timer threads finish
    assert _proc_status("Threads") <= threads
    assert _proc_status("VmRSS") - rss_kb < 50_000, "RSS grew by more than 50 MB"
