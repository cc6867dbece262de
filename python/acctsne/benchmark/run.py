"""Run t-SNE implementations side by side and report speed beside quality.

    acctsne bench --datasets digits mnist:10000:pca50 --libs all --repeats 3
    python bench/run.py ...      (the same, from a source checkout, into bench/results/)

Each run is a fresh subprocess (acctsne.benchmark.worker) with every threading runtime capped at
--n-jobs. Quality is judged by one evaluator for every embedding (never a library's own
cost): exact KL(P || Q) with Q over all pairs and P = acctsne's perplexity-30 P on the
exact kNN graph; 10-NN preservation and 10-NN label accuracy on a 5,000-point sample.
Writes <out>.json, <out>.md and <out>_time.png / <out>_phases.png (with matplotlib).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import datasets, libraries, report


def reference_p(X, n_jobs):
    from acctsne._affinities import affinities_from_data

    return affinities_from_data(X, libraries.PERPLEXITY, n_jobs)


def label_accuracy(Y, y, k=10, sample=5000, seed=0):
    from sklearn.neighbors import NearestNeighbors

    n = Y.shape[0]
    q = np.random.default_rng(seed).choice(n, min(sample, n), replace=False)
    nbrs = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y[q], return_distance=False)
    hits = 0
    for row, i in zip(nbrs, q):
        labels = y[row[row != i][:k]]
        values, counts = np.unique(labels, return_counts=True)
        hits += values[np.argmax(counts)] == y[i]
    return hits / len(q)


def quality(X, y, Y, P, kl_max_n):
    from acctsne._evaluate import kl_divergence_exact, neighborhood_preservation

    out = {
        # O(n^2) in numpy: skipped (None) above kl_max_n points
        "kl_exact": kl_divergence_exact(P, Y) if X.shape[0] <= kl_max_n else None,
        "nn10_preservation": neighborhood_preservation(X, Y, n_neighbors=10, sample=5000),
    }
    if y is not None:
        out["nn10_label_accuracy"] = label_accuracy(Y, y)
    return out


def machine_info(n_jobs):
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from acctsne import _core

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "n_jobs": n_jobs,
        "load_avg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "acctsne_simd": _core.simd_info()["default"],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def run_one(lib, spec, n_jobs, seed, tmp, timeout, python=None, n_components=2):
    """One fit in a fresh worker process (``python``: the interpreter, by default this
    one; another virtualenv's runs the acctsne build installed there). ``n_components``
    other than 2 is passed as ``--n-components`` (which older workers do not know)."""
    out = str(Path(tmp) / f"{lib}-{abs(hash((spec, seed, n_components))) % 10**8}")
    cmd = [
        python or sys.executable,
        "-m",
        "acctsne.benchmark.worker",
        "--lib",
        lib,
        "--dataset",
        spec,
        "--n-jobs",
        str(n_jobs),
        "--seed",
        str(seed),
        "--out",
        out,
    ]
    if n_components != 2:
        cmd += ["--n-components", str(n_components)]
    proc = subprocess.run(
        cmd, env=libraries.thread_env(n_jobs), capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{lib} on {spec} failed:\n{proc.stderr[-2000:]}")
    record = json.loads(Path(out + ".json").read_text())
    return record, np.load(out + ".npy")


def main(argv=None, *, prog=None, default_out="acctsne_bench/latest"):
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["digits"])
    parser.add_argument(
        "--libs",
        nargs="+",
        default=["all"],
        help=f"any of {sorted(libraries.LIBRARIES)} or 'all' (installed ones)",
    )
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3 * 3600)
    parser.add_argument(
        "--out",
        default=default_out,
        help="output path without suffix: .json, .md and PNG plots (default: %(default)s)",
    )
    parser.add_argument(
        "--kl-max-n",
        type=int,
        default=100_000,
        help="compute the exact all-pairs KL only up to this many points (it is O(n^2))",
    )
    args = parser.parse_args(argv)

    libs = sorted(libraries.LIBRARIES) if args.libs == ["all"] else args.libs
    missing = [lib for lib in libs if not libraries.available(lib)]
    libs = [lib for lib in libs if lib not in missing]
    if missing:
        print(f"not installed, skipped: {', '.join(missing)} (pip install '.[bench]')")

    results = {
        "machine": machine_info(args.n_jobs),
        "rows": [],
        "versions": {lib: libraries.version(lib) for lib in libs},
        "deviations": {k: v for k, v in libraries.DEVIATIONS.items() if k in libs},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.datasets:
            X, y = datasets.load(spec)
            P = reference_p(X, args.n_jobs)
            for lib in libs:
                runs = []
                for r in range(args.repeats):
                    record, Y = run_one(lib, spec, args.n_jobs, args.seed, tmp, args.timeout)
                    record["quality"] = quality(X, y, Y, P, args.kl_max_n) if r == 0 else None
                    runs.append(record)
                row = {
                    "dataset": spec,
                    "n": X.shape[0],
                    "d": X.shape[1],
                    "library": lib,
                    "repeats": args.repeats,
                    "wall_s": statistics.median(r["wall_s"] for r in runs),
                    "wall_s_all": [r["wall_s"] for r in runs],
                    "cpu_s": statistics.median(r["cpu_s"] for r in runs),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                    "phases_s": runs[0]["phases_s"],
                    **runs[0]["quality"],
                }
                results["rows"].append(row)
                print(report.format_row(row), flush=True)

    out = report.write_outputs(args.out, results, report.markdown(results))
    report.plots(results, out)
    print(f"\nwrote {out.with_suffix('.json')}, {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
