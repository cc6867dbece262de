"""Thread count and SIMD level resolution, and :func:`show_config`."""

from __future__ import annotations

import os

from . import _core

__all__ = ["resolve_n_threads", "show_config", "thread_count"]


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_n_threads(n_jobs: int | None) -> int:
    """Number of threads for a fit, from sklearn's ``n_jobs`` convention.

    ``None`` and ``-1`` mean all cores available to this process; ``-2`` all but one,
    and so on; a positive value is used as given. The result never changes the
    embedding: every phase is bitwise identical for any thread count.
    """
    cores = _available_cores()
    if n_jobs is None:
        return cores
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, -1 or a positive integer.")
    if n_jobs < 0:
        return max(cores + 1 + n_jobs, 1)
    return n_jobs


def thread_count(threads) -> int:
    """The number of threads in ``threads``: an int, or a fit's ``_core.ThreadPool``
    (which every native call of the fit accepts in place of a thread count)."""
    return threads.n_threads if isinstance(threads, _core.ThreadPool) else int(threads)


def show_config() -> str:
    """Describe the build: version, compiled and supported SIMD levels, default threads.

    Returns
    -------
    config : str
        A few ``key: value`` lines (also what ``python -m acctsne --config`` prints).
    """
    simd = _core.simd_info()
    lines = [
        f"acctsne: {_core.__version__}",
        f"simd compiled: {', '.join(simd['compiled'])}",
        f"simd supported by this CPU: {', '.join(simd['supported'])}",
        f"simd in use: {simd['default']}"
        + (" (forced by ACCTSNE_SIMD)" if os.environ.get("ACCTSNE_SIMD") else ""),
        f"threads (n_jobs=None): {resolve_n_threads(None)}",
    ]
    return "\n".join(lines)
