"""Two or more acctsne builds side by side: the same fits, alternating between builds.

    python bench/builds.py --build before=/path/to/venv-before/bin/python \
        --build after=python --datasets mnist:70000:pca50 --libs acctsne acctsne-fft \
        --repeats 2 --out bench/results/builds_mnist70k

For a change that must not slow acctsne down (or must save memory): every build runs
each fit in a fresh worker process of its own interpreter (a virtualenv with that build
installed), rounds alternate between the builds so that the machine's drift hits all of
them alike, and every embedding is judged by this checkout's evaluator (exact KL with
acctsne's perplexity-30 P, 10-NN preservation, label accuracy). Reports the median wall
time, its ratio to the first build, peak RSS and the phase times. Writes <out>.json,
<out>.md and <out>.png.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

from acctsne.benchmark import datasets, report
from acctsne.benchmark.run import machine_info, quality, reference_p, run_one

import _local  # noqa: F401  (data directory default)


def _plot(rows, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install acctsne[plot])")
        return
    groups = sorted({(r["dataset"], r["library"]) for r in rows})
    builds = list(dict.fromkeys(r["build"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    width = 0.8 / len(builds)
    for b, build in enumerate(builds):
        for key, ax in zip(("wall_s", "peak_rss_mb"), axes):
            values = [
                next(
                    r[key]
                    for r in rows
                    if (r["dataset"], r["library"]) == g and r["build"] == build
                )
                for g in groups
            ]
            ax.bar([i + b * width for i in range(len(groups))], values, width, label=build)
    for ax, label in zip(axes, ("median wall time (s)", "peak RSS (MB)")):
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))])
        ax.set_xticklabels([f"{d}\n{lib}" for d, lib in groups], fontsize=7)
        ax.set_ylabel(label)
        ax.legend()
    fig.tight_layout()
    fig.savefig(f"{out}.png", dpi=120)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", action="append", required=True, metavar="NAME=PYTHON")
    parser.add_argument("--datasets", nargs="+", default=["mnist:70000:pca50"])
    parser.add_argument("--libs", nargs="+", default=["acctsne", "acctsne-fft"])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--kl-max-n", type=int, default=80_000)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--out", default="bench/results/builds")
    args = parser.parse_args()
    builds = dict(b.split("=", 1) for b in args.build)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.datasets:
            X, y = datasets.load(spec)
            P = reference_p(X, args.n_jobs)
            for lib in args.libs:
                runs = {name: [] for name in builds}
                for _ in range(args.repeats):
                    for name, python in builds.items():
                        record, Y = run_one(lib, spec, args.n_jobs, 0, tmp, args.timeout, python)
                        runs[name].append((record, Y))
                        print(
                            f"{spec} {lib} {name}: {record['wall_s']:.2f} s, "
                            f"{record['peak_rss_mb']:.0f} MB",
                            flush=True,
                        )
                first = None
                for name, done in runs.items():
                    wall = statistics.median(r["wall_s"] for r, _ in done)
                    first = first or wall
                    record, Y = done[-1]
                    rows.append(
                        dict(
                            build=name,
                            dataset=spec,
                            library=lib,
                            wall_s=wall,
                            walls_s=[r["wall_s"] for r, _ in done],
                            ratio_to_first=wall / first,
                            peak_rss_mb=max(r["peak_rss_mb"] for r, _ in done),
                            rss_before_fit_mb=record["rss_before_fit_mb"],
                            phases_s=record["phases_s"],
                            **quality(X, y, Y, P, args.kl_max_n),
                        )
                    )
    lines = [
        f"# acctsne builds side by side ({args.n_jobs} threads, median of {args.repeats})",
        "",
        "| dataset | library | build | wall s | vs first | peak RSS MB | exact KL | 10-NN kept |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        kl = "n/a" if r["kl_exact"] is None else f"{r['kl_exact']:.4f}"
        lines.append(
            f"| {r['dataset']} | {r['library']} | {r['build']} | {r['wall_s']:.2f} | "
            f"{r['ratio_to_first']:.3f} | {r['peak_rss_mb']:.0f} | {kl} | "
            f"{r['nn10_preservation']:.3f} |"
        )
    lines += ["", "Phases (s, last run of each build):", ""]
    for r in rows:
        phases = ", ".join(f"{k} {v:.2f}" for k, v in (r["phases_s"] or {}).items() if v)
        lines.append(f"* {r['dataset']} {r['library']} {r['build']}: {phases}")
    report.write_table(args.out, {"machine": machine_info(args.n_jobs), "rows": rows}, lines)
    _plot(rows, args.out)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
