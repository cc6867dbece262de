"""The t-SNE implementations the benchmark runs, with common settings.

Common settings: 2-D (or ``n_components`` as given, for the libraries that
:func:`supports`), perplexity 30, 1000 iterations of which 250 with early exaggeration 12
(momentum 0.5, then 0.8), PCA initialisation, angle/theta 0.5, the same thread count and
seed. sklearn's learning rate 'auto' is max(N / 12 / 4, 50); libraries whose learning rate
is 4x smaller by definition (openTSNE) get 4x that value. tsne-h2pack ("h2pack") runs with
its own defaults (perplexity, iterations, threads, seed and n_components passed). Anything
a library cannot match is listed in DEVIATIONS and printed with the results.
"""

from __future__ import annotations

import importlib.util
import os

PERPLEXITY = 30.0
N_ITER = 1000
EARLY_ITER = 250
EXAGGERATION = 12.0

DEVIATIONS = {
    "sklearn": "gradient threads follow OMP_NUM_THREADS (set to n_jobs); n_jobs for kNN",
    "sklearnex": "oneDAL's looser Barnes-Hut opening test (its angle 0.5 ~ sklearn 1.0)",
    "opentsne-bh": "openTSNE neighbours='auto' (Annoy above 1000 points), max_step_norm=5",
    "opentsne-fft": "openTSNE neighbours='auto' (Annoy above 1000 points), max_step_norm=5",
    "acctsne-dof1": (
        "acctsne Barnes-Hut with dof=1: the kernel 1 / (1 + d^2) in 3-D too (as tsne-h2pack "
        "and openTSNE), not scikit-learn's dof = n_components - 1"
    ),
    "h2pack": (
        "tsne-h2pack's own defaults: random initialisation (PCA is not implemented), "
        "PyNNDescent approximate neighbours from 10,000 points (exact brute force below; "
        "in a fresh process its kNN time includes numba's compilation), H2 repulsion "
        "(tolerance 1e-2 in 2-D, 3e-2 in 3-D) recomputed every 3rd iteration (every 10th "
        "during early exaggeration), the kernel 1 / (1 + d^2) in 3-D too (scikit-learn: "
        "dof = n_components - 1); its learning rate max(N / 12, 200) is the common one in "
        "openTSNE's scale"
    ),
}

# Largest n_components each library is registered for (2 when absent): acctsne's
# method='fft' and openTSNE's FFT interpolate on a 1-D or 2-D grid.
MAX_COMPONENTS = {"acctsne": 3, "acctsne-dof1": 3, "sklearn": 3, "h2pack": 3}


def sklearn_learning_rate(n):
    return max(n / EXAGGERATION / 4.0, 50.0)


def run_acctsne(X, n_jobs, seed, n_components=2, method="barnes_hut", **params):
    from acctsne import TSNE

    est = TSNE(
        n_components=n_components,
        perplexity=PERPLEXITY,
        max_iter=N_ITER,
        random_state=seed,
        n_jobs=n_jobs,
        method=method,
        **params,
    )
    Y = est.fit_transform(X)
    return Y, dict(est.phase_times_)


def run_acctsne_fft(X, n_jobs, seed, n_components=2):
    return run_acctsne(X, n_jobs, seed, n_components, method="fft")


def run_acctsne_dof1(X, n_jobs, seed, n_components=2):
    """Barnes-Hut with the kernel 1 / (1 + d^2) in every dimension (the one openTSNE and
    tsne-h2pack use); scikit-learn's default takes dof = n_components - 1 from 3-D on."""
    return run_acctsne(X, n_jobs, seed, n_components, dof=1)


def run_sklearn(X, n_jobs, seed, n_components=2):
    from sklearn.manifold import TSNE

    est = TSNE(
        n_components=n_components,
        perplexity=PERPLEXITY,
        max_iter=N_ITER,
        random_state=seed,
        n_jobs=n_jobs,
    )
    return est.fit_transform(X), {}


def run_sklearnex(X, n_jobs, seed, n_components=2):
    from sklearnex.manifold import TSNE

    est = TSNE(
        n_components=n_components,
        perplexity=PERPLEXITY,
        max_iter=N_ITER,
        random_state=seed,
        n_jobs=n_jobs,
    )
    return est.fit_transform(X), {}


def run_h2pack(X, n_jobs, seed, n_components=2):
    """tsne-h2pack with its own defaults; its kNN search time as the 'knn' phase."""
    from tsne_h2pack import TSNE

    est = TSNE(
        n_components=n_components,
        perplexity=PERPLEXITY,
        max_iter=N_ITER,
        random_state=seed,
        n_jobs=n_jobs,
    )
    Y = est.fit_transform(X)
    return Y, {"knn": float(est.knn_time_)}


def _opentsne(X, n_jobs, seed, method, n_components):
    from openTSNE import TSNE

    est = TSNE(
        n_components=n_components,
        perplexity=PERPLEXITY,
        learning_rate=4.0 * sklearn_learning_rate(X.shape[0]),
        early_exaggeration_iter=EARLY_ITER,
        early_exaggeration=EXAGGERATION,
        n_iter=N_ITER - EARLY_ITER,
        initial_momentum=0.5,
        final_momentum=0.8,
        theta=0.5,
        initialization="pca",
        negative_gradient_method=method,
        n_jobs=n_jobs,
        random_state=seed,
    )
    return __import__("numpy").asarray(est.fit(X)), {}


def run_opentsne_bh(X, n_jobs, seed, n_components=2):
    return _opentsne(X, n_jobs, seed, "bh", n_components)


def run_opentsne_fft(X, n_jobs, seed, n_components=2):
    return _opentsne(X, n_jobs, seed, "fft", n_components)


LIBRARIES = {
    "acctsne": ("acctsne", run_acctsne),
    "acctsne-fft": ("acctsne", run_acctsne_fft),
    "acctsne-dof1": ("acctsne", run_acctsne_dof1),
    "sklearn": ("sklearn", run_sklearn),
    "sklearnex": ("sklearnex", run_sklearnex),
    "opentsne-bh": ("openTSNE", run_opentsne_bh),
    "opentsne-fft": ("openTSNE", run_opentsne_fft),
    "h2pack": ("tsne_h2pack", run_h2pack),
}


def available(name):
    module = LIBRARIES[name][0]
    return importlib.util.find_spec(module) is not None


def supports(name, n_components):
    """Whether the library is registered for this embedding dimension."""
    return 1 <= n_components <= MAX_COMPONENTS.get(name, 2)


def version(name):
    module = LIBRARIES[name][0]
    try:
        from importlib.metadata import version as pkg_version

        dist = {
            "sklearn": "scikit-learn",
            "sklearnex": "scikit-learn-intelex",
            "tsne_h2pack": "tsne-h2pack",
        }.get(module, module)
        return pkg_version(dist)
    except Exception:
        return "unknown"


def thread_env(n_jobs):
    """Environment for a worker: every runtime capped at n_jobs threads."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(n_jobs)
    return env
