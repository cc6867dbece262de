"""Numeric and memory limits of a fit: extreme inputs rescaled into float32's range, and
method='exact' refused up front when its dense matrices cannot fit in memory."""

from __future__ import annotations

import os

import numpy as np
from scipy.sparse import issparse

# Spread of the values (or distances) kept inside [2^-kRange, 2^kRange]: squared
# distances then stay far inside float32's range (about 2^-126 .. 2^128).
_SCALE_EXPONENT_LIMIT = 40


def fit_float32_range(X, *, kind):
    """(X / 2^e, sigma scale): e chosen so that squared distances from X fit float32.

    kind is "data" (rows of features; the spread is the largest range of a column),
    "distances" or "squared_distances" (a distance matrix; the spread is
    its largest entry). Ordinary inputs (spread within 2^+-40) are returned unchanged, so
    results stay identical to scikit-learn's; only inputs whose squared distances would
    overflow or underflow float32 are scaled. Scaling by a power of two is exact, P does
    not depend on the distance scale, and the returned factor converts the search's sigma
    back to the input's units (for verbose output).
    """
    data = X.data if issparse(X) else X
    if data.size == 0 or not np.issubdtype(data.dtype, np.floating):
        return X, 1.0
    if kind != "data" or issparse(X):
        spread = float(np.max(np.abs(data)))
    else:
        # max - min per column: np.ptp's values, and lazy for a dask array.
        spread = np.max(X.max(axis=0) - X.min(axis=0))
        if hasattr(X, "dask"):
            from .dask import compute

            (spread,) = compute(spread)
        spread = float(spread)
    if not np.isfinite(spread) or spread == 0.0:
        return X, 1.0
    exponent = int(np.floor(np.log2(spread)))
    if abs(exponent) <= _SCALE_EXPONENT_LIMIT:
        return X, 1.0
    factor = np.ldexp(1.0, exponent)
    if issparse(X):
        X = X.astype(np.float64, copy=True)
        X.data /= factor
    else:
        # A dask array (acctsne.dask) is scaled block by block, on its workers.
        X = (X if hasattr(X, "dask") else np.asarray(X)).astype(np.float64) / factor
    return X, float(np.sqrt(factor)) if kind == "squared_distances" else factor


# Bytes per entry of method='exact''s dense n x n matrices held at once: the float64
# distances, their float32 copy and the float64 P.
_EXACT_BYTES_PER_PAIR = 8 + 4 + 8


def _physical_memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: no up-front check
        return None


def check_exact_fits_in_memory(n_samples):
    """MemoryError up front (not an OOM kill later) when the dense matrices cannot fit."""
    needed = _EXACT_BYTES_PER_PAIR * float(n_samples) ** 2
    total = _physical_memory_bytes()
    if total is not None and needed > total:
        raise MemoryError(
            f"method='exact' with {n_samples} samples needs about {needed / 2**30:.1f} GiB "
            f"for its dense {n_samples} x {n_samples} matrices, more than this machine's "
            f"{total / 2**30:.1f} GiB of memory; use method='barnes_hut' or method='fft'."
        )
