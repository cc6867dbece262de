"""Every neighbour source of a fit in one place, and the query of new rows.

A fit's kNN graph comes from one of:

* acctsne's exact C++ search (``_core.knn_exact``): dense X, metric 'euclidean' without
  metric_params;
* faiss HNSW with exact distances (``_ann.approximate_knn``): the same inputs, when
  ``neighbors='approx'``, or ``neighbors='auto'`` from :data:`AUTO_APPROX_MIN_SAMPLES`
  samples on with faiss installed;
* scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors`: every other metric, sparse
  X, and ``metric='precomputed'`` (a square distance matrix, or a sparse kNN graph whose
  rows must hold at least ``n_neighbors + 1`` entries, with scikit-learn's errors; the
  estimator checks such X first with :func:`check_precomputed`).

Distances are returned squared for every metric, as scikit-learn's TSNE squares them.
"""

from __future__ import annotations

from time import time
from typing import NamedTuple

import numpy as np
from scipy.sparse import issparse
from sklearn.metrics import pairwise_distances_chunked
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_non_negative

from . import _ann, _core
from ._config import resolve_n_threads

__all__ = [
    "AUTO_APPROX_MIN_SAMPLES",
    "Neighbors",
    "check_precomputed",
    "nearest_neighbors",
    "query_neighbors",
    "use_approximate_neighbors",
    "uses_native_search",
]

# neighbors="auto": approximate neighbours (when faiss is installed) from this many
# samples on. Below it the exact search, which skips the pairs of row blocks that its
# bounds rule out, is faster on data with cluster structure (1M 50-d mixture: 72 s, faiss
# HNSW 329 s at recall 0.92) and at most ~2x slower on data without any (its cost grows
# as n^2 there, HNSW's as n log n), with every neighbour exact.
AUTO_APPROX_MIN_SAMPLES = 2_000_000


class Neighbors(NamedTuple):
    """The kNN graph of a fit: unpacks as ``indices, sq_distances, seconds``."""

    indices: np.ndarray
    """int32 (n_samples, n_neighbors): each row's neighbours, nearest first."""
    sq_distances: np.ndarray
    """float32 (n_samples, n_neighbors): their squared distances."""
    seconds: float
    """Duration of the search proper (without building the index), as verbose prints."""


def check_precomputed(X, *, init, method):
    """Checks a validated X for ``metric='precomputed'``, with scikit-learn's errors.

    Parameters
    ----------
    X : ndarray or sparse matrix
        A square distance matrix, or (method other than 'exact') a sparse kNN graph.
    init : str or ndarray
        The estimator's ``init`` ("pca" is refused: there are no features).
    method : str
        The estimator's ``method`` as given.

    Raises
    ------
    ValueError
        ``init='pca'``, a non-square X or a negative distance.
    TypeError
        A sparse X with ``method='exact'``.
    """
    if isinstance(init, str) and init == "pca":
        raise ValueError('The parameter init="pca" cannot be used with metric="precomputed".')
    if X.shape[0] != X.shape[1]:
        raise ValueError("X should be a square distance matrix")
    check_non_negative(
        X,
        ("TSNE.fit(). With metric='precomputed', X should contain positive distances."),
    )
    if method == "exact" and issparse(X):
        raise TypeError(
            'TSNE with method="exact" does not accept sparse '
            'precomputed distance matrix. Use method="barnes_hut" '
            "or provide the dense distance matrix."
        )


def uses_native_search(X, metric, metric_params):
    """Whether acctsne's own search (exact C++ or faiss) can serve this input.

    Parameters
    ----------
    X : ndarray or sparse matrix
        The input of the fit.
    metric : str or callable
        The estimator's metric.
    metric_params : dict or None
        The estimator's metric_params.

    Returns
    -------
    native : bool
        True for dense X with metric 'euclidean' and no metric_params.
    """
    return (
        isinstance(metric, str) and metric == "euclidean" and not metric_params and not issparse(X)
    )


def use_approximate_neighbors(
    neighbors,
    *,
    native,
    n_samples,
    sparse,
    metric,
    metric_params,
    auto_approx_min_samples=AUTO_APPROX_MIN_SAMPLES,
):
    """Whether the approximate (faiss) search builds the graph.

    Parameters
    ----------
    neighbors : {'auto', 'exact', 'approx'}
        The estimator's ``neighbors`` parameter.
    native : bool
        :func:`uses_native_search` of the input.
    n_samples : int
        Number of samples.
    sparse : bool
        Whether X is sparse (only for the error message).
    metric, metric_params
        The estimator's metric and metric_params (only for the error message).
    auto_approx_min_samples : int, default=AUTO_APPROX_MIN_SAMPLES
        ``neighbors='auto'`` is approximate from this many samples on (with faiss).

    Returns
    -------
    approximate : bool

    Raises
    ------
    ValueError
        ``neighbors='approx'`` for an input the approximate search cannot serve.
    """
    if neighbors == "approx":
        if not native:
            raise ValueError(
                "neighbors='approx' needs dense X and metric='euclidean' without "
                f"metric_params, got metric={metric!r}, "
                f"metric_params={metric_params!r}"
                + (" and sparse X" if sparse else "")
                + "; use neighbors='exact' or 'auto'."
            )
        return True
    return (
        neighbors == "auto"
        and native
        and n_samples >= auto_approx_min_samples
        and _ann.faiss_available()
    )


def nearest_neighbors(
    X,
    n_neighbors,
    *,
    metric="euclidean",
    metric_params=None,
    neighbors="auto",
    n_jobs=None,
    n_threads=None,
    verbose=0,
    auto_approx_min_samples=AUTO_APPROX_MIN_SAMPLES,
):
    """The k nearest neighbours of every sample among the others (itself excluded).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features) or (n_samples, n_samples)
        Samples, or with ``metric='precomputed'`` a square distance matrix or a sparse kNN
        graph (such as :class:`~sklearn.neighbors.KNeighborsTransformer`'s output).
    n_neighbors : int
        Neighbours per sample (less than n_samples).
    metric : str or callable, default='euclidean'
        Any metric of :func:`sklearn.metrics.pairwise_distances`, a callable or
        'precomputed'.
    metric_params : dict, default=None
        Keyword arguments of the metric.
    neighbors : {'auto', 'exact', 'approx'}, default='auto'
        The search for dense euclidean input (see the estimator's ``neighbors``).
    n_jobs : int, default=None
        scikit-learn's n_jobs, passed as is to NearestNeighbors.
    n_threads : int or _core.ThreadPool, default=None
        Threads of acctsne's own searches; None resolves ``n_jobs``.
    verbose : int, default=0
        Prints ``[t-SNE] Indexed ...`` (exact and scikit-learn searches) and
        ``[t-SNE] Computed neighbors ...``.
    auto_approx_min_samples : int, default=AUTO_APPROX_MIN_SAMPLES
        Threshold of ``neighbors='auto'``.

    Returns
    -------
    neighbors : Neighbors
        ``(indices int32, sq_distances float32, seconds)``, each array (n_samples,
        n_neighbors), rows sorted by distance.
    """
    if n_threads is None:
        n_threads = resolve_n_threads(n_jobs)
    n_samples = X.shape[0]
    native = uses_native_search(X, metric, metric_params)
    approximate = use_approximate_neighbors(
        neighbors,
        native=native,
        n_samples=n_samples,
        sparse=issparse(X),
        metric=metric,
        metric_params=metric_params,
        auto_approx_min_samples=auto_approx_min_samples,
    )
    if approximate:
        t0 = time()
        indices, sq_distances = _ann.approximate_knn(X, n_neighbors, n_threads)
        duration = time() - t0
    elif native:
        t0 = time()
        X = np.ascontiguousarray(X)
        if verbose:
            print(f"[t-SNE] Indexed {n_samples} samples in {time() - t0:.3f}s...")
        t0 = time()
        indices, sq_distances = _core.knn_exact(X, n_neighbors, n_threads)
        duration = time() - t0
    else:
        knn = NearestNeighbors(
            algorithm="auto",
            n_jobs=n_jobs,
            n_neighbors=n_neighbors,
            metric=metric,
            metric_params=metric_params,
        )
        t0 = time()
        knn.fit(X)
        if verbose:
            print(f"[t-SNE] Indexed {n_samples} samples in {time() - t0:.3f}s...")
        t0 = time()
        graph = knn.kneighbors_graph(mode="distance")
        duration = time() - t0
        del knn
        indices, sq_distances = _squared_graph_arrays(graph.tocsr(), n_samples, n_neighbors)
    if verbose:
        print(f"[t-SNE] Computed neighbors for {n_samples} samples in {duration:.3f}s...")
    return Neighbors(indices, sq_distances, duration)


def _squared_graph_arrays(graph, n_rows, n_neighbors):
    """(indices int32, squared distances float32) of a CSR graph with k entries a row."""
    indices = graph.indices.reshape(n_rows, n_neighbors).astype(np.int32)
    # Distances are squared for every metric, as sklearn does.
    sq_distances = (graph.data.reshape(n_rows, n_neighbors).astype(np.float64) ** 2).astype(
        np.float32
    )
    return indices, sq_distances


def query_neighbors(
    reference,
    X_new,
    n_neighbors,
    *,
    metric="euclidean",
    metric_params=None,
    n_jobs=None,
    n_threads=None,
):
    """The k nearest reference rows of every new row (for ``transform``).

    Unlike :func:`nearest_neighbors`, no match is excluded: a new row equal to a reference
    row finds it first, at distance 0.

    Parameters
    ----------
    reference : ndarray or sparse matrix of shape (n_reference, n_features)
        The rows searched (with ``metric='precomputed'``, the reference's square distance
        matrix, which only sets n_reference).
    X_new : ndarray or sparse matrix of shape (n_new, n_features)
        The query rows (with ``metric='precomputed'``: their distances to the reference
        rows, shape (n_new, n_reference)).
    n_neighbors : int
        Neighbours per query row (at most n_reference).
    metric : str or callable, default='euclidean'
        As in :func:`nearest_neighbors`. Dense 'euclidean' without metric_params is
        searched exactly by acctsne's C++ kNN (float32 selection in the reference's
        centring, exact float64 distances of the neighbours kept, as in the fit);
        every other metric and sparse input by brute force over scikit-learn's
        :func:`~sklearn.metrics.pairwise_distances_chunked`. With 'precomputed', X_new
        holds the distances to the reference rows: dense, ranked directly; a sparse graph,
        searched by scikit-learn's NearestNeighbors.
    metric_params : dict, default=None
        Keyword arguments of the metric.
    n_jobs : int, default=None
        scikit-learn's n_jobs (for NearestNeighbors).
    n_threads : int or _core.ThreadPool, default=None
        Threads of the euclidean search; None resolves ``n_jobs``.

    Returns
    -------
    indices : ndarray of int32, shape (n_new, n_neighbors)
        Rows of ``reference``, sorted by distance, equal distances by lower index.
    sq_distances : ndarray of float32, shape (n_new, n_neighbors)
        Their squared distances. With dense 'euclidean' (and every metric computed pair by
        pair) the result of a row depends on that row alone, never on the other rows of
        ``X_new``, the block split nor the thread count.
    """
    if n_threads is None:
        n_threads = resolve_n_threads(n_jobs)
    if uses_native_search(X_new, metric, metric_params) and not issparse(reference):
        # acctsne's C++ search (cpp/src/knn.cpp QueryKnn), in the reference's dtype.
        reference = np.asarray(reference)
        dtype = np.float64 if reference.dtype == np.float64 else np.float32
        _check_n_neighbors(n_neighbors, reference.shape[0])
        return _core.knn_query(
            np.ascontiguousarray(reference, dtype=dtype),
            np.ascontiguousarray(X_new, dtype=dtype),
            int(n_neighbors),
            n_threads=n_threads,
        )
    precomputed = isinstance(metric, str) and metric == "precomputed"
    if precomputed and issparse(X_new):
        # A sparse graph of distances to the reference rows: each row's k smallest stored
        # distances, by (distance, index).
        graph = X_new.tocsr()
        if graph.shape[1] != reference.shape[0]:
            raise ValueError(
                f"With metric='precomputed', X_new must hold the distances to the "
                f"{reference.shape[0]} reference rows, got shape {graph.shape}"
            )
        check_non_negative(graph, "query_neighbors(). With metric='precomputed', X_new")
        _check_n_neighbors(n_neighbors, reference.shape[0])
        counts = np.diff(graph.indptr)
        if np.any(counts < n_neighbors):
            row = int(np.argmax(counts < n_neighbors))
            raise ValueError(
                f"With metric='precomputed', each row of a sparse X_new needs at least "
                f"{n_neighbors} stored distances; row {row} has {counts[row]}"
            )
        indices = np.empty((graph.shape[0], n_neighbors), dtype=np.int32)
        sq_distances = np.empty((graph.shape[0], n_neighbors), dtype=np.float32)
        for row in range(graph.shape[0]):
            span = slice(graph.indptr[row], graph.indptr[row + 1])
            values = (graph.data[span].astype(np.float64) ** 2).astype(np.float32)
            _keep_nearest(indices, sq_distances, row, graph.indices[span], values, n_neighbors)
        return indices, sq_distances
    if precomputed:
        X_new = np.asarray(X_new, dtype=np.float64)
        if X_new.ndim != 2 or X_new.shape[1] != reference.shape[0]:
            raise ValueError(
                f"With metric='precomputed', X_new must hold the distances to the "
                f"{reference.shape[0]} reference rows, got shape {X_new.shape}"
            )
        check_non_negative(X_new, "query_neighbors(). With metric='precomputed', X_new")
        blocks = [X_new]
    else:
        blocks = pairwise_distances_chunked(
            X_new, reference, metric=metric, n_jobs=n_jobs, **(metric_params or {})
        )
    return _query_blocks(blocks, X_new.shape[0], reference.shape[0], n_neighbors)


def _check_n_neighbors(k, n_reference):
    if not 1 <= k <= n_reference:
        raise ValueError(f"n_neighbors must be in [1, {n_reference}], got {k}")


def _keep_nearest(indices, sq_distances, row, candidates, values, k):
    """Stores the k nearest candidates of one query row: by distance, then index."""
    best = np.lexsort((candidates, values))[:k]
    indices[row] = candidates[best]
    sq_distances[row] = values[best]


def _query_blocks(blocks, n_new, n_reference, k):
    """The k nearest of each row of distance blocks (consecutive query rows): the k-th
    smallest squared distance (float32) of a row admits every entry tied with it."""
    _check_n_neighbors(k, n_reference)
    indices = np.empty((n_new, k), dtype=np.int32)
    sq_distances = np.empty((n_new, k), dtype=np.float32)
    start = 0
    for block in blocks:
        d2 = (np.asarray(block, dtype=np.float64) ** 2).astype(np.float32)
        kth = np.partition(d2, k - 1, axis=1)[:, k - 1]
        for row in range(d2.shape[0]):
            candidates = np.flatnonzero(d2[row] <= kth[row])
            _keep_nearest(indices, sq_distances, start + row, candidates, d2[row, candidates], k)
        start += d2.shape[0]
    return indices, sq_distances
