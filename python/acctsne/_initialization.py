"""The initial embedding of a fit, exactly as scikit-learn's TSNE makes it."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA

__all__ = ["initial_embedding"]


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
        pca = PCA(n_components=n_components, random_state=random_state)
        # Always output a numpy array, no matter what is configured globally
        pca.set_output(transform="default")
        with warnings.catch_warnings():
            # Constant data has no principal direction (handled just below).
            warnings.simplefilter("ignore", RuntimeWarning)
            X_embedded = pca.fit_transform(X).astype(np.float32, copy=False)
        std = np.std(X_embedded[:, 0], dtype=np.float64)
        if np.isfinite(std) and std > 0 and np.all(np.isfinite(X_embedded)):
            # PC1 rescaled to standard deviation 1e-4 (sklearn issue #18018).
            return X_embedded / std * 1e-4
        # All rows identical: sklearn would divide by zero here; start at random.
    # 'random': iid Gaussians with standard deviation 1e-4.
    return 1e-4 * random_state.standard_normal(size=(n_samples, n_components)).astype(np.float32)
