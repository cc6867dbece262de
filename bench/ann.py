"""Approximate nearest neighbours from the package index: recall of the true k neighbours
and time, to choose acctsne's neighbors='approx' backend.

    python bench/ann.py --dataset mnist:70000:pca50 blobs:250000:50 --k 90 --n-jobs 2

For each dataset and library: build + query time for all points' k neighbours (self
excluded), and recall against exact neighbours (acctsne's exact kNN) on a fixed sample of
2,000 query rows. Also checks whether the result is identical with 1 and 2 threads.
Writes bench/results/ann.json and ann.md.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from acctsne.benchmark import datasets, report

import _local  # noqa: F401  (data directory default)

SAMPLE = 2000


def exact_sample(X, k, rows, n_jobs):
    """True k neighbours of the sampled rows (brute force in float64 blocks)."""
    out = np.empty((len(rows), k), dtype=np.int64)
    sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    for start in range(0, len(rows), 256):
        r = rows[start : start + 256]
        d2 = sq[r, None] + sq[None, :] - 2.0 * (X[r].astype(np.float64) @ X.T.astype(np.float64))
        d2[np.arange(len(r)), r] = np.inf
        part = np.argpartition(d2, k, axis=1)[:, :k]
        out[start : start + len(r)] = part
    return out


def recall(found, truth):
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def run_faiss_ivf(X, k, n_jobs):
    import faiss

    faiss.omp_set_num_threads(n_jobs)
    n, d = X.shape
    nlist = int(4 * np.sqrt(n))
    quantizer = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist)
    rng = np.random.default_rng(0)
    train = X[rng.choice(n, min(n, 64 * nlist), replace=False)]
    index.train(train)
    index.add(X)
    index.nprobe = 24
    _, idx = index.search(X, k + 1)
    return idx


def run_faiss_hnsw(X, k, n_jobs):
    import faiss

    faiss.omp_set_num_threads(n_jobs)
    index = faiss.IndexHNSWFlat(X.shape[1], 16)
    index.hnsw.efConstruction = 100
    index.add(X)
    index.hnsw.efSearch = 2 * k
    _, idx = index.search(X, k + 1)
    return idx


def run_hnswlib(X, k, n_jobs):
    import hnswlib

    index = hnswlib.Index(space="l2", dim=X.shape[1])
    index.init_index(max_elements=X.shape[0], ef_construction=100, M=16, random_seed=0)
    index.add_items(X, num_threads=n_jobs)
    index.set_ef(2 * k)
    idx, _ = index.knn_query(X, k=k + 1, num_threads=n_jobs)
    return idx


def run_usearch(X, k, n_jobs):
    from usearch.index import Index

    index = Index(
        ndim=X.shape[1], metric="l2sq", connectivity=16, expansion_add=100, expansion_search=2 * k
    )
    index.add(np.arange(X.shape[0]), X, threads=n_jobs)
    result = index.search(X, k + 1, threads=n_jobs)
    return result.keys


def run_pynndescent(X, k, n_jobs):
    from pynndescent import NNDescent

    index = NNDescent(X, n_neighbors=k + 1, n_jobs=n_jobs, random_state=0)
    idx, _ = index.neighbor_graph
    return idx


def run_acctsne_approx(X, k, n_jobs):
    """acctsne's own neighbors='approx' search (sharded faiss HNSW, exact refinement)."""
    from acctsne import _ann

    idx, _ = _ann.approximate_knn(X, k, n_jobs)
    return np.hstack([np.arange(len(X))[:, None], idx])  # with self, like the others


LIBRARIES = {
    "acctsne-approx": run_acctsne_approx,
    "faiss-ivf": run_faiss_ivf,
    "faiss-hnsw": run_faiss_hnsw,
    "hnswlib": run_hnswlib,
    "usearch": run_usearch,
    "pynndescent": run_pynndescent,
}


def drop_self(idx, k):
    """k neighbours per row without the row itself."""
    rows = np.arange(len(idx))[:, None]
    out = np.empty((len(idx), k), dtype=np.int64)
    for i, row in enumerate(np.asarray(idx)):
        row = row[row != rows[i, 0]]
        out[i] = row[:k] if len(row) >= k else np.pad(row, (0, k - len(row)), constant_values=-1)
    return out


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["mnist:70000:pca50"])
    parser.add_argument("--libs", nargs="+", default=list(LIBRARIES))
    parser.add_argument("--k", type=int, default=90)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default="bench/results/ann")
    args = parser.parse_args()

    rows = []
    for spec in args.datasets:
        X, _ = datasets.load(spec)
        X = np.ascontiguousarray(X, dtype=np.float32)
        sample = np.random.default_rng(0).choice(len(X), SAMPLE, replace=False)
        truth = exact_sample(X, args.k, sample, args.n_jobs)
        for lib in args.libs:
            try:
                t0 = time.perf_counter()
                idx = drop_self(LIBRARIES[lib](X, args.k, args.n_jobs), args.k)
                seconds = time.perf_counter() - t0
                again = drop_self(LIBRARIES[lib](X[: min(len(X), 20000)], args.k, 1), args.k)
                again2 = drop_self(LIBRARIES[lib](X[: min(len(X), 20000)], args.k, 2), args.k)
            except ImportError as exc:
                print(f"{lib}: not installed ({exc})")
                continue
            row = {
                "dataset": spec,
                "n": len(X),
                "d": X.shape[1],
                "library": lib,
                "seconds": seconds,
                "recall": recall(idx[sample], truth),
                "same_for_1_and_2_threads": bool(np.array_equal(again, again2)),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = [
        f"# Approximate kNN (k = {args.k}, {args.n_jobs} threads)",
        "",
        "| dataset | n | d | library | seconds | recall@k | identical 1 vs 2 threads |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['n']} | {r['d']} | {r['library']} | {r['seconds']:.1f} | "
            f"{r['recall']:.4f} | {r['same_for_1_and_2_threads']} |"
        )
    report.write_table(args.out, rows, lines)


if __name__ == "__main__":
    main()
