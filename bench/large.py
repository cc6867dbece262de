"""Large-n runs (e.g. 1M points) where the exact all-pairs KL of bench/run.py is too slow.

    python bench/large.py --dataset blobs:1000000:50 --libs acctsne-fft --n-jobs 2

Same fresh-process worker as bench/run.py (wall time, CPU time, peak RSS, acctsne's phase
times; acctsne picks approximate neighbours from 300k points when faiss is installed).
Quality: 10-NN preservation and 10-NN label accuracy on a 5,000-point sample (no KL).
Writes <out>.json and <out>.md (default bench/results/large).
"""

from __future__ import annotations

import argparse
import json
import tempfile

from acctsne.benchmark import datasets, report
from acctsne.benchmark.run import label_accuracy, run_one

import _local  # noqa: F401  (data directory default)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="blobs:1000000:50")
    parser.add_argument("--libs", nargs="+", default=["acctsne-fft"])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=7200)
    parser.add_argument("--out", default="bench/results/large")
    args = parser.parse_args()

    from acctsne._evaluate import neighborhood_preservation

    X, y = datasets.load(args.dataset)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lib in args.libs:
            record, Y = run_one(lib, args.dataset, args.n_jobs, 0, tmp, args.timeout)
            record.update(
                library=lib,
                dataset=args.dataset,
                n=int(X.shape[0]),
                d=int(X.shape[1]),
                nn10_preservation=neighborhood_preservation(X, Y, n_neighbors=10, sample=5000),
                nn10_label_accuracy=None if y is None else label_accuracy(Y, y),
            )
            rows.append(record)
            print(json.dumps(record), flush=True)
    lines = [
        f"# Large-n run: {args.dataset}, {args.n_jobs} threads",
        "",
        "| library | wall s | peak RSS MB | 10-NN kept | 10-NN label acc | phases s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        phases = ", ".join(f"{k} {v:.0f}" for k, v in (r["phases_s"] or {}).items() if v >= 0.5)
        acc = "" if r["nn10_label_accuracy"] is None else f"{r['nn10_label_accuracy']:.3f}"
        lines.append(
            f"| {r['library']} | {r['wall_s']:.0f} | {r['peak_rss_mb']:.0f} | "
            f"{r['nn10_preservation']:.3f} | {acc} | {phases} |"
        )
    report.write_table(args.out, rows, lines)


if __name__ == "__main__":
    main()
