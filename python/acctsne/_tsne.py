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
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _num_samples, validate_data

from . import _core
from ._affinities import exact_affinities, sparse_affinities
from ._config import resolve_n_threads
from ._initialization import initial_embedding
from ._neighbors import AUTO_APPROX_MIN_SAMPLES, check_precomputed
from ._optimization import (
    EXPLORATION_MAX_ITER,
    N_ITER_CHECK,
    make_engine,
    run_schedule,
    sklearn_schedule,
)
from ._progress import Reporter, as_callback_list

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
        be less than the number of samples.
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
        'exact' (acctsne's C++ brute force, as sklearn's result), 'approx' (faiss HNSW
        with exact distances for the neighbours found; needs ``pip install
        acctsne[ann]``), or 'auto': exact below 300,000 samples (where it is about as fast
        on 2 cores), approximate above when faiss is installed. Other metrics take their
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
        "perplexity": [Interval(Real, 0, None, closed="neither")],
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
    )
    # neighbors="auto": approximate neighbours (when faiss is installed) from this many
    # samples on; below it the exact search is about as fast (bench/results/ann.md).
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

    def _check_params_vs_input(self, X):
        n_samples = _num_samples(X)
        if self.perplexity >= n_samples:
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
        return X

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
            P, _ = sparse_affinities(
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
            )
        self._phase_times["affinities"] = time() - t0 - self._phase_times.get("knn", 0.0)

        t0 = time()
        X_embedded = initial_embedding(self.init, X, n_samples, self.n_components, random_state)
        self._phase_times["init"] = time() - t0
        # Degrees of freedom of the Student's t-distribution (van der Maaten, 2009).
        degrees_of_freedom = max(self.n_components - 1, 1)
        return self._tsne(P, degrees_of_freedom, X_embedded, pool)

    def _tsne(self, P, degrees_of_freedom, X_embedded, pool):
        """Runs sklearn's two-phase schedule on one native gradient engine."""
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
        )
        engine = make_engine(
            P,
            method=self._method,
            n_components=self.n_components,
            degrees_of_freedom=degrees_of_freedom,
            angle=self.angle,
            fft_interpolation_points=self.fft_interpolation_points,
            fft_min_intervals=self.fft_min_intervals,
            fft_intervals_per_unit=self.fft_intervals_per_unit,
            fft_max_intervals=self.fft_max_intervals,
            n_threads=pool,
        )
        schedule = sklearn_schedule(
            early_exaggeration=self.early_exaggeration,
            max_iter=self.max_iter,
            n_iter_without_progress=self.n_iter_without_progress,
            # An instance may override sklearn's constant (its tests do).
            exploration_max_iter=self._EXPLORATION_MAX_ITER,
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
        if self.verbose:
            print(f"[t-SNE] KL divergence after {it + 1:d} iterations: {kl_divergence:f}")
        self.kl_divergence_ = kl_divergence
        return Y.astype(out_dtype, copy=False)

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
        try:
            embedding = self._fit(X)
        except BaseException:
            # An interrupted or failed fit leaves the estimator unfitted.
            for key in [k for k in vars(self) if k.endswith("_")]:
                delattr(self, key)
            raise
        finally:
            phase_times = vars(self).pop("_phase_times")
        self.embedding_ = embedding
        self.method_ = self._method
        self.phase_times_ = dict(phase_times)
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

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.embedding_.shape[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.sparse = True
        return tags
