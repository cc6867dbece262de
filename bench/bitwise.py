"""Embeddings of a build, saved for a bitwise comparison with another build's.

    /path/to/venv-before/bin/python bench/bitwise.py save before.npz
    /path/to/venv-after/bin/python bench/bitwise.py save after.npz
    python bench/bitwise.py compare before.npz after.npz

Fits digits and MNIST 10k (PCA-50) with Barnes-Hut and FFT at n_jobs 1 and 2 (seed 0)
and saves each embedding with its KL divergence and iteration count; `compare` says for
each whether the embeddings are identical bit for bit, and the KL values' relative gap.
"""

from __future__ import annotations

import sys

import numpy as np

from acctsne.benchmark import datasets

import _local  # noqa: F401  (data directory default)

CASES = [
    (spec, method, n_jobs)
    for spec in ("digits", "mnist:10000:pca50")
    for method in ("barnes_hut", "fft")
    for n_jobs in (1, 2)
]


def save(path):
    from acctsne import TSNE

    out = {}
    for spec, method, n_jobs in CASES:
        X, _ = datasets.load(spec)
        est = TSNE(method=method, n_jobs=n_jobs, random_state=0)
        key = f"{spec}|{method}|{n_jobs}"
        out[key] = est.fit_transform(X)
        out[key + "|kl"] = est.kl_divergence_
        out[key + "|n_iter"] = est.n_iter_
        print(key, est.kl_divergence_, est.n_iter_, flush=True)
    np.savez(path, **out)


def compare(path_a, path_b):
    a, b = np.load(path_a), np.load(path_b)
    same = True
    for spec, method, n_jobs in CASES:
        key = f"{spec}|{method}|{n_jobs}"
        equal = np.array_equal(a[key], b[key])
        same &= equal
        gap = abs(float(a[key + "|kl"]) / float(b[key + "|kl"]) - 1)
        print(f"{key}: {'identical' if equal else 'DIFFERENT'} bits, KL gap {gap:.1e}")
    return 0 if same else 1


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[2])
    else:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
