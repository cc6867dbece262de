"""Large-n benchmark (issue 14): acctsne beside tsne-h2pack and openTSNE at 250k and 1M.

    python bench/large.py --n-jobs 2                  # blobs:250000:50 and blobs:1000000:50
    python bench/large.py --datasets blobs:250000:50 --n-components 3 --libs acctsne h2pack \\
        --n-jobs 2 --out bench/results/large_3d

Each library fits each dataset in a fresh worker process (acctsne.benchmark.worker, as
bench/run.py; every threading runtime capped at --n-jobs): wall and CPU seconds of the fit,
peak RSS of the worker, phase times (acctsne's; tsne-h2pack's kNN search). After the fits,
one evaluator judges every embedding, never a library's own cost:

* KL(P || Q) with P = acctsne's perplexity-30 P on the exact kNN graph (built once per
  dataset, after the fits): exact over all pairs up to --kl-exact-max-n points, above that
  acctsne._evaluate.kl_divergence_sampled (P's terms exact, Q's normaliser from the full
  row sums of KL_SAMPLE rows drawn with seed 0, the same rows for every library), with its
  standard error;
* 10-NN preservation and 10-NN label accuracy on a 5,000-point sample;
* acctsne's kNN recall@90: the graph its default neighbors='auto' builds (the fit's own
  acctsne._neighbors.nearest_neighbors, timed) against the true 90 neighbours of
  RECALL_QUERIES rows drawn with seed 0, by brute force in numpy (--skip-recall: not).

Writes <out>.json, <out>.md and <out>_time.png (with matplotlib); the JSON and markdown
are rewritten after each dataset.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time

import numpy as np

from acctsne.benchmark import datasets, libraries, report
from acctsne.benchmark.run import label_accuracy, machine_info, reference_p, run_one

import _local

KL_SAMPLE = 10_000  # rows whose full sums estimate Q's normaliser above --kl-exact-max-n
RECALL_K = 90
RECALL_QUERIES = 1_000
DEFAULT_LIBS = ["acctsne", "acctsne-fft", "h2pack", "opentsne-fft"]


def true_neighbours(X, rows, k):
    """Exact k nearest neighbours of X[rows] among all rows (itself excluded), numpy
    float64 in blocks of about 2^25 distances."""
    X = np.asarray(X, dtype=np.float64)
    sq = np.einsum("ij,ij->i", X, X)
    block = max(1, (1 << 25) // X.shape[0])
    out = np.empty((len(rows), k), dtype=np.int64)
    for start in range(0, len(rows), block):
        r = rows[start : start + block]
        d2 = sq[r, None] + sq[None, :] - 2.0 * (X[r] @ X.T)
        d2[np.arange(len(r)), r] = np.inf
        out[start : start + len(r)] = np.argpartition(d2, k, axis=1)[:, :k]
    return out


def knn_recall(X, n_jobs, seed=0):
    """Recall@RECALL_K of the graph a default acctsne fit builds (neighbors='auto')."""
    from acctsne._affinities import n_neighbors_for_perplexity
    from acctsne._limits import fit_float32_range
    from acctsne._neighbors import nearest_neighbors, use_approximate_neighbors

    n = X.shape[0]
    approximate = use_approximate_neighbors(
        "auto",
        native=True,  # dense X, metric='euclidean': acctsne's own searches
        n_samples=n,
        sparse=False,
        metric="euclidean",
        metric_params=None,
    )
    X_fit, _ = fit_float32_range(X, kind="data")  # as the fit does before its search
    t0 = time.perf_counter()
    graph = nearest_neighbors(
        X_fit,
        n_neighbors_for_perplexity(libraries.PERPLEXITY, n),
        neighbors="auto",
        n_threads=n_jobs,
    )
    seconds = time.perf_counter() - t0
    rows = np.sort(np.random.default_rng(seed).choice(n, min(RECALL_QUERIES, n), replace=False))
    truth = true_neighbours(X, rows, RECALL_K)
    found = graph.indices[rows, :RECALL_K]  # the fit's graph holds 3 * perplexity + 1
    hits = [np.intersect1d(f, t).size for f, t in zip(found, truth)]
    return {
        "k": RECALL_K,
        "queries": len(rows),
        "recall": float(np.mean(hits)) / RECALL_K,
        "seconds": seconds,
        "search": "approximate (faiss HNSW)" if approximate else "exact",
    }


def kl_divergence(P, Y, dof, exact, n_jobs):
    """(KL, standard error): exact over all pairs, or Q's normaliser from KL_SAMPLE rows."""
    from acctsne._evaluate import kl_divergence_exact, kl_divergence_sampled

    if exact:
        return kl_divergence_exact(P, Y, degrees_of_freedom=dof), 0.0
    r = kl_divergence_sampled(P, Y, sample=KL_SAMPLE, degrees_of_freedom=dof, n_threads=n_jobs)
    return r.kl, r.standard_error


def evaluate(X, y, Y, P, kl_exact_max_n, n_jobs):
    """One evaluator for every library's embedding. The KL's kernel: scikit-learn's
    (dof = max(n_components - 1, 1)); from 3-D on also dof = 1 (openTSNE's, h2pack's)."""
    from acctsne._evaluate import neighborhood_preservation

    exact = X.shape[0] <= kl_exact_max_n
    out = dict(zip(("kl", "kl_se"), kl_divergence(P, Y, None, exact, n_jobs)))
    if Y.shape[1] > 2:
        out.update(zip(("kl_dof1", "kl_dof1_se"), kl_divergence(P, Y, 1, exact, n_jobs)))
    out["nn10_preservation"] = neighborhood_preservation(X, Y, n_neighbors=10, sample=5000)
    out["nn10_label_accuracy"] = None if y is None else label_accuracy(Y, y)
    return out


def _f(value, fmt):
    return "n/a" if value is None else format(value, fmt)


def _kl(value, se):
    return f"{value:.4f}" + (f" ± {se:.4f}" if se else "")


def markdown(results):
    m, rows = results["machine"], results["rows"]
    wide = results["n_components"] > 2  # a second KL: kernel 1 / (1 + d^2)
    kls = ("kl", "kl_dof1") if wide else ("kl",)
    lines = [
        f"# Large-n benchmark: n_components={results['n_components']}, {m['n_jobs']} threads",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, acctsne SIMD {m['acctsne_simd']}, load "
        f"average at start {m['load_avg_at_start']}, {m['date']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + ".",
        "",
        "Time: wall seconds of one fit in a fresh process; 'time / acctsne': wall time over "
        "acctsne's (the default-method row). KL(P||Q) with acctsne's perplexity-30 P on the "
        f"exact kNN graph: exact, or above {results['kl_exact_max_n']:,} points estimated "
        f"from {KL_SAMPLE:,} seeded rows (± its standard error); 'KL / best peer': over the "
        "lowest KL of the other libraries. 10-NN kept / label accuracy: 5,000-point sample."
        + (
            " From 3-D on, 'KL' takes scikit-learn's kernel, dof = n_components - 1 (the one "
            "acctsne's default optimises), 'KL dof 1' the kernel 1 / (1 + d^2) (tsne-h2pack's, "
            "acctsne-dof1's); the ratio column gives both."
            if wide
            else ""
        ),
        "",
        "| dataset | library | wall s | time / acctsne | CPU s | peak RSS MB | KL | "
        + ("KL dof 1 | " if wide else "")
        + "KL / best peer | 10-NN kept | 10-NN label acc | phases s |",
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if wide else ""),
    ]
    for spec in results["datasets"]:
        mine = [r for r in rows if r["dataset"] == spec and "error" not in r]
        ours = [r for r in mine if r["library"] == "acctsne"] or [
            r for r in mine if r["library"].startswith("acctsne")
        ]
        peers = [r for r in mine if not r["library"].startswith("acctsne")]
        best = {k: min(r[k] for r in peers) for k in kls} if peers else {}
        for r in (r for r in rows if r["dataset"] == spec):
            if "error" in r:
                lines.append(f"| {spec} | {r['library']} | failed: {r['error']} |")
                continue
            rel = r["wall_s"] / ours[0]["wall_s"] if ours else None
            kl = " | ".join(_kl(r[k], r[k + "_se"]) for k in kls)
            ratio = " / ".join(f"{r[k] / best[k]:.4f}" for k in best) or "n/a"
            phases = ", ".join(
                f"{k} {v:.1f}" for k, v in (r["phases_s"] or {}).items() if v >= 0.05
            )
            lines.append(
                f"| {spec} | {r['library']} | {r['wall_s']:.1f} | {_f(rel, '.2f')} | "
                f"{r['cpu_s']:.0f} | {r['peak_rss_mb']:.0f} | {kl} | {ratio} | "
                f"{r['nn10_preservation']:.3f} | {_f(r['nn10_label_accuracy'], '.3f')} | {phases} |"
            )
    lines.append("")
    for spec, info in results["datasets"].items():
        text = f"* {spec}: evaluator's P (exact kNN) in {info['p_seconds']:.1f} s; KL {info['kl']}"
        rec = info.get("recall")
        if rec:
            text += (
                f"; acctsne's kNN graph (neighbors='auto': {rec['search']} search, "
                f"{rec['seconds']:.1f} s): recall@{rec['k']} {rec['recall']:.4f} on "
                f"{rec['queries']:,} queries (brute force)"
            )
        lines.append(text + ".")
    if results["deviations"]:
        lines += ["", "Deviations from the common settings:"]
        lines += [f"* {k}: {v}" for k, v in results["deviations"].items()]
    return lines


def plot(results, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    specs = list(results["datasets"])
    libs = list(dict.fromkeys(r["library"] for r in results["rows"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 3.0 * len(specs)), 4.5))
    width = 0.8 / max(len(libs), 1)
    for j, lib in enumerate(libs):
        walls = {
            r["dataset"]: r["wall_s"]
            for r in results["rows"]
            if r["library"] == lib and "error" not in r
        }
        xs = [i + (j - (len(libs) - 1) / 2) * width for i, s in enumerate(specs) if s in walls]
        bars = ax.bar(xs, [walls[s] for s in specs if s in walls], width, label=lib)
        ax.bar_label(bars, fmt="%.3g", fontsize=7)
    ax.set_xticks(range(len(specs)), specs)
    ax.set_yscale("log")
    ax.set_ylabel("wall time of the fit (s)")
    ax.set_title(
        f"t-SNE fit time, {results['n_components']}-D, {results['machine']['n_jobs']} threads"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(str(out) + "_time.png", dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["blobs:250000:50", "blobs:1000000:50"])
    parser.add_argument("--libs", nargs="+", default=DEFAULT_LIBS, help="of %(default)s, sklearn…")
    parser.add_argument("--n-components", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per fit")
    parser.add_argument("--out", default=str(_local.RESULTS_DIR / "large"))
    parser.add_argument("--skip-recall", action="store_true", help="no kNN recall")
    parser.add_argument(
        "--kl-exact-max-n",
        type=int,
        default=100_000,
        help="exact all-pairs KL up to this many points, sampled above (default %(default)s)",
    )
    args = parser.parse_args()

    libs = []
    for lib in args.libs:
        if not libraries.supports(lib, args.n_components):
            print(f"{lib}: not registered for n_components={args.n_components}, skipped")
        elif not libraries.available(lib):
            print(f"{lib}: not installed, skipped (pip install '.[bench]')")
        else:
            libs.append(lib)
    results = {
        "machine": machine_info(args.n_jobs),
        "n_components": args.n_components,
        "kl_exact_max_n": args.kl_exact_max_n,
        "kl_sample": KL_SAMPLE,
        "versions": {lib: libraries.version(lib) for lib in libs},
        "deviations": {k: v for k, v in libraries.DEVIATIONS.items() if k in libs},
        "datasets": {},
        "rows": [],
    }
    for spec in args.datasets:
        X, y = datasets.load(spec)
        n, d = X.shape
        fits = {}
        with tempfile.TemporaryDirectory() as tmp:
            for lib in libs:
                try:
                    fits[lib] = run_one(
                        lib, spec, args.n_jobs, 0, tmp, args.timeout, n_components=args.n_components
                    )
                except subprocess.TimeoutExpired:
                    fits[lib] = f"timed out after {args.timeout:.0f} s"
                except RuntimeError as exc:  # the worker's exit status, its stderr's end
                    fits[lib] = str(exc).strip().splitlines()[-1][:200]
                if isinstance(fits[lib], str):
                    print(f"{spec} {lib}: FAILED, {fits[lib]}", flush=True)
        t0 = time.perf_counter()
        P = reference_p(X, args.n_jobs)
        info = {
            "p_seconds": time.perf_counter() - t0,
            "kl": "exact (all pairs)"
            if n <= args.kl_exact_max_n
            else f"sampled ({KL_SAMPLE:,} rows, seed 0)",
        }
        for lib, fit in fits.items():
            row = {"dataset": spec, "n": n, "d": d, "library": lib}
            if isinstance(fit, str):
                row["error"] = fit
            else:
                row.update(fit[0])
                row.update(evaluate(X, y, fit[1], P, args.kl_exact_max_n, args.n_jobs))
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
        del P
        if not args.skip_recall:
            info["recall"] = knn_recall(X, args.n_jobs)
            print(f"{spec} acctsne kNN: {json.dumps(info['recall'])}", flush=True)
        results["datasets"][spec] = info
        report.write_outputs(args.out, results, "\n".join(markdown(results)) + "\n")
    report.write_table(args.out, results, markdown(results))
    plot(results, args.out)


if __name__ == "__main__":
    main()
