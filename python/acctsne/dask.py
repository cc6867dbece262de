"""acctsne beyond one machine: the kNN graph of a fit, and transform, on a Dask cluster.

Needs the ``[dask]`` extra (``pip install 'acctsne[dask]'``: dask and distributed).
``TSNE.fit`` / ``fit_transform`` accept a :class:`dask.array.Array` whose rows are split
into chunks; ``TSNE.transform`` of a dask array returns one. The work runs on the active
Dask client (``distributed.default_client()``; without one, on dask's local scheduler).
Dask does the scheduling, the transport and the reruns after a lost worker; acctsne
only says what to compute.

What runs where, for the graph of ``n`` rows in chunks ``X_0 .. X_m``:

* **workers**: the centring of the exact search (column sums continued chunk after chunk,
  then max |x - mean| per chunk); for each query chunk ``X_i``, a chain of steps over
  every reference chunk ``X_j`` (``_core.knn_block_step``: acctsne's C++ search, the
  chunk's k best so far folded with ``X_j``'s rows); the PCA of ``init='pca'`` (fixed
  blocks of rows, sums continued in row order); ``transform`` of each chunk.
* **client**: small vectors (means, scatter matrices), then the graph itself (``n x k``
  indices and distances), from which it computes P and runs the optimisation as a local
  fit does.

The exact graph has the same kept neighbours and distances, bit for bit, as a local
fit's (``cpp/include/acctsne/knn_blocks.h`` says why), for any chunking and any number of
workers, so the embedding is bitwise that of a local fit of the same data (on workers
with the client's SIMD level). The approximate graph (``approximate=True`` /
``neighbors='approx'``) builds one faiss HNSW index per chunk and searches every query in
each; candidates are merged by exact distance. It depends on the chunking (each chunk is
a partition), not on the number of workers.
"""

from __future__ import annotations

import time
from numbers import Integral

import numpy as np
from scipy.sparse import csr_matrix

from . import _core, _initialization
from ._initialization import (
    PCA_BLOCK_ROWS,
    PCA_COVARIANCE_MAX_FEATURES,
    pca_components,
    pca_project,
    pca_scatter,
    pca_sums,
    rescaled_pca,
    uses_blocked_pca,
)
from ._neighbors import Neighbors

__all__ = [
    "check_rows",
    "compute",
    "initial_embedding",
    "is_dask_array",
    "kneighbors_graph",
    "nearest_neighbors",
    "pca_embedding",
    "transform",
]

_EMPTY_ID = np.iinfo(np.int32).max
# Bytes of float64 differences per exact-distance batch of the approximate merge.
_APPROX_BATCH_BYTES = 64 << 20


def is_dask_array(X):
    """Whether X is a dask array (checked without importing dask)."""
    cls = type(X)
    return cls.__name__ == "Array" and cls.__module__.split(".")[0] == "dask"


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - only without the extra
        raise ImportError(
            "acctsne's Dask support needs dask and distributed: pip install 'acctsne[dask]'"
        ) from exc
    return dask, da


# ------------------------------------------------------------------ input checks
def check_rows(X, *, min_samples=2):
    """A dask array of samples checked and made ready for the graph.

    Returns X with one chunk along the features, float32 or float64 (other numeric
    dtypes become float32, as the estimator's validation makes them). Raises ValueError
    or TypeError naming what is wrong, before anything runs on the cluster.
    """
    _import_dask()
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D dask array of shape (n_samples, n_features), got ndim={X.ndim}"
        )
    if any(np.isnan(c) for chunks in X.chunks for c in chunks):
        raise ValueError(
            "The dask array has chunks of unknown size; call X.compute_chunk_sizes() "
            "(or build it with known chunks) before fitting."
        )
    if X.dtype.kind not in "biuf":
        raise TypeError(f"The dask array must hold real numbers, got dtype {X.dtype}")
    if not isinstance(X._meta, np.ndarray):
        raise TypeError(
            f"The dask array's chunks must be numpy arrays, got {type(X._meta).__name__}"
        )
    n, d = X.shape
    if n < min_samples:
        raise ValueError(
            f"Found array with {n} sample(s) (shape={X.shape}) while a minimum of "
            f"{min_samples} is required."
        )
    if d < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape})")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float32)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _starts(X):
    return np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)


# ------------------------------------------------------------------ running on a cluster
def _active_client(client):
    if client is not None:
        return client
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # no client: dask's local scheduler
        return None


def compute(*collections, client=None):
    """dask.compute on the active client, with clear errors and Ctrl-C cancelling.

    Parameters
    ----------
    *collections : dask collections
        What to compute.
    client : distributed.Client, default=None
        None: the default client, or dask's local scheduler without one.

    Returns
    -------
    results : tuple
        One result per collection.

    Raises
    ------
    KeyboardInterrupt
        After cancelling the submitted futures.
    RuntimeError
        The client is closed or its cluster went away (the message names its scheduler).
    """
    dask, _ = _import_dask()
    client = _active_client(client)
    if client is None:
        return dask.compute(*collections)
    if client.status not in ("running", "newly-created"):
        raise RuntimeError(
            f"The Dask client is {client.status!r}: its cluster is gone or the client was "
            "closed. Start a cluster and a Client, or close this client to use dask's "
            "local scheduler."
        )
    address = getattr(client.scheduler, "address", "?")
    futures = client.compute(list(collections))
    try:
        return tuple(client.gather(futures))
    except KeyboardInterrupt:
        client.cancel(futures)
        raise
    except (OSError, TimeoutError) as exc:
        client.cancel(futures)
        raise RuntimeError(
            f"The Dask cluster at {address} went away during the computation ({exc!r})."
        ) from exc
    except Exception as exc:
        if type(exc).__name__ in ("CommClosedError", "CancelledError", "FutureCancelledError"):
            raise RuntimeError(
                f"The Dask cluster at {address} went away during the computation ({exc!r})."
            ) from exc
        raise


# ------------------------------------------------------------------ the exact graph
def _column_sums(block, sums):
    out = np.zeros(block.shape[1]) if sums is None else sums.copy()
    _core.knn_column_sums(np.ascontiguousarray(block), out)
    return out


def _max_abs(block, sums, n):
    return _core.knn_max_abs_deviation(np.ascontiguousarray(block), sums / n)


def _empty_state(n_rows, k):
    return (
        np.full((n_rows, k), np.inf, dtype=np.float32),
        np.full((n_rows, k), _EMPTY_ID, dtype=np.int32),
        np.full((n_rows, k), np.inf, dtype=np.float64),
    )


def _exact_step(
    state, queries, query_start, reference, reference_start, k, sums, n, max_abs, simd_level
):
    values, ids, exact = (
        _empty_state(queries.shape[0], k) if state is None else (a.copy() for a in state)
    )
    _core.knn_block_step(
        np.ascontiguousarray(queries),
        int(query_start),
        np.ascontiguousarray(reference),
        int(reference_start),
        int(k),
        sums / n,
        float(max_abs),
        values,
        ids,
        exact,
        n_threads=1,
        simd_level=simd_level,
    )
    return values, ids, exact


def _finish(state, dtype):
    """Rows sorted by (exact distance, index): (indices int32, squared distances in
    ``dtype``: float32 for a fit, as ExactKnn gives them; float64 for a graph)."""
    _, ids, exact = state
    order = np.lexsort((ids, exact), axis=-1)
    sorted_exact = np.take_along_axis(exact, order, 1)
    return np.take_along_axis(ids, order, 1), sorted_exact.astype(dtype, copy=False)


def _exact_graph_tasks(X, k, dtype):
    dask, _ = _import_dask()
    delayed = dask.delayed
    blocks = X.to_delayed().ravel().tolist()
    starts = _starts(X)
    n = X.shape[0]
    sums = None
    for block in blocks:  # continued in row order: the sums of one pass over X
        sums = delayed(_column_sums, pure=True)(block, sums)
    max_abs = delayed(max, pure=True)(
        [delayed(_max_abs, pure=True)(block, sums, n) for block in blocks]
    )
    # The client's SIMD level on every worker: the same selection values, or a clear
    # error from a worker whose CPU lacks it.
    simd_level = _core.simd_info()["default"]
    results = []
    m = len(blocks)
    for i in range(m):
        state = None
        for step in range(m):  # the query chunk's own rows first: thresholds fall early
            j = (i + step) % m
            state = delayed(_exact_step, pure=True)(
                state, blocks[i], starts[i], blocks[j], starts[j], k, sums, n, max_abs, simd_level
            )
        results.append(delayed(_finish, pure=True)(state, dtype))
    return results


# ------------------------------------------------------------------ the approximate graph
def _check_finite(block):
    if not np.all(np.isfinite(block)):
        raise FloatingPointError("kNN: input contains non-finite values")


def _hnsw_index(block):
    """One chunk's faiss HNSW graph (built on one thread: a function of the chunk),
    serialised so that it travels between workers."""
    from . import _ann

    _check_finite(block)
    if block.shape[0] == 0:
        return None
    faiss = _ann._import_faiss()
    index = _ann._build_index(faiss, np.ascontiguousarray(block, dtype=np.float32))
    return faiss.serialize_index(index)


def _approx_step(state, queries, query_start, reference, reference_start, index_bytes, k):
    """Folds one chunk's HNSW candidates into the queries' k best by (exact, index)."""
    from . import _ann

    _check_finite(queries)
    nq = queries.shape[0]
    if index_bytes is None or nq == 0:  # an empty chunk offers nothing
        return state if state is not None else _approx_empty(nq, k)
    faiss = _ann._import_faiss()
    faiss.omp_set_num_threads(1)
    index = faiss.deserialize_index(index_bytes)
    kc = min(k + 1, reference.shape[0])
    index.hnsw.efSearch = max(int(_ann._HNSW_EF_SEARCH_FACTOR * (k + 1)), 64)
    q32 = np.ascontiguousarray(queries, dtype=np.float32)
    _, found = index.search(q32, kc)
    ids = np.where(found >= 0, found + reference_start, _EMPTY_ID).astype(np.int64)
    self_rows = np.arange(query_start, query_start + nq)[:, None]
    ids[ids == self_rows] = _EMPTY_ID
    exact = np.full(ids.shape, np.inf)
    batch = max(1, _APPROX_BATCH_BYTES // (8 * kc * queries.shape[1] + 1))
    for a in range(0, nq, batch):
        rows = slice(a, a + batch)
        valid = ids[rows] != _EMPTY_ID
        local = np.where(valid, ids[rows] - reference_start, 0)
        diff = reference[local].astype(np.float64) - queries[rows, None, :].astype(np.float64)
        exact[rows] = np.where(valid, np.einsum("qkd,qkd->qk", diff, diff), np.inf)
    if state is not None:
        ids = np.concatenate([state[0], ids], axis=1)
        exact = np.concatenate([state[1], exact], axis=1)
    order = np.lexsort((ids, exact), axis=-1)[:, :k]
    ids = np.take_along_axis(ids, order, 1)
    exact = np.take_along_axis(exact, order, 1)
    if ids.shape[1] < k:  # fewer candidates than k so far
        pad = k - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=_EMPTY_ID)
        exact = np.pad(exact, ((0, 0), (0, pad)), constant_values=np.inf)
    return ids, exact


def _approx_empty(nq, k):
    return np.full((nq, k), _EMPTY_ID, dtype=np.int64), np.full((nq, k), np.inf)


def _approx_finish(state, dtype):
    ids, exact = state
    if np.any(ids == _EMPTY_ID):
        raise RuntimeError(
            "the approximate search found fewer than n_neighbors neighbours for some "
            "samples; use the exact search"
        )
    return ids.astype(np.int32), exact.astype(dtype, copy=False)


def _approx_graph_tasks(X, k, dtype):
    dask, _ = _import_dask()
    from . import _ann

    _ann._import_faiss()  # a clear error on the client when faiss is missing
    delayed = dask.delayed
    blocks = X.to_delayed().ravel().tolist()
    starts = _starts(X)
    indexes = [delayed(_hnsw_index, pure=True)(block) for block in blocks]
    results = []
    m = len(blocks)
    for i in range(m):
        state = None
        for step in range(m):
            j = (i + step) % m
            state = delayed(_approx_step, pure=True)(
                state, blocks[i], starts[i], blocks[j], starts[j], indexes[j], k
            )
        results.append(delayed(_approx_finish, pure=True)(state, dtype))
    return results


def nearest_neighbors(X, n_neighbors, *, approximate=False, client=None, verbose=0):
    """The k nearest neighbours of every row of a dask array (itself excluded).

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Samples (checked by :func:`check_rows`).
    n_neighbors : int
        Neighbours per sample (less than n_samples).
    approximate : bool, default=False
        One HNSW index per chunk (needs faiss on the workers) instead of the exact search.
    client : distributed.Client, default=None
        The cluster; None: the default client, or dask's local scheduler without one.
    verbose : int, default=0
        Prints the search's duration as scikit-learn's TSNE does.

    Returns
    -------
    neighbors : Neighbors
        ``(indices int32, sq_distances float32, seconds)`` as a local search returns
        them (the exact search: the same bits).
    """
    indices, sq_distances, seconds = _graph_arrays(X, n_neighbors, approximate, client, np.float32)
    if verbose:
        print(f"[t-SNE] Computed neighbors for {X.shape[0]} samples in {seconds:.3f}s...")
    return Neighbors(indices, sq_distances, seconds)


def _graph_arrays(X, n_neighbors, approximate, client, dtype):
    """(indices int32, squared distances of ``dtype``, seconds), each array n x k; the
    workers send ``n x k x (4 + itemsize)`` bytes, the only data that reaches the client."""
    X = check_rows(X)
    n = X.shape[0]
    if not isinstance(n_neighbors, Integral) or isinstance(n_neighbors, bool):
        raise TypeError(f"n_neighbors must be an integer, got {n_neighbors!r}")
    k = int(n_neighbors)
    if not 1 <= k < n:
        raise ValueError(f"n_neighbors must be in [1, n_samples - 1] = [1, {n - 1}], got {k}")
    tasks = (_approx_graph_tasks if approximate else _exact_graph_tasks)(X, k, dtype)
    t0 = time.time()
    parts = compute(*tasks, client=client)
    seconds = time.time() - t0
    indices = np.concatenate([p[0] for p in parts]).astype(np.int32, copy=False)
    sq_distances = np.concatenate([p[1] for p in parts])
    return indices, sq_distances, seconds


def kneighbors_graph(X, n_neighbors=5, *, approximate=False, client=None):
    """The kNN distance graph of a dask array, computed on the cluster.

    The format of scikit-learn's :class:`~sklearn.neighbors.KNeighborsTransformer`
    (``mode='distance'``) fitted and applied on X: a CSR matrix of shape (n_samples,
    n_samples) with ``n_neighbors + 1`` stored entries per row, the sample itself (an
    explicit 0) first, then its ``n_neighbors`` nearest other samples by increasing
    euclidean distance (ties by index). It can be given to
    ``TSNE(metric='precomputed')``, to :class:`~sklearn.cluster.DBSCAN` or to anything
    else that takes such a graph.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Samples, rows in chunks of any sizes.
    n_neighbors : int, default=5
        Neighbours per sample, itself excluded (less than n_samples).
    approximate : bool, default=False
        False: exact (acctsne's C++ search on each pair of chunks; the same neighbours
        and distances as a local search). True: one faiss HNSW index per chunk (needs
        faiss-cpu on the workers, the ``[ann]`` extra), every query searched in each,
        candidates ranked by exact distance.
    client : distributed.Client, default=None
        The cluster to run on; None: the default client (dask's local scheduler if
        there is none).

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples), float64
        Euclidean distances (not squared).

    Raises
    ------
    ValueError
        A dask array that is not 2-D, of unknown chunk sizes, with fewer than 2 rows, or
        an ``n_neighbors`` outside [1, n_samples - 1].
    TypeError
        X is not a dask array, or holds no real numbers.
    RuntimeError
        The cluster went away during the computation.
    """
    if not is_dask_array(X):
        raise TypeError(
            f"kneighbors_graph takes a dask.array.Array, got {type(X).__name__}; for "
            "in-memory data use sklearn.neighbors.KNeighborsTransformer"
        )
    indices, sq64, _ = _graph_arrays(X, n_neighbors, approximate, client, np.float64)
    n, k = indices.shape
    columns = np.concatenate([np.arange(n, dtype=np.int64)[:, None], indices], axis=1)
    data = np.concatenate([np.zeros((n, 1)), np.sqrt(sq64)], axis=1)
    indptr = np.arange(0, n * (k + 1) + 1, k + 1, dtype=np.int64)
    return csr_matrix((data.ravel(), columns.ravel(), indptr), shape=(n, n))


# ------------------------------------------------------------------ PCA initialisation
def _aligned(X):
    """X rechunked so that every chunk boundary is a multiple of PCA_BLOCK_ROWS (the
    boundaries nearest to the given ones: dask moves only the rows between them)."""
    n = X.shape[0]
    bounds = {0, n}
    for start in _starts(X)[1:-1]:
        nearest = (int(start) + PCA_BLOCK_ROWS // 2) // PCA_BLOCK_ROWS * PCA_BLOCK_ROWS
        bounds.add(min(n, nearest))
    bounds = sorted(bounds)
    chunks = tuple(b - a for a, b in zip(bounds[:-1], bounds[1:]) if b > a)
    return X if chunks == X.chunks[0] else X.rechunk({0: chunks})


def check_pca_input(shape, n_components):
    """ValueError, before any work, when init='pca' cannot run on a dask array."""
    n, d = shape
    if d > PCA_COVARIANCE_MAX_FEATURES or n_components > min(n, d):
        raise ValueError(
            f"init='pca' on a dask array needs at most {PCA_COVARIANCE_MAX_FEATURES} "
            f"features and n_components <= min(n_samples, n_features), got shape "
            f"{shape} and n_components={n_components}; reduce the features first (e.g. "
            "dask-ml's PCA) or pass init='random' or an array."
        )


def pca_embedding(X, n_components, client=None):
    """The principal-component coordinates that a local ``init='pca'`` computes.

    The blocked PCA of :mod:`acctsne._initialization` with its blocks on the workers:
    the same bits as a local fit (for data that fit runs it on; ``TSNE`` brings other
    data, fewer than 10 samples per feature, to the client for scikit-learn's PCA).

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Checked samples (:func:`check_rows`), at most 1000 features.
    n_components : int
        Number of components.
    client : distributed.Client, default=None
        The cluster (None: the default client).

    Returns
    -------
    coordinates : ndarray of float32, shape (n_samples, n_components)
        Not yet rescaled (see ``_initialization.rescaled_pca``).
    """
    dask, _ = _import_dask()
    delayed = dask.delayed
    n = X.shape[0]
    check_pca_input(X.shape, n_components)
    if not uses_blocked_pca(X, n_components):
        raise ValueError(
            f"the blocked PCA needs at least 10 samples per feature, got shape {X.shape}"
        )
    X = _aligned(X)
    blocks = X.to_delayed().ravel().tolist()
    sums = None
    for block in blocks:
        sums = delayed(pca_sums, pure=True)(block, sums)
    (sums,) = compute(sums, client=client)
    mean = sums / n
    scatter = None
    for block in blocks:
        scatter = delayed(_pca_scatter_continued, pure=True)(block, mean, scatter)
    (scatter,) = compute(scatter, client=client)
    components = pca_components(scatter, n_components)
    projected = X.map_blocks(
        pca_project,
        mean,
        components,
        dtype=np.float32,
        chunks=(X.chunks[0], (n_components,)),
        meta=np.empty((0, 0), dtype=np.float32),
    )
    (out,) = compute(projected, client=client)
    return out


def initial_embedding(init, X, n_samples, n_components, random_state):
    """A local fit's initial embedding (``_initialization.initial_embedding``) of a dask
    array: ``init='pca'`` by the blocked PCA on the workers, or, for data with fewer than
    10 samples per feature (small), by scikit-learn's PCA of the rows brought to the
    client, as a local fit does; 'random' and an array do not read X."""
    if not (isinstance(init, str) and init == "pca"):
        return _initialization.initial_embedding(init, None, n_samples, n_components, random_state)
    if uses_blocked_pca(X, n_components):
        return rescaled_pca(pca_embedding(X, n_components), n_samples, n_components, random_state)
    (X_local,) = compute(X)
    return _initialization.initial_embedding(init, X_local, n_samples, n_components, random_state)


def _pca_scatter_continued(block, mean, scatter):
    return pca_scatter(block, mean, None if scatter is None else scatter.copy())


# ------------------------------------------------------------------ transform
def _transform_block(block, model, params):
    return model.transform(block, **params).astype(np.float32, copy=False)


def _worker_model(shell, training_data):
    """The fitted model as the workers use it: the client's shell plus the training
    data (assembled on a worker when the model was fitted on a dask array)."""
    shell._training_data = np.asarray(training_data)
    return shell


def transform(model, X, params):
    """``model.transform`` of each chunk of a dask array, on the workers (lazy).

    The model is one task of the graph, so it travels to each worker once; a model
    fitted on a dask array assembles its training data on a worker, not on the client.

    Parameters
    ----------
    model : TSNE
        A fitted model that kept its training data (dense, a feature metric).
    X : dask.array.Array of shape (n_new_samples, n_features)
        New samples.
    params : dict
        ``TSNE.transform``'s validated keyword arguments (``init`` 'median' or
        'weighted').

    Returns
    -------
    X_new : dask.array.Array of float32, shape (n_new_samples, n_components)
        Chunked as X's rows; each chunk bitwise a local ``transform`` of it.
    """
    from scipy.sparse import issparse

    dask, _ = _import_dask()
    if model.metric == "precomputed" or issparse(model._training_data):
        raise ValueError(
            "transform of a dask array needs a model fitted on dense samples with a "
            f"feature metric (this one: metric={model.metric!r}"
            + (", sparse training data" if issparse(model._training_data) else "")
            + "); transform a numpy array or scipy matrix instead."
        )
    X = check_rows(X, min_samples=0)
    if X.shape[1] != model.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but TSNE is expecting {model.n_features_in_} "
            "features as input."
        )
    if isinstance(params.get("init"), np.ndarray):
        raise ValueError(
            "transform of a dask array takes init='median' or 'weighted', not an array"
        )
    # What a worker needs: the embedding and the settings, one thread per task (dask
    # runs the tasks in parallel), nothing printed; P stays on the client (transform
    # only checks that the model kept it).
    # Not copy.copy: that pickles the model's state, which would bring a dask-fitted
    # model's training rows to the client.
    shell = object.__new__(type(model))
    vars(shell).update(
        {
            key: value
            for key, value in vars(model).items()
            if key not in ("_field", "_training_data")
        }
    )
    shell.affinities_ = None
    shell.n_jobs = 1
    shell.verbose = 0
    shell.callbacks = None
    shell.progress_bar = False
    worker_model = dask.delayed(_worker_model, pure=True)(shell, model._training_data)
    return X.map_blocks(
        _transform_block,
        worker_model,
        params,
        dtype=np.float32,
        chunks=(X.chunks[0], (model.embedding_.shape[1],)),
        meta=np.empty((0, 0), dtype=np.float32),
    )
