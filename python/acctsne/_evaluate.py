"""Embedding quality, computed the same way for every library (numpy only).

``kl_divergence_exact`` evaluates KL(P || Q) with Q over *all* pairs, so it judges an
embedding independently of how (or whether) the library that made it approximated Q.
``kl_divergence_sampled`` is the same KL with only Q's normaliser estimated from a sample
of rows (for a million points, where all pairs take hours in numpy).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from scipy.sparse import csr_array, issparse

__all__ = [
    "SampledKL",
    "kl_divergence_exact",
    "kl_divergence_sampled",
    "neighborhood_preservation",
]


def _student_t_block(Y, sq, rows, dof, out):
    """The kernel of the given rows against all points, into ``out[:len(rows)]``.

    (1 + |y_i - y_j|^2 / dof)^(-(dof + 1) / 2), in place (a few cache-sized passes), with
    each row's own entry set to 0; dof = 1, the t-SNE default, takes a reciprocal instead
    of a power. Returns the filled view.
    """
    w = out[: len(rows)]
    np.matmul(Y[rows], Y.T, out=w)
    w *= -2.0
    w += sq[rows, None]
    w += sq[None, :]
    np.maximum(w, 0.0, out=w)
    if dof != 1:
        w /= dof
    w += 1.0
    if dof == 1:
        np.reciprocal(w, out=w)
    else:
        np.power(w, -(dof + 1.0) / 2.0, out=w)
    w[np.arange(len(rows)), rows] = 0.0
    return w


def _student_t_row_sums(Y, rows, dof, chunk, n_threads=None):
    """sum_{j != i} (1 + |y_i - y_j|^2 / dof)^(-(dof + 1) / 2) for each i in ``rows``.

    ``chunk`` rows at a time against all points, blocks spread over threads (numpy
    releases the GIL). Returns float64 (len(rows),).
    """
    Y = np.asarray(Y, dtype=np.float64)
    n = Y.shape[0]
    rows = np.asarray(rows, dtype=np.intp)
    sq = np.einsum("ij,ij->i", Y, Y)
    out = np.empty(len(rows))
    buffers = threading.local()

    def block(start):
        if not hasattr(buffers, "w"):
            buffers.w = np.empty((chunk, n))
        r = rows[start : start + chunk]
        out[start : start + len(r)] = _student_t_block(Y, sq, r, dof, buffers.w).sum(axis=1)

    workers = n_threads or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(block, range(0, len(rows), chunk)))
    return out


def _student_t_normaliser(Y, dof, chunk, n_threads=None):
    """Z = sum_{i != j} (1 + |y_i - y_j|^2 / dof)^(-(dof + 1) / 2), chunked over rows.

    ``chunk`` rows at a time against all points (:func:`_student_t_block`), blocks spread
    over threads (numpy releases the GIL) and their sums added in block order.
    """
    Y = np.asarray(Y, dtype=np.float64)
    n = Y.shape[0]
    sq = np.einsum("ij,ij->i", Y, Y)
    starts = range(0, n, chunk)
    buffers = threading.local()

    def block_sum(start):
        if not hasattr(buffers, "w"):
            buffers.w = np.empty((chunk, n))
        rows = np.arange(start, min(start + chunk, n))
        return _student_t_block(Y, sq, rows, dof, buffers.w).sum()

    workers = n_threads or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return float(sum(pool.map(block_sum, starts)))


def _default_chunk(n):
    """Rows per block of about 4 million pairs."""
    return max(1, min(n, (1 << 22) // max(n, 1)))


def _p_terms(P, Y, dof, block_nnz=1 << 22):
    """(sum p log p - sum p log w, sum p) over P's non-zeros, in blocks of CSR rows.

    Blocks of about ``block_nnz`` stored entries, so a P of a million points (~10^8
    entries) never materialises its pairwise differences at once.
    """
    P = csr_array(P) if issparse(P) else csr_array(np.asarray(P))
    indptr, indices, data = P.indptr, P.indices, P.data
    n = P.shape[0]
    total, mass, start = 0.0, 0.0, 0
    while start < n:
        stop = int(np.searchsorted(indptr, indptr[start] + block_nnz, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        lo, hi = indptr[start], indptr[stop]
        p = data[lo:hi].astype(np.float64)
        cols = indices[lo:hi]
        rows = np.repeat(np.arange(start, stop), np.diff(indptr[start : stop + 1]))
        keep = p > 0
        p, rows, cols = p[keep], rows[keep], cols[keep]
        d2 = np.sum((Y[rows] - Y[cols]) ** 2, axis=1)
        log_w = -(dof + 1.0) / 2.0 * np.log1p(d2 / dof)
        total += float(np.sum(p * (np.log(p) - log_w)))
        mass += float(np.sum(p))
        start = stop
    return total, mass


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
        chunk = _default_chunk(Y.shape[0])
    z = _student_t_normaliser(Y, dof, chunk)
    return float(np.sum(p * (np.log(p) - log_w)) + np.log(z) * np.sum(p))


class SampledKL(NamedTuple):
    """:func:`kl_divergence_sampled`'s result: unpacks as ``kl, standard_error, ...``."""

    kl: float
    """The estimate of KL(P || Q)."""
    standard_error: float
    """Its standard error (from the spread of the sampled row sums; 0 with every row)."""
    normaliser: float
    """The estimate of Z = sum_{i != j} w_ij."""
    sample: int
    """Number of rows whose sums estimated Z."""


def kl_divergence_sampled(
    P, Y, *, sample=10_000, random_state=0, degrees_of_freedom=None, chunk=None, n_threads=None
):
    """KL(P || Q) of an embedding with Q's normaliser estimated from a sample of rows.

    KL = sum_ij p_ij log p_ij - sum_ij p_ij log w_ij + log(Z) sum_ij p_ij, with w_ij the
    Student-t kernel and Z = sum_{i != j} w_ij. The first two sums are exact over P's
    non-zeros; only Z, the O(n^2) part, is estimated: Z ~ n / m * (sum of the full row
    sums r_i = sum_{j != i} w_ij of m rows drawn uniformly without replacement). Its
    standard error is n * sqrt((1 - m / n) * var(r) / m) (sample variance of the row
    sums, finite-population correction), and that of the KL, by the delta method,
    SE(Z) / Z * sum_ij p_ij. With ``sample >= n`` every row is summed: Z is exact, the
    result equals :func:`kl_divergence_exact` up to rounding and the error is 0.

    Cost: m * n kernel evaluations (a million points, 10,000 rows: 10^10, about 100 s
    with numpy on two cores) plus one pass over P.

    Parameters
    ----------
    P : sparse matrix or ndarray of shape (n_samples, n_samples)
        Joint probabilities (symmetric, summing to 1), e.g. the Barnes-Hut P.
    Y : ndarray of shape (n_samples, n_components)
        The embedding to evaluate.
    sample : int, default=10_000
        Rows whose sums estimate Z (all rows when >= n_samples).
    random_state : int, default=0
        Seed of the row choice, ``np.random.default_rng(random_state).choice(n_samples,
        sample, replace=False)``: the same rows for every embedding of n_samples points.
    degrees_of_freedom : float, default=None
        Student-t degrees of freedom; ``max(n_components - 1, 1)`` when None (sklearn's
        choice, as :func:`kl_divergence_exact`).
    chunk : int, default=None
        Rows per block of the row sums (memory ~ chunk * n_samples doubles); None picks
        blocks of about 4 million pairs.
    n_threads : int, default=None
        Threads of the row sums; None: every core.

    Returns
    -------
    result : SampledKL
        ``(kl, standard_error, normaliser, sample)``.
    """
    Y = np.asarray(Y, dtype=np.float64)
    n = Y.shape[0]
    dof = max(Y.shape[1] - 1, 1) if degrees_of_freedom is None else degrees_of_freedom
    if sample >= n:
        rows = np.arange(n)
    else:
        rows = np.sort(np.random.default_rng(random_state).choice(n, sample, replace=False))
    m = len(rows)
    if chunk is None:
        chunk = _default_chunk(n)
    row_sums = _student_t_row_sums(Y, rows, dof, chunk, n_threads)
    z = n / m * float(np.sum(row_sums))
    if m < n and m > 1:
        z_se = n * float(np.sqrt((1.0 - m / n) * np.var(row_sums, ddof=1) / m))
    else:
        z_se = 0.0
    terms, mass = _p_terms(P, Y, dof)
    return SampledKL(float(terms + np.log(z) * mass), z_se / z * mass, z, m)


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
