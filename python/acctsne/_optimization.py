"""The optimisation stage of a fit: one gradient engine, a schedule of descent phases.

A fit builds one :class:`acctsne._core.GradientEngine` for its method (it borrows P: the
only copy of P during the optimisation) and runs the phases of a schedule on it; each
phase is one native call (:func:`acctsne._core.optimize`) with the GIL released. The
schedule of scikit-learn's TSNE (:func:`sklearn_schedule`) is two phases: early
exaggeration at momentum 0.5, then momentum 0.8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import issparse

from . import _core, _fft
from ._config import thread_count

__all__ = [
    "EXPLORATION_MAX_ITER",
    "N_ITER_CHECK",
    "Phase",
    "make_engine",
    "run_schedule",
    "sklearn_schedule",
    "unexaggerated_kl",
]

# Iterations of early exaggeration, and between progress checks (sklearn's constants).
EXPLORATION_MAX_ITER = 250
N_ITER_CHECK = 50


@dataclass(frozen=True)
class Phase:
    """One phase of a descent schedule: iterations up to ``end_iter`` (exclusive).

    Attributes
    ----------
    exaggeration : float
        Factor on P during the phase.
    momentum : float
        Momentum of the update.
    end_iter : int
        The phase stops before this iteration index.
    n_iter_without_progress : int
        Stop when the KL divergence has not improved for this many iterations.
    """

    exaggeration: float
    momentum: float
    end_iter: int
    n_iter_without_progress: int


def sklearn_schedule(
    *,
    early_exaggeration,
    max_iter,
    n_iter_without_progress,
    exploration_max_iter=EXPLORATION_MAX_ITER,
    exaggeration=1.0,
):
    """scikit-learn's two phases: ``exploration_max_iter`` iterations of early
    exaggeration, then the rest of ``max_iter`` (at ``exaggeration``: 1 in scikit-learn;
    the ``exaggeration`` extension of TSNE)."""
    return [
        Phase(
            exaggeration=float(early_exaggeration),
            momentum=0.5,
            end_iter=int(exploration_max_iter),
            n_iter_without_progress=int(exploration_max_iter),
        ),
        Phase(
            exaggeration=float(exaggeration),
            momentum=0.8,
            end_iter=int(max_iter),
            n_iter_without_progress=int(n_iter_without_progress),
        ),
    ]


def unexaggerated_kl(kl_divergence, exaggeration):
    """KL(P || Q) from the KL of the exaggerated ``exaggeration * P`` (P sums to 1):
    ``KL(aP || Q) = a (KL(P || Q) + log a)``."""
    if exaggeration == 1:
        return kl_divergence
    return kl_divergence / exaggeration - float(np.log(exaggeration))


def make_engine(
    P,
    *,
    method,
    n_components,
    degrees_of_freedom,
    angle=0.5,
    fft_interpolation_points=3,
    fft_min_intervals=50,
    fft_intervals_per_unit=1.0,
    fft_max_intervals=200,
    n_threads=1,
    heavy_tail_dof=None,
    keep_caller_order=False,
):
    """The gradient engine of one fit.

    Parameters
    ----------
    P : scipy CSR matrix, (indptr, indices, data) or ndarray of shape (n, n)
        The joint probabilities: sparse for 'barnes_hut' and 'fft', dense float64 for
        'exact'. The engine borrows a sparse P's arrays (its column indices are
        relabelled in place until :meth:`close` is called).
    method : {'barnes_hut', 'fft', 'exact'}
        The gradient method.
    n_components : int
        Dimension of the embedding.
    degrees_of_freedom : int
        Of the Student's t kernel.
    angle : float
        Barnes-Hut opening angle.
    fft_interpolation_points, fft_min_intervals, fft_intervals_per_unit, \
fft_max_intervals
        The FFT method's grid (see :class:`acctsne.TSNE`).
    n_threads : int or acctsne._core.ThreadPool
        Threads of the fit.
    heavy_tail_dof : float or None
        ``a > 0``: the heavy-tailed kernel ``(1 + d^2 / a)^-a`` of openTSNE and FIt-SNE
        (their ``dof``; ``a < 1`` gives heavier tails, ``a = 1`` is t-SNE's Cauchy kernel)
        replaces the Student's t kernel of ``degrees_of_freedom``. None or 0: off.
    keep_caller_order : bool
        The points are already in a locality order of P's graph
        (:func:`acctsne._affinities.graph_order`): the engine keeps it instead of
        renumbering them into the embedding's Morton order.

    Returns
    -------
    acctsne._core.GradientEngine
    """
    params = _core.GradientParams(
        method=method,
        dims=int(n_components),
        dof=int(degrees_of_freedom),
        heavy_tail_dof=0.0 if heavy_tail_dof is None else float(heavy_tail_dof),
        angle=float(angle),
        n_interpolation_points=int(fft_interpolation_points),
        min_intervals=int(fft_min_intervals),
        intervals_per_unit=float(fft_intervals_per_unit),
        max_intervals=int(fft_max_intervals),
        keep_caller_order=bool(keep_caller_order),
    )
    if method == "exact":
        return _core.GradientEngine(params, np.asarray(P, dtype=np.float64), n_threads)
    if issparse(P):
        P = (P.indptr, P.indices, P.data)
    elif not isinstance(P, tuple):
        raise TypeError(f"method={method!r} needs a sparse P, got {type(P).__name__}")
    convolve = None
    if method == "fft":
        convolve = _fft.convolver(thread_count(n_threads))
    return _core.GradientEngine(params, P, n_threads, convolve)


def _print_stop(result, phase):
    iteration = result.last_iter + 1
    reason = result.stop_reason
    if reason == _core.StopReason.no_progress:
        print(
            f"[t-SNE] Iteration {iteration:d}: did not make any progress during the last "
            f"{phase.n_iter_without_progress:d} episodes. Finished."
        )
    elif reason == _core.StopReason.small_gradient:
        print(f"[t-SNE] Iteration {iteration:d}: gradient norm {result.grad_norm:f}. Finished.")
    elif reason == _core.StopReason.stop_requested:
        print(f"[t-SNE] Iteration {iteration:d}: stopped by a callback.")


def run_schedule(
    engine,
    Y,
    schedule,
    *,
    learning_rate,
    min_grad_norm,
    reporter,
    verbose,
    n_iter_check=N_ITER_CHECK,
    start_iter=0,
):
    """Runs the phases of ``schedule`` on Y (float32, updated in place).

    Follows ``sklearn.manifold.TSNE._tsne``: each phase starts at the iteration after the
    last one run, with fresh gains and update; the first phase's KL divergence is printed
    when ``verbose``; a callback that asks to stop ends the schedule. The first phase
    starts at ``start_iter`` (0 in a fit; after the fit's last iteration when a fitted
    model is optimised further).

    Returns
    -------
    kl_divergence : float
        The objective at the last iteration that computed it.
    n_iter : int
        Index of the last iteration run.
    """
    kl_divergence, it = np.finfo(float).max, start_iter
    for index, phase in enumerate(schedule):
        if index > 0:
            if reporter.stopped_at is not None:
                break
            previous = schedule[index - 1]
            # sklearn's condition for its second phase (true whenever the first ran).
            if not (it < previous.end_iter or phase.end_iter - previous.end_iter > 0):
                break
        params = _core.PhaseParams(
            exaggeration=phase.exaggeration,
            start_iter=start_iter if index == 0 else it + 1,
            max_iter=phase.end_iter,
            n_iter_check=n_iter_check,
            n_iter_report=reporter.n_iter_report,
            n_iter_without_progress=phase.n_iter_without_progress,
            momentum=phase.momentum,
            learning_rate=float(learning_rate),
            min_grad_norm=float(min_grad_norm),
        )
        result = _core.optimize(engine, Y, params, reporter.progress())
        kl_divergence, it = result.error, result.last_iter
        if verbose >= 2:
            _print_stop(result, phase)
        if index == 0 and verbose and len(schedule) > 1:
            print(
                f"[t-SNE] KL divergence after {it + 1:d} iterations with early "
                f"exaggeration: {kl_divergence:f}"
            )
    return kl_divergence, it
