"""The TSNE estimator: scikit-learn's contract, acctsne's native phases.

The control flow mirrors ``sklearn.manifold.TSNE._fit`` line by line (validation, error
texts, verbose lines, schedule), while every compute phase runs in ``acctsne._core``:
exact kNN, perplexity search, symmetrisation and the whole gradient-descent loop, in
parallel C++ with the GIL released.
"""

from __future__ import annotations

from numbers import Integral, Real
from time import time
from typing import ClassVar

import numpy as np
from scipy.sparse import issparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.metrics.pairwise import _VALID_METRICS
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data

from . import _core
from ._affinities import (
    check_perplexity,
    exact_affinities,
    inverse_permutation,
    restore_order,
    sparse_affinities,
)
from ._config import resolve_n_threads
from ._initialization import initial_embedding
from ._model import (
    MODEL_FORMAT,
    PERPLEXITY_LIST_TYPES,
    check_loadable,
    max_perplexity,
)
from ._neighbors import AUTO_APPROX_MIN_SAMPLES, check_precomputed, use_approximate_neighbors
from ._optimization import (
    EXPLORATION_MAX_ITER,
    N_ITER_CHECK,
    Phase,
    make_engine,
    run_schedule,
    sklearn_schedule,
    unexaggerated_kl,
)
from ._progress import Reporter, as_callback_list
from ._transform import TransformSettings, make_field, transform_new_points
from .dask import is_dask_array

__all__ = ["TSNE"]


class TSNE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """T-distributed Stochastic Neighbor Embedding, computed natively in parallel C++.

    A drop-in replacement for :class:`sklearn.manifold.TSNE`: same parameters and
    defaults, same validation and error messages, same fitted attributes, same
    ``[t-SNE]`` verbose lines and the same optimisation schedule (250 iterations of
    early exaggeration at momentum 0.5, then momentum 0.8; gains +0.2 / x0.8 floored at
    0.01; checks every 50 iterations). Only the speed differs: every phase (exact kNN,
    perplexity search, symmetrisation, Barnes-Hut tree, repulsion, attraction and the
    update) runs in multi-threaded, vectorised C++ with the GIL released.

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the embedded space (1 to 3 for ``method='barnes_hut'``).
    perplexity : float, default=30.0
        Related to the number of nearest neighbours used (``3 * perplexity + 1``). Must
        be less than the number of samples. (acctsne extension) A list of perplexities
        gives multiscale affinities: each point's Gaussian kernels at every perplexity,
        over the neighbours of the largest, are averaged (openTSNE's ``Multiscale``,
        FIt-SNE's ``perplexity_list``).
    early_exaggeration : float, default=12.0
        Factor applied to P during the first 250 iterations.
    learning_rate : float or "auto", default="auto"
        sklearn's definition (4 times larger than bhtsne/FIt-SNE/openTSNE's). "auto"
        sets ``max(N / early_exaggeration / 4, 50)``.
    max_iter : int, default=1000
        Maximum number of iterations (at least 250).
    n_iter_without_progress : int, default=300
        Stop after this many iterations without progress (checked every 50 iterations,
        after the early-exaggeration phase).
    min_grad_norm : float, default=1e-7
        Stop when the gradient norm falls below this value.
    metric : str or callable, default='euclidean'
        Input-space metric. "euclidean" (squared Euclidean distances, as in sklearn) on
        dense data runs entirely in acctsne's C++ kNN. Any other metric known to
        :func:`sklearn.metrics.pairwise_distances`, a callable, or "precomputed" (a
        square distance matrix, or a sparse kNN graph such as the output of
        :class:`~sklearn.neighbors.KNeighborsTransformer`) takes its neighbours from
        scikit-learn, then continues in C++.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function.
    init : {"random", "pca"} or ndarray of shape (n_samples, n_components), \
            default="pca"
        Initialisation of the embedding, exactly as in sklearn ("pca" is rescaled so
        that the first component has standard deviation 1e-4).
    verbose : int, default=0
        Verbosity level; prints sklearn's ``[t-SNE]`` lines (and one line with the
        thread count and SIMD level in use).
    random_state : int, RandomState instance or None, default=None
        Seeds the PCA solver and the random initialisation. The optimisation itself is
        deterministic.
    method : {'barnes_hut', 'exact', 'fft', 'auto'}, default='barnes_hut'
        Barnes-Hut approximation in O(N log N), or the exact O(N^2) gradient, as in
        sklearn. acctsne extensions: 'fft', the FFT-accelerated interpolation of
        Linderman et al. (2019; FIt-SNE, openTSNE) for 1 or 2 components, whose
        repulsion costs O(N) plus FFTs on a grid that grows with the embedding's extent
        (see the ``fft_*`` parameters); 'auto' picks 'exact' up to 500 samples (or for
        more than 3 components), 'fft' from 200,000 samples in 1-D/2-D, else
        'barnes_hut'.
    angle : float, default=0.5
        Barnes-Hut trade-off, with sklearn's meaning: a cell is summarised by its centre
        of mass when ``max_width / distance < angle``.
    n_jobs : int, default=None
        Number of threads for every phase. ``None`` or ``-1``: all cores available to
        the process. The embedding is bitwise identical for any value.

    fft_interpolation_points : int, default=3
        (acctsne extension, method='fft') Lagrange interpolation nodes per box and
        dimension.
    fft_min_intervals : int, default=50
        (acctsne extension, method='fft') Boxes per dimension, at least.
    fft_intervals_per_unit : float, default=1.0
        (acctsne extension, method='fft') Boxes per unit of embedding extent, so boxes
        are about 1 unit wide (FIt-SNE's and openTSNE's default).
    fft_max_intervals : int, default=200
        (acctsne extension, method='fft') Boxes per dimension, at most: bounds the FFT
        grid (2 x boxes x nodes points per dimension) as the embedding spreads out;
        past it, boxes widen and accuracy drops smoothly. Box counts are rounded up to
        5-smooth numbers (fast FFT sizes).
    neighbors : {'auto', 'exact', 'approx'}, default='auto'
        (acctsne extension) How the euclidean kNN graph of dense input is found:
        'exact' (acctsne's C++ brute force, as sklearn's result; pairs of row blocks that
        a bound rules out are skipped, so data with cluster structure costs far less than
        n^2), 'approx' (faiss HNSW with exact distances for the neighbours found; needs
        ``pip install acctsne[ann]``), or 'auto': exact below 2,000,000 samples,
        approximate from there when faiss is installed. Other metrics take their
        neighbours from scikit-learn; a precomputed sparse kNN graph plugs in any
        other search.
    callbacks : callable or list of callables, default=None
        (acctsne extension) Called during the optimisation as
        ``callback(iteration, kl_divergence, embedding)`` every
        ``callbacks_every_iters`` iterations, with the number of iterations done, the
        objective as sklearn's verbose output reports it (during early exaggeration, the
        KL divergence of the exaggerated P) and a copy of the current embedding. A
        callback returning True stops the fit there: ``embedding_`` is the embedding
        at that iteration and ``n_iter_`` its index.
    callbacks_every_iters : int, default=50
        (acctsne extension) Iterations between callback calls.
    progress_bar : bool, default=False
        (acctsne extension) Show the optimisation's progress as a bar (tqdm if
        installed, else one line on stderr), updated every 50 iterations.
    exaggeration : float, default=None
        (acctsne extension) Factor on P after the early-exaggeration phase (None: 1, as
        scikit-learn). Values around 2-4 make the clusters of large data sets compact
        (Kobak & Berens 2019). ``kl_divergence_`` is still that of P itself.
    dof : float, default=None
        (acctsne extension) Degrees of freedom of a heavy-tailed Student-t kernel
        ``(1 + d^2 / dof)^-dof`` (openTSNE's and FIt-SNE's parametrisation; dof < 1 has
        heavier tails and separates finer clusters, Kobak et al. 2019). None keeps
        scikit-learn's kernel (``degrees_of_freedom = max(n_components - 1, 1)``); dof=1
        is the same kernel as the default in 1-D and 2-D. Every method supports it.
    keep_training_data : bool, default=True
        (acctsne extension) Keep the training data and the affinities P in the model:
        ``transform`` and ``optimize`` need them, and they are saved with it. Their
        memory: the validated X (no copy when X was already a C-contiguous float array)
        and about ``12 * n_samples * 3 * perplexity`` bytes for P. False fits without
        keeping them.

    Attributes
    ----------
    embedding_ : ndarray of shape (n_samples, n_components)
        The embedding (float32, or the dtype of an ndarray ``init``).
    kl_divergence_ : float
        Kullback-Leibler divergence after optimisation (as computed by the chosen method).
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when `X` has string feature names.
    learning_rate_ : float
        Effective learning rate.
    n_iter_ : int
        Index of the last iteration run (999 for a full 1000-iteration run).
    method_ : str
        (acctsne extension) The gradient method used: 'barnes_hut', 'exact' or 'fft'
        (``method='auto'`` resolved).
    affinities_ : scipy.sparse.csr_matrix or ndarray of shape (n_samples, n_samples)
        (acctsne extension) The joint probabilities P of the fit (sparse; dense for
        ``method='exact'``), kept unless ``keep_training_data=False``.
    phase_times_ : dict of str to float
        (acctsne extension) Seconds spent in each phase of the fit: 'knn', 'affinities'
        (perplexity search and symmetrisation), 'init', and the optimisation's phases
        as the native optimiser reports them, summed over both stages.

    Notes
    -----
    Differences from scikit-learn, none of which changes the meaning of a parameter:

    * ``n_jobs`` sets the threads of every phase (sklearn: only the neighbour search;
      its gradient uses all OpenMP threads), and results never depend on it.
    * Barnes-Hut leaves hold up to 8 points visited one by one; sklearn's tree may
      summarise such small groups. The opening test is sklearn's, so acctsne's forces
      are at least as accurate for the same ``angle``.
    * Exact kNN ties are broken by the lower index; floating-point sums run in a
      different (fixed) order, so embeddings agree with sklearn's statistically, not bit
      for bit.

    Examples
    --------
    >>> import numpy as np
    >>> from acctsne import TSNE
    >>> X = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    >>> X_embedded = TSNE(n_components=2, learning_rate='auto',
    ...                   init='random', perplexity=3).fit_transform(X)
    >>> X_embedded.shape
    (4, 2)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        # acctsne extension: a list of perplexities (multiscale), hidden from the error
        # text so that scikit-learn's message for a bad float stays the same.
        "perplexity": [
            Interval(Real, 0, None, closed="neither"),
            *(Hidden(t) for t in PERPLEXITY_LIST_TYPES),
        ],
        "early_exaggeration": [Interval(Real, 1, None, closed="left")],
        "learning_rate": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "max_iter": [Interval(Integral, 250, None, closed="left")],
        "n_iter_without_progress": [Interval(Integral, -1, None, closed="left")],
        "min_grad_norm": [Interval(Real, 0, None, closed="left")],
        "metric": [StrOptions(set(_VALID_METRICS) | {"precomputed"}), callable],
        "metric_params": [dict, None],
        "init": [
            StrOptions({"pca", "random"}),
            np.ndarray,
        ],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        # Every registered repulsion method of the core (cpp/src/repulsion_registry.cpp).
        "method": [StrOptions({*_core.repulsion_methods(), "exact", "auto"})],
        "angle": [Interval(Real, 0, 1, closed="both")],
        "n_jobs": [None, Integral],
        # acctsne extensions (keyword-only, after sklearn's parameters)
        "fft_interpolation_points": [Interval(Integral, 1, 8, closed="both")],
        "fft_min_intervals": [Interval(Integral, 1, None, closed="left")],
        "fft_intervals_per_unit": [Interval(Real, 0, None, closed="neither")],
        "fft_max_intervals": [Interval(Integral, 1, None, closed="left")],
        "neighbors": [StrOptions({"auto", "exact", "approx"})],
        "callbacks": [None, callable, list, tuple],
        "callbacks_every_iters": [Interval(Integral, 1, None, closed="left")],
        "progress_bar": ["boolean"],
        "exaggeration": [None, Interval(Real, 0, None, closed="neither")],
        "dof": [None, Interval(Real, 0, None, closed="neither")],
        "keep_training_data": ["boolean"],
    }
    # Parameters that scikit-learn's TSNE does not have (their defaults change nothing).
    _EXTENSIONS = (
        "fft_interpolation_points",
        "fft_min_intervals",
        "fft_intervals_per_unit",
        "fft_max_intervals",
        "neighbors",
        "callbacks",
        "callbacks_every_iters",
        "progress_bar",
        "exaggeration",
        "dof",
        "keep_training_data",
    )
    # neighbors="auto": approximate neighbours (when faiss is installed) from this many
    # samples on (see _neighbors.AUTO_APPROX_MIN_SAMPLES).
    _AUTO_APPROX_MIN_SAMPLES = AUTO_APPROX_MIN_SAMPLES
    # method="auto": the exact gradient up to this many samples; FFT interpolation from
    # _AUTO_FFT_MIN_SAMPLES on (1-D and 2-D); Barnes-Hut in between (and for 3-D).
    _AUTO_EXACT_MAX_SAMPLES = 500
    _AUTO_FFT_MIN_SAMPLES = 200_000

    # Number of exploration iterations with early exaggeration (sklearn's constant).
    _EXPLORATION_MAX_ITER = EXPLORATION_MAX_ITER
    # Number of iterations between progress checks (sklearn's constant).
    _N_ITER_CHECK = N_ITER_CHECK

    def __init__(
        self,
        n_components=2,
        *,
        perplexity=30.0,
        early_exaggeration=12.0,
        learning_rate="auto",
        max_iter=1000,
        n_iter_without_progress=300,
        min_grad_norm=1e-7,
        metric="euclidean",
        metric_params=None,
        init="pca",
        verbose=0,
        random_state=None,
        method="barnes_hut",
        angle=0.5,
        n_jobs=None,
        fft_interpolation_points=3,
        fft_min_intervals=50,
        fft_intervals_per_unit=1.0,
        fft_max_intervals=200,
        neighbors="auto",
        callbacks=None,
        callbacks_every_iters=50,
        progress_bar=False,
        exaggeration=None,
        dof=None,
        keep_training_data=True,
    ):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.metric = metric
        self.metric_params = metric_params
        self.init = init
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.angle = angle
        self.n_jobs = n_jobs
        self.fft_interpolation_points = fft_interpolation_points
        self.fft_min_intervals = fft_min_intervals
        self.fft_intervals_per_unit = fft_intervals_per_unit
        self.fft_max_intervals = fft_max_intervals
        self.neighbors = neighbors
        self.callbacks = callbacks
        self.callbacks_every_iters = callbacks_every_iters
        self.progress_bar = progress_bar
        self.exaggeration = exaggeration
        self.dof = dof
        self.keep_training_data = keep_training_data

    def _check_params_vs_input(self, X):
        if is_dask_array(X):
            from .dask import check_rows

            check_rows(X)  # chunk sizes known, before they are counted
        check_perplexity(self.perplexity)
        n_samples = _num_samples(X)
        if max_perplexity(self.perplexity) >= n_samples:
            raise ValueError(
                f"perplexity ({self.perplexity}) must be less than n_samples ({n_samples})"
            )

    # ------------------------------------------------------------------ phases
    def _validate_input(self, X):
        if self.method != "exact":
            X = validate_data(
                self,
                X,
                accept_sparse=["csr"],
                ensure_min_samples=2,
                dtype=[np.float32, np.float64],
            )
        else:
            X = validate_data(
                self,
                X,
                accept_sparse=["csr", "csc", "coo"],
                dtype=[np.float32, np.float64],
            )
        if self.metric == "precomputed":
            check_precomputed(X, init=self.init, method=self.method)
        self._check_method_params()
        return X

    def _validate_dask_input(self, X):
        """Checks a dask array of samples (acctsne.dask) without computing it."""
        from . import dask as acctsne_dask

        X = acctsne_dask.check_rows(X)
        if not (isinstance(self.metric, str) and self.metric == "euclidean") or (
            self.metric_params
        ):
            raise ValueError(
                "TSNE.fit of a dask array needs metric='euclidean' without metric_params "
                f"(got metric={self.metric!r}, metric_params={self.metric_params!r}); "
                "compute a graph with acctsne.dask.kneighbors_graph, or pass a numpy array."
            )
        if isinstance(self.init, str) and self.init == "pca":
            acctsne_dask.check_pca_input(X.shape, self.n_components)
        self.n_features_in_ = X.shape[1]
        vars(self).pop("feature_names_in_", None)
        self._check_method_params()
        return X

    def _check_method_params(self):
        if self.method == "barnes_hut" and self.n_components > 3:
            raise ValueError(
                "'n_components' should be inferior to 4 for the "
                "barnes_hut algorithm as it relies on "
                "quad-tree or oct-tree."
            )
        if self.method == "fft" and self.n_components > 2:
            raise ValueError(
                f"method='fft' supports n_components 1 or 2 (interpolation on a 1-D or "
                f"2-D grid), got n_components={self.n_components}; use "
                "method='barnes_hut' for 3 components."
            )
        if self.fft_min_intervals > self.fft_max_intervals:
            raise ValueError(
                f"fft_min_intervals ({self.fft_min_intervals}) must not exceed "
                f"fft_max_intervals ({self.fft_max_intervals})"
            )

    def _resolve_method(self, X):
        """The gradient method for this fit (resolves method='auto')."""
        if self.method != "auto":
            return self.method
        n_samples = X.shape[0]
        if self.n_components > 3 or (n_samples <= self._AUTO_EXACT_MAX_SAMPLES and not issparse(X)):
            return "exact"
        if self.n_components <= 2 and n_samples >= self._AUTO_FFT_MIN_SAMPLES:
            return "fft"
        return "barnes_hut"

    # --------------------------------------------------------------- the fit
    def _fit(self, X):
        if self.learning_rate == "auto":
            # See issue #18018 (_num_samples: lists work too; sklearn needs X.shape)
            self.learning_rate_ = _num_samples(X) / self.early_exaggeration / 4
            self.learning_rate_ = np.maximum(self.learning_rate_, 50)
        else:
            self.learning_rate_ = self.learning_rate

        dask_input = is_dask_array(X)
        if dask_input:
            X = self._validate_dask_input(X)
            if self._resolve_method(X) == "exact":
                # The exact method holds n^2 values: its X is small enough for the client.
                from .dask import compute

                (X,) = compute(X)
                dask_input = False
        if not dask_input:
            X = self._validate_input(X)
        self._method = self._resolve_method(X)
        random_state = check_random_state(self.random_state)
        n_samples = X.shape[0]
        n_threads = resolve_n_threads(self.n_jobs)
        # The threads of this fit, started once and used by every native phase.
        pool = _core.ThreadPool(n_threads)
        if self.verbose:
            simd = _core.simd_info()["default"]
            print(
                f"[t-SNE] acctsne {_core.__version__}: {n_threads} threads, SIMD {simd}, "
                f"gradient {self._method}"
            )

        t0 = time()
        order = None
        if self._method == "exact":
            P, _ = exact_affinities(
                X,
                self.perplexity,
                metric=self.metric,
                metric_params=self.metric_params,
                n_jobs=self.n_jobs,
                n_threads=pool,
                verbose=self.verbose,
            )
        else:
            # Large fits work on their points in the kNN graph's breadth-first order
            # (order[s]: the sample at position s), for the attraction's memory locality;
            # the embedding (and P, when kept) are put back in the samples' order.
            P, _, order = sparse_affinities(
                X,
                self.perplexity,
                metric=self.metric,
                metric_params=self.metric_params,
                neighbors=self.neighbors,
                n_jobs=self.n_jobs,
                n_threads=pool,
                verbose=self.verbose,
                auto_approx_min_samples=self._AUTO_APPROX_MIN_SAMPLES,
                times=self._phase_times,
                locality_order=True,
                graph=self._dask_graph if dask_input else None,
            )
        self._phase_times["affinities"] = time() - t0 - self._phase_times.get("knn", 0.0)

        t0 = time()
        if dask_input:
            from .dask import initial_embedding as dask_initial_embedding

            X_embedded = dask_initial_embedding(
                self.init, X, n_samples, self.n_components, random_state
            )
        else:
            X_embedded = initial_embedding(self.init, X, n_samples, self.n_components, random_state)
        self._phase_times["init"] = time() - t0
        # Degrees of freedom of the Student's t-distribution (van der Maaten, 2009).
        degrees_of_freedom = max(self.n_components - 1, 1)
        if order is None:
            embedding = self._tsne(P, degrees_of_freedom, X_embedded, pool)
        else:
            inverse = inverse_permutation(order)
            embedding = self._tsne(P, degrees_of_freedom, X_embedded[order], pool, rows=inverse)[
                inverse
            ]
            P = restore_order([P], order, pool) if self.keep_training_data else None
        if self.keep_training_data:
            # What transform (the training data) and optimize (P) need, kept on success.
            self._kept = {"X": None if self.metric == "precomputed" else X, "P": P}
        return embedding

    def _dask_graph(self, X, n_neighbors):
        """The kNN graph of a dask array, on its cluster (acctsne.dask)."""
        from .dask import nearest_neighbors

        approximate = use_approximate_neighbors(
            self.neighbors,
            native=True,
            n_samples=X.shape[0],
            sparse=False,
            metric=self.metric,
            metric_params=self.metric_params,
            auto_approx_min_samples=self._AUTO_APPROX_MIN_SAMPLES,
        )
        if self.verbose:
            print(f"[t-SNE] Indexed {X.shape[0]} samples in 0.000s...")
        return nearest_neighbors(X, n_neighbors, approximate=approximate, verbose=self.verbose)

    def _tsne(self, P, degrees_of_freedom, X_embedded, pool, rows=None):
        """Runs sklearn's two-phase schedule on one native gradient engine.

        ``rows``: the points are in a locality order of P's graph (the engine keeps it),
        and ``Y[rows]`` is in the samples' order (what callbacks get).
        """
        out_dtype = X_embedded.dtype if isinstance(self.init, np.ndarray) else np.float32
        Y = np.array(X_embedded, dtype=np.float32, order="C", copy=True)
        reporter = Reporter(
            verbose=self.verbose,
            n_iter_check=self._N_ITER_CHECK,
            callbacks=as_callback_list(self.callbacks),
            callbacks_every_iters=self.callbacks_every_iters,
            progress_bar=self.progress_bar,
            max_iter=self.max_iter,
            embedding=Y,
            out_dtype=out_dtype,
            rows=rows,
        )
        engine = self._make_engine(
            P, self._method, degrees_of_freedom, pool, keep_caller_order=rows is not None
        )
        schedule = sklearn_schedule(
            early_exaggeration=self.early_exaggeration,
            max_iter=self.max_iter,
            n_iter_without_progress=self.n_iter_without_progress,
            # An instance may override sklearn's constant (its tests do).
            exploration_max_iter=self._EXPLORATION_MAX_ITER,
            exaggeration=1.0 if self.exaggeration is None else self.exaggeration,
        )
        try:
            kl_divergence, it = run_schedule(
                engine,
                Y,
                schedule,
                learning_rate=self.learning_rate_,
                min_grad_norm=self.min_grad_norm,
                reporter=reporter,
                verbose=self.verbose,
                n_iter_check=self._N_ITER_CHECK,
            )
        finally:
            reporter.finish(self.max_iter if reporter.stopped_at is None else reporter.stopped_at)
            for key, value in engine.times.items():
                self._phase_times[key] = self._phase_times.get(key, 0.0) + value
            engine.close()

        self.n_iter_ = it
        if self.exaggeration is not None and it >= self._EXPLORATION_MAX_ITER:
            # The last phase optimised an exaggerated P; report the KL of P itself.
            kl_divergence = unexaggerated_kl(kl_divergence, self.exaggeration)
        if self.verbose:
            print(f"[t-SNE] KL divergence after {it + 1:d} iterations: {kl_divergence:f}")
        self.kl_divergence_ = kl_divergence
        return Y.astype(out_dtype, copy=False)

    def _make_engine(self, P, method, degrees_of_freedom, pool, keep_caller_order=False):
        return make_engine(
            P,
            method=method,
            n_components=self.n_components,
            degrees_of_freedom=degrees_of_freedom,
            heavy_tail_dof=self.dof,
            angle=self.angle,
            fft_interpolation_points=self.fft_interpolation_points,
            fft_min_intervals=self.fft_min_intervals,
            fft_intervals_per_unit=self.fft_intervals_per_unit,
            fft_max_intervals=self.fft_max_intervals,
            n_threads=pool,
            keep_caller_order=keep_caller_order,
        )

    # ------------------------------------------------------------ public API
    @_fit_context(
        # TSNE.metric is not validated yet
        prefer_skip_nested_validation=False
    )
    def fit_transform(self, X, y=None):
        """Fit X into an embedded space and return that transformed output.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
            (n_samples, n_samples)
            If the metric is 'precomputed' X must be a square distance
            matrix. Otherwise it contains a sample per row. If the method
            is 'exact', X may be a sparse matrix of type 'csr', 'csc'
            or 'coo'. If the method is 'barnes_hut' and the metric is
            'precomputed', X may be a precomputed sparse graph.

        y : None
            Ignored.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Embedding of the training data in low-dimensional space.
        """
        self._check_params_vs_input(X)
        self._phase_times = {}  # filled by the phases of _fit
        for key in ("_training_data", "_field", "affinities_"):
            vars(self).pop(key, None)  # a previous fit's
        try:
            embedding = self._fit(X)
        except BaseException:
            # An interrupted or failed fit leaves the estimator unfitted.
            for key in [k for k in vars(self) if k.endswith("_")]:
                delattr(self, key)
            raise
        finally:
            phase_times = vars(self).pop("_phase_times")
            kept = vars(self).pop("_kept", None)
        self.embedding_ = embedding
        self.method_ = self._method
        self.phase_times_ = dict(phase_times)
        if kept is not None:
            self._training_data = kept["X"]
            self.affinities_ = kept["P"]
        return self.embedding_

    @_fit_context(
        # TSNE.metric is not validated yet
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None):
        """Fit X into an embedded space.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
            (n_samples, n_samples)
            If the metric is 'precomputed' X must be a square distance
            matrix. Otherwise it contains a sample per row. If the method
            is 'exact', X may be a sparse matrix of type 'csr', 'csc'
            or 'coo'. If the method is 'barnes_hut' and the metric is
            'precomputed', X may be a precomputed sparse graph.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        self.fit_transform(X)
        return self

    # Parameters of transform (their defaults, openTSNE's, measured best on MNIST:
    # bench/transform.py).
    _TRANSFORM_CONSTRAINTS: ClassVar[dict] = {
        "perplexity": [Interval(Real, 0, None, closed="neither"), *PERPLEXITY_LIST_TYPES],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "exaggeration": [Interval(Real, 0, None, closed="neither")],
        "early_exaggeration": [Interval(Real, 0, None, closed="neither")],
        "early_exaggeration_iter": [Interval(Integral, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "max_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "init": [StrOptions({"median", "weighted"}), np.ndarray],
    }

    def _require_model(self, what):
        check_is_fitted(self, "embedding_")
        if "affinities_" not in vars(self):
            raise ValueError(
                f"{what} needs the training data and affinities, which this model did not "
                "keep (it was fitted with keep_training_data=False); fit it again with "
                "keep_training_data=True."
            )

    def _check_transform_perplexity(self, perplexity):
        if max_perplexity(perplexity) >= self.embedding_.shape[0]:
            raise ValueError(
                f"perplexity ({perplexity}) must be less than the number of training "
                f"samples ({self.embedding_.shape[0]})"
            )

    def _reference_field(self, pool):
        """The fitted embedding's repulsion field, built on first use and cached."""
        key = (
            self.method_,
            self.dof,
            self.angle,
            self.fft_interpolation_points,
            self.fft_min_intervals,
            self.fft_intervals_per_unit,
            self.fft_max_intervals,
        )
        cached = vars(self).get("_field")
        if cached is None or cached[0] != key:
            field = make_field(
                self.embedding_,
                method=self.method_,
                dof=self.dof,
                angle=self.angle,
                fft_params={
                    "fft_interpolation_points": self.fft_interpolation_points,
                    "fft_min_intervals": self.fft_min_intervals,
                    "fft_intervals_per_unit": self.fft_intervals_per_unit,
                    "fft_max_intervals": self.fft_max_intervals,
                },
                n_threads=pool,
            )
            cached = (key, field)
            self._field = cached
        return cached[1]

    def transform(
        self,
        X,
        *,
        perplexity=5.0,
        max_iter=250,
        learning_rate=0.1,
        exaggeration=1.5,
        early_exaggeration=4.0,
        early_exaggeration_iter=0,
        momentum=0.8,
        max_grad_norm=0.25,
        init="median",
    ):
        """Embed new samples into the fitted embedding (acctsne extension).

        The training points stay where they are. Each new sample is placed among its
        nearest training samples (the fit's metric; exact search) and optimised in the
        field of the fixed training embedding: attracted by its neighbours, repelled by
        every training point, never interacting with the other new samples (openTSNE's
        transform). So each row of the result depends on that row of X alone: the bits
        are the same for any ``n_jobs`` and any split of X into batches. The defaults are
        openTSNE's, which measured best on MNIST (``bench/transform.py``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_new_samples, n_features)
            New samples, dense or sparse as in the fit. With ``metric='precomputed'``:
            their distances to the training samples, shape (n_new_samples,
            n_training_samples), dense or a sparse kNN graph (e.g. from
            :class:`~sklearn.neighbors.KNeighborsTransformer` fitted on the training
            data).
        perplexity : float or list of float, default=5.0
            Perplexity of each new sample's affinities to its ``int(3 * perplexity + 1)``
            nearest training samples (lower than the fit's: a new sample should land
            among its closest neighbours); a list averages several (multiscale).
        max_iter : int, default=250
            Iterations of gradient descent (0: the initial positions).
        learning_rate : float, default=0.1
            Step size, in openTSNE's units (its gradient has no factor 4).
        exaggeration : float, default=1.5
            Factor on the attraction after the early phase.
        early_exaggeration : float, default=4.0
            Factor on the attraction during the first ``early_exaggeration_iter``
            iterations.
        early_exaggeration_iter : int, default=0
            Iterations of the early phase (part of ``max_iter``).
        momentum : float, default=0.8
            Momentum of the update.
        max_grad_norm : float or None, default=0.25
            Each new point's gradient is clipped to this norm (keeps points placed on
            top of training points from shooting off); None: no clipping.
        init : {"median", "weighted"} or ndarray of shape (n_new_samples, n_components), \
                default="median"
            Starting positions: the coordinate-wise median of the neighbours' positions,
            their affinity-weighted mean, or given.

        Returns
        -------
        X_new : ndarray of shape (n_new_samples, n_components)
            The new samples' positions (float32), in the coordinates of ``embedding_``.

        Notes
        -----
        Memory: a model keeps its training data (``n_samples x n_features`` values; no
        copy when the data given to fit was already a C-contiguous float array) and its
        affinities P (about ``n_samples x 3 x perplexity x 8`` bytes); pass
        ``keep_training_data=False`` to fit without keeping them (then neither
        ``transform`` nor ``optimize`` is available). The first call also builds the
        reference field (a grid of at most ``(3 * fft_max_intervals)^2`` nodes, or a
        tree), which later calls reuse. Uses the estimator's ``n_jobs`` threads, its
        ``verbose`` lines, ``progress_bar`` and ``callbacks`` (called with the new points'
        positions).
        """
        self._require_model("transform")
        params = dict(
            perplexity=perplexity,
            max_iter=max_iter,
            learning_rate=learning_rate,
            exaggeration=exaggeration,
            early_exaggeration=early_exaggeration,
            early_exaggeration_iter=early_exaggeration_iter,
            momentum=momentum,
            max_grad_norm=max_grad_norm,
            init=init,
        )
        validate_parameter_constraints(
            self._TRANSFORM_CONSTRAINTS, params, caller_name="TSNE.transform"
        )
        check_perplexity(perplexity)
        if early_exaggeration_iter > max_iter:
            raise ValueError(
                f"early_exaggeration_iter ({early_exaggeration_iter}) must not exceed "
                f"max_iter ({max_iter})"
            )
        if is_dask_array(X):
            from . import dask as acctsne_dask

            self._check_transform_perplexity(perplexity)
            return acctsne_dask.transform(self, X, params)
        if is_dask_array(self._training_data):
            # Fitted on a dask array: the training rows come to the client once.
            from .dask import compute

            (self._training_data,) = compute(self._training_data)
        fitted_sparse = issparse(self._training_data)
        precomputed = self.metric == "precomputed"
        X = validate_data(
            self,
            X,
            reset=False,
            accept_sparse=["csr", "csc", "coo"] if (fitted_sparse or precomputed) else False,
            dtype=[np.float32, np.float64],
        )
        if issparse(X):
            X = X.tocsr()
        elif fitted_sparse:
            raise ValueError(
                "This TSNE was fitted on a sparse matrix; transform needs the new samples "
                "as a sparse matrix too, got a dense array."
            )
        self._check_transform_perplexity(perplexity)
        pool = _core.ThreadPool(resolve_n_threads(self.n_jobs))
        return transform_new_points(
            self,
            X,
            TransformSettings(**params),
            field=self._reference_field,
            n_threads=pool,
            verbose=self.verbose,
            callbacks=as_callback_list(self.callbacks),
            callbacks_every_iters=self.callbacks_every_iters,
            progress_bar=self.progress_bar,
        )

    def optimize(
        self,
        max_iter=250,
        *,
        learning_rate=None,
        exaggeration=None,
        momentum=0.8,
        n_iter_without_progress=None,
    ):
        """Continue the optimisation of a fitted model (acctsne extension).

        Runs ``max_iter`` more iterations of gradient descent from ``embedding_`` with the
        affinities P kept from the fit (no neighbour search), then updates
        ``embedding_``, ``kl_divergence_`` and ``n_iter_``. Typical uses: more iterations
        for a large data set, a phase with ``exaggeration`` > 1 to compact clusters, or
        back to 1 after fitting with one. Gains and momentum start afresh, as in every
        phase of the fit. Interrupted (Ctrl-C), the model is left as it was.

        Parameters
        ----------
        max_iter : int, default=250
            Further iterations to run.
        learning_rate : float, default=None
            Learning rate (scikit-learn's units); None: ``learning_rate_`` of the fit.
        exaggeration : float, default=None
            Factor on P; None: the fit's ``exaggeration`` (1 if it had none).
        momentum : float, default=0.8
            Momentum of the update.
        n_iter_without_progress : int, default=None
            Stop after this many iterations without progress; None: the estimator's.

        Returns
        -------
        self : TSNE
            The model, further optimised.
        """
        self._require_model("optimize")
        params = dict(
            max_iter=max_iter,
            learning_rate=learning_rate,
            exaggeration=exaggeration,
            momentum=momentum,
            n_iter_without_progress=n_iter_without_progress,
        )
        validate_parameter_constraints(
            {
                "max_iter": [Interval(Integral, 1, None, closed="left")],
                "learning_rate": [None, Interval(Real, 0, None, closed="neither")],
                "exaggeration": [None, Interval(Real, 0, None, closed="neither")],
                "momentum": [Interval(Real, 0, 1, closed="left")],
                "n_iter_without_progress": [None, Interval(Integral, -1, None, closed="left")],
            },
            params,
            caller_name="TSNE.optimize",
        )
        if exaggeration is None:
            exaggeration = 1.0 if self.exaggeration is None else self.exaggeration
        if learning_rate is None:
            learning_rate = self.learning_rate_
        if n_iter_without_progress is None:
            n_iter_without_progress = self.n_iter_without_progress
        start = self.n_iter_ + 1
        Y = np.array(self.embedding_, dtype=np.float32, order="C", copy=True)
        pool = _core.ThreadPool(resolve_n_threads(self.n_jobs))
        reporter = Reporter(
            verbose=self.verbose,
            n_iter_check=self._N_ITER_CHECK,
            callbacks=as_callback_list(self.callbacks),
            callbacks_every_iters=self.callbacks_every_iters,
            progress_bar=self.progress_bar,
            max_iter=start + max_iter,
            embedding=Y,
            out_dtype=self.embedding_.dtype,
        )
        engine = self._make_engine(
            self.affinities_, self.method_, max(self.n_components - 1, 1), pool
        )
        phase = Phase(
            exaggeration=float(exaggeration),
            momentum=float(momentum),
            end_iter=start + int(max_iter),
            n_iter_without_progress=int(n_iter_without_progress),
        )
        try:
            kl_divergence, it = run_schedule(
                engine,
                Y,
                [phase],
                learning_rate=learning_rate,
                min_grad_norm=self.min_grad_norm,
                reporter=reporter,
                verbose=self.verbose,
                n_iter_check=self._N_ITER_CHECK,
                start_iter=start,
            )
        finally:
            reporter.finish(
                start + max_iter if reporter.stopped_at is None else reporter.stopped_at
            )
            engine.close()
        kl_divergence = unexaggerated_kl(kl_divergence, exaggeration)
        if self.verbose:
            print(f"[t-SNE] KL divergence after {it + 1:d} iterations: {kl_divergence:f}")
        self.embedding_ = Y.astype(self.embedding_.dtype, copy=False)
        self.kl_divergence_ = kl_divergence
        self.n_iter_ = it
        vars(self).pop("_field", None)  # the reference moved
        return self

    # ------------------------------------------------------------ saving
    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_field", None)  # native; rebuilt on the first transform after loading
        if is_dask_array(state.get("_training_data")):
            # A model fitted on a dask array is saved with its training rows in memory.
            from .dask import compute

            (state["_training_data"],) = compute(state["_training_data"])
        if "embedding_" in state:
            state["_acctsne_model_format"] = MODEL_FORMAT
            state["_acctsne_version"] = _core.__version__
        return state

    def __setstate__(self, state):
        check_loadable(state, _core.__version__)
        state = dict(state)
        state.pop("_acctsne_model_format", None)
        state.pop("_acctsne_version", None)
        super().__setstate__(state)

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.embedding_.shape[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.sparse = True
        return tags
