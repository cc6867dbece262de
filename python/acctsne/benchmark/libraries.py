"""The t-SNE implementations the benchmark runs, with common settings.

Common settings: 2-D, perplexity 30, 1000 iterations of which 250 with early
exaggeration 12 (momentum 0.5, then 0.8), PCA initialisation, angle/theta 0.5, the same
thread count and seed. sklearn's learning rate 'auto' is max(N / 12 / 4, 50); libraries
whose learning rate is 4x smaller by definition (openTSNE) get 4x that value. Anything a
library cannot match is listed in DEVIATIONS and printed with the results.
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
}


def sklearn_learning_rate(n):
    return max(n / EXAGGERATION / 4.0, 50.0)


def run_acctsne(X, n_jobs, seed, method="barnes_hut"):
    from acctsne import TSNE

    est = TSNE(
        perplexity=PERPLEXITY, max_iter=N_ITER, random_state=seed, n_jobs=n_jobs, method=method
    )
    Y = est.fit_transform(X)
    return Y, dict(est.phase_times_)


def run_acctsne_fft(X, n_jobs, seed):
    return run_acctsne(X, n_jobs, seed, method="fft")


def run_sklearn(X, n_jobs, seed):
    from sklearn.manifold import TSNE

    est = TSNE(perplexity=PERPLEXITY, max_iter=N_ITER, random_state=seed, n_jobs=n_jobs)
    return est.fit_transform(X), {}


def run_sklearnex(X, n_jobs, seed):
    from sklearnex.manifold import TSNE

    est = TSNE(perplexity=PERPLEXITY, max_iter=N_ITER, random_state=seed, n_jobs=n_jobs)
    return est.fit_transform(X), {}


def _opentsne(X, n_jobs, seed, method):
    from openTSNE import TSNE

    est = TSNE(
        n_components=2,
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


def run_opentsne_bh(X, n_jobs, seed):
    return _opentsne(X, n_jobs, seed, "bh")


def run_opentsne_fft(X, n_jobs, seed):
    return _opentsne(X, n_jobs, seed, "fft")


LIBRARIES = {
    "acctsne": ("acctsne", run_acctsne),
    "acctsne-fft": ("acctsne", run_acctsne_fft),
    "sklearn": ("sklearn", run_sklearn),
    "sklearnex": ("sklearnex", run_sklearnex),
    "opentsne-bh": ("openTSNE", run_opentsne_bh),
    "opentsne-fft": ("openTSNE", run_opentsne_fft),
}


def available(name):
    module = LIBRARIES[name][0]
    return importlib.util.find_spec(module) is not None


def version(name):
    module = LIBRARIES[name][0]
    try:
        from importlib.metadata import version as pkg_version

        dist = {"sklearn": "scikit-learn", "sklearnex": "scikit-learn-intelex"}.get(module, module)
        return pkg_version(dist)
    except Exception:
        return "unknown"


def thread_env(n_jobs):
    """Environment for a worker: every runtime capped at n_jobs threads."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(n_jobs)
    return env
