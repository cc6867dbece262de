"""Type stub of acctsne._core, the native extension (private: use acctsne.TSNE)."""

import enum
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__version__: str

class ThreadPool:
    """The threads of one fit; pass it as n_threads to every call of the fit."""

    def __init__(self, n_threads: int) -> None: ...
    @property
    def n_threads(self) -> int: ...

class GradientParams:
    """Method and settings of a gradient engine (keyword-only)."""

    def __init__(
        self,
        *,
        method: str = ...,
        dims: int = ...,
        dof: int = ...,
        heavy_tail_dof: float = ...,
        angle: float = ...,
        n_interpolation_points: int = ...,
        min_intervals: int = ...,
        intervals_per_unit: float = ...,
        max_intervals: int = ...,
        simd_level: str | None = ...,
        keep_caller_order: bool = ...,
    ) -> None: ...
    method: str
    dims: int
    dof: int
    heavy_tail_dof: float
    angle: float

class PhaseParams:
    """One phase of the descent schedule (keyword-only)."""

    def __init__(
        self,
        *,
        exaggeration: float = ...,
        start_iter: int = ...,
        max_iter: int = ...,
        n_iter_check: int = ...,
        n_iter_report: int = ...,
        n_iter_without_progress: int = ...,
        momentum: float = ...,
        learning_rate: float = ...,
        min_grad_norm: float = ...,
    ) -> None: ...
    exaggeration: float
    start_iter: int
    max_iter: int
    n_iter_without_progress: int
    momentum: float

class StopReason(enum.Enum):
    """Why a descent phase ended."""

    max_iter = 0
    no_progress = 1
    small_gradient = 2
    stop_requested = 3

class PhaseResult:
    """The outcome of one descent phase."""

    last_iter: int
    error: float
    grad_norm: float
    stop_reason: StopReason

class GradientEngine:
    """The t-SNE gradient of one fit, for any method; P is borrowed."""

    def __init__(
        self,
        params: GradientParams,
        P: np.ndarray | tuple[ArrayLike, ArrayLike, ArrayLike],
        n_threads: int | ThreadPool = ...,
        convolve: Callable[[np.ndarray, np.ndarray], Any] | None = ...,
    ) -> None: ...
    def gradient(self, Y: ArrayLike, compute_error: bool = ...) -> tuple[float, np.ndarray]: ...
    exaggeration: float
    @property
    def times(self) -> dict[str, float]: ...
    @property
    def n_points(self) -> int: ...
    def close(self) -> None: ...

class ReferenceField:
    """The repulsion of a fixed reference embedding on new points (transform)."""

    def __init__(
        self,
        Y: ArrayLike,
        *,
        kind: str = ...,
        alpha: float = ...,
        exponent: float = ...,
        angle: float = ...,
        n_interpolation_points: int = ...,
        min_intervals: int = ...,
        intervals_per_unit: float = ...,
        max_intervals: int = ...,
        grid_margin: float = ...,
        n_threads: int | ThreadPool = ...,
        convolve: Callable[[np.ndarray, np.ndarray], Any] | None = ...,
    ) -> None: ...
    @property
    def n_reference(self) -> int: ...
    @property
    def dims(self) -> int: ...
    @property
    def fallback_count(self) -> int: ...
    def evaluate(self, Y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(z, F) at each row of Y: sum_j w and sum_j w u (y - y_j) (tests)."""

def build_tree(Y: ArrayLike, n_threads: int | ThreadPool = ...) -> dict[str, Any]:
    """Build the Morton-ordered tree and return its arrays (for tests)."""

def conditional_probabilities(
    sq_distances: ArrayLike,
    perplexity: float | ArrayLike,
    exact: bool = ...,
    n_threads: int | ThreadPool = ...,
) -> tuple[Any, ...]:
    """Perplexity search, one perplexity or a list (averaged): (cond. P float64, betas)."""

def embed_new_points(
    field: ReferenceField,
    indptr: ArrayLike,
    indices: ArrayLike,
    data: ArrayLike,
    Y: np.ndarray,
    *,
    phases: list[tuple[int, float, float]],
    learning_rate: float,
    max_grad_norm: float = ...,
    n_iter_report: int = ...,
    n_threads: int | ThreadPool = ...,
    progress: Callable[[int, float], Any] | None = ...,
) -> tuple[int, float, bool]:
    """Moves new points Y (float32, in place) in the field: (iterations, mean KL, stopped)."""

def exact_gradient(
    Y: ArrayLike,
    P: ArrayLike,
    dof: int = ...,
    compute_error: bool = ...,
    n_threads: int | ThreadPool = ...,
    heavy_tail_dof: float = ...,
) -> tuple[Any, ...]:
    """Exact KL gradient in float64 (the oracle of the tests): (kl, grad). heavy_tail_dof
    a > 0: the kernel (1 + d^2 / a)^-a instead of dof's."""

def graph_order(indptr: ArrayLike, indices: ArrayLike) -> np.ndarray:
    """Breadth-first locality order of a CSR graph (int32, order[s] = s-th point)."""

def joint_probabilities_exact(
    sq_distances: ArrayLike, perplexity: float | ArrayLike, n_threads: int | ThreadPool = ...
) -> tuple[Any, ...]:
    """Dense exact-method P, one perplexity or a list: (P, betas)."""

def joint_probabilities_nn(
    neighbors: ArrayLike,
    sq_distances: ArrayLike,
    perplexity: float | ArrayLike,
    n_threads: int | ThreadPool = ...,
    overwrite_distances: bool = ...,
) -> tuple[Any, ...]:
    """Symmetric normalised P from a kNN graph: (indptr, indices, data, betas)."""

def knn_exact(
    X: np.ndarray, k: int, n_threads: int | ThreadPool = ..., simd_level: str | None = ...
) -> tuple[Any, ...]:
    """Exact kNN: (indices int32, squared distances float32)."""

def knn_block_step(
    queries: np.ndarray,
    query_start: int,
    reference: np.ndarray,
    reference_start: int,
    k: int,
    mean: ArrayLike,
    max_abs: float,
    values: np.ndarray,
    ids: np.ndarray,
    exact: np.ndarray,
    n_threads: int | ThreadPool = ...,
    simd_level: str | None = ...,
) -> None:
    """One step of the blocked exact kNN: folds a reference block into the queries' state
    (values float32, ids int32, exact float64; in place)."""

def knn_column_sums(X: np.ndarray, sums: np.ndarray) -> None:
    """Adds X's rows, in order, to the float64 running sums (in place)."""

def knn_max_abs_deviation(X: np.ndarray, mean: ArrayLike) -> float:
    """max |x - mean| over X (FloatingPointError for non-finite input)."""

def knn_query(
    reference: np.ndarray,
    queries: np.ndarray,
    k: int,
    n_threads: int | ThreadPool = ...,
    simd_level: str | None = ...,
) -> tuple[Any, ...]:
    """Exact kNN of query rows among reference rows: (indices int32, squared distances float32)."""

def optimize(
    engine: GradientEngine,
    Y: np.ndarray,
    phase: PhaseParams,
    progress: Callable[[int, float, float, float], Any] | None = ...,
) -> PhaseResult:
    """One phase of gradient descent on Y (float32, updated in place)."""

def permute_rows(
    indptr: ArrayLike,
    values: np.ndarray,
    order: ArrayLike,
    relabel: ArrayLike | None = ...,
    n_threads: int | ThreadPool = ...,
) -> tuple[Any, ...]:
    """CSR rows in a new order (row s = input row order[s]): (indptr, values)."""

def refine_neighbors(
    X: np.ndarray, neighbors: ArrayLike, n_threads: int | ThreadPool = ...
) -> tuple[Any, ...]:
    """Exact distances for a given kNN graph, rows sorted: (indices int32, sq distances)."""

def repulsion_methods() -> list[str]:
    """Names of the registered repulsion methods (TSNE's method options besides 'exact')."""

def simd_info() -> dict[str, Any]:
    """Compiled, supported and default SIMD levels."""

# Kernel checks (cpp/bindings/kernel_checks.cpp): one kernel of the SIMD level `level`'s
# table on numpy inputs, for tests/test_kernels.py.
def _kernel_dot_tile(
    level: str,
    queries: ArrayLike,
    tile: ArrayLike,
    q_norms: ArrayLike,
    tile_norms: ArrayLike,
    thresholds: ArrayLike,
    col_thresholds: ArrayLike | None = ...,
) -> tuple[Any, ...]:
    """DotTileFn at `level`: (out nq x 64, masks uint64, col_masks uint64 or None)."""

def _kernel_squared_distance(level: str, a: ArrayLike, b: ArrayLike) -> float:
    """SquaredDistanceFn at `level`."""

def _kernel_squared_distance64(level: str, a: ArrayLike, b: ArrayLike) -> float:
    """SquaredDistance64Fn at `level`."""

def _kernel_perplexity_step(
    level: str, dist: ArrayLike, skip: int, beta: float, min_row_sum: float
) -> tuple[Any, ...]:
    """PerplexityStepFn at `level`: (sum_p, p float64, sum_dist_p)."""

def _kernel_project_rows(level: str, rows: ArrayLike, d: int, basis_t: ArrayLike) -> np.ndarray:
    """ProjectRowsFn at `level`: rows[:, :d] @ basis_t in float64."""

def _kernel_interact(
    level: str,
    dof: int,
    pos: ArrayLike,
    list_pos: ArrayLike,
    count: ArrayLike,
    n_plain: int,
    heavy_tail_dof: float | None = ...,
) -> tuple[Any, ...]:
    """InteractFn at `level` (InteractHeavyTailFn with heavy_tail_dof): (force dims x
    n_points, z)."""

def _kernel_attract(
    level: str,
    dof: int,
    indptr: ArrayLike,
    indices: ArrayLike,
    data: ArrayLike,
    row_point: ArrayLike | None,
    p_scale: float,
    Y: ArrayLike,
    row_begin: int,
    row_end: int,
    heavy_tail_dof: float | None = ...,
) -> np.ndarray:
    """AttractFn at `level` (AttractHeavyTailFn with heavy_tail_dof): forces n x dims (rows
    outside the range 0)."""

def _kernel_log_sum(
    level: str,
    dof: float,
    indptr: ArrayLike,
    indices: ArrayLike,
    data: ArrayLike,
    row_point: ArrayLike | None,
    p_scale: float,
    Y: ArrayLike,
    row_begin: int,
    row_end: int,
) -> float:
    """LogSumFn at `level`."""
