"""Approximate nearest neighbours for neighbors='approx' (an acctsne extension).

The graph comes from faiss's HNSW index (``pip install acctsne[ann]`` installs
``faiss-cpu``), chosen by ``bench/ann.py`` on MNIST and Gaussian mixtures: recall of the
true 90 neighbours 0.999 on MNIST PCA-50 (70k) and 0.92 on a 250k-point 50-d Gaussian
mixture with one graph (faiss IVF: 0.97 and 0.48), faster than pynndescent; 0.957 on the
mixture with the two shards used from 100k samples on. Each graph is built on one
thread so it never depends on the thread count; large inputs are split into a fixed
number of shards whose graphs are built concurrently. The found neighbours' distances
are then recomputed exactly (float64) in C++ and each row sorted, as for the exact search.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _core
from ._config import thread_count

# HNSW parameters: graph degree, and the candidate-list sizes when building and searching
# (the search list is this factor times k, per shard). Measured on the 250k 50-d mixture
# of bench/ann.py (2 threads): one graph with factor 2 found 0.919 of the true 90
# neighbours in 68 s; two shards with factor 1.6 find 0.957 in 56 s.
_HNSW_M = 16
_HNSW_EF_CONSTRUCTION = 100
_HNSW_EF_SEARCH_FACTOR = 1.6
# Queries per faiss call: Python sees a pending Ctrl-C between calls.
_QUERY_CHUNK = 16384
# From this many samples on, the rows are split into _N_SHARDS interleaved shards with one
# graph each (built concurrently, each on one thread), and every query searches all of
# them. The count is fixed, not the thread count, so the result never depends on n_jobs.
_N_SHARDS = 2
_SHARD_MIN_SAMPLES = 100_000


def faiss_available():
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _import_faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "neighbors='approx' needs faiss (the faiss-cpu package): "
            "pip install 'acctsne[ann]' or pip install faiss-cpu; or use neighbors='exact', "
            "or pass a precomputed sparse kNN graph with metric='precomputed'."
        ) from exc
    return faiss


def _without_self(found, k):
    """k neighbours per row from k + 1 candidates: the row itself removed if present,
    else the farthest candidate dropped. Rows with missing (-1) entries are an error."""
    n = found.shape[0]
    if np.any(found < 0):
        raise RuntimeError(
            "the approximate search returned fewer than n_neighbors neighbours for some "
            "samples; use neighbors='exact'"
        )
    is_self = found == np.arange(n)[:, None]
    has_self = is_self.any(axis=1)
    keep = ~is_self
    keep[~has_self, -1] = False
    return found[keep].reshape(n, k)


def _shards(n_samples):
    """Rows of each shard: every _N_SHARDS-th row (a function of n alone)."""
    n_shards = _N_SHARDS if n_samples >= _SHARD_MIN_SAMPLES else 1
    return [np.arange(s, n_samples, n_shards) for s in range(n_shards)]


def _build_index(faiss, X32):
    """One HNSW graph, built on one thread: a function of X32 alone."""
    faiss.omp_set_num_threads(1)  # this thread's OpenMP setting
    index = faiss.IndexHNSWFlat(X32.shape[1], _HNSW_M)
    index.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
    index.add(X32)
    return index


def approximate_knn(X, k, n_threads):
    """(indices int32, squared distances float32), each (n_samples, k), rows sorted.

    ``n_threads``: a thread count or the fit's ``_core.ThreadPool``.
    """
    threads = n_threads
    n_threads = thread_count(threads)
    faiss = _import_faiss()
    X = np.ascontiguousarray(X)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    n = X32.shape[0]
    shards = _shards(n)
    previous = faiss.omp_get_max_threads()
    try:
        # faiss inserts in parallel under per-node locks, so a multi-threaded build may
        # depend on timing. Instead each shard's graph is built on one thread, and the
        # shards (a fixed number, whatever n_threads is) are built concurrently; faiss
        # releases the GIL while it works. Searching is read-only, so it runs on
        # n_threads and gives the same result for any thread count.
        parts = [np.ascontiguousarray(X32[rows]) for rows in shards]
        if len(parts) == 1 or n_threads == 1:
            indexes = [_build_index(faiss, part) for part in parts]
        else:
            with ThreadPoolExecutor(max_workers=min(n_threads, len(parts))) as pool:
                indexes = list(pool.map(lambda part: _build_index(faiss, part), parts))
        del parts
        faiss.omp_set_num_threads(n_threads)
        for index in indexes:
            index.hnsw.efSearch = max(int(_HNSW_EF_SEARCH_FACTOR * (k + 1)), 64)
        # int32 per chunk: at 1M points the int64 labels alone would be 0.7 GB.
        found = np.empty((n, k + 1), dtype=np.int32)
        for start in range(0, n, _QUERY_CHUNK):
            queries = X32[start : start + _QUERY_CHUNK]
            found[start : start + len(queries)] = _search_shards(indexes, shards, queries, k + 1)
    finally:
        faiss.omp_set_num_threads(previous)
    del indexes  # the graphs and their copies of X: free them before the next buffers
    neighbors = _without_self(found, k)
    del found
    return _core.refine_neighbors(X, neighbors, threads)


def _search_shards(indexes, shards, queries, k):
    """The k nearest of the candidates found in every shard (global row numbers); ties
    go to the earlier shard, so the merge is deterministic."""
    distances, labels = [], []
    for index, rows in zip(indexes, shards):
        d, found = index.search(queries, k)
        labels.append(np.where(found >= 0, rows[np.maximum(found, 0)], -1))
        distances.append(np.where(found >= 0, d, np.inf))
    if len(indexes) == 1:
        return labels[0]
    distances = np.concatenate(distances, axis=1)
    labels = np.concatenate(labels, axis=1)
    best = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(labels, best, axis=1)
