"""The kNN graph on a Dask cluster against the number of worker processes.

    python bench/dask_graph.py --sizes 250000 --chunk-rows 62500 --out /tmp/dask_graph_250k
    python bench/dask_graph.py --sizes 1000000 --chunk-rows 500000 --out /tmp/dask_graph_1m
    python bench/dask_graph.py --merge /tmp/dask_graph_250k.json /tmp/dask_graph_1m.json \\
        --out bench/results/dask_graph

For each size, a 50-d Gaussian mixture (``acctsne.benchmark.datasets``'s ``blobs``) and
k = 90 (perplexity 30): the local exact search (``_core.knn_exact`` on the client, all
threads) gives the reference graph and its time; then, for each worker count, a fresh
``LocalCluster`` of that many processes with one thread each, the data persisted on the
workers first (the timing starts when it is there), and ``acctsne.dask.nearest_neighbors``
timed in exact and approximate mode. Recall@90 is measured over every row against the
exact graph, and the exact mode's graph is checked to be bitwise the local one. Writes
``<out>.json``, ``<out>.md`` and ``<out>.png``.
"""

from __future__ import annotations

import argparse
import json
import time

import dask.array as da
import numpy as np
from ann import recall  # bench/ann.py: the mean over rows of the true neighbours found
from distributed import Client, LocalCluster, wait

from acctsne import _core
from acctsne import dask as acctsne_dask
from acctsne.benchmark import datasets
from acctsne.benchmark.run import machine_info

K = 90


def run_size(n, workers, modes, chunk_rows, threads):
    X, _ = datasets.load(f"blobs:{n}:50")
    t0 = time.time()
    exact_indices, exact_sq = _core.knn_exact(X, K, threads)
    local = time.time() - t0
    print(f"n={n}: local exact {local:.1f} s", flush=True)
    rows = []
    for w in workers:
        with (
            LocalCluster(
                n_workers=w, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            dX = client.persist(da.from_array(X, chunks=(chunk_rows, X.shape[1])))
            wait(dX)
            for mode in modes:
                t0 = time.time()
                found = acctsne_dask.nearest_neighbors(dX, K, approximate=mode == "approx")
                seconds = time.time() - t0
                row = {
                    "n": n,
                    "workers": w,
                    "mode": mode,
                    "chunks": len(dX.chunks[0]),
                    "seconds": seconds,
                    "recall": recall(found.indices, exact_indices),
                    "bitwise_equal_to_local": bool(
                        np.array_equal(found.indices, exact_indices)
                        and np.array_equal(found.sq_distances, exact_sq)
                    ),
                    "local_exact_seconds": local,
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def markdown(rows, info):
    lines = [
        "# kNN graph on a Dask cluster (k = 90, 50-d Gaussian mixture)",
        "",
        f"Machine: {info.get('cpu', '?')}, {info.get('cores', '?')} cores. Worker processes "
        "of one thread each on this machine (LocalCluster); data persisted on the workers "
        "before timing. Local: `_core.knn_exact` in one process, all threads. Recall@90 "
        "over every row against the exact graph.",
        "",
        "| n | mode | chunks | workers | graph s | vs local exact | recall@90 | bitwise = local |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['mode']} | {r['chunks']} | {r['workers']} | "
            f"{r['seconds']:.1f} | {r['seconds'] / r['local_exact_seconds']:.2f}x | "
            f"{r['recall']:.4f} | {'yes' if r['bitwise_equal_to_local'] else 'no'} |"
        )
    sizes = sorted({r["n"] for r in rows})
    lines += [
        "",
        "Local exact search (reference): "
        + ", ".join(
            f"{n:,}: {next(r['local_exact_seconds'] for r in rows if r['n'] == n):.1f} s"
            for n in sizes
        ),
    ]
    return "\n".join(lines) + "\n"


def plot(rows, out):
    """Graph seconds against worker processes, a line per size and mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for n in sorted({r["n"] for r in rows}):
        for mode, style in (("exact", "o-"), ("approx", "s--")):
            line = sorted(
                (r["workers"], r["seconds"]) for r in rows if (r["n"], r["mode"]) == (n, mode)
            )
            if line:
                ax.plot(*zip(*line), style, label=f"{n:,} {mode}")
        local = next(r["local_exact_seconds"] for r in rows if r["n"] == n)
        ax.axhline(local, color="grey", lw=0.8, ls=":")
        ax.annotate(f"local exact {n:,}", (1, local), fontsize=7, va="bottom")
    ax.set_xlabel("worker processes (1 thread each)")
    ax.set_ylabel("graph seconds (k = 90)")
    ax.set_yscale("log")
    ax.set_xticks(sorted({r["workers"] for r in rows}))
    ax.legend(fontsize=8)
    ax.set_title("acctsne.dask kNN graph, 50-d Gaussian mixture")
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[250000, 1000000])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--modes", nargs="+", default=["exact", "approx"])
    parser.add_argument("--chunk-rows", type=int, default=125000)
    parser.add_argument("--threads", type=int, default=2, help="threads of the local search")
    parser.add_argument("--out", default="bench/results/dask_graph")
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="write <out> from the results of earlier runs (their JSON files) instead",
    )
    args = parser.parse_args()
    rows = []
    if args.merge:
        runs = []
        for path in args.merge:
            with open(path) as f:
                runs.append(json.load(f))
        rows = [row for run in runs for row in run["results"]]
        info = runs[0]["machine"]
    else:
        for n in args.sizes:
            rows += run_size(n, args.workers, args.modes, args.chunk_rows, args.threads)
        info = machine_info(args.threads)
    with open(args.out + ".json", "w") as f:
        json.dump({"machine": info, "k": K, "results": rows}, f, indent=1)
    with open(args.out + ".md", "w") as f:
        f.write(markdown(rows, info))
    plot(rows, args.out)
    print(markdown(rows, info))


if __name__ == "__main__":
    main()
