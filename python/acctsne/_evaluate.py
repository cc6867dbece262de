"""Embedding quality, computed the same way for every library (numpy only).

``kl_divergence_exact`` evaluates KL(P || Q) with Q over *all* pairs, so it judges an
embedding independently of how (or whether) the library that made it approximated Q.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.sparse import csr_array, issparse

__all__ = ["kl_divergence_exact", "neighborhood_preservation"]


def _student_t_normaliser(Y, dof, chunk, n_threads=None):
    """Z = sum_{i != j} (1 + |y_i - y_j|^2 / dof)^(-(dof + 1) / 2), chunked over rows.

    ``chunk`` rows at a time against all points, in place (a few cache-sized passes per
    block), blocks spread over threads (numpy releases the GIL) and their sums added in
    block order; dof = 1, the t-SNE default, takes a reciprocal instead of a power.
    """
    Y = np.asarray(Y, dtype=np.float64)
    n = Y.shape[0]
    sq = np.einsum("ij,ij->i", Y, Y)
    starts = range(0, n, chunk)
    buffers = threading.local()

    def block_sum(start):
        if not hasattr(buffers, "w"):
            buffers.w = np.empty((chunk, n))
        block = Y[start : start + chunk]
        rows = block.shape[0]
        w = buffers.w[:rows]
        np.matmul(block, Y.T, out=w)
        w *= -2.0
        w += sq[start : start + rows, None]
        w += sq[None, :]
        np.maximum(w, 0.0, out=w)
        if dof != 1:
            w /= dof
        w += 1.0
        if dof == 1:
            np.reciprocal(w, out=w)
        else:
            np.power(w, -(dof + 1.0) / 2.0, out=w)
        w[np.arange(rows), start + np.arange(rows)] = 0.0
        return w.sum()

    workers = n_threads or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return float(sum(pool.map(block_sum, starts)))


def kl_divergence_exact(P, Y, *, degrees_of_freedom=None, chunk=None):
    """Exact KL(P || Q) of an embedding, with Q over all pairs of points.

    Parameters
    ----------
    P : sparse matrix or ndarray of shape (n_samples, n_samples)
        Joint probabilities (symmetric, summing to 1), e.g. the Barnes-Hut P.
    Y : ndarray of shape (n_samples, n_components)
        The embedding to evaluate.
    degrees_of_freedom : float, default=None
        Student-t degrees of freedom; ``max(n_components - 1, 1)`` when None (sklearn's
        choice).
    chunk : int, default=None
        Rows per block when summing the normalisation (memory ~ chunk * n_samples
        doubles); None picks blocks of about 4 million pairs.

    Returns
    -------
    kl : float
        ``sum_ij p_ij log(p_ij / q_ij)`` over the non-zero p_ij.
    """
    Y = np.asarray(Y, dtype=np.float64)
    dof = max(Y.shape[1] - 1, 1) if degrees_of_freedom is None else degrees_of_freedom
    P = csr_array(P) if issparse(P) else csr_array(np.asarray(P))
    P = P.tocoo()
    mask = P.data > 0
    rows, cols, p = P.row[mask], P.col[mask], P.data[mask].astype(np.float64)
    d2 = np.sum((Y[rows] - Y[cols]) ** 2, axis=1)
    log_w = -(dof + 1.0) / 2.0 * np.log1p(d2 / dof)
    if chunk is None:
        chunk = max(1, min(Y.shape[0], (1 << 22) // max(Y.shape[0], 1)))
    z = _student_t_normaliser(Y, dof, chunk)
    return float(np.sum(p * (np.log(p) - log_w)) + np.log(z) * np.sum(p))


def neighborhood_preservation(X, Y, *, n_neighbors=10, sample=None, random_state=0):
    """Mean fraction of each point's k nearest input neighbours kept in the embedding.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_components)
    n_neighbors : int, default=10
    sample : int, default=None
        Evaluate on this many random query points (all when None).
    random_state : int, default=0

    Returns
    -------
    score : float in [0, 1]
    """
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n = X.shape[0]
    if sample is not None and sample < n:
        queries = np.random.default_rng(random_state).choice(n, sample, replace=False)
    else:
        queries = np.arange(n)
    k = n_neighbors + 1  # the query itself comes back first
    nx = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X[queries], return_distance=False)
    ny = NearestNeighbors(n_neighbors=k).fit(Y).kneighbors(Y[queries], return_distance=False)
    hits = [len(set(a[a != q]) & set(b[b != q])) for q, a, b in zip(queries, nx, ny)]
    return float(np.mean(hits) / n_neighbors)


def new_point_neighborhood_preservation(X_train, X_new, Y_train, Y_new, *, n_neighbors=10):
    """Mean fraction of each new point's k nearest training points (input space) that are
    among its k nearest training points in the embedding (the quality of a transform).

    Parameters
    ----------
    X_train : ndarray of shape (n_train, n_features)
    X_new : ndarray of shape (n_new, n_features)
    Y_train : ndarray of shape (n_train, n_components)
        The training embedding.
    Y_new : ndarray of shape (n_new, n_components)
        The new points' positions in it.
    n_neighbors : int, default=10

    Returns
    -------
    score : float in [0, 1]
    """
    from sklearn.neighbors import NearestNeighbors

    def neighbours(train, new):
        train = np.asarray(train, dtype=np.float64)
        knn = NearestNeighbors(n_neighbors=n_neighbors).fit(train)
        return knn.kneighbors(np.asarray(new, dtype=np.float64), return_distance=False)

    nx = neighbours(X_train, X_new)
    ny = neighbours(Y_train, Y_new)
    hits = [len(set(a) & set(b)) for a, b in zip(nx, ny)]
    return float(np.mean(hits) / n_neighbors)
