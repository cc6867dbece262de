"""Resident memory over one fit, sampled every 50 ms, and its peak, for the acctsne build
of the interpreter that runs this script:

    /path/to/venv/bin/python bench/memory_timeline.py blobs:250000:50 fft

Prints one JSON line (peak RSS, when it happened, the phase times; exact neighbours so
that the builds compare the same pipeline) and a coarse timeline "seconds:MB". Run it
with each build's interpreter to compare them (bench/results/issue12_memory_blobs250k.md).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import numpy as np

from acctsne import TSNE
from acctsne.benchmark import datasets

import _local  # noqa: F401  (data directory default)


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    spec, method = sys.argv[1], sys.argv[2]
    X, _ = datasets.load(spec)
    X = np.ascontiguousarray(X, dtype=np.float32)
    samples, stop = [], threading.Event()

    def sample():
        t0 = time.time()
        while not stop.is_set():
            samples.append((time.time() - t0, rss_mb()))
            time.sleep(0.05)

    before = rss_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.time()
    est = TSNE(method=method, n_jobs=2, random_state=0, verbose=1, neighbors="exact")
    est.fit_transform(X)
    stop.set()
    sampler.join()
    peak = max(mb for _, mb in samples)
    times = getattr(est, "phase_times_", None) or getattr(est, "_phase_times", None)
    record = {
        "dataset": spec,
        "method": method,
        "wall": time.time() - t0,
        "rss_before_fit_mb": before,
        "peak_rss_mb": peak,
        "t_peak": next(t for t, mb in samples if mb == peak),
        "kl": est.kl_divergence_,
        "phases": times,
    }
    print(json.dumps(record))
    step = max(1, len(samples) // 40)
    print(" ".join(f"{t:.0f}:{mb:.0f}" for t, mb in samples[::step]))


if __name__ == "__main__":
    main()
