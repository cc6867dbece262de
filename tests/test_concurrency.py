"""Fits from several Python threads at once, fits in a forked child, and work that cannot
fit in memory refused up front."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from acctsne import TSNE

from conftest import blobs

KWARGS = dict(max_iter=300, random_state=0, n_jobs=2, perplexity=15)


def test_eight_concurrent_fits_equal_serial_fits():
    datasets = [blobs(400, 6, seed=s)[0] for s in range(8)]
    serial = [TSNE(**KWARGS).fit_transform(X) for X in datasets]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda X: TSNE(**KWARGS).fit_transform(X), datasets))
    for a, b in zip(serial, concurrent):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_fit_in_a_forked_child_works():
    X, _ = blobs(300, 5)
    parent = TSNE(**KWARGS).fit_transform(X)  # the parent has used the library first
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: fit, report through the pipe, exit without pytest's teardown
        code = 1
        try:
            child = TSNE(**KWARGS).fit_transform(X)
            os.write(write, b"same" if np.array_equal(child, parent) else b"diff")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    message = os.read(read, 16)
    os.close(read)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert message == b"same"


def test_exact_method_at_huge_n_is_refused_up_front():
    # 200,000 samples need ~300 GiB of dense matrices: a clear MemoryError naming the size,
    # raised before any allocation (not an OOM kill).
    X = np.zeros((200_000, 2), dtype=np.float32)
    X[:, 0] = np.arange(200_000)
    with pytest.raises(MemoryError, match=r"method='exact' with 200000 samples needs"):
        TSNE(method="exact", init="random").fit(X)
