"""Thread scaling of every acctsne phase, and the attraction kernel's achieved bandwidth.

    python bench/scaling.py --dataset mnist:20000:pca50 --threads 1 2 --out bench/results/scaling

Fits acctsne.TSNE (sklearn's defaults, Barnes-Hut, PCA init) once per thread count in a
fresh subprocess each and reads the estimator's per-phase timers (the same timers the main
bench reports). Speed-up per phase = time at the first thread count / time at each other.

Bandwidth: the attraction pass streams P's CSR arrays (4-byte column index and 4-byte
value per entry, 8-byte row pointer) and reads/writes each point's own row of Y and of
the gradient; the neighbours' coordinates are gathers into Y, which is small enough to
stay in cache at these sizes (20k points x 2 floats = 160 KB). Achieved bandwidth = those
streamed bytes x iterations / attraction time, reported beside the machine's copy
bandwidth measured here with the same number of threads (numpy copies of a 1 GiB buffer in
parallel Python threads; numpy releases the GIL while copying).
Writes <out>.json and <out>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time

import numpy as np

from acctsne.benchmark import datasets, libraries, report

import _local  # noqa: F401  (data directory default)

_CHILD = """
import json
from acctsne import TSNE
from acctsne._affinities import affinities_from_data
from acctsne.benchmark import datasets, report
X, _ = datasets.load({dataset!r})
tsne = TSNE(n_jobs={threads}, random_state=0)
tsne.fit(X)
# The same P as the fit's (perplexity 30, k = 91), for its number of entries.
nnz = affinities_from_data(X, 30.0, {threads}).nnz
print(json.dumps({{"phases": tsne.phase_times_, "nnz": nnz, "n": X.shape[0],
                  "iterations": int(tsne.n_iter_) + 1}}))
"""


def fit_in_subprocess(dataset, threads):
    env = libraries.thread_env(threads)
    code = _CHILD.format(dataset=dataset, threads=threads)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def copy_bandwidth_gbs(threads, size_bytes=1 << 30, repeats=5):
    """Best-of-repeats bandwidth (read + write bytes / s) of parallel numpy copies."""
    src = np.ones(size_bytes // 8)
    dst = np.empty_like(src)
    parts = np.array_split(np.arange(src.size), threads)
    bounds = [(p[0], p[-1] + 1) for p in parts]

    def copy(lo, hi):
        np.copyto(dst[lo:hi], src[lo:hi])

    best = 0.0
    for _ in range(repeats):
        workers = [threading.Thread(target=copy, args=b) for b in bounds]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = max(best, 2 * size_bytes / (time.perf_counter() - t0) / 1e9)
    return best


def attraction_bytes_per_iteration(n, nnz, dims=2):
    """Bytes the attraction pass streams per iteration (see the module docstring)."""
    return nnz * (4 + 4) + n * (8 + 4 * dims + 4 * dims)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="mnist:20000:pca50")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default="bench/results/scaling")
    args = parser.parse_args()
    datasets.load(args.dataset)  # fail early on a bad dataset spec

    runs = {}
    for threads in args.threads:
        runs[threads] = fit_in_subprocess(args.dataset, threads)
        print(f"{threads} thread(s): {runs[threads]['phases']}", flush=True)
    bandwidth = {threads: copy_bandwidth_gbs(threads) for threads in args.threads}

    base = args.threads[0]
    phases = [p for p in runs[base]["phases"] if runs[base]["phases"][p] > 0]
    rows = []
    for phase in phases:
        row = {"phase": phase}
        for threads in args.threads:
            row[f"{threads}t_s"] = runs[threads]["phases"][phase]
        for threads in args.threads[1:]:
            row[f"speedup_{threads}t"] = row[f"{base}t_s"] / max(row[f"{threads}t_s"], 1e-9)
        rows.append(row)
    streams = {}
    for threads in args.threads:
        r = runs[threads]
        moved = attraction_bytes_per_iteration(r["n"], r["nnz"]) * r["iterations"]
        achieved = moved / r["phases"]["attraction"] / 1e9
        streams[threads] = {
            "attraction_gbs": achieved,
            "copy_gbs": bandwidth[threads],
            "fraction_of_copy": achieved / bandwidth[threads],
        }
    result = {
        "dataset": args.dataset,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "load_average": os.getloadavg(),
        "phases": rows,
        "bandwidth": streams,
        "runs": runs,
    }

    head = " | ".join(f"{t} thread(s) s" for t in args.threads)
    speed = " | ".join(f"speed-up {t}t" for t in args.threads[1:])
    lines = [
        f"# Thread scaling and attraction bandwidth: {args.dataset}",
        "",
        f"Machine: {result['machine']}; load average before: {result['load_average']}.",
        "",
        f"| phase | {head} | {speed} |",
        "|---" * (1 + 2 * len(args.threads) - 1) + "|",
    ]
    for row in rows:
        cells = [f"{row[f'{t}t_s']:.2f}" for t in args.threads]
        cells += [f"{row[f'speedup_{t}t']:.2f}x" for t in args.threads[1:]]
        lines.append(f"| {row['phase']} | " + " | ".join(cells) + " |")
    lines += ["", "| threads | attraction GB/s | copy GB/s | fraction |", "|---|---|---|---|"]
    for t, s in streams.items():
        lines.append(
            f"| {t} | {s['attraction_gbs']:.1f} | {s['copy_gbs']:.1f} | "
            f"{100 * s['fraction_of_copy']:.0f}% |"
        )
    report.write_table(args.out, result, lines)


if __name__ == "__main__":
    main()
