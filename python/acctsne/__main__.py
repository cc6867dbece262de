"""``python -m acctsne``: embed sklearn's digits with acctsne and with scikit-learn,
and print time and quality side by side (exact KL over all pairs, 10-NN preservation).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _run(name, estimator, X, P):
    from ._evaluate import kl_divergence_exact, neighborhood_preservation

    t0 = time.perf_counter()
    Y = estimator.fit_transform(X)
    seconds = time.perf_counter() - t0
    return {
        "name": name,
        "seconds": seconds,
        "kl": kl_divergence_exact(P, Y),
        "nn10": neighborhood_preservation(X, Y, n_neighbors=10),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m acctsne", description=__doc__)
    parser.add_argument("--config", action="store_true", help="print the build and exit")
    parser.add_argument("--no-sklearn", action="store_true", help="skip sklearn's TSNE")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    from . import TSNE, _core, show_config
    from ._config import resolve_n_threads

    print(show_config())
    if args.config:
        return 0

    from sklearn.datasets import load_digits

    X = load_digits().data.astype(np.float64)
    n_threads = resolve_n_threads(args.n_jobs)
    # One P for judging every embedding: perplexity 30 on the exact kNN graph.
    k = min(X.shape[0] - 1, 91)
    idx, d2 = _core.knn_exact(X, k, n_threads)
    indptr, cols, data, _ = _core.joint_probabilities_nn(idx, d2, 30.0, n_threads)
    from scipy.sparse import csr_array

    P = csr_array((data, cols, indptr), shape=(X.shape[0], X.shape[0]))

    common = dict(random_state=args.random_state, n_jobs=args.n_jobs)
    rows = [_run("acctsne", TSNE(**common), X, P)]
    if not args.no_sklearn:
        from sklearn.manifold import TSNE as SklearnTSNE

        rows.append(_run("scikit-learn", SklearnTSNE(**common), X, P))

    print(f"\nsklearn digits, {X.shape[0]} x {X.shape[1]}, {n_threads} threads")
    print(f"{'library':<14}{'seconds':>9}{'exact KL':>10}{'10-NN kept':>12}")
    for r in rows:
        print(f"{r['name']:<14}{r['seconds']:>9.2f}{r['kl']:>10.4f}{r['nn10']:>12.3f}")
    if len(rows) == 2:
        print(
            f"\nacctsne is {rows[1]['seconds'] / rows[0]['seconds']:.1f}x faster; "
            f"KL ratio acctsne/sklearn = {rows[0]['kl'] / rows[1]['kl']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
