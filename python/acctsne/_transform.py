"""Embedding new points into a fitted map (``TSNE.transform``).

The stages, each of which treats every new point on its own (so a row of the result
depends only on that row of the input, never on the batch it came in, nor on n_jobs):

1. the point's nearest training points, with the fit's metric
   (:func:`acctsne._neighbors.query_neighbors`);
2. its conditional probabilities p_{j|i} over them, from a perplexity (one or several:
   multiscale) by the fit's binary search;
3. a starting position: the median (or P-weighted mean) of its neighbours' positions;
4. gradient descent in the field of the fixed reference embedding
   (``_core.ReferenceField``, prepared once per model and cached) by
   ``_core.embed_new_points``: attraction to its neighbours, repulsion by every
   reference point, no interaction between new points (cpp/include/acctsne/transform.h).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from time import time

import numpy as np
from scipy.sparse import csr_matrix

from . import _core, _fft
from ._affinities import check_perplexity
from ._config import thread_count
from ._model import max_perplexity
from ._neighbors import query_neighbors
from ._progress import make_bar

__all__ = [
    "TransformSettings",
    "conditional_rows",
    "initial_positions",
    "make_field",
    "run",
    "transform_new_points",
]


@dataclass(frozen=True)
class TransformSettings:
    """The parameters of one ``transform`` call (see :meth:`acctsne.TSNE.transform`)."""

    perplexity: object
    max_iter: int
    learning_rate: float
    exaggeration: float
    early_exaggeration: float
    early_exaggeration_iter: int
    momentum: float
    max_grad_norm: float
    init: object


def kernel_parameters(n_components, dof):
    """(alpha, exponent) of the fit's kernel ``w = (1 + d^2 / alpha)^-exponent``: scikit-learn's
    (``alpha = max(n_components - 1, 1)``, exponent ``(alpha + 1) / 2``) when ``dof`` is
    None, else the heavy-tailed kernel of openTSNE/FIt-SNE (``alpha = exponent = dof``)."""
    if dof is None:
        alpha = float(max(n_components - 1, 1))
        return alpha, (alpha + 1.0) / 2.0
    return float(dof), float(dof)


def make_field(embedding, *, method, dof, angle, fft_params, n_threads):
    """The field of the fitted embedding: exact for the exact method, a grid in 1-D/2-D,
    a Barnes-Hut tree in 3-D."""
    Y = np.ascontiguousarray(embedding, dtype=np.float32)
    dims = Y.shape[1]
    if method == "exact":
        kind = "exact"
    elif dims <= 2:
        kind = "grid"
    else:
        kind = "tree"
    alpha, exponent = kernel_parameters(dims, dof)
    return _core.ReferenceField(
        Y,
        kind=kind,
        alpha=alpha,
        exponent=exponent,
        angle=float(angle),
        n_interpolation_points=int(fft_params["fft_interpolation_points"]),
        min_intervals=int(fft_params["fft_min_intervals"]),
        intervals_per_unit=float(fft_params["fft_intervals_per_unit"]),
        max_intervals=int(fft_params["fft_max_intervals"]),
        n_threads=n_threads,
        convolve=_fft.convolver(thread_count(n_threads)) if kind == "grid" else None,
    )


def conditional_rows(sq_distances, perplexity, n_threads):
    """Each new point's p_{j|i} over its neighbours (rows sum to 1), float64.

    A sequence of perplexities averages the rows of each (multiscale affinities)."""
    P, _ = _core.conditional_probabilities(
        np.ascontiguousarray(sq_distances, dtype=np.float32),
        check_perplexity(perplexity),
        n_threads=n_threads,
    )
    return P


def initial_positions(init, embedding, indices, rows, n_components):
    """Starting positions of the new points: "median" (coordinate-wise median of the
    neighbours' positions, openTSNE's default), "weighted" (their p-weighted mean) or an
    array of shape (n_new, n_components)."""
    n_new = indices.shape[0]
    if isinstance(init, np.ndarray):
        if init.shape != (n_new, n_components):
            raise ValueError(
                f"init array must have shape (n_new_samples, n_components) = "
                f"({n_new}, {n_components}), got {init.shape}."
            )
        if not np.all(np.isfinite(init)):
            raise ValueError("init array contains NaN or infinity.")
        return np.array(init, dtype=np.float32, order="C")
    neighbours = embedding[indices]  # (n_new, k, n_components)
    if init == "median":
        Y = np.median(neighbours, axis=1)
    elif init == "weighted":
        Y = np.einsum("ik,ikd->id", rows, neighbours)
    else:
        raise ValueError(f"init must be 'median', 'weighted' or an ndarray, got {init!r}.")
    return np.ascontiguousarray(Y, dtype=np.float32)


def run(field, indices, rows, Y, settings, *, n_threads, progress=None, n_iter_report=50):
    """The descent of the new points (Y, float32, updated in place).

    Returns
    -------
    n_iter : int
        Iterations run.
    kl : float
        Mean KL divergence of the new points' conditional distributions at the end.
    stopped : bool
        Whether a callback stopped the descent.
    """
    n_new, k = indices.shape
    indptr = np.arange(0, (n_new + 1) * k, k, dtype=np.int64)
    early = int(settings.early_exaggeration_iter)
    phases = []
    if early > 0:
        phases.append((early, float(settings.early_exaggeration), float(settings.momentum)))
    phases.append(
        (int(settings.max_iter) - early, float(settings.exaggeration), float(settings.momentum))
    )
    return _core.embed_new_points(
        field,
        indptr,
        np.ascontiguousarray(indices, dtype=np.int32).ravel(),
        np.ascontiguousarray(rows, dtype=np.float64).ravel(),
        Y,
        phases=phases,
        learning_rate=float(settings.learning_rate),
        max_grad_norm=float(settings.max_grad_norm) if settings.max_grad_norm else 0.0,
        n_iter_report=int(n_iter_report),
        n_threads=n_threads,
        progress=progress,
    )


def transform_new_points(
    model,
    X,
    settings,
    *,
    field,
    n_threads,
    verbose=0,
    callbacks=(),
    callbacks_every_iters=50,
    progress_bar=False,
):
    """Embeds the validated rows of X into ``model.embedding_`` (see the module docstring).

    Parameters
    ----------
    model : acctsne.TSNE
        A fitted model that kept its training data.
    X : ndarray or sparse matrix of shape (n_new, n_features)
        Validated new samples (with ``metric='precomputed'``: distances to the training
        samples, dense or a sparse kNN graph).
    settings : TransformSettings
        The call's parameters.
    field : callable
        ``field(pool)`` returns the model's (cached) ``_core.ReferenceField``.
    n_threads : int or _core.ThreadPool
        Threads of every stage.
    verbose : int, default=0
        Prints a ``[t-SNE]`` line per stage and the mean KL divergence every 50 iterations.
    callbacks : sequence of callables, default=()
        ``callback(iteration, kl_divergence, embedding)`` every ``callbacks_every_iters``
        iterations (a copy of the new points' current positions); True stops there.
    callbacks_every_iters : int, default=50
        Iterations between callback calls.
    progress_bar : bool, default=False
        Show the descent's progress as a bar (as the fit's ``progress_bar``), updated
        every 50 iterations.

    Returns
    -------
    ndarray of float32, shape (n_new, n_components)
    """
    embedding = np.asarray(model.embedding_, dtype=np.float32)
    n_reference, n_components = embedding.shape
    reference = model._training_data
    if reference is None:  # metric='precomputed': X holds the distances themselves
        reference = csr_matrix((n_reference, n_reference), dtype=np.float64)
    k = min(n_reference, int(3.0 * max_perplexity(settings.perplexity) + 1))
    t0 = time()
    indices, sq_distances = query_neighbors(
        reference,
        X,
        k,
        metric=model.metric,
        metric_params=model.metric_params,
        n_jobs=model.n_jobs,
        n_threads=n_threads,
    )
    if verbose:
        print(
            f"[t-SNE] transform: {k} nearest training samples of {X.shape[0]} new samples "
            f"in {time() - t0:.3f}s"
        )
    rows = conditional_rows(sq_distances, settings.perplexity, n_threads)
    Y = initial_positions(settings.init, embedding, indices, rows, n_components)
    reference_field = field(n_threads)
    every = int(callbacks_every_iters) if callbacks else 0
    # Progress calls for the verbose lines and the bar (every 50) and the callbacks
    # (gcd(0, x) = x).
    report = math.gcd(50 if verbose or progress_bar else 0, every)
    bar = make_bar(int(settings.max_iter)) if progress_bar else None

    def progress(iteration, kl):
        if verbose and iteration % 50 == 0:
            print(f"[t-SNE] transform: iteration {iteration}: mean KL divergence {kl:.6f}")
        if bar is not None and iteration % 50 == 0:
            bar.set_postfix_str(f"KL {kl:.4f}")
            bar.update(iteration - bar.n)
        if every and iteration % every == 0:
            stop = False
            for callback in callbacks:
                stop |= bool(callback(iteration, kl, Y.copy()))
            return stop
        return False

    t0 = time()
    n_iter = 0
    try:
        n_iter, kl, stopped = run(
            reference_field,
            indices,
            rows,
            Y,
            settings,
            n_threads=n_threads,
            progress=progress if report else None,
            n_iter_report=report,
        )
    finally:
        if bar is not None:
            bar.update(max(n_iter - bar.n, 0))
            bar.close()
    if verbose:
        how = "stopped by a callback" if stopped else "done"
        print(
            f"[t-SNE] transform: {n_iter} iterations {how} in {time() - t0:.3f}s, mean KL "
            f"divergence {kl:.6f}"
        )
    return Y
