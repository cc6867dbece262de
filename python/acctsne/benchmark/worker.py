"""One benchmark run in a fresh process: load data, fit one library, save the result.

    python -m acctsne.benchmark.worker --lib acctsne --dataset digits --n-jobs 2 --seed 0 --out RUN

(``--n-components 3`` for a 3-D embedding, with the libraries registered for it.)

writes RUN.npy (the embedding) and RUN.json (wall and CPU seconds of the fit, peak RSS
of the process, the library's phase times where it reports them).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from acctsne.benchmark import datasets, libraries


def peak_rss_mb():
    """Peak resident memory of this process. On Linux, ru_maxrss survives exec (a worker
    would inherit the parent's high-water mark), so read VmHWM, which belongs to this
    process image."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", required=True, choices=sorted(libraries.LIBRARIES))
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--n-jobs", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-components", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    X, _ = datasets.load(args.dataset)
    rss_before = peak_rss_mb()
    run = libraries.LIBRARIES[args.lib][1]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    Y, phases = run(X, args.n_jobs, args.seed, n_components=args.n_components)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    Y = np.asarray(Y, dtype=np.float64)
    np.save(args.out + ".npy", Y)
    record = {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_fit_mb": rss_before,
        "phases_s": phases,
        "finite": bool(np.all(np.isfinite(Y))),
    }
    Path(args.out + ".json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
