"""What the optimiser reports while it runs: sklearn's verbose lines, an optional
progress bar and user callbacks (the ``callbacks`` and ``progress_bar`` extensions).

The native optimiser calls one Python function on check iterations (every 50, as in
sklearn) and, when callbacks are given, every ``callbacks_every_iters`` iterations; it
holds the GIL only for that call. The function returns True to stop the fit early.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

__all__ = ["Reporter", "as_callback_list", "make_bar"]


def as_callback_list(callbacks) -> list[Callable]:
    """``None``, one callable or a list/tuple of callables (the estimator's parameter
    validation admits nothing else) -> a list of callables."""
    if callbacks is None:
        return []
    if callable(callbacks):
        return [callbacks]
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables, got {cb!r}.")
    return list(callbacks)


class _TextBar:
    """Fallback progress display when tqdm is not installed: one rewritten stderr line."""

    def __init__(self, total: int):
        self.total = total
        self.n = 0
        self._postfix = ""

    def update(self, k: int) -> None:
        self.n += k
        sys.stderr.write(f"\r[t-SNE] iteration {self.n}/{self.total} {self._postfix}")
        sys.stderr.flush()

    def set_postfix_str(self, text: str) -> None:
        self._postfix = text  # shown by the next update

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def make_bar(total: int):
    """A progress bar of `total` iterations: tqdm if installed, else one stderr line."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextBar(total)
    return tqdm(total=total, desc="t-SNE", unit="it")


class Reporter:
    """Dispatches the optimiser's reports of one fit.

    Parameters
    ----------
    verbose : int
        The estimator's verbosity: >= 2 prints sklearn's per-check iteration lines.
    n_iter_check : int
        Iterations between sklearn's checks (its verbose lines).
    callbacks : list of callable
        Called as ``callback(iteration, kl_divergence, embedding)``; a true return stops.
    callbacks_every_iters : int
        Iterations between callback calls.
    progress_bar : bool
        Show a progress bar (tqdm if installed, else a stderr line).
    max_iter : int
        Iterations of the whole fit (the bar's length).
    embedding : ndarray
        The array the optimiser updates in place; callbacks get copies of it.
    out_dtype : dtype
        The dtype the fitted ``embedding_`` will have (callbacks get the same).
    rows : ndarray of int, default=None
        When the fit works on its points in another order (a locality order), the rows of
        ``embedding`` in the caller's order: callbacks get ``embedding[rows]``.
    """

    def __init__(
        self,
        *,
        verbose,
        n_iter_check,
        callbacks,
        callbacks_every_iters,
        progress_bar,
        max_iter,
        embedding,
        out_dtype,
        rows=None,
    ):
        self._verbose = verbose
        self._n_iter_check = n_iter_check
        self._callbacks = callbacks
        self._every = callbacks_every_iters
        self._embedding = embedding
        self._out_dtype = out_dtype
        self._rows = rows
        self._bar = make_bar(max_iter) if progress_bar else None
        self.stopped_at = None  # iteration at which a callback asked to stop

    @property
    def n_iter_report(self) -> int:
        """Extra report interval for the optimiser (0: check iterations only)."""
        return self._every if self._callbacks else 0

    def progress(self) -> Callable | None:
        """The function for the native optimiser, or None when nothing listens."""
        if self._verbose < 2 and not self._callbacks and self._bar is None:
            return None
        return self._report

    def _report(self, iteration, error, grad_norm, duration):
        if iteration % self._n_iter_check == 0:
            if self._verbose >= 2:
                print(
                    f"[t-SNE] Iteration {iteration:d}: error = {error:.7f}, gradient norm = "
                    f"{grad_norm:.7f} ({self._n_iter_check} iterations in {duration:0.3f}s)"
                )
            if self._bar is not None:
                self._bar.set_postfix_str(f"KL {error:.4f}")
                self._bar.update(iteration - self._bar.n)
        stop = False
        if self._callbacks and iteration % self._every == 0:
            for callback in self._callbacks:
                embedding = self._embedding if self._rows is None else self._embedding[self._rows]
                snapshot = np.array(embedding, dtype=self._out_dtype, copy=True)
                stop |= bool(callback(iteration, error, snapshot))
        if stop:
            self.stopped_at = iteration
        return stop

    def finish(self, n_iter: int) -> None:
        """Completes and closes the bar (after the last iteration, or on error)."""
        if self._bar is not None:
            if n_iter > self._bar.n:
                self._bar.update(n_iter - self._bar.n)
            self._bar.close()
            self._bar = None
