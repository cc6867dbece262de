"""Phase microbenchmarks for acctsne alone (for optimisation work, not peer comparisons).

    python bench/micro.py knn  --dataset mnist:70000:pca50 --n-jobs 2
    python bench/micro.py loop --dataset mnist:70000:pca50 --iters 1000 --n-jobs 2

`knn` times the exact kNN (k = 91). `loop` builds P once, then runs sklearn's two-phase
schedule in C++ and prints the in-loop phase timers (tree build, repulsion, attraction,
update), which are immune to Python overhead. The machine is shared: compare variants by
ratios between phases of the same run, or alternate runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from acctsne._affinities import joint_probabilities_nn, n_neighbors_for_perplexity
from acctsne._neighbors import nearest_neighbors
from acctsne._optimization import make_engine, run_schedule, sklearn_schedule
from acctsne._progress import Reporter
from acctsne.benchmark import datasets

import _local  # noqa: F401  (data directory default)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["knn", "loop"])
    parser.add_argument("--dataset", default="mnist:70000:pca50")
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--check-every", type=int, default=50)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    X, _ = datasets.load(args.dataset)
    X = np.ascontiguousarray(X)
    t0 = time.perf_counter()
    k = n_neighbors_for_perplexity(30.0, X.shape[0])
    idx, d2, _ = nearest_neighbors(X, k, neighbors="exact", n_threads=args.n_jobs)
    print(f"knn: {time.perf_counter() - t0:.2f}s ({args.dataset}, {args.n_jobs} threads)")
    if args.what == "knn":
        return
    P, _ = joint_probabilities_nn(idx, d2, 30.0, args.n_jobs)
    from sklearn.decomposition import PCA

    Y = PCA(2, random_state=0).fit_transform(X).astype(np.float32)
    Y = np.ascontiguousarray(Y / np.std(Y[:, 0]) * 1e-4, dtype=np.float32)
    lr = max(X.shape[0] / 12 / 4, 50)
    engine = make_engine(
        P,
        method="barnes_hut",
        n_components=2,
        degrees_of_freedom=1,
        angle=0.5,
        n_threads=args.n_jobs,
    )
    schedule = sklearn_schedule(
        early_exaggeration=12.0, max_iter=args.iters, n_iter_without_progress=300
    )
    reporter = Reporter(
        verbose=0,
        n_iter_check=args.check_every,
        callbacks=[],
        callbacks_every_iters=50,
        progress_bar=False,
        max_iter=args.iters,
        embedding=Y,
        out_dtype=np.float32,
    )
    t0 = time.perf_counter()
    kl, _ = run_schedule(
        engine,
        Y,
        schedule,
        learning_rate=lr,
        min_grad_norm=1e-7,
        reporter=reporter,
        verbose=0,
        n_iter_check=args.check_every,
    )
    wall = time.perf_counter() - t0
    times = {k: round(v, 2) for k, v in engine.times.items()}
    print(f"loop: {args.iters} iterations in {wall:.2f}s, phases {times}, KL {kl:.4f}")


if __name__ == "__main__":
    main()
