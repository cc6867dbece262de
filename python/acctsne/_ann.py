"""Approximate nearest neighbours for neighbors='approx' (an acctsne extension).

The graph comes from faiss's HNSW index (``pip install acctsne[ann]`` installs
``faiss-cpu``), chosen by ``bench/ann.py`` on MNIST and Gaussian mixtures: recall of the
true 90 neighbours 0.999 on MNIST PCA-50 (70k) and 0.92 on a 250k-point 50-d Gaussian
mixture (faiss IVF: 0.97 and 0.48), faster than pynndescent, and the index is built on one
thread so the graph never depends on the thread count. The found neighbours' distances
are then recomputed exactly (float64) in C++ and each row sorted, as for the exact search.
"""

from __future__ import annotations

import numpy as np

from . import _core

# HNSW parameters: graph degree, and the candidate-list sizes when building and searching
# (the search list is this factor times k).
_HNSW_M = 16
_HNSW_EF_CONSTRUCTION = 100
_HNSW_EF_SEARCH_FACTOR = 2
# Queries per faiss call: Python sees a pending Ctrl-C between calls.
_QUERY_CHUNK = 16384


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


def approximate_knn(X, k, n_threads):
    """(indices int32, squared distances float32), each (n_samples, k), rows sorted."""
    faiss = _import_faiss()
    X = np.ascontiguousarray(X)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    previous = faiss.omp_get_max_threads()
    try:
        # faiss inserts in parallel under per-node locks, so a multi-threaded build may
        # depend on timing: build on one thread (the graph is then a function of X
        # alone), search on n_threads (read-only, so the same for any thread count).
        faiss.omp_set_num_threads(1)
        index = faiss.IndexHNSWFlat(X32.shape[1], _HNSW_M)
        index.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
        index.add(X32)
        faiss.omp_set_num_threads(n_threads)
        index.hnsw.efSearch = max(_HNSW_EF_SEARCH_FACTOR * (k + 1), 64)
        # int32 per chunk: at 1M points the int64 labels alone would be 0.7 GB.
        found = np.empty((X32.shape[0], k + 1), dtype=np.int32)
        for start in range(0, X32.shape[0], _QUERY_CHUNK):
            _, labels = index.search(X32[start : start + _QUERY_CHUNK], k + 1)
            found[start : start + _QUERY_CHUNK] = labels
    finally:
        faiss.omp_set_num_threads(previous)
    del index  # the graph and its copy of X: free them before the next buffers
    neighbors = _without_self(found, k)
    del found
    return _core.refine_neighbors(X, neighbors, n_threads)
