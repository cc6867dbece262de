"""The input-space affinities P of a fit: sparse (kNN graph) or dense (exact method).

Each function runs in ``acctsne._core`` (perplexity search and symmetrisation in parallel
C++) and prints scikit-learn's ``[t-SNE]`` lines when asked to.

Every ``perplexity`` is a float or a sequence of floats. A sequence gives multiscale
affinities (openTSNE's ``Multiscale``, FIt-SNE's ``perplexity_list``): each row is
searched once per perplexity over the same ``min(n - 1, int(3 * max + 1))`` neighbours,
the conditional rows are averaged, and P is symmetrised as for one perplexity. A
one-element sequence gives the same P, bit for bit, as its scalar; the betas then have
one column per perplexity.
"""

from __future__ import annotations

from time import time

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.metrics.pairwise import pairwise_distances

from . import _core
from ._config import resolve_n_threads
from ._limits import check_exact_fits_in_memory, fit_float32_range
from ._neighbors import AUTO_APPROX_MIN_SAMPLES, nearest_neighbors

# From this many samples a fit builds P in the kNN graph's breadth-first order
# (sparse_affinities(locality_order=True)): the embedding (8 bytes a point in 2-D) then
# outgrows a core's L2 cache, and where the neighbours sit in memory decides the
# attraction's speed. Below it nothing changes (the same bits as before).
LOCALITY_ORDER_MIN_SAMPLES = 100_000

__all__ = [
    "affinities_from_data",
    "check_perplexity",
    "exact_affinities",
    "graph_order",
    "inverse_permutation",
    "joint_probabilities_nn",
    "n_neighbors_for_perplexity",
    "print_perplexity_progress",
    "restore_order",
    "sparse_affinities",
]

_PROGRESS_EVERY = 1000  # sklearn prints the perplexity search every 1000 samples


def check_perplexity(perplexity):
    """The ``perplexity`` argument as the core takes it, checked.

    Parameters
    ----------
    perplexity : float or sequence of float
        One perplexity, or a list of them (multiscale).

    Returns
    -------
    perplexity : float or ndarray of float64, shape (n_perplexities,)
        A float for a scalar, a 1-D array for a sequence (even of one element).

    Raises
    ------
    ValueError
        For an empty or non-1-D sequence, or a perplexity that is not finite and > 0
        (the message names it).
    """
    if np.ndim(perplexity) == 0:
        values = np.array([float(perplexity)])
    else:
        values = np.asarray(perplexity, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                "perplexity must be a number or a non-empty 1-D sequence of numbers, "
                f"got {perplexity!r}"
            )
    for s, value in enumerate(values):
        if not (np.isfinite(value) and value > 0):
            where = f" (perplexity[{s}])" if values.size > 1 else ""
            raise ValueError(f"perplexity must be finite and > 0, got {float(value)!r}{where}")
    return float(values[0]) if np.ndim(perplexity) == 0 else values


def n_neighbors_for_perplexity(perplexity, n_samples):
    """scikit-learn's neighbour count for a perplexity: ``min(n - 1, int(3 * perplexity + 1))``.

    For a sequence of perplexities (multiscale) the largest one sets the count.
    """
    largest = np.max(check_perplexity(perplexity))
    return min(n_samples - 1, int(3.0 * largest + 1))


def print_perplexity_progress(betas, distance_scale=1.0, perplexity=None):
    """Prints scikit-learn's progress lines of the perplexity search and the mean sigma.

    Multiscale betas (one column per perplexity) print one mean-sigma line per
    perplexity, in the order of the list, instead of scikit-learn's single line.

    Parameters
    ----------
    betas : ndarray of shape (n_samples,) or (n_samples, n_perplexities)
        Precisions found by the search (1 / (2 sigma^2) in the searched units).
    distance_scale : float, default=1.0
        Factor from the searched units back to the input's (see ``fit_float32_range``).
    perplexity : sequence of float, default=None
        The perplexities of multiscale betas' columns, to label their lines (without
        them the lines are labelled by column).
    """
    n_samples = betas.shape[0]
    for i in range(_PROGRESS_EVERY, n_samples + 1, _PROGRESS_EVERY):
        print(f"[t-SNE] Computed conditional probabilities for sample {i} / {n_samples}")
    if n_samples % _PROGRESS_EVERY:
        print(f"[t-SNE] Computed conditional probabilities for sample {n_samples} / {n_samples}")
    if betas.ndim == 1:
        sigma = np.sqrt(n_samples / np.sum(betas)) * distance_scale
        print(f"[t-SNE] Mean sigma: {sigma:f}")
        return
    sigmas = np.sqrt(n_samples / np.sum(betas, axis=0)) * distance_scale
    for s, sigma in enumerate(sigmas):
        label = f"perplexity {perplexity[s]:g}" if perplexity is not None else f"scale {s}"
        print(f"[t-SNE] Mean sigma at {label}: {sigma:f}")


def joint_probabilities_nn(indices, sq_distances, perplexity, n_threads, *, overwrite=False):
    """Symmetric normalised P of a kNN graph (scikit-learn's ``_joint_probabilities_nn``).

    Parameters
    ----------
    indices : ndarray of int32, shape (n_samples, n_neighbors)
        Each sample's neighbours (itself excluded).
    sq_distances : ndarray of float32, shape (n_samples, n_neighbors)
        Their squared distances.
    perplexity : float or sequence of float
        Target perplexity of each row's conditional distribution; a sequence averages
        the rows of its perplexities (multiscale).
    n_threads : int or _core.ThreadPool
        Threads of the search (the result does not depend on it).
    overwrite : bool, default=False
        Let a float32 C-contiguous ``sq_distances`` receive the conditional
        probabilities (its contents are lost): saves a buffer of its size at the peak
        of the fit's memory.

    Returns
    -------
    P : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        Sorted CSR with float32 data and int32 indices that are views of the arrays
        ``_core.joint_probabilities_nn`` returns (no copy). Its int64 indptr is stored in
        scipy's index dtype (int32 below 2**31 entries: n_samples + 1 entries converted),
        since scipy needs indptr and indices of one dtype.
    betas : ndarray of float64, shape (n_samples,) or (n_samples, n_perplexities)
        The precisions found by the perplexity search (a column per perplexity of a
        sequence).

    Raises
    ------
    ValueError
        For an invalid perplexity (see :func:`check_perplexity`).
    """
    n_samples = indices.shape[0]
    indptr, columns, data, betas = _core.joint_probabilities_nn(
        indices,
        sq_distances,
        check_perplexity(perplexity),
        n_threads,
        overwrite_distances=overwrite,
    )
    P = csr_matrix((data, columns, indptr), shape=(n_samples, n_samples))
    return P, betas


def sparse_affinities(
    X,
    perplexity,
    *,
    metric="euclidean",
    metric_params=None,
    neighbors="auto",
    n_jobs=None,
    n_threads=None,
    verbose=0,
    auto_approx_min_samples=AUTO_APPROX_MIN_SAMPLES,
    times=None,
    locality_order=False,
    graph=None,
):
    """The sparse P of method 'barnes_hut' / 'fft': kNN graph, then perplexity search.

    Inputs whose squared distances would leave float32's range are first scaled by a
    power of two (P does not change; see ``fit_float32_range``).

    Parameters
    ----------
    X : ndarray or sparse matrix
        Samples, or a precomputed distance matrix / sparse kNN graph with
        ``metric='precomputed'``.
    perplexity : float or sequence of float
        Perplexity, or perplexities of multiscale affinities;
        ``min(n - 1, int(3 * max(perplexity) + 1))`` neighbours are searched.
    metric, metric_params, neighbors, n_jobs, auto_approx_min_samples
        As in :func:`acctsne._neighbors.nearest_neighbors`.
    n_threads : int or _core.ThreadPool, default=None
        Threads of every native phase; None resolves ``n_jobs``.
    verbose : int, default=0
        Prints scikit-learn's ``[t-SNE]`` lines of the kNN search and perplexity search
        (and, from 2 on, the search's duration).
    times : dict, default=None
        When given, ``times["knn"]`` receives the seconds of the neighbour search.
    locality_order : bool, default=False
        From :data:`LOCALITY_ORDER_MIN_SAMPLES` samples on, build P with its points in
        the breadth-first order of the kNN graph (:func:`graph_order`) and return that
        order as a third value (None below the threshold).
    graph : callable, default=None
        Computes the kNN graph instead of :func:`~acctsne._neighbors.nearest_neighbors`:
        ``graph(X, n_neighbors)`` returns a :class:`~acctsne._neighbors.Neighbors` of the
        (scaled) X it is given (``acctsne.dask``: the graph of a dask array).

    Returns
    -------
    P : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        As :func:`joint_probabilities_nn` returns it (with ``locality_order``, row and
        column s are those of sample ``order[s]``).
    betas : ndarray of float64, shape (n_samples,) or (n_samples, n_perplexities)
        Precisions of the perplexity search (in the scaled units, if scaled; a column
        per perplexity of a sequence; in P's order).
    order : ndarray of int32 or None
        Only with ``locality_order``.

    Raises
    ------
    ValueError
        For an invalid perplexity (see :func:`check_perplexity`), before any search.
    """
    perplexity = check_perplexity(perplexity)
    if n_threads is None:
        n_threads = resolve_n_threads(n_jobs)
    n_neighbors = n_neighbors_for_perplexity(perplexity, X.shape[0])
    if verbose:
        print(f"[t-SNE] Computing {n_neighbors} nearest neighbors...")
    # P does not change when every distance is scaled by one factor; extreme inputs
    # are scaled by a power of two so their squared distances fit float32.
    X, scale = fit_float32_range(X, kind="distances" if metric == "precomputed" else "data")
    if graph is not None:
        indices, sq_distances, seconds = graph(X, n_neighbors)
    else:
        indices, sq_distances, seconds = nearest_neighbors(
            X,
            n_neighbors,
            metric=metric,
            metric_params=metric_params,
            neighbors=neighbors,
            n_jobs=n_jobs,
            n_threads=n_threads,
            verbose=verbose,
            auto_approx_min_samples=auto_approx_min_samples,
        )
    if times is not None:
        times["knn"] = seconds
    t0 = time()
    order = None
    if locality_order and indices.shape[0] >= LOCALITY_ORDER_MIN_SAMPLES:
        order = graph_order(indices)
        inverse = inverse_permutation(order)
        indices = inverse[indices[order]]
        sq_distances = sq_distances[order]
    # The distances are this function's own: their buffer takes the conditional P.
    P, betas = joint_probabilities_nn(indices, sq_distances, perplexity, n_threads, overwrite=True)
    del indices, sq_distances
    if verbose:
        print_perplexity_progress(betas, scale, perplexity)
    if verbose >= 2:
        print(f"[t-SNE] Computed conditional probabilities in {time() - t0:.3f}s")
    return (P, betas, order) if locality_order else (P, betas)


def graph_order(indices):
    """The breadth-first order of a kNN graph: ``order[s]`` is the s-th point visited.

    Points close in this order share neighbours, and clusters get contiguous ranges, so
    a fit whose points are stored in this order gathers its neighbours' coordinates from
    nearby memory (cpp/include/acctsne/point_order.h). Deterministic.

    Parameters
    ----------
    indices : ndarray of int32, shape (n_samples, n_neighbors)
        Each sample's neighbours.

    Returns
    -------
    order : ndarray of int32, shape (n_samples,)
    """
    n, k = indices.shape
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    return _core.graph_order(indptr, np.ascontiguousarray(indices, dtype=np.int32).ravel())


def inverse_permutation(order):
    """``inverse`` with ``inverse[order[s]] == s``, int32."""
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.shape[0], dtype=order.dtype)
    return inverse


def restore_order(P, order, n_threads):
    """P (built in ``order``, see :func:`sparse_affinities`) in the samples' own order.

    Returns a new CSR matrix (each row's columns in the order they had, not sorted); P's
    arrays are copied one at a time, so the peak is P plus half of it. The caller's
    reference to P is the last one, which this function drops: pass ``[P]``.
    """
    (P,) = P
    indptr, indices, data = P.indptr, P.indices, P.data
    shape = P.shape
    del P
    inverse = inverse_permutation(order)
    new_indptr, new_indices = _core.permute_rows(indptr, indices, inverse, order, n_threads)
    del indices
    _, new_data = _core.permute_rows(indptr, data, inverse, None, n_threads)
    del data
    return csr_matrix((new_data, new_indices, new_indptr), shape=shape)


def affinities_from_data(X, perplexity=30.0, n_threads=None):
    """The P a default fit of X uses: exact euclidean kNN, then perplexity search.

    One call for every place that needs "kNN -> P" outside a fit (the CLI's demo, the
    benchmarks, the tests), so they all judge embeddings by the fit's own P.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Samples (a sparse X takes its neighbours from scikit-learn).
    perplexity : float or sequence of float, default=30.0
        Perplexity (a sequence: multiscale); ``min(n - 1, int(3 * max(perplexity) + 1))``
        neighbours.
    n_threads : int or _core.ThreadPool, default=None
        Threads; None: all cores available to the process.

    Returns
    -------
    P : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        As :func:`joint_probabilities_nn` returns it.
    """
    return sparse_affinities(X, perplexity, neighbors="exact", n_threads=n_threads)[0]


def exact_affinities(
    X,
    perplexity,
    *,
    metric="euclidean",
    metric_params=None,
    n_jobs=None,
    n_threads=None,
    verbose=0,
):
    """The dense P of method='exact' (scikit-learn's ``_joint_probabilities``).

    Parameters
    ----------
    X : ndarray or sparse matrix
        Samples, or a dense distance matrix with ``metric='precomputed'``.
    perplexity : float or sequence of float
        Perplexity of every row, or perplexities whose rows are averaged (multiscale).
    metric : str or callable, default='euclidean'
        'euclidean' takes squared distances; every other metric's distances are squared,
        as scikit-learn does.
    metric_params : dict, default=None
        Keyword arguments of the metric.
    n_jobs : int, default=None
        scikit-learn's n_jobs for :func:`~sklearn.metrics.pairwise_distances`.
    n_threads : int or _core.ThreadPool, default=None
        Threads of the perplexity search; None resolves ``n_jobs``.
    verbose : int, default=0
        Prints scikit-learn's ``[t-SNE]`` lines.

    Returns
    -------
    P : ndarray of shape (n_samples, n_samples)
        Symmetric, normalised joint probabilities.
    betas : ndarray of float64, shape (n_samples,) or (n_samples, n_perplexities)
        Precisions of the perplexity search (in the scaled units, if scaled; a column
        per perplexity of a sequence).

    Raises
    ------
    MemoryError
        When the dense matrices cannot fit in this machine's memory.
    ValueError
        For negative distances or an invalid perplexity (see :func:`check_perplexity`).
    """
    perplexity = check_perplexity(perplexity)
    if n_threads is None:
        n_threads = resolve_n_threads(n_jobs)
    check_exact_fits_in_memory(X.shape[0])
    if metric == "precomputed":
        distances = X
    else:
        if verbose:
            print("[t-SNE] Computing pairwise distances...")
        if metric == "euclidean":
            distances = pairwise_distances(X, metric=metric, squared=True)
        else:
            metric_params_ = metric_params or {}
            distances = pairwise_distances(X, metric=metric, n_jobs=n_jobs, **metric_params_)
    if np.any(distances < 0):
        raise ValueError("All distances should be positive, the metric given is not correct")
    if metric != "euclidean":
        distances = np.asarray(distances, dtype=np.float64) ** 2
    distances, scale = fit_float32_range(
        np.asarray(distances, dtype=np.float64), kind="squared_distances"
    )
    P, betas = _core.joint_probabilities_exact(
        np.ascontiguousarray(distances, dtype=np.float32),
        perplexity,
        n_threads,
    )
    if verbose:
        print_perplexity_progress(betas, scale, perplexity)
    return P, betas
