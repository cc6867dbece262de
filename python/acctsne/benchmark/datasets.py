"""Benchmark datasets, named by spec strings.

    digits                    sklearn's digits (ships with scikit-learn), 1797 x 64
    blobs:N:D                 seeded Gaussian mixture, 10 centres, N points in D dims
    mnist[:N][:pca50]         $ACCTSNE_DATA_DIR/mnist_70k.npz (bench/ in a source checkout
                              defaults it to ../shared/data), a seeded subsample of N
                              rows (all when omitted), raw 784-d or PCA to 50
    path/to/file.npz[:N][:pca50]   any .npz with X (and optionally y)

Raw pixel data is converted to float32 and not rescaled; PCA-50 uses sklearn's PCA
(random_state=0) on the float32 data. Every conversion is recorded in the spec string.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _blobs(n, d, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=8.0, size=(10, d))
    y = rng.integers(0, 10, size=n)
    X = centres[y] + rng.normal(size=(n, d))
    return X.astype(np.float32), y


def _npz(path, options):
    data = np.load(path)
    X = data["X"]
    y = data["y"] if "y" in data.files else None
    n = next((int(o) for o in options if o.isdigit()), None)
    if n is not None:
        # A seeded subsample (MNIST's file order is by train/test split, not by label).
        idx = np.sort(np.random.default_rng(0).permutation(X.shape[0])[:n])
        X, y = X[idx], (y[idx] if y is not None else None)
    X = X.astype(np.float32)
    if "pca50" in options:
        from sklearn.decomposition import PCA

        X = PCA(n_components=50, random_state=0).fit_transform(X).astype(np.float32)
    return X, y


def load(spec):
    """Returns (X float32, y or None) for a dataset spec string."""
    parts = spec.split(":")
    name, options = parts[0], parts[1:]
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return X.astype(np.float32), y
    if name == "blobs":
        return _blobs(int(options[0]), int(options[1]))
    if name == "mnist":
        data_dir = os.environ.get("ACCTSNE_DATA_DIR")
        if not data_dir:
            raise FileNotFoundError(
                "the 'mnist' dataset is read from $ACCTSNE_DATA_DIR/mnist_70k.npz; set "
                "ACCTSNE_DATA_DIR (or give the .npz path as the dataset)"
            )
        path = Path(data_dir) / "mnist_70k.npz"
        if not path.exists():
            raise FileNotFoundError(f"{path} not found; check ACCTSNE_DATA_DIR")
        return _npz(path, options)
    if name.endswith(".npz"):
        return _npz(Path(name), options)
    raise ValueError(f"unknown dataset spec {spec!r}")
