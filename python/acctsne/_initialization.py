"""The initial embedding of a fit, as scikit-learn's TSNE makes it.

``init='pca'`` where scikit-learn's :class:`~sklearn.decomposition.PCA` takes its
``covariance_eigh`` solver (dense data, at most :data:`PCA_COVARIANCE_MAX_FEATURES`
features and at least 10 samples per feature) is computed here: the same components
and sign convention, but in float64 over fixed blocks of :data:`PCA_BLOCK_ROWS` rows,
added in row order, with BLAS and LAPACK on one thread. Its bits then depend on the
data alone, not on the thread count or on how the rows are split across machines:
``acctsne.dask`` computes the same blocks on its workers and gets the same embedding.
Everything else runs scikit-learn's PCA as before.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.sparse import issparse
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

__all__ = [
    "PCA_BLOCK_ROWS",
    "PCA_COVARIANCE_MAX_FEATURES",
    "initial_embedding",
    "pca_components",
    "pca_project",
    "pca_scatter",
    "pca_sums",
    "uses_blocked_pca",
]

# Rows per block of the blocked PCA (its sums' association); a split of the rows across
# machines must fall on multiples of it.
PCA_BLOCK_ROWS = 16384
# scikit-learn's PCA(svd_solver='auto') picks the covariance solver for dense data of
# at most 1000 features and at least 10 samples per feature; so does acctsne.
PCA_COVARIANCE_MAX_FEATURES = 1000


def uses_blocked_pca(X, n_components):
    """Whether init='pca' of X runs the blocked covariance PCA of this module."""
    n, d = X.shape
    return (
        not issparse(X)
        and d <= PCA_COVARIANCE_MAX_FEATURES
        and n >= 10 * d
        and n_components <= min(n, d)
    )


def pca_sums(X, sums=None):
    """Continues float64 column sums over X's rows, block after block (in place)."""
    if sums is None:
        sums = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], PCA_BLOCK_ROWS):
        # C order whatever X's: the sum's association depends on the memory layout.
        block = np.ascontiguousarray(X[start : start + PCA_BLOCK_ROWS], dtype=np.float64)
        sums += block.sum(axis=0)
    return sums


def pca_scatter(X, mean, scatter=None):
    """Continues the scatter matrix sum (x - mean)(x - mean)^T, block after block."""
    if scatter is None:
        scatter = np.zeros((X.shape[1], X.shape[1]))
    with threadpool_limits(1, user_api="blas"):
        for start in range(0, X.shape[0], PCA_BLOCK_ROWS):
            rows = X[start : start + PCA_BLOCK_ROWS]
            centred = np.ascontiguousarray(rows, dtype=np.float64) - mean
            scatter += centred.T @ centred
    return scatter


def pca_components(scatter, n_components):
    """The leading eigenvectors (rows, largest first), each with its largest-magnitude
    entry positive (scikit-learn's ``svd_flip`` convention for components)."""
    with threadpool_limits(1):
        _, vectors = np.linalg.eigh(scatter)
    components = vectors[:, ::-1][:, :n_components].T.copy()
    signs = np.sign(components[np.arange(n_components), np.argmax(np.abs(components), axis=1)])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


def pca_project(X, mean, components):
    """(x - mean) . components for X's rows, block by block, as float32."""
    out = np.empty((X.shape[0], components.shape[0]), dtype=np.float32)
    with threadpool_limits(1, user_api="blas"):
        for start in range(0, X.shape[0], PCA_BLOCK_ROWS):
            rows = X[start : start + PCA_BLOCK_ROWS]
            block = np.ascontiguousarray(rows, dtype=np.float64) - mean
            out[start : start + len(block)] = block @ components.T
    return out


def rescaled_pca(X_embedded, n_samples, n_components, random_state):
    """PC1 rescaled to standard deviation 1e-4 (sklearn issue #18018); constant data
    (no principal direction) starts at random, as init='random'."""
    std = np.std(X_embedded[:, 0], dtype=np.float64)
    if np.isfinite(std) and std > 0 and np.all(np.isfinite(X_embedded)):
        return X_embedded / std * 1e-4
    return random_embedding(n_samples, n_components, random_state)


def random_embedding(n_samples, n_components, random_state):
    """init='random': iid Gaussians with standard deviation 1e-4."""
    return 1e-4 * random_state.standard_normal(size=(n_samples, n_components)).astype(np.float32)


def initial_embedding(init, X, n_samples, n_components, random_state):
    """The starting point of the optimisation.

    Parameters
    ----------
    init : {"pca", "random"} or ndarray of shape (n_samples, n_components)
        The estimator's ``init``. "pca": the first ``n_components`` principal components
        of X, rescaled so that the first has standard deviation 1e-4 (constant X, which
        has no principal direction, falls back to "random"). "random": iid Gaussians of
        standard deviation 1e-4. An ndarray is checked and returned as is.
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The validated input (used by "pca" only).
    n_samples : int
        Number of samples.
    n_components : int
        Dimension of the embedding.
    random_state : numpy.random.RandomState
        Seeds the PCA solver and the random draw.

    Returns
    -------
    embedding : ndarray of shape (n_samples, n_components)
        float32 for "pca" and "random"; an ndarray ``init`` unchanged.

    Raises
    ------
    ValueError
        An ndarray ``init`` of the wrong shape, or with NaN or infinity.
    TypeError
        An ndarray ``init`` that is not real-valued.
    """
    if isinstance(init, np.ndarray):
        if init.shape != (n_samples, n_components):
            raise ValueError(
                f"init array must have shape (n_samples, n_components) = "
                f"({n_samples}, {n_components}), got {init.shape}."
            )
        if not np.issubdtype(init.dtype, np.number) or np.iscomplexobj(init):
            raise TypeError(f"init array must be real-valued, got dtype {init.dtype}.")
        if not np.all(np.isfinite(init)):
            raise ValueError("init array contains NaN or infinity.")
        return init
    if init == "pca":
        if uses_blocked_pca(X, n_components):
            mean = pca_sums(X) / n_samples
            components = pca_components(pca_scatter(X, mean), n_components)
            X_embedded = pca_project(X, mean, components)
        else:
            pca = PCA(n_components=n_components, random_state=random_state)
            # Always output a numpy array, no matter what is configured globally
            pca.set_output(transform="default")
            with warnings.catch_warnings():
                # Constant data has no principal direction (handled just below).
                warnings.simplefilter("ignore", RuntimeWarning)
                X_embedded = pca.fit_transform(X).astype(np.float32, copy=False)
        return rescaled_pca(X_embedded, n_samples, n_components, random_state)
    return random_embedding(n_samples, n_components, random_state)
